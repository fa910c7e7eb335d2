// Credentials: API key, static JWT or a `getToken` callback, shared by REST and realtime.

import { EddyError } from "./errors.js";

/** Decodes a JWT payload without verifying it (the server verifies). Returns undefined if not a JWT. */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    let b64 = parts[1]!.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4 !== 0) b64 += "=";
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const payload: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return payload !== null && typeof payload === "object" ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The `exp` claim of a JWT in Unix milliseconds, or undefined. */
export function jwtExpiresAt(token: string | undefined): number | undefined {
  if (!token) return undefined;
  const exp = decodeJwtPayload(token)?.exp;
  return typeof exp === "number" ? exp * 1000 : undefined;
}

export interface AuthOptions {
  apiKey?: string;
  token?: string;
  getToken?: () => Promise<string> | string;
}

/** A session that supplies user tokens (`client.auth`); while active it takes precedence. */
export interface TokenSource {
  readonly active: boolean;
  /** The current access token as it is. */
  token(): string | undefined;
  /** An access token with most of its life left (refreshing first if needed, or always with `force`). */
  accessToken(force?: boolean): Promise<string>;
}

export class Auth {
  private token: string | undefined;
  private readonly apiKey: string | undefined;
  private readonly getToken: (() => Promise<string> | string) | undefined;
  private inflight: Promise<string | undefined> | undefined;

  constructor(
    opts: AuthOptions,
    private readonly source?: TokenSource,
  ) {
    this.token = opts.token;
    this.apiKey = opts.apiKey;
    this.getToken = opts.getToken;
  }

  /** True when a `getToken` callback can provide new tokens. */
  get canRefresh(): boolean {
    return this.getToken !== undefined || this.source?.active === true;
  }

  /** The credential to use right now (token first, then API key). */
  current(): string | undefined {
    return (this.source?.active ? this.source.token() : undefined) ?? this.token ?? this.apiKey;
  }

  /** Calls `getToken` (one call at a time) and stores its result; without it, returns the current credential. */
  fresh(force = false): Promise<string | undefined> {
    if (this.source?.active) return this.source.accessToken(force);
    const getToken = this.getToken;
    if (!getToken) return Promise.resolve(this.current());
    if (!this.inflight) {
      this.inflight = (async () => {
        try {
          const t = await getToken();
          if (typeof t !== "string" || t === "") {
            throw new EddyError("unauthorized", "getToken() did not return a token");
          }
          this.token = t;
          return t;
        } finally {
          this.inflight = undefined;
        }
      })();
    }
    return this.inflight;
  }

  /** The credential for the first connection: the given token, else a fresh one from `getToken`. */
  initial(): Promise<string | undefined> {
    if (this.source?.active) return this.source.accessToken();
    if (this.token !== undefined || !this.getToken) return Promise.resolve(this.current());
    return this.fresh();
  }

  /** Credential for a REST request: refreshes first when the JWT expires within `marginMs`. */
  async forRequest(marginMs = 10_000): Promise<string | undefined> {
    if (this.source?.active) return this.source.accessToken();
    if (this.getToken) {
      const exp = jwtExpiresAt(this.token);
      if (this.token === undefined || (exp !== undefined && exp - Date.now() < marginMs)) {
        return this.fresh();
      }
    }
    return this.current();
  }
}
