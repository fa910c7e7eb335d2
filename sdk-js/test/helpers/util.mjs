// Small helpers shared by the tests: JWT minting, bounded waiting.

import { createHmac } from "node:crypto";

/** Mints an HS256 JWT with node:crypto. */
export function mintJwt(secret, claims) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const head = enc({ alg: "HS256", typ: "JWT" });
  const body = enc(claims);
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

/** A JWT that expires `ttlSeconds` from now. */
export function jwt(secret, sub, ttlSeconds = 3600, extra = {}) {
  return mintJwt(secret, { sub, exp: Math.floor(Date.now() / 1000) + ttlSeconds, ...extra });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 10, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
    }
    await sleep(intervalMs);
  }
}

/** Rejects if `promise` does not settle within `ms`. */
export function within(promise, ms, what = "operation") {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

/** Records status transitions of a client. */
export function statusLog(client) {
  const log = [];
  client.on("status", (s) => log.push(s));
  return log;
}

/** A `ws` WebSocket subclass that records every frame sent and received, for `options.WebSocket`. */
export async function recordingWebSocket() {
  const { WebSocket } = await import("ws");
  const sockets = [];
  class Recording extends WebSocket {
    constructor(url) {
      super(url);
      this.sent = [];
      this.received = [];
      sockets.push(this);
      this.addEventListener("close", (ev) => (this.closeCode = ev.code));
      this.addEventListener("message", (ev) => {
        if (typeof ev.data === "string") this.received.push(JSON.parse(ev.data));
      });
    }
    send(data) {
      this.sent.push(JSON.parse(data));
      super.send(data);
    }
  }
  return { WebSocket: Recording, sockets };
}
