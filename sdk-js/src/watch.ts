// A collection subscription that survives reconnects: it resumes with `since` = the last seq it
// delivered, drops duplicates, and re-snapshots on `cursor_expired`.

import type { Connection, Msg } from "./connection.js";
import { safeCall } from "./emitter.js";
import { EddyError } from "./errors.js";
import type { ChangeEvent, DocumentData, SnapshotEvent, WatchEvent, WatchOptions } from "./types.js";

export interface WatchHandle {
  /** Resolves when the subscription is first live (after the snapshot and replay, if any). */
  readonly ready: Promise<void>;
  /** The seq of the last delivered event (or snapshot / subscribed position). */
  readonly lastSeq: number | undefined;
  /** Stops the watch; no event is delivered after this is called. */
  unsubscribe(): Promise<void>;
}

/** What a watch needs from the client. */
export interface WatchHost {
  readonly conn: Connection;
  /** Route messages of subscription `id` to `watch` (or stop routing with `undefined`). */
  route(id: string, watch: Watch<any> | undefined): void;
  /** Forget the watch entirely (it is not resubscribed after reconnects). */
  remove(watch: Watch<any>): void;
  reportError(err: EddyError): void;
}

/** Server errors after which retrying the same subscription cannot help. */
const RETRYABLE = new Set(["internal", "rate_limited", "timeout", "unavailable"]);

export class Watch<T = DocumentData> implements WatchHandle {
  readonly ready: Promise<void>;
  lastSeq: number | undefined;

  private subId: string | undefined;
  private gen = 0;
  private closed = false;
  private needResync = false;
  private snapshotSeen = false;
  private retries = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private resolveReady!: () => void;
  private rejectReady!: (err: EddyError) => void;

  constructor(
    private readonly host: WatchHost,
    /** Stable key, e.g. `w3`; subscription ids on the wire are `w3.1`, `w3.2`, … */
    readonly key: string,
    readonly collection: string,
    private readonly callback: (event: WatchEvent<T>) => void,
    private readonly options: WatchOptions<T>,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined); // the app may not await it; failures also go to onError
    if (options.since !== undefined) this.lastSeq = options.since;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Subscribes on the current socket (called when the connection opens). */
  subscribe(): void {
    if (this.closed || !this.host.conn.isOpen) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const id = `${this.key}.${++this.gen}`;
    if (this.subId) this.host.route(this.subId, undefined);
    this.subId = id;
    this.host.route(id, this);

    const msg: Msg = { type: "subscribe", id, collection: this.collection };
    if (this.options.filters !== undefined) msg.filters = this.options.filters;
    if (this.options.sort !== undefined) msg.sort = this.options.sort;
    if (this.options.limit !== undefined) msg.limit = this.options.limit;
    if (this.needResync || (this.options.snapshot && !this.snapshotSeen)) msg.snapshot = true;
    else if (this.lastSeq !== undefined) msg.since = this.lastSeq;

    this.host.conn.request(msg, ["subscribed"]).then(
      (reply) => this.onSubscribed(id, reply),
      (err: EddyError) => this.onSubscribeError(id, err),
    );
  }

  /** The socket was lost: forget the server-side subscription; `subscribe()` runs again on reopen. */
  onDown(): void {
    if (this.subId) this.host.route(this.subId, undefined);
    this.subId = undefined;
  }

  /** A `snapshot`, `event` or `error` message for this subscription. */
  handle(msg: Msg): void {
    if (this.closed || msg.subscription !== this.subId) return;
    if (msg.type === "snapshot") {
      const reason = this.needResync ? "resync" : "initial";
      this.needResync = false;
      this.snapshotSeen = true;
      if (typeof msg.seq === "number") this.lastSeq = msg.seq;
      const snap: SnapshotEvent<T> = {
        event: "snapshot",
        reason,
        collection: msg.collection ?? this.collection,
        subscription: msg.subscription,
        seq: msg.seq,
        documents: Array.isArray(msg.documents) ? msg.documents : [],
        truncated: msg.truncated === true,
      };
      safeCall(this.callback, snap);
      if (reason === "resync" && this.options.onResync) safeCall(this.options.onResync, snap);
    } else if (msg.type === "event") {
      const seq = msg.seq;
      if (typeof seq !== "number") return;
      if (this.lastSeq !== undefined && seq <= this.lastSeq) return; // already delivered
      this.lastSeq = seq;
      const ev: ChangeEvent<T> = {
        event: msg.event,
        collection: msg.collection ?? this.collection,
        subscription: msg.subscription,
        seq,
        document: msg.document,
      };
      if (msg.old !== undefined) ev.old = msg.old;
      if (msg.transition !== undefined) ev.transition = msg.transition;
      safeCall(this.callback, ev);
    } else if (msg.type === "error") {
      // The server ended this subscription.
      const id = this.subId!;
      this.host.route(id, undefined);
      this.subId = undefined;
      this.onSubscribeError(id, EddyError.fromMessage(msg), true);
    }
  }

  async unsubscribe(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.host.remove(this);
    this.rejectReady(new EddyError("closed", "unsubscribed"));
    const id = this.subId;
    this.subId = undefined;
    if (id === undefined) return;
    await this.sendUnsubscribe(id);
  }

  private async sendUnsubscribe(id: string): Promise<void> {
    if (!this.host.conn.isOpen) {
      this.host.route(id, undefined);
      return;
    }
    try {
      await this.host.conn.request({ type: "unsubscribe", id }, ["unsubscribed"]);
    } catch {
      /* not_found or disconnected: either way it is gone */
    } finally {
      this.host.route(id, undefined);
    }
  }

  private onSubscribed(id: string, reply: Msg): void {
    if (id !== this.subId) return;
    if (this.closed) {
      void this.sendUnsubscribe(id);
      return;
    }
    this.retries = 0;
    if (typeof reply.seq === "number" && (this.lastSeq === undefined || reply.seq > this.lastSeq)) {
      this.lastSeq = reply.seq;
    }
    this.resolveReady();
  }

  private onSubscribeError(id: string, err: EddyError, fromServer = false): void {
    if (!fromServer && id !== this.subId) return; // a stale attempt
    if (this.closed) return;
    if (!fromServer) {
      this.host.route(id, undefined);
      this.subId = undefined;
    }
    if (err.code === "disconnected" || err.code === "closed") return; // resubscribed on reopen
    if (err.code === "cursor_expired") {
      this.needResync = true;
      this.subscribe();
      return;
    }
    if (RETRYABLE.has(err.code)) {
      if (err.code === "timeout") void this.sendUnsubscribe(id);
      const delay = Math.min(30_000, 500 * 2 ** this.retries++) * (0.5 + Math.random() / 2);
      this.retryTimer = setTimeout(() => this.subscribe(), delay);
      return;
    }
    this.fail(err);
  }

  /** The subscription cannot continue (forbidden, invalid filter, …). */
  private fail(err: EddyError): void {
    this.closed = true;
    this.host.remove(this);
    this.rejectReady(err);
    if (this.options.onError) safeCall(this.options.onError, err);
    else this.host.reportError(err);
  }
}
