// Rooms: join with presence, broadcasts, presence tracking; rejoined after every reconnect.

import type { Connection, Msg } from "./connection.js";
import { Emitter, safeCall } from "./emitter.js";
import { EddyError } from "./errors.js";
import type { BroadcastMeta, Member, PresenceDiff, PresenceState } from "./types.js";

/** Event names of a room's event map. */
export type RoomEvent<Events> = Extract<keyof Events, string>;

/** Receives one broadcast: its message and where it came from. */
export type BroadcastListener<M = unknown, K extends string = string> = (message: M, meta: BroadcastMeta<K>) => void;
/** Receives the current members and the change that produced them. */
export type PresenceListener<P = PresenceState> = (members: Member<P>[], diff: PresenceDiff<P>) => void;

/** Options of `room.join()`. */
export interface JoinOptions<P = PresenceState> {
  /** Initial presence state; kept and re-sent when rejoining after a reconnect. */
  presence?: P;
}

/** Options of `room.broadcast()`. */
export interface BroadcastOptions {
  /** Also deliver the broadcast to this socket (default false). */
  echo?: boolean;
}

/** What a room needs from the client. */
export interface RoomHost {
  readonly conn: Connection;
  /** Holds a broadcast until the room is joined again (bounded; may reject with `queue_full`). */
  enqueue(room: AnyRoom, msg: Msg): Promise<void>;
  /** Sends the room's queued broadcasts, in order. */
  flush(room: AnyRoom): void;
  /** Rejects the room's queued broadcasts. */
  dropQueued(room: AnyRoom, err: EddyError): void;
  reportError(err: EddyError): void;
}

const RETRYABLE = new Set(["internal", "rate_limited", "timeout", "unavailable"]);

/** A room handle whatever its type arguments (the client keeps one per name). */
export type AnyRoom = Room<any, any>;

/**
 * A room: presence and broadcasts. `Events` maps event names to message types and `Presence` is the
 * presence state type; both describe what the apps send and are not validated.
 */
