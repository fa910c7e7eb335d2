// The client: wires REST, the realtime connection, watches, rooms and the broadcast queue together.

import { Accounts, type SessionOptions } from "./accounts.js";
import { Auth } from "./auth.js";
import { Collection } from "./collection.js";
import { Connection, type Msg } from "./connection.js";
import { Emitter } from "./emitter.js";
import { EddyError } from "./errors.js";
import { Rest } from "./rest.js";
import { Room, type AnyRoom, type RoomHost } from "./room.js";
import type {
  ClientOptions,
  ConnectionStatus,
  DocumentData,
  Identity,
  PresenceState,
  ServerMessage,
  WatchEvent,
  WatchOptions,
} from "./types.js";
import { Watch, type WatchHandle, type WatchHost } from "./watch.js";

export interface ClientEvents extends Record<string, unknown> {
  /** Connection status changes: `connecting`, `open`, `reconnecting`, `closed`. */
  status: ConnectionStatus;
  /** Messages from the server publish API. */
  message: ServerMessage;
  /** Errors nobody awaits: failed auth or token refresh, ended subscriptions without `onError`, terminal close. */
  error: EddyError;
}

interface Queued {
  room: AnyRoom;
  msg: Msg;
  resolve(): void;
  reject(err: EddyError): void;
  timer: ReturnType<typeof setTimeout>;
}

export class EddyClient {
  /** Base HTTP URL of the server. */
  readonly url: string;
  /** URL of the realtime WebSocket endpoint. */
  readonly realtimeUrl: string;

  /** User accounts: sign-up, sign-in and the session whose tokens the client uses while signed in. */
  readonly auth: Accounts;
  private readonly creds: Auth;
  private readonly rest: Rest;
  private readonly conn: Connection;
  private readonly events = new Emitter<ClientEvents>();
  private readonly watches = new Set<Watch<any>>();
  private readonly routes = new Map<string, Watch<any>>();
  private readonly rooms = new Map<string, AnyRoom>();
  private queue: Queued[] = [];
  private readonly maxQueued: number;
  private readonly queuedTimeout: number;
  private watchCounter = 0;
  private readonly watchHost: WatchHost;
  private readonly roomHost: RoomHost;

  constructor(url: string, options: ClientOptions & { session?: SessionOptions } = {}) {
    this.url = httpBase(url);
    this.realtimeUrl = this.url.replace(/^http/, "ws") + (options.realtimePath ?? "/realtime");
    this.auth = new Accounts(this.url, options.fetch, options.session);
    this.creds = new Auth(options, this.auth);
    this.rest = new Rest(this.url, this.creds, options.fetch);
    this.maxQueued = options.maxQueuedBroadcasts ?? 100;
    this.queuedTimeout = options.queuedBroadcastTimeout ?? 30_000;
    this.conn = new Connection(this.realtimeUrl, this.creds, options, {
      onOpen: () => this.onOpen(),
      onMessage: (msg) => this.onMessage(msg),
      onDown: () => this.onDown(),
      onStatus: (s) => this.events.emit("status", s),
      onError: (err) => this.reportError(err),
      onClosed: (err) => this.onClosed(err),
    });
    const conn = this.conn;
    // New user tokens re-authenticate the open socket (subscriptions stay); a sign-out reconnects
    // with whatever credential remains, so the user's subscriptions end.
    this.auth.onChange((event) => {
      if (event === "SIGNED_OUT") conn.reconnect();
      else if (event !== "USER_UPDATED") void conn.refreshToken();
    });
    this.watchHost = {
      conn,
      route: (id, watch) => {
        if (watch) this.routes.set(id, watch);
        else this.routes.delete(id);
      },
      remove: (watch) => {
        this.watches.delete(watch);
      },
      reportError: (err) => this.reportError(err),
    };
    this.roomHost = {
      conn,
      enqueue: (room, msg) => this.enqueue(room, msg),
      flush: (room) => this.flush(room),
      dropQueued: (room, err) => this.dropQueued(room, err),
      reportError: (err) => this.reportError(err),
    };
  }

  /** Current connection status (`idle` until something needs the realtime connection). */
  get status(): ConnectionStatus {
    return this.conn.status;
  }

  /** This socket's connection id (as seen in presence and broadcasts' `from`), once open. */
  get connectionId(): string | undefined {
    return this.conn.connectionId;
  }

  /** The identity reported by the server at the last authentication. */
  get identity(): Identity | undefined {
    return this.conn.identity;
  }

  /** Opens the realtime connection (done automatically by watches, rooms and `on("message")`). */
  connect(): Promise<void> {
    return this.conn.whenOpen();
  }

  /** Closes the realtime connection for good; pending work is rejected with code `closed`. */
  async close(): Promise<void> {
    this.auth.stop();
    this.conn.close();
  }

  on<K extends keyof ClientEvents>(event: K, listener: (value: ClientEvents[K]) => void): () => void {
    const off = this.events.on(event, listener);
    if (event === "message") this.conn.start();
    return off;
  }

