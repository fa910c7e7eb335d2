// One logical realtime connection: socket lifecycle, authentication, reconnect with backoff,
// heartbeat, token refresh and request/reply matching by `ref`.

import { Auth, jwtExpiresAt } from "./auth.js";
import { backoffDelay, backoffSettings, type BackoffSettings } from "./backoff.js";
import { EddyError } from "./errors.js";
import { listenToBrowser, resolveWebSocket } from "./platform.js";
import type {
  ClientOptions,
  ConnectionStatus,
  Identity,
  WebSocketConstructor,
  WebSocketLike,
} from "./types.js";

export type Msg = Record<string, any>;

export interface ConnectionHooks {
  /** The socket is open and authenticated: resubscribe, rejoin, flush queues. */
  onOpen(): void;
  /** A server message that is not a reply to a pending request. */
  onMessage(msg: Msg): void;
  /** The open socket was lost (a reconnect follows unless the close was terminal). */
  onDown(): void;
  onStatus(status: ConnectionStatus): void;
  /** A connection-level error (failed auth, failed token refresh, terminal close). */
  onError(err: EddyError): void;
  /** The connection ended for good (terminal close code or `close()`). */
  onClosed(err: EddyError): void;
}

interface Pending {
  expect: string[];
  resolve(msg: Msg): void;
  reject(err: EddyError): void;
  timer: ReturnType<typeof setTimeout>;
}

const OPEN = 1;
/** The open connection counts as stable (backoff resets) after this many ms. */
const STABLE_AFTER = 5_000;
/**
 * Outbound pacing (token bucket), below the server's default per-socket limit of 100 messages/s with
 * a burst of 200, so that resubscribing many watches or flushing queued broadcasts after a reconnect
 * does not get messages dropped as `rate_limited` or the socket closed with 4008.
 */
const SEND_BURST = 150;
const SEND_RATE = 80;

export class Connection {
  status: ConnectionStatus = "idle";
  /** This socket's id from `auth_ok` (appears in presence and broadcasts' `from`). */
  connectionId: string | undefined;
  identity: Identity | undefined;
  /** Number of times the connection has been (re)established. */
  opens = 0;

  private readonly url: string;
  private readonly auth: Auth;
  private readonly hooks: ConnectionHooks;
  private readonly backoff: BackoffSettings;
  private readonly heartbeat: { interval: number; timeout: number } | false;
  private readonly connectTimeout: number;
  private readonly requestTimeout: number;
  private readonly refreshMargin: number;
  private readonly wsCtor: WebSocketConstructor | undefined;

  private ws: WebSocketLike | undefined;
  private gen = 0;
  private attempt = 0;
  private authenticated = false;
  private ended = false;
  private authRef: number | undefined;
  private nextRef = 1;
  private readonly pending = new Map<string, Pending>();
  private lastServerError: EddyError | undefined;
  private openWaiters: { resolve(): void; reject(e: EddyError): void }[] = [];
  private timers: Record<"connect" | "reconnect" | "heartbeat" | "dead" | "refresh" | "stable", any> = {
    connect: undefined,
    reconnect: undefined,
    heartbeat: undefined,
    dead: undefined,
    refresh: undefined,
    stable: undefined,
  };
  private refreshing = false;
  private outbox: string[] = [];
  private sendTokens = SEND_BURST;
  private lastRefill = 0;
  private drainTimer: ReturnType<typeof setTimeout> | undefined;
  private removeBrowserListeners: (() => void) | undefined;

  constructor(url: string, auth: Auth, options: ClientOptions, hooks: ConnectionHooks) {
    this.url = url;
    this.auth = auth;
    this.hooks = hooks;
    this.backoff = backoffSettings(options.reconnect);
    this.heartbeat =
      options.heartbeat === false
        ? false
        : { interval: options.heartbeat?.interval ?? 20_000, timeout: options.heartbeat?.timeout ?? 10_000 };
    this.connectTimeout = options.connectTimeout ?? 10_000;
    this.requestTimeout = options.requestTimeout ?? 15_000;
    this.refreshMargin = options.tokenRefreshMargin ?? 60_000;
    this.wsCtor = options.WebSocket;
    if (options.browserEvents !== false) {
      this.removeBrowserListeners = listenToBrowser({
        wake: () => this.wake(),
        probe: () => this.checkLiveness(),
      });
    }
  }