export class Room<Events extends object = Record<string, unknown>, Presence extends object = PresenceState> {
  private wanted = false;
  private joined = false;
  private joining = false;
  private presence: Presence | undefined;
  private readonly memberMap = new Map<string, Member<Presence>>();
  private readonly listeners = new Emitter<Record<string, { message: unknown; meta: BroadcastMeta }>>();
  private readonly presenceListeners = new Set<PresenceListener<Presence>>();
  private waiters: { resolve(m: Member<Presence>[]): void; reject(e: EddyError): void }[] = [];
  private retries = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly host: RoomHost,
    /** The room name. */
    readonly name: string,
  ) {}

  /** True while the room is joined on the current connection. */
  get isJoined(): boolean {
    return this.joined;
  }

  /** Joins the room (connecting if needed); resolves with the members, including this connection. */
  join(options: JoinOptions<Presence> = {}): Promise<Member<Presence>[]> {
    if (this.host.conn.isEnded) return Promise.reject(new EddyError("closed", "the client is closed", { room: this.name }));
    if (options.presence !== undefined) this.presence = options.presence;
    if (this.wanted && this.joined) {
      return options.presence !== undefined ? this.track(options.presence).then(() => this.members()) : Promise.resolve(this.members());
    }
    this.wanted = true;
    const p = new Promise<Member<Presence>[]>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.host.conn.start();
    this.sendJoin();
    return p;
  }

  /** Listens to every broadcast of the room; `meta.event` tells which one. */
  on(event: "*", listener: BroadcastListener<Events[RoomEvent<Events>], RoomEvent<Events>>): () => void;
  /** Listens to broadcasts of one event name. Returns a function that removes the listener. */
  on<K extends RoomEvent<Events>>(event: K, listener: BroadcastListener<Events[K], K>): () => void;
  on(event: string, listener: BroadcastListener<any, any>): () => void {
    return this.listeners.on(event, ({ message, meta }) => listener(message, meta));
  }

  /** Listens to presence changes: `listener(members, { joins, leaves })`. */
  onPresence(listener: PresenceListener<Presence>): () => void {
    this.presenceListeners.add(listener);
    return () => this.presenceListeners.delete(listener);
  }

  /** The current members (from `joined`, then kept up to date from presence diffs). */
  members(): Member<Presence>[] {
    return [...this.memberMap.values()];
  }

  /** Replaces this connection's presence state; also used when rejoining after a reconnect. */
  async track(state: Presence): Promise<void> {
    if (!this.wanted) throw new EddyError("not_joined", `room "${this.name}" is not joined`, { room: this.name });
    this.presence = state;
    const me = this.host.conn.connectionId;
    if (me !== undefined && this.memberMap.has(me)) this.memberMap.get(me)!.state = state;
    if (!this.joined || !this.host.conn.isOpen) return; // sent with the next join
    await this.host.conn.request({ type: "presence", room: this.name, state }, ["ack"]);
  }

  /**
   * Sends a broadcast to the other members; resolves on the server's `ack`. While the connection
   * is down the broadcast is queued and sent after the room is rejoined.
   */
  async broadcast<K extends RoomEvent<Events>>(event: K, message: Events[K], options: BroadcastOptions = {}): Promise<void> {
    if (!this.wanted) throw new EddyError("not_joined", `room "${this.name}" is not joined`, { room: this.name });
    const msg: Msg = { type: "broadcast", room: this.name, event, message, echo: options.echo ?? false };
    if (!this.joined || !this.host.conn.isOpen) return this.host.enqueue(this, msg);
    await this.send(msg);
  }

  /** Leaves the room; queued broadcasts are rejected with `not_joined`. */
  async leave(): Promise<void> {
    const wasJoined = this.joined && this.host.conn.isOpen;
    this.wanted = false;
    this.joined = false;
    clearTimeout(this.retryTimer);
    this.memberMap.clear();
    const err = new EddyError("not_joined", `left room "${this.name}"`, { room: this.name });
    this.rejectWaiters(err);
    this.host.dropQueued(this, err);
    if (!wasJoined) return;
    try {
      await this.host.conn.request({ type: "leave", room: this.name }, ["left"]);
    } catch (e) {
      if (!(e instanceof EddyError) || !["not_found", "disconnected", "closed"].includes(e.code)) throw e;
    }
  }

  // ---- driven by the client ----

  /** Sends a broadcast that is allowed to go out now. */
  send(msg: Msg): Promise<void> {
    return this.host.conn.request(msg, ["ack"]).then(
      () => undefined,
      (err: EddyError) => {
        if (err.code !== "disconnected") throw err;
        throw new EddyError(
          "disconnected",
          "the connection was lost before the server acknowledged the broadcast; it may or may not have been delivered",
          { room: this.name },
        );
      },
    );
  }

  onOpen(): void {
    this.sendJoin();
  }

  onDown(): void {
    this.joined = false;
    this.joining = false;
  }

  onClosed(err: EddyError): void {
    this.joined = false;
    this.rejectWaiters(err);
  }

  handle(msg: Msg): void {
    if (msg.type === "broadcast") {
      if (!this.wanted) return;
      const meta: BroadcastMeta = { room: this.name, event: msg.event, from: msg.from ?? {}, ts: msg.ts };
      this.listeners.emit(msg.event, { message: msg.message, meta });
      this.listeners.emit("*", { message: msg.message, meta });
    } else if (msg.type === "presence") {
      if (!this.joined) return;
      const diff: PresenceDiff<Presence> = { joins: msg.joins ?? {}, leaves: msg.leaves ?? {} };
      for (const conn of Object.keys(diff.leaves)) this.memberMap.delete(conn);
      for (const [conn, m] of Object.entries(diff.joins)) this.memberMap.set(conn, toMember(conn, m));
      this.emitPresence(diff);
    } else if (msg.type === "error") {
      // The server ended the membership (e.g. `forbidden` after a re-auth).
      const err = EddyError.fromMessage(msg);
      this.wanted = false;
      this.joined = false;
      this.memberMap.clear();
      this.host.dropQueued(this, err);
      this.host.reportError(err);
    }
  }

  private sendJoin(): void {
    if (!this.wanted || this.joined || this.joining || !this.host.conn.isOpen) return;
    clearTimeout(this.retryTimer);
    this.joining = true;
    const msg: Msg = { type: "join", room: this.name };
    if (this.presence !== undefined) msg.presence = this.presence;
    const opens = this.host.conn.opens;
    const sent = this.presence;
    this.host.conn.request(msg, ["joined"]).then(
      (reply) => this.onJoined(reply, opens, sent),
      (err: EddyError) => this.onJoinError(err, opens),
    );
  }

  private onJoined(reply: Msg, opens: number, sentPresence: Presence | undefined): void {
    if (opens !== this.host.conn.opens) return;
    this.joining = false;
    if (!this.wanted) {
      void this.host.conn.request({ type: "leave", room: this.name }, ["left"]).catch(() => undefined);
      return;
    }
    this.joined = true;
    this.retries = 0;
    const before = new Map(this.memberMap);
    this.memberMap.clear();
    for (const m of Array.isArray(reply.members) ? reply.members : []) {
      this.memberMap.set(m.connection, toMember(m.connection, m));
    }
    const diff: PresenceDiff<Presence> = { joins: {}, leaves: {} };
    for (const [conn, m] of before) if (!this.memberMap.has(conn)) diff.leaves[conn] = entry(m);
    for (const [conn, m] of this.memberMap) {
      const old = before.get(conn);
      if (!old || JSON.stringify(old.state) !== JSON.stringify(m.state)) diff.joins[conn] = entry(m);
    }
    const members = this.members();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve(members);
    if (Object.keys(diff.joins).length > 0 || Object.keys(diff.leaves).length > 0) this.emitPresence(diff);
    if (this.presence !== sentPresence && this.presence !== undefined) {
      // track() was called while the join was in flight.
      void this.track(this.presence).catch((e: EddyError) => this.host.reportError(e));
    }
    this.host.flush(this);
  }

  private onJoinError(err: EddyError, opens: number): void {
    if (opens !== this.host.conn.opens) return;
    this.joining = false;
    if (!this.wanted) return;
    if (err.code === "disconnected") return; // rejoined on reopen
    if (err.code === "closed") {
      this.rejectWaiters(err);
      return;
    }
    if (RETRYABLE.has(err.code)) {
      const delay = Math.min(30_000, 500 * 2 ** this.retries++) * (0.5 + Math.random() / 2);
      this.retryTimer = setTimeout(() => this.sendJoin(), delay);
      return;
    }
    this.wanted = false;
    const hadWaiters = this.waiters.length > 0;
    this.rejectWaiters(err);
    this.host.dropQueued(this, err);
    if (!hadWaiters) this.host.reportError(err); // a rejoin failed: nobody is awaiting it
  }

  private rejectWaiters(err: EddyError): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  private emitPresence(diff: PresenceDiff<Presence>): void {
    const members = this.members();
    for (const l of [...this.presenceListeners]) safeCall(l, members, diff);
  }
}

// Presence states come from other clients; the app's `Presence` type is trusted, as documents' `T` is.
function toMember<P>(connection: string, m: { sub?: string; state?: P }): Member<P> {
  const member: Member<P> = { connection, state: m.state ?? ({} as P) };
  if (m.sub !== undefined && m.sub !== null) member.sub = m.sub;
  return member;
}

function entry<P>(m: Member<P>): { sub?: string; state: P } {
  return m.sub !== undefined ? { sub: m.sub, state: m.state } : { state: m.state };
}