  off<K extends keyof ClientEvents>(event: K, listener: (value: ClientEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  /** Documents of one collection: CRUD, listing, watch and live queries. `T` may be any object type. */
  collection<T extends object = DocumentData>(name: string): Collection<T> {
    return new Collection<T>(this, this.rest, name);
  }

  /** Subscribes to changes of a collection; survives reconnects without gaps or duplicates. */
  watchCollection<T extends object = DocumentData>(
    collection: string,
    callback: (event: WatchEvent<T>) => void,
    options: WatchOptions<T> = {},
  ): WatchHandle {
    const watch = new Watch<T>(this.watchHost, `w${++this.watchCounter}`, collection, callback, options);
    if (this.conn.isEnded) {
      void watch.unsubscribe();
      return watch;
    }
    this.watches.add(watch);
    this.conn.start();
    watch.subscribe();
    return watch;
  }

  /**
   * A room handle (the same object for the same name). Call `join()` to enter it. `Events` maps event
   * names to message types (`room<{ "chat:message": Msg }>`), `Presence` is the presence state type.
   */
  room<Events extends object = Record<string, unknown>, Presence extends object = PresenceState>(
    name: string,
  ): Room<Events, Presence> {
    let room = this.rooms.get(name);
    if (!room) {
      room = new Room(this.roomHost, name);
      this.rooms.set(name, room);
    }
    // One handle per name whatever the type arguments: they only describe what the app sends.
    return room as Room<Events, Presence>;
  }

  // ---- connection hooks ----

  private onOpen(): void {
    for (const w of [...this.watches]) w.subscribe();
    for (const r of this.rooms.values()) r.onOpen();
  }

  private onDown(): void {
    for (const w of this.watches) w.onDown();
    this.routes.clear();
    for (const r of this.rooms.values()) r.onDown();
  }

  private onClosed(err: EddyError): void {
    for (const w of [...this.watches]) void w.unsubscribe();
    for (const r of this.rooms.values()) r.onClosed(err);
    for (const q of this.queue) {
      clearTimeout(q.timer);
      q.reject(err);
    }
    this.queue = [];
  }

  private onMessage(msg: Msg): void {
    switch (msg.type) {
      case "snapshot":
      case "event":
        this.routes.get(msg.subscription)?.handle(msg);
        return;
      case "presence":
      case "broadcast":
        this.rooms.get(msg.room)?.handle(msg);
        return;
      case "message":
        this.events.emit("message", { event: msg.event, message: msg.message, ts: msg.ts });
        return;
      case "error":
        if (typeof msg.subscription === "string") {
          const watch = this.routes.get(msg.subscription);
          if (watch) return watch.handle(msg);
        } else if (typeof msg.room === "string") {
          const room = this.rooms.get(msg.room);
          if (room) return room.handle(msg);
        }
        this.reportError(EddyError.fromMessage(msg));
        return;
    }
  }

  private reportError(err: EddyError): void {
    this.events.emit("error", err);
  }

  // ---- broadcast queue ----

  private enqueue(room: AnyRoom, msg: Msg): Promise<void> {
    if (this.conn.isEnded) return Promise.reject(new EddyError("closed", "the client is closed"));
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(
        new EddyError("queue_full", `not connected and ${this.maxQueued} broadcasts are already queued`, { room: room.name }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const item: Queued = {
        room,
        msg,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.queue = this.queue.filter((q) => q !== item);
          reject(new EddyError("timeout", `broadcast not sent: still disconnected after ${this.queuedTimeout} ms`, { room: room.name }));
        }, this.queuedTimeout),
      };
      this.queue.push(item);
    });
  }

  private flush(room: AnyRoom): void {
    const mine = this.queue.filter((q) => q.room === room);
    this.queue = this.queue.filter((q) => q.room !== room);
    for (const q of mine) {
      clearTimeout(q.timer);
      room.send(q.msg).then(q.resolve, q.reject);
    }
  }

  private dropQueued(room: AnyRoom, err: EddyError): void {
    const mine = this.queue.filter((q) => q.room === room);
    this.queue = this.queue.filter((q) => q.room !== room);
    for (const q of mine) {
      clearTimeout(q.timer);
      q.reject(err);
    }
  }
}

/** Normalises the server URL to an http(s) base without a trailing slash. */
function httpBase(url: string): string {
  let u = url;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) {
    const loc = (globalThis as { location?: { href: string } }).location;
    if (!loc) throw new TypeError(`createClient: "${url}" is not an absolute URL`);
    u = new URL(u || "/", loc.href).href;
  }
  u = u.replace(/^ws(s?):\/\//i, "http$1://").replace(/\/+$/, "");
  if (!/^https?:\/\//i.test(u)) throw new TypeError(`createClient: unsupported URL scheme in "${url}"`);
  return u;
}

/** Creates a client for the Eddy server at `url` (e.g. `http://127.0.0.1:8080`). */
export function createClient(url: string, options: ClientOptions & { session?: SessionOptions } = {}): EddyClient {
  return new EddyClient(url, options);
}
