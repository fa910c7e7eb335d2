// Public entry point of the Eddy JavaScript/TypeScript SDK.

export {
  Accounts,
  type AuthChangeEvent,
  type Session,
  type SessionOptions,
  type StorageLike,
  type User,
} from "./accounts.js";
export { createClient, EddyClient, type ClientEvents } from "./client.js";
export { Collection, type BatchDeleted } from "./collection.js";
export {
  EddyError,
  isEddyError,
  isErrorCode,
  type ClientErrorCode,
  type ErrorCode,
  type RealtimeErrorCode,
  type RestErrorCode,
} from "./errors.js";
export { LiveQuery, type LiveCallback, type LiveChange, type LiveOptions } from "./live.js";
export {
  Room,
  type BroadcastListener,
  type BroadcastOptions,
  type JoinOptions,
  type PresenceListener,
  type RoomEvent,
} from "./room.js";
export type { WatchHandle } from "./watch.js";
export { decodeJwtPayload } from "./auth.js";
export type * from "./fields.js";
export type * from "./types.js";
