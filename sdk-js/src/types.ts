// Public types shared by the REST and realtime parts of the SDK.

import type { EddyError } from "./errors.js";
import type { Filters, Patch, Sort } from "./fields.js";

/** A document's `data` when no type is declared: any JSON object. */
export type DocumentData = Record<string, unknown>;

/** A stored document, as returned by the REST API and carried by realtime events. */
export interface EddyDocument<T = DocumentData> {
  id: string;
  collection: string;
  data: T;
  owner: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

/** Identity reported by the server after authentication. */
export type Identity =
  | { kind: "service" }
  | { kind: "public" }
  | { kind: "user"; sub: string; role: string | null };

export type ConnectionStatus = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** Minimal WebSocket surface the SDK needs (browser WebSocket and the `ws` package both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => any) | null;
  onclose: ((ev: any) => any) | null;
  onmessage: ((ev: any) => any) | null;
  onerror: ((ev: any) => any) | null;
  /** `ws` only: drop the TCP connection without a closing handshake. */
  terminate?: () => void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ReconnectOptions {
  /** First retry delay in ms (default 500). */
  initialDelay?: number;
  /** Upper bound of the delay in ms (default 30 000). */
  maxDelay?: number;
  /** Growth factor per failed attempt (default 2). */
  factor?: number;
  /** Fraction of the delay that is randomised, 0–1 (default 0.5: delay is 50–100 % of the nominal value). */
  jitter?: number;
}

export interface HeartbeatOptions {
  /** Send a protocol `ping` every `interval` ms while open (default 20 000). */
  interval?: number;
  /** Reconnect when nothing arrives within `timeout` ms after a ping (default 10 000). */
  timeout?: number;
}

export interface ClientOptions {
  /** API key (`eddy_pk_…` or `eddy_sk_…`). Used when no token is available. */
  apiKey?: string;
  /** A user JWT. */
  token?: string;
  /** Returns a fresh JWT; called before expiry, on `token_expiring`, on reconnect and after a 401. */
  getToken?: () => Promise<string> | string;
  /** WebSocket implementation; defaults to `globalThis.WebSocket`, then the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** fetch implementation; defaults to `globalThis.fetch`. */
  fetch?: typeof fetch;
  reconnect?: ReconnectOptions;
  /** Heartbeat settings, or `false` to disable client pings. */
  heartbeat?: HeartbeatOptions | false;
  /** Give up on a connection attempt (socket open + auth) after this many ms (default 10 000). */
  connectTimeout?: number;
  /** Timeout in ms for realtime requests such as subscribe, join, broadcast (default 15 000). */
  requestTimeout?: number;
  /** Refresh a JWT this many ms before it expires (default 60 000, at most half its remaining life). */
  tokenRefreshMargin?: number;
  /** Maximum broadcasts held while disconnected (default 100); more are rejected with `queue_full`. */
  maxQueuedBroadcasts?: number;
  /** How long a queued broadcast may wait for the connection, in ms (default 30 000). */
  queuedBroadcastTimeout?: number;
  /** Listen to browser online/offline and page-visibility events (default true where available). */
  browserEvents?: boolean;
  /** Path of the realtime endpoint (default `/realtime`). */
  realtimePath?: string;
}

/** A change delivered by a watch; mirrors the protocol's `event` message. */
export interface ChangeEvent<T = DocumentData> {
  event: "created" | "updated" | "deleted";
  collection: string;
  subscription: string;
  seq: number;
  document: EddyDocument<T>;
  /** Previous `data` (on `updated` and `deleted`). */
  old?: T;
  /** On `updated` of a filtered subscription: the document entered or left the filter. */
  transition?: "enter" | "leave";
}

/**
 * A snapshot delivered by a watch: the initial one when `snapshot: true` was asked
 * (`reason: "initial"`), or a re-snapshot after the server reported `cursor_expired`
 * (`reason: "resync"`), in which case the app should replace its state.
 */
export interface SnapshotEvent<T = DocumentData> {
  event: "snapshot";
  reason: "initial" | "resync";
  collection: string;
  subscription: string;
  seq: number;
  documents: EddyDocument<T>[];
  truncated: boolean;
}

export type WatchEvent<T = DocumentData> = ChangeEvent<T> | SnapshotEvent<T>;

export interface WatchOptions<T = DocumentData> {
  filters?: Filters<T>;
  /** Start with a snapshot of the matching documents. */
  snapshot?: boolean;
  /** Replay every matching change after this seq, then go live. */
  since?: number;
  /** Snapshot size (server default 100, max 1000). */
  limit?: number;
  /** Snapshot order, e.g. `"-$created_at"` or `"-views,title"`. */
  sort?: Sort<T>;
  /** Called with the re-snapshot after `cursor_expired` (it is also delivered to the callback). */
  onResync?: (snapshot: SnapshotEvent<T>) => void;
  /** Called when the subscription fails for good (e.g. `forbidden`, `invalid_filter`). */
  onError?: (error: EddyError) => void;
}

/** Options of `collection.list()`, `pages()` and `iterate()`. */
export interface ListOptions<T = DocumentData> {
  filters?: Filters<T>;
  /** Order, e.g. `"-$created_at"` or `"-views,title"` (default `$created_at`). */
  sort?: Sort<T>;
  /** Page size (server default 100, max 1000). */
  limit?: number;
  /** The `next` cursor of the previous page (with the same `sort`). */
  after?: string;
}

export interface ListPage<T = DocumentData> {
  documents: EddyDocument<T>[];
  next: string | null;
}

export interface WriteOptions {
  /** Only apply if the document's current version equals this (HTTP `If-Match`). */
  ifMatch?: number;
}

export interface CreateOptions {
  id?: string;
  /** Owner to set (service key only). */
  owner?: string;
}

/** Version precondition of a batch operation (sent as the wire's `if_match`). */
export interface BatchPrecondition {
  /** Only apply if the document's current version equals this. */
  ifMatch?: number;
  /** @deprecated Use `ifMatch`; the wire spelling is still accepted. */
  if_match?: number;
}

/** One operation of `collection.batch()`. */
export type BatchOperation<T = DocumentData> =
  | { op: "create"; data: T; id?: string }
  | ({ op: "update"; id: string; data: Patch<T> } & BatchPrecondition)
  | ({ op: "replace"; id: string; data: T } & BatchPrecondition)
  | ({ op: "delete"; id: string } & BatchPrecondition);

/** Presence state of a room member when no type is declared. */
export type PresenceState = Record<string, unknown>;

/** A room member as listed in `joined` and tracked from presence diffs. */
export interface Member<P = PresenceState> {
  connection: string;
  sub?: string;
  state: P;
}

/** Members that joined (or changed state) and left, by connection id. */
export interface PresenceDiff<P = PresenceState> {
  joins: Record<string, { sub?: string; state: P }>;
  leaves: Record<string, { sub?: string; state: P }>;
}

/** Where a broadcast came from. */
export interface BroadcastMeta<K extends string = string> {
  room: string;
  event: K;
  from: { sub?: string; connection?: string; server?: boolean };
  ts: number;
}

/** A message from the server publish API (`POST /v1/users/{sub}/messages`, `POST /v1/broadcast`). */
export interface ServerMessage {
  event: string;
  message: unknown;
  ts: number;
}
