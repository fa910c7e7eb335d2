// Talks to Eddy with the service key kept in sessionStorage (this tab only;
// never in a URL). REST sends it as x-api-key; WebSocket in an auth message.

const KEY = "eddy.console.key";

export const getKey = () => sessionStorage.getItem(KEY);
export const setKey = (k) => sessionStorage.setItem(KEY, k);
export const clearKey = () => sessionStorage.removeItem(KEY);

/** An error answer from the server: status, code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A REST call; resolves to the parsed body (or null), throws ApiError. */
export async function api(method, path, body, headers = {}) {
  const res = await fetch(path, {
    method,
    headers: {
      "x-api-key": getKey() ?? "",
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    cache: "no-store",
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = data?.error ?? {};
    throw new ApiError(res.status, e.code ?? "http_" + res.status, e.message ?? text.slice(0, 200));
  }
  return data;
}

/** Path segment encoding for names and ids. */
export const seg = (s) => encodeURIComponent(s);

/**
 * Opens a realtime WebSocket authenticated with the service key, optionally
 * acting as another identity (`as`). `onMessage` gets every parsed frame.
 */
export function realtime({ as, onMessage, onClose }) {
  const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/realtime`;
  const ws = new WebSocket(url);
  ws.addEventListener("open", () => {
    const auth = { type: "auth", token: getKey(), ref: "auth" };
    if (as) auth.as = as;
    ws.send(JSON.stringify(auth));
  });
  ws.addEventListener("message", (ev) => {
    try {
      onMessage(JSON.parse(ev.data));
    } catch {
      /* not JSON: ignored */
    }
  });
  ws.addEventListener("close", (ev) => onClose?.(ev));
  return ws;
}
