// User accounts (`/v1/auth`): sign-up, sign-in, sessions with rotating refresh tokens kept in memory
// (or in a storage adapter), refresh before expiry, and the token source the client's `Auth` uses.

import { Auth } from "./auth.js";
import { EddyError } from "./errors.js";
import { Rest } from "./rest.js";

/** A user account as the server reports it. */
export interface User {
  id: string;
  email: string;
  role: string | null;
  profile: Record<string, unknown>;
  disabled: boolean;
  created_at: string;
  updated_at: string;
}

/** A signed-in session: a short-lived access JWT and a single-use refresh token. */
export interface Session {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  /** Access-token expiry, Unix seconds. */
  expires_at: number;
  refresh_token: string;
  user: User;
}

/** What `onChange` listeners are told. */
export type AuthChangeEvent = "SIGNED_IN" | "TOKEN_REFRESHED" | "SIGNED_OUT" | "USER_UPDATED";

/** Synchronous key-value storage, e.g. `localStorage` / `sessionStorage`. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Options of `client.auth` (passed as `createClient(url, { session: {...} })`). */
export interface SessionOptions {
  /** Where to keep the session; default: memory only (lost on reload). */
  storage?: StorageLike;
  /** Storage key (default `eddy.session`). */
  storageKey?: string;
  /** Refresh the access token on a timer before it expires (default true). */
  autoRefresh?: boolean;
}

type Listener = (event: AuthChangeEvent, session: Session | null) => void;

/** Fraction of an access token's life after which it is refreshed. */
const REFRESH_AT = 0.75;

/** `client.auth`: the accounts API and the current session. */
export class Accounts {
  private current: Session | null = null;
  private issuedAt = 0;
  private inflight: Promise<Session> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<Listener>();
  private readonly storage: StorageLike | undefined;
  private readonly key: string;
  private readonly autoRefresh: boolean;

  constructor(
    private readonly baseUrl: string,
    private readonly fetchImpl: typeof fetch | undefined,
    options: SessionOptions = {},
  ) {
    this.storage = options.storage;
    this.key = options.storageKey ?? "eddy.session";
    this.autoRefresh = options.autoRefresh ?? true;
    const saved = this.load();
    if (saved) this.adopt(saved, undefined);
  }

  /** The current session, or null when signed out. */
  get session(): Session | null {
    return this.current;
  }

  /**
   * Creates an account, then signs in. The server answers sign-ups the same way whether or not the
   * address was taken (no account enumeration), so a taken address shows up as a failed sign-in.
   */
  async signUp(args: { email: string; password: string; profile?: Record<string, unknown> }): Promise<Session> {
    await this.rest().request("POST", "/v1/auth/signup", { body: args });
    try {
      return await this.signIn({ email: args.email, password: args.password });
    } catch (err) {
      if (err instanceof EddyError && err.code === "unauthorized") {
        throw new EddyError("unauthorized", "sign-up did not lead to a session: the address may already be registered", {
          status: 401,
          cause: err,
        });
      }
      throw err;
    }
  }

  /** Signs in with email and password; the realtime connection re-authenticates as this user. */
  async signIn(args: { email: string; password: string }): Promise<Session> {
    const s = await this.rest().request<Session>("POST", "/v1/auth/login", { body: args });
    this.adopt(s, "SIGNED_IN");
    return s;
  }

  /** Exchanges the refresh token for a new session (one request at a time). */
  refresh(): Promise<Session> {
    if (!this.inflight) {
      this.inflight = this.doRefresh().finally(() => (this.inflight = undefined));
    }
    return this.inflight;
  }

  private async doRefresh(): Promise<Session> {
    // Another tab sharing the storage may have rotated the token already: using ours would
    // look like reuse and end the session, so adopt theirs instead.
    const stored = this.load();
    if (stored && this.current && stored.refresh_token !== this.current.refresh_token && stored.user.id === this.current.user.id) {
      this.adopt(stored, "TOKEN_REFRESHED");
      return stored;
    }
    const token = this.current?.refresh_token;
    if (!token) throw new EddyError("unauthorized", "not signed in", { status: 401 });
    try {
      const s = await this.rest().request<Session>("POST", "/v1/auth/refresh", { body: { refresh_token: token } });
      if (this.current?.refresh_token !== token) return this.current ?? s; // signed out meanwhile
      this.adopt(s, "TOKEN_REFRESHED");
      return s;
    } catch (err) {
      // A refused refresh token means the session is over (signed out, revoked, reused, disabled).
      if (err instanceof EddyError && err.status === 401 && this.current?.refresh_token === token) {
        this.clear();
      }
      throw err;
    }
  }

