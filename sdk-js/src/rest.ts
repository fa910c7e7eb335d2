// HTTP transport for the REST API: credentials, JSON bodies and error mapping.

import type { Auth } from "./auth.js";
import { EddyError, type ErrorCode } from "./errors.js";

export interface RestRequest {
  body?: unknown;
  query?: URLSearchParams;
  headers?: Record<string, string>;
}

export class Rest {
  constructor(
    private readonly baseUrl: string,
    private readonly auth: Auth,
    private readonly fetchImpl: typeof fetch | undefined,
  ) {}

  async request<T>(method: string, path: string, req: RestRequest = {}): Promise<T> {
    const res = await this.send(method, path, req, await this.auth.forRequest());
    if (res.status === 401 && this.auth.canRefresh) {
      // The token may have expired or been rotated: get a fresh one and try once more.
      await res.body?.cancel().catch(() => undefined);
      const retry = await this.send(method, path, req, await this.auth.fresh());
      return this.parse<T>(retry);
    }
    return this.parse<T>(res);
  }

  private async send(method: string, path: string, req: RestRequest, token: string | undefined): Promise<Response> {
    const fetchImpl = this.fetchImpl ?? (globalThis.fetch as typeof fetch | undefined);
    if (!fetchImpl) throw new EddyError("network_error", "no fetch implementation: pass options.fetch");
    const qs = req.query?.toString();
    const url = `${this.baseUrl}${path}${qs ? `?${qs}` : ""}`;
    const headers: Record<string, string> = { accept: "application/json", ...req.headers };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const init: RequestInit = { method, headers };
    if (req.body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(req.body);
    }
    try {
      return await fetchImpl(url, init);
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new EddyError("network_error", `${method} ${path} failed: ${detail}`, { cause });
    }
  }

  private async parse<T>(res: Response): Promise<T> {
    const text = await res.text().catch(() => "");
    let body: any;
    if (text !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    if (res.ok) {
      if (text !== "" && body === undefined) {
        throw new EddyError("invalid_response", `expected JSON from the server, got: ${text.slice(0, 200)}`, {
          status: res.status,
        });
      }
      return body as T;
    }
    const err = body?.error;
    if (err && typeof err.code === "string") {
      throw EddyError.fromServer(err.code, typeof err.message === "string" ? err.message : err.code, { status: res.status });
    }
    throw new EddyError(codeForStatus(res.status), text.slice(0, 200) || `HTTP ${res.status}`, { status: res.status });
  }
}

function codeForStatus(status: number): ErrorCode {
  const codes: Record<number, ErrorCode> = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    503: "unavailable",
  };
  return codes[status] ?? (status >= 500 ? "internal" : "http_error");
}

/**
 * Adds filters (JSON form) to query parameters (URL form): `{status: "open", views__gte: 10}` becomes
 * `status=open&views__gte=10`. The server reads a URL value as a JSON scalar when it parses as one,
 * so strings that look like one (`"10"`, `"true"`) are sent quoted to stay strings; arrays (for
 * `__in` / `__notin`) become comma lists.
 */
export function appendFilters(params: URLSearchParams, filters: object | undefined): void {
  if (!filters) return;
  for (const [key, value] of Object.entries(filters)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) params.append(key, value.map((v) => urlValue(v, true)).join(","));
    else params.append(key, urlValue(value, false));
  }
}

function urlValue(v: unknown, inList: boolean): string {
  if (typeof v === "string") {
    const needsQuotes = looksLikeJsonScalar(v) || (inList && (v.includes(",") || v.startsWith('"')));
    return needsQuotes ? JSON.stringify(v) : v;
  }
  if (v === null) return "null";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function looksLikeJsonScalar(s: string): boolean {
  try {
    const v: unknown = JSON.parse(s);
    return v === null || typeof v !== "object";
  } catch {
    return false;
  }
}
