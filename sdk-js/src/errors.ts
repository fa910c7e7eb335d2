// The SDK's single error type and the closed list of codes it can carry.

/** Codes of REST errors (docs/API.md, "Errors"). */
export const REST_ERROR_CODES = [
  "invalid_request",
  "invalid_filter",
  "unauthorized",
  "forbidden",
  "not_found",
  "method_not_allowed",
  "conflict",
  "precondition_failed",
  "payload_too_large",
  "unsupported_media_type",
  "unprocessable",
  "rate_limited",
  "internal",
  "unavailable",
] as const;

/** Codes of realtime `error` messages (docs/PROTOCOL.md, "Server → client: errors"). */
export const REALTIME_ERROR_CODES = [
  "invalid_json",
  "unknown_type",
  "invalid_message",
  "invalid_filter",
  "unauthorized",
  "forbidden",
  "token_expired",
  "cursor_expired",
  "rate_limited",
  "payload_too_large",
  "limit_exceeded",
  "not_found",
  "unavailable",
  "internal",
] as const;

/** Codes the SDK itself produces. */
export const CLIENT_ERROR_CODES = [
  "network_error",
  "timeout",
  "disconnected",
  "closed",
  "closed_by_server",
  "connection_error",
  "queue_full",
  "not_joined",
  "no_websocket",
  "invalid_response",
  "http_error",
  "unknown",
] as const;

/** A REST error code. */
export type RestErrorCode = (typeof REST_ERROR_CODES)[number];
/** A realtime protocol error code. */
export type RealtimeErrorCode = (typeof REALTIME_ERROR_CODES)[number];
/** A code raised by the SDK without a server reply. */
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];
/** Every code an `EddyError` can carry. */
export type ErrorCode = RestErrorCode | RealtimeErrorCode | ClientErrorCode;

const KNOWN = new Set<string>([...REST_ERROR_CODES, ...REALTIME_ERROR_CODES, ...CLIENT_ERROR_CODES]);

/** True when `code` is one of the codes in `ErrorCode`. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && KNOWN.has(code);
}

/**
 * Error raised by every SDK call. `code` is the server's error code (`not_found`, `forbidden`,
 * `cursor_expired`, …) or one of the client-side codes:
 *
 * - `network_error`: the HTTP request could not be made
 * - `timeout`: no reply in time
 * - `disconnected`: the connection dropped before the reply arrived
 * - `closed`: the client was closed
 * - `closed_by_server`: the server closed the socket with a terminal code and no error message
 * - `connection_error`: the WebSocket could not be created or `getToken()` threw
 * - `queue_full`: too many broadcasts queued while disconnected
 * - `not_joined`: broadcast or presence on a room that is not joined
 * - `no_websocket`: no WebSocket implementation available
 * - `invalid_response`: the server answered something unexpected
 * - `http_error`: a non-JSON HTTP error with an unusual status
 * - `unknown`: the server sent a code this SDK version does not know (see `serverCode`)
 */
export class EddyError extends Error {
  /** Server or client error code. */
  readonly code: ErrorCode;
  /** The server's code as sent, when it is not in `ErrorCode` (`code` is then `unknown`). */
  readonly serverCode?: string;
  /** HTTP status for REST errors. */
  readonly status?: number;
  /** Subscription id the error refers to (realtime). */
  readonly subscription?: string;
  /** Room the error refers to (realtime). */
  readonly room?: string;

  constructor(
    code: ErrorCode,
    message: string,
    extra: { status?: number; subscription?: string; room?: string; cause?: unknown } = {},
  ) {
    super(message);
    this.name = "EddyError";
    this.code = code;
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.subscription !== undefined) this.subscription = extra.subscription;
    if (extra.room !== undefined) this.room = extra.room;
    if (extra.cause !== undefined) (this as { cause?: unknown }).cause = extra.cause;
  }

  /**
   * An error carrying a code received from the server. A code this SDK does not know (a newer
   * server) becomes `unknown` so that `code` never lies about its type; the original is kept.
   */
  static fromServer(
    code: unknown,
    message: string,
    extra: { status?: number; subscription?: string; room?: string } = {},
  ): EddyError {
    if (isErrorCode(code)) return new EddyError(code, message, extra);
    const err = new EddyError("unknown", message, extra);
    if (typeof code === "string") (err as { serverCode?: string }).serverCode = code;
    return err;
  }

  /** Builds an error from a realtime `{"type":"error",…}` message. */
  static fromMessage(msg: Record<string, unknown>): EddyError {
    const message = typeof msg.message === "string" ? msg.message : String(msg.code ?? "unknown");
    return EddyError.fromServer(msg.code, message, {
      subscription: typeof msg.subscription === "string" ? msg.subscription : undefined,
      room: typeof msg.room === "string" ? msg.room : undefined,
    });
  }
}

/** True when `e` is an `EddyError` (with the given code, if one is passed). */
export function isEddyError(e: unknown, code?: ErrorCode): e is EddyError {
  return e instanceof EddyError && (code === undefined || e.code === code);
}
