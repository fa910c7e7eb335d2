// The SDK's single error type.

/**
 * Error raised by every SDK call. `code` is the server's error code (`not_found`, `forbidden`,
 * `cursor_expired`, …) or one of the client-side codes:
 *
 * - `network_error`: the HTTP request could not be made
 * - `timeout`: no reply in time
 * - `disconnected`: the connection dropped before the reply arrived
 * - `closed`: the client was closed
 * - `queue_full`: too many broadcasts queued while disconnected
 * - `not_joined`: broadcast or presence on a room that is not joined
 * - `no_websocket`: no WebSocket implementation available
 * - `invalid_response`: the server answered something unexpected
 */
export class EddyError extends Error {
  /** Server or client error code. */
  readonly code: string;
  /** HTTP status for REST errors. */
  readonly status?: number;
  /** Subscription id the error refers to (realtime). */
  readonly subscription?: string;
  /** Room the error refers to (realtime). */
  readonly room?: string;

  constructor(
    code: string,
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

  /** Builds an error from a realtime `{"type":"error",…}` message. */
  static fromMessage(msg: Record<string, unknown>): EddyError {
    const code = typeof msg.code === "string" ? msg.code : "unknown";
    const message = typeof msg.message === "string" ? msg.message : code;
    return new EddyError(code, message, {
      subscription: typeof msg.subscription === "string" ? msg.subscription : undefined,
      room: typeof msg.room === "string" ? msg.room : undefined,
    });
  }
}

export function isEddyError(e: unknown, code?: string): e is EddyError {
  return e instanceof EddyError && (code === undefined || e.code === code);
}