  /** Ends this session (or every session of the user with `everywhere`), then forgets it locally. */
  async signOut(options: { everywhere?: boolean } = {}): Promise<void> {
    const s = this.current;
    if (!s) return;
    this.clear();
    try {
      if (options.everywhere) {
        await this.rest(s.access_token).request("POST", "/v1/auth/logout-all");
      } else {
        await this.rest().request("POST", "/v1/auth/logout", { body: { refresh_token: s.refresh_token } });
      }
    } catch (err) {
      // Locally signed out either way; a failed server call only leaves the refresh token to expire.
      if (!(err instanceof EddyError && err.status === 401)) throw err;
    }
  }

  /** The signed-in user as the server has it now, or null when signed out. */
  async user(): Promise<User | null> {
    if (!this.current) return null;
    const token = await this.accessToken();
    return this.rest(token).request<User>("GET", "/v1/auth/me");
  }

  /** Merges `profile` into the user's profile (JSON merge patch: `null` removes a key). */
  async updateProfile(profile: Record<string, unknown>): Promise<User> {
    const token = await this.accessToken();
    const user = await this.rest(token).request<User>("PATCH", "/v1/auth/me", { body: { profile } });
    if (this.current) {
      this.current = { ...this.current, user };
      this.save();
      this.emit("USER_UPDATED");
    }
    return user;
  }

  /** Changes the password; every other session ends and this one continues with new tokens. */
  async changePassword(currentPassword: string, newPassword: string): Promise<Session> {
    const token = await this.accessToken();
    const s = await this.rest(token).request<Session>("POST", "/v1/auth/password", {
      body: { current_password: currentPassword, new_password: newPassword },
    });
    this.adopt(s, "TOKEN_REFRESHED");
    return s;
  }

  /** Calls `listener` on sign-in, refresh, profile change and sign-out; returns an unsubscribe function. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- the token source used by the client's credentials ----

  /** Whether a session provides the credential. */
  get active(): boolean {
    return this.current !== null;
  }

  /** The access token as it is, if signed in. */
  token(): string | undefined {
    return this.current?.access_token;
  }

  /**
   * An access token with most of its life left: refreshes once it is past `REFRESH_AT` of its life
   * (measured from when this client received it, so client clock skew does not matter), or now with `force`.
   */
  async accessToken(force = false): Promise<string> {
    const s = this.current;
    if (!s) throw new EddyError("unauthorized", "not signed in", { status: 401 });
    if (!force && Date.now() < this.refreshDue(s)) return s.access_token;
    return (await this.refresh()).access_token;
  }

  /** Stops the refresh timer (the client is closing). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  // ---- internals ----

  private refreshDue(s: Session): number {
    return this.issuedAt + s.expires_in * 1000 * REFRESH_AT;
  }

  private adopt(s: Session, event: AuthChangeEvent | undefined): void {
    this.current = s;
    // A stored session's issue time is derived from its expiry; a fresh one is issued now.
    this.issuedAt = event === undefined ? s.expires_at * 1000 - s.expires_in * 1000 : Date.now();
    this.save();
    this.schedule();
    if (event) this.emit(event);
  }

  private clear(): void {
    if (!this.current) return;
    this.current = null;
    this.stop();
    try {
      this.storage?.removeItem(this.key);
    } catch {
      /* storage unavailable: nothing kept */
    }
    this.emit("SIGNED_OUT");
  }

  private schedule(): void {
    this.stop();
    const s = this.current;
    if (!s || !this.autoRefresh) return;
    const delay = Math.min(2 ** 31 - 1, Math.max(0, this.refreshDue(s) - Date.now()));
    this.timer = setTimeout(() => {
      this.refresh().catch(() => undefined);
    }, delay);
    // A pending refresh must not keep a Node process alive.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private emit(event: AuthChangeEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event, this.current);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  private save(): void {
    if (!this.storage || !this.current) return;
    try {
      this.storage.setItem(this.key, JSON.stringify(this.current));
    } catch {
      /* storage full or unavailable: the session stays in memory */
    }
  }

  private load(): Session | null {
    try {
      const raw = this.storage?.getItem(this.key);
      if (!raw) return null;
      const s = JSON.parse(raw) as Session;
      return typeof s?.refresh_token === "string" && typeof s?.access_token === "string" && s.user ? s : null;
    } catch {
      return null;
    }
  }

  private rest(token?: string): Rest {
    return new Rest(this.baseUrl, new Auth(token === undefined ? {} : { token }), this.fetchImpl);
  }
}