  get isOpen(): boolean {
    return this.authenticated && this.ws !== undefined && !this.ended;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Starts connecting if not yet started. */
  start(): void {
    if (this.status === "idle") void this.connect();
  }

  /** Resolves once the connection is open (starting it if needed). */
  whenOpen(): Promise<void> {
    if (this.ended) return Promise.reject(new EddyError("closed", "the client is closed"));
    if (this.isOpen) return Promise.resolve();
    this.start();
    return new Promise((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  /** Sends a message on the open socket; throws `disconnected` if not open. */
  send(msg: Msg): void {
    const ws = this.ws;
    if (!this.isOpen || !ws || ws.readyState !== OPEN) {
      throw new EddyError("disconnected", "the realtime connection is not open");
    }
    const frame = JSON.stringify(msg);
    this.refill();
    if (this.outbox.length === 0 && this.sendTokens >= 1) {
      this.sendTokens--;
      ws.send(frame);
    } else {
      this.outbox.push(frame);
      this.scheduleDrain();
    }
  }

  private refill(): void {
    const now = Date.now();
    this.sendTokens = Math.min(SEND_BURST, this.sendTokens + ((now - this.lastRefill) * SEND_RATE) / 1000);
    this.lastRefill = now;
  }

  private scheduleDrain(): void {
    if (this.drainTimer !== undefined) return;
    const wait = Math.max(0, ((1 - this.sendTokens) * 1000) / SEND_RATE);
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      const ws = this.ws;
      if (!ws || ws.readyState !== OPEN) return;
      this.refill();
      while (this.outbox.length > 0 && this.sendTokens >= 1) {
        this.sendTokens--;
        ws.send(this.outbox.shift()!);
      }
      if (this.outbox.length > 0) this.scheduleDrain();
    }, wait);
  }

  /**
   * Sends `msg` with a fresh `ref` and resolves with the reply of one of the `expect` types;
   * an `error` with the same ref rejects.
   */
  request(msg: Msg, expect: string[], timeoutMs = this.requestTimeout): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const ref = this.nextRef++;
      const timer = setTimeout(() => {
        this.pending.delete(String(ref));
        reject(new EddyError("timeout", `no reply to ${String(msg.type)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(String(ref), { expect, resolve, reject, timer });
      try {
        this.send({ ...msg, ref });
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(String(ref));
        reject(err);
      }
    });
  }

  /** Closes the connection for good. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    const ws = this.ws;
    this.teardownSocket();
    if (ws) {
      try {
        ws.close(1000, "client closed");
      } catch {
        /* already closing */
      }
    }
    this.removeBrowserListeners?.();
    const err = new EddyError("closed", "the client is closed");
    this.rejectPending(err);
    this.rejectOpenWaiters(err);
    this.setStatus("closed");
    this.hooks.onClosed(err);
  }

  /** Sends a ping now and drops the socket if nothing arrives within the heartbeat timeout. */
  checkLiveness(): void {
    if (!this.isOpen || !this.heartbeat || this.timers.dead !== undefined) return;
    const gen = this.gen;
    try {
      this.send({ type: "ping" });
    } catch {
      return;
    }
    this.timers.dead = setTimeout(() => {
      this.timers.dead = undefined;
      this.dropSocket(gen, "heartbeat timeout");
    }, this.heartbeat.timeout);
  }

  /** Back online or visible again: reconnect now if waiting to retry, else probe the socket. */
  wake(): void {
    if (this.ended) return;
    if (this.timers.reconnect !== undefined) {
      clearTimeout(this.timers.reconnect);
      this.attempt = 0;
      void this.connect();
    } else {
      this.checkLiveness();
    }
  }

  /** Drops the socket and reconnects with the credentials as they are now (after a sign-out). */
  reconnect(): void {
    if (this.ws) this.dropSocket(this.gen, "credentials changed");
  }

  /**
   * Refreshes the token via `getToken` and re-authenticates the open socket. `force` (the server
   * said the token is expiring) makes an account session refresh even if its token looks young.
   */
  async refreshToken(force = false): Promise<void> {
    if (!this.auth.canRefresh || !this.isOpen || this.refreshing) return;
    this.refreshing = true;
    const gen = this.gen;
    clearTimeout(this.timers.refresh);
    try {
      const token = await this.auth.fresh(force);
      if (gen !== this.gen || !this.isOpen || token === undefined) return;
      const reply = await this.request({ type: "auth", token }, ["auth_ok"]);
      if (gen !== this.gen) return;
      this.applyAuthOk(reply, token);
    } catch (err) {
      if (gen !== this.gen || this.ended) return;
      this.hooks.onError(asEddyError(err, "token refresh failed"));
      // Retry soon; if the token runs out meanwhile the server closes with 4001 and we reconnect.
      this.timers.refresh = setTimeout(() => void this.refreshToken(), 5_000);
    } finally {
      this.refreshing = false;
    }
  }

  // ---- connecting ----

  private async connect(): Promise<void> {
    if (this.ended) return;
    const gen = ++this.gen;
    this.timers.reconnect = undefined;
    if (this.status === "idle") this.setStatus("connecting");
    let token: string | undefined;
    let Ctor: WebSocketConstructor;
    try {
      const pending = this.opens === 0 && this.attempt === 0 ? this.auth.initial() : this.auth.fresh();
      token = await withTimeout(pending, this.connectTimeout, "getToken() did not answer in time");
    } catch (err) {
      if (gen !== this.gen || this.ended) return;
      this.hooks.onError(asEddyError(err, "getToken() failed"));
      this.scheduleReconnect();
      return;
    }
    try {
      Ctor = await resolveWebSocket(this.wsCtor);
    } catch (err) {
      if (gen === this.gen) this.fail(asEddyError(err, "no WebSocket implementation"));
      return;
    }
    if (gen !== this.gen || this.ended) return;
    let ws: WebSocketLike;
    try {
      ws = new Ctor(this.url);
    } catch (err) {
      this.hooks.onError(asEddyError(err, "could not create the WebSocket"));
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.lastServerError = undefined;
    this.timers.connect = setTimeout(() => this.dropSocket(gen, "connect timeout"), this.connectTimeout);
    ws.onopen = () => {
      if (gen !== this.gen) return;
      if (token === undefined) {
        this.markOpen();
        return;
      }
      this.authRef = this.nextRef++;
      ws.send(JSON.stringify({ type: "auth", token, ref: this.authRef }));
    };
    ws.onmessage = (ev: { data: unknown }) => this.onFrame(gen, ev.data, token);
    ws.onclose = (ev: { code?: number; reason?: string }) => this.onClose(gen, ev.code ?? 1006, ev.reason ?? "");
    ws.onerror = () => {
      /* a close event follows */
    };
  }

  private markOpen(): void {
    clearTimeout(this.timers.connect);
    this.authenticated = true;
    this.opens++;
    this.timers.stable = setTimeout(() => (this.attempt = 0), STABLE_AFTER);
    this.startHeartbeat();
    this.setStatus("open");
    this.hooks.onOpen();
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.resolve();
  }

  private applyAuthOk(msg: Msg, token: string): void {
    this.identity = msg.identity as Identity | undefined;
    if (typeof msg.connection === "string") this.connectionId = msg.connection;
    const exp = typeof msg.expires_at === "number" ? msg.expires_at * 1000 : jwtExpiresAt(token);
    this.scheduleRefresh(exp);
  }

  private scheduleRefresh(expiresAt: number | undefined): void {
    clearTimeout(this.timers.refresh);
    if (expiresAt === undefined || !this.auth.canRefresh) return;
    const remaining = expiresAt - Date.now();
    const delay = Math.min(2 ** 31 - 1, Math.max(0, remaining - this.refreshMargin, remaining / 2));
    this.timers.refresh = setTimeout(() => void this.refreshToken(), delay);
  }

  // ---- inbound ----

  private onFrame(gen: number, data: unknown, token: string | undefined): void {
    if (gen !== this.gen) return;
    if (typeof data !== "string") return; // the protocol only uses text frames
    let msg: Msg;
    try {
      msg = JSON.parse(data) as Msg;
    } catch {
      return;
    }
    if (msg === null || typeof msg !== "object") return;
    clearTimeout(this.timers.dead);
    this.timers.dead = undefined;

    if (!this.authenticated && this.authRef !== undefined && msg.ref === this.authRef) {
      this.authRef = undefined;
      if (msg.type === "auth_ok") {
        this.applyAuthOk(msg, token ?? "");
        this.markOpen();
      } else {
        this.onAuthFailed(gen, EddyError.fromMessage(msg));
      }
      return;
    }
    if (msg.ref !== undefined && msg.ref !== null) {
      const p = this.pending.get(String(msg.ref));
      if (p && (msg.type === "error" || p.expect.includes(msg.type))) {
        this.pending.delete(String(msg.ref));
        clearTimeout(p.timer);
        if (msg.type === "error") p.reject(EddyError.fromMessage(msg));
        else p.resolve(msg);
        return;
      }
    }
    switch (msg.type) {
      case "pong":
        return;
      case "token_expiring":
        void this.refreshToken(true);
        break;
      case "error":
        if (msg.subscription === undefined && msg.room === undefined) {
          this.lastServerError = EddyError.fromMessage(msg);
        }
        break;
    }
    this.hooks.onMessage(msg);
  }

  private onAuthFailed(gen: number, err: EddyError): void {
    if (!this.auth.canRefresh) {
      this.lastServerError = err;
      const ws = this.ws;
      this.teardownSocket();
      try {
        ws?.close(1000, "authentication failed");
      } catch {
        /* ignore */
      }
      this.fail(err);
      return;
    }
    this.hooks.onError(err);
    this.dropSocket(gen, "authentication failed");
  }

  private onClose(gen: number, code: number, reason: string): void {
    if (gen !== this.gen) return;
    const wasOpen = this.authenticated;
    this.teardownSocket();
    this.rejectPending(new EddyError("disconnected", "the connection was lost before a reply arrived"));
    if (this.ended) return;
    if (wasOpen) this.hooks.onDown();
    if (code >= 4000 && code <= 4099 && !(code === 4001 && this.auth.canRefresh)) {
      const server = this.lastServerError;
      const msg = `connection closed by the server with code ${code}${reason ? ` (${reason})` : ""}`;
      this.fail(new EddyError(server?.code ?? (code === 4001 ? "unauthorized" : "closed_by_server"), server ? `${server.message}; ${msg}` : msg));
      return;
    }
    this.scheduleReconnect();
  }

  /** Abandons the current socket without waiting for a close handshake and reconnects. */
  private dropSocket(gen: number, reason: string): void {
    if (gen !== this.gen || !this.ws) return;
    const ws = this.ws;
    detach(ws);
    try {
      if (typeof ws.terminate === "function") ws.terminate();
      else ws.close(4000, reason.slice(0, 100));
    } catch {
      /* ignore */
    }
    this.onClose(gen, 1006, reason);
  }

  private scheduleReconnect(): void {
    if (this.ended) return;
    this.setStatus(this.status === "idle" ? "connecting" : "reconnecting");
    const delay = backoffDelay(this.backoff, this.attempt++);
    clearTimeout(this.timers.reconnect);
    this.timers.reconnect = setTimeout(() => void this.connect(), delay);
  }

  private fail(err: EddyError): void {
    if (this.ended) return;
    this.ended = true;
    this.teardownSocket();
    this.removeBrowserListeners?.();
    clearTimeout(this.timers.reconnect);
    this.rejectPending(err);
    this.rejectOpenWaiters(err);
    this.hooks.onError(err);
    this.setStatus("closed");
    this.hooks.onClosed(err);
  }

  private teardownSocket(): void {
    const ws = this.ws;
    if (ws) detach(ws);
    this.ws = undefined;
    this.authenticated = false;
    this.authRef = undefined;
    this.outbox = [];
    this.sendTokens = SEND_BURST; // the server's bucket is per socket
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    for (const k of ["connect", "heartbeat", "dead", "refresh", "stable"] as const) {
      clearTimeout(this.timers[k]);
      clearInterval(this.timers[k]);
      this.timers[k] = undefined;
    }
  }

  private rejectPending(err: EddyError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  private rejectOpenWaiters(err: EddyError): void {
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  private setStatus(s: ConnectionStatus): void {
    if (this.status === s) return;
    this.status = s;
    this.hooks.onStatus(s);
  }

  private startHeartbeat(): void {
    if (!this.heartbeat) return;
    this.timers.heartbeat = setInterval(() => this.checkLiveness(), this.heartbeat.interval);
  }
}

/**
 * Stops listening to a socket we abandon. `onerror` stays a no-op: the `ws` package emits an
 * error when a socket still connecting is closed, and an unhandled one would crash Node.
 */
function detach(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = null;
  ws.onerror = () => undefined;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EddyError("timeout", message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function asEddyError(err: unknown, fallback: string): EddyError {
  if (err instanceof EddyError) return err;
  const message = err instanceof Error ? `${fallback}: ${err.message}` : fallback;
  return new EddyError("connection_error", message, { cause: err });
}
