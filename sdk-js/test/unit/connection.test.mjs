// Connection lifecycle against the in-process fake server: auth, status, backoff, close codes,
// heartbeat, token refresh.

import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, afterEach, describe, test } from "node:test";
import { WebSocket as WsWebSocket } from "ws";
import { createClient, EddyError } from "../../dist/index.js";
import { startFakeServer } from "../helpers/fake-server.mjs";
import { jwt, sleep, statusLog, waitFor, within } from "../helpers/util.mjs";

const FAST = { reconnect: { initialDelay: 20, maxDelay: 200 } };
const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
});
after(() => undefined);

async function setup(clientOpts = {}, serverOpts = {}) {
  const server = await startFakeServer(serverOpts);
  const client = createClient(server.url, { apiKey: "eddy_sk_test", ...FAST, ...clientOpts });
  cleanups.push(async () => {
    await client.close();
    await server.kill().catch(() => undefined);
  });
  return { server, client };
}

describe("connection", () => {
  test("connects lazily, authenticates with an auth message, reports status", async () => {
    const { server, client } = await setup();
    const log = statusLog(client);
    assert.equal(client.status, "idle");
    await within(client.connect(), 2000, "connect");
    assert.deepEqual(log, ["connecting", "open"]);
    const auth = server.messages("auth");
    assert.equal(auth.length, 1);
    assert.equal(auth[0].token, "eddy_sk_test");
    assert.equal(client.connectionId, "c1");
    assert.deepEqual(client.identity, { kind: "service" });
    await client.close();
    assert.equal(client.status, "closed");
    assert.deepEqual(log, ["connecting", "open", "closed"]);
  });

  test("uses the ws package when there is no global WebSocket, or the given implementation", async () => {
    assert.equal(typeof globalThis.WebSocket, "undefined", "Node 20 has no global WebSocket by default");
    let constructed = 0;
    class Counting extends WsWebSocket {
      constructor(url) {
        super(url);
        constructed++;
      }
    }
    const { client } = await setup({ WebSocket: Counting });
    await within(client.connect(), 2000, "connect");
    assert.equal(constructed, 1);
  });

  test("reconnects with backoff after a drop and after the server restarts", async () => {
    const { server, client } = await setup({ reconnect: { initialDelay: 100, maxDelay: 400, jitter: 0 } });
    const log = statusLog(client);
    await client.connect();
    await server.kill();
    await waitFor(() => client.status === "reconnecting", { what: "reconnecting" });
    const t0 = Date.now();
    await sleep(750); // attempts at ~100, ~300 (+200), ~700 (+400) ms fail
    await server.restart();
    await waitFor(() => client.status === "open", { timeoutMs: 3000, what: "reopen" });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 750 && elapsed < 1800, `reopened after ${elapsed} ms`);
    assert.deepEqual(log, ["connecting", "open", "reconnecting", "open"]);
    assert.equal(server.messages("auth").length, 2, "one auth per connection");
  });

  test("reconnects on retryable close codes (1000, 1001, 1011, 4100, 4101) but stops on 4008", async () => {
    const { server, client } = await setup();
    const errors = [];
    client.on("error", (e) => errors.push(e));
    await client.connect();
    for (const code of [1000, 1001, 1011, 4100, 4101]) {
      const opensBefore = server.messages("auth").length;
      server.closeAll(code);
      await waitFor(() => server.messages("auth").length > opensBefore && client.status === "open", {
        what: `reconnect after ${code}`,
      });
    }
    server.closeAll(4008, "abuse");
    await waitFor(() => client.status === "closed", { what: "closed after 4008" });
    await sleep(150);
    assert.equal(server.sockets.size, 0, "no reconnect after a terminal code");
    assert.equal(errors.at(-1).code, "closed_by_server");
    await assert.rejects(client.connect(), (e) => e instanceof EddyError && e.code === "closed");
  });

  test("4001 without getToken is terminal; the last error's code is reported", async () => {
    const { server, client } = await setup({ token: jwt("s", "alice") });
    const errors = [];
    client.on("error", (e) => errors.push(e));
    await client.connect();
    for (const s of server.sockets) server.send(s, { type: "error", code: "token_expired", message: "token expired" });
    server.closeAll(4001);
    await waitFor(() => client.status === "closed", { what: "closed" });
    assert.equal(errors.at(-1).code, "token_expired");
    await sleep(100);
    assert.equal(server.sockets.size, 0);
  });

  test("4001 with getToken fetches a new token and reconnects", async () => {
    let n = 0;
    const { server, client } = await setup({ getToken: async () => jwt("s", `alice${++n}`) });
    await client.connect();
    server.closeAll(4001);
    await waitFor(() => server.messages("auth").length === 2 && client.status === "open", { what: "re-auth" });
    const tokens = server.messages("auth").map((m) => m.token);
    assert.notEqual(tokens[0], tokens[1], "a fresh token was used");
    assert.equal(n, 2);
  });

  test("a rejected credential without getToken closes the client with unauthorized", async () => {
    const { client } = await setup({ apiKey: "eddy_pk_bad" }, { validTokens: (t) => t !== "eddy_pk_bad" });
    const errors = [];
    client.on("error", (e) => errors.push(e));
    await assert.rejects(within(client.connect(), 2000, "connect"), (e) => e.code === "unauthorized");
    assert.equal(client.status, "closed");
    assert.equal(errors.length, 1);
  });

  test("heartbeat: a silent server is detected and the client reconnects", async () => {
    const { server, client } = await setup({ heartbeat: { interval: 100, timeout: 150 } });
    await client.connect();
    server.blackhole = true; // stops answering anything, sockets stay open
    const t0 = Date.now();
    await waitFor(() => client.status === "reconnecting", { timeoutMs: 2000, what: "dead connection detected" });
    const detected = Date.now() - t0;
    assert.ok(detected <= 1000, `detected after ${detected} ms`);
    server.blackhole = false;
    await waitFor(() => client.status === "open", { timeoutMs: 2000, what: "reopen" });
    assert.ok(server.messages("ping").length >= 1);
  });

  test("connect timeout: a server that never answers auth is retried", async () => {
    const { server, client } = await setup({ connectTimeout: 150 });
    server.blackhole = true;
    client.connect().catch(() => undefined);
    await sleep(400);
    assert.ok(server.connCounter >= 2, `attempts: ${server.connCounter}`);
    server.blackhole = false;
    await waitFor(() => client.status === "open", { timeoutMs: 2000, what: "open" });
  });

  test("a server that never completes the WebSocket handshake: timeout, retry, close() without crashing", async () => {
    const sockets = new Set();
    const tcp = createServer((s) => {
      sockets.add(s);
      s.on("error", () => undefined);
    });
    await new Promise((r) => tcp.listen(0, "127.0.0.1", r));
    const client = createClient(`http://127.0.0.1:${tcp.address().port}`, {
      apiKey: "k",
      connectTimeout: 100,
      reconnect: { initialDelay: 10, maxDelay: 20 },
    });
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => tcp.close(r));
    });
    client.connect().catch(() => undefined);
    await waitFor(() => sockets.size >= 3, { timeoutMs: 3000, what: "retries" });
    // close() while an attempt is still in the CONNECTING state
    await waitFor(() => client.status === "reconnecting");
    await sleep(15);
    await client.close();
    await sleep(50);
    assert.equal(client.status, "closed");
  });

  test("token_expiring: calls getToken and re-authenticates on the open socket", async () => {
    let n = 0;
    const { server, client } = await setup({ getToken: () => jwt("s", "alice", 3600, { n: ++n }) });
    await client.connect();
    const [sock] = server.sockets;
    server.send(sock, { type: "token_expiring", expires_at: Math.floor(Date.now() / 1000) + 60 });
    await waitFor(() => server.messages("auth").length === 2, { what: "second auth" });
    assert.equal(server.sockets.size, 1, "same socket");
    assert.equal(server.connCounter, 1);
    assert.equal(n, 2);
  });

  test("refreshes a short-lived JWT before it expires", async () => {
    let n = 0;
    const { server, client } = await setup({ getToken: () => jwt("s", "alice", 2, { n: ++n }) });
    await client.connect();
    // 2 s of validity: the refresh happens at about half of it.
    await waitFor(() => server.messages("auth").length >= 2, { timeoutMs: 2500, what: "proactive refresh" });
    assert.equal(server.connCounter, 1, "no reconnect needed");
  });

  test("getToken failures are retried with backoff and reported", async () => {
    let calls = 0;
    const { client } = await setup({
      getToken: async () => {
        if (++calls < 3) throw new Error("auth service down");
        return jwt("s", "bob");
      },
    });
    const errors = [];
    client.on("error", (e) => errors.push(e));
    await within(client.connect(), 3000, "connect");
    assert.equal(calls, 3);
    assert.equal(errors.length, 2);
    assert.match(errors[0].message, /auth service down/);
  });

  test("close() during backoff stops reconnecting", async () => {
    const { server, client } = await setup({ reconnect: { initialDelay: 200, maxDelay: 200 } });
    await client.connect();
    await server.kill();
    await waitFor(() => client.status === "reconnecting", { what: "reconnecting" });
    await client.close();
    await server.restart();
    await sleep(400);
    assert.equal(server.sockets.size, 0);
    assert.equal(client.status, "closed");
  });

  test("server publish messages reach client.on('message')", async () => {
    const { server, client } = await setup();
    const got = [];
    client.on("message", (m) => got.push(m));
    await waitFor(() => client.status === "open", { what: "auto-connect on message listener" });
    for (const s of server.sockets) server.send(s, { type: "message", event: "billing:notice", message: { n: 1 }, ts: 5 });
    await waitFor(() => got.length === 1, { what: "message" });
    assert.deepEqual(got[0], { event: "billing:notice", message: { n: 1 }, ts: 5 });
  });
});
