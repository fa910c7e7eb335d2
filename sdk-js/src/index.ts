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
export { Collection } from "./collection.js";
export { EddyError, isEddyError } from "./errors.js";
export { LiveQuery, type LiveCallback, type LiveChange, type LiveOptions } from "./live.js";
export { Room, type BroadcastListener, type BroadcastOptions, type JoinOptions, type PresenceListener } from "./room.js";
export type { WatchHandle } from "./watch.js";
export { decodeJwtPayload } from "./auth.js";
export type * from "./types.js";
