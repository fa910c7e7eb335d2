// Realtime against a real Eddy: watches with filters, snapshot + live queries, rooms and presence,
// server publish messages, a forced socket drop, a dead connection and token refresh.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient } from "../../dist/index.js";
import { startEddy } from "../helpers/eddy.mjs";
import { startProxy } from "../helpers/proxy.mjs";
import { recordingWebSocket, sleep, waitFor, within } from "../helpers/util.mjs";

let eddy;
let writer;
const clients = [];

function client(opts) {
  const c = createClient(opts.url ?? eddy.url, { reconnect: { initialDelay: 100, maxDelay: 1000 }, ...opts });
  clients.push(c);
  return c;
}

before(async () => {
  eddy = await startEddy({ name: "realtime", args: ["--token-expiry-warning", "2s"] });
  await eddy.openCollection("posts");
  await eddy.openCollection("todos");
  await eddy.openRooms();
  writer = client({ apiKey: eddy.serviceKey });
});
after(async () => {
  for (const c of clients) await c.close();
  await eddy?.dispose();
});

describe("realtime (real server)", () => {
  test("watch with filters: created, updated with enter/leave transitions, deleted; no duplicates", async () => {
    const c = client({ apiKey: eddy.publicKey });
    const events = [];
    const w = c.watchCollection("posts", (e) => events.push(e), { filters: { status: "open" } });
    await within(w.ready, 5000, "subscribed");
    const posts = writer.collection("posts");
    const a = await posts.create({ title: "a", status: "open" });
    await posts.create({ title: "b", status: "draft" }); // never matches
    await posts.update(a.id, { title: "a2" });
    await posts.update(a.id, { status: "closed" }); // leaves
    await posts.update(a.id, { status: "open" }); // enters
    await posts.delete(a.id);
    await waitFor(() => events.length >= 5, { timeoutMs: 5000, what: "5 events" });
    await sleep(200);
    assert.deepEqual(
      events.map((e) => `${e.event}${e.transition ? `:${e.transition}` : ""}`),
      ["created", "updated", "updated:leave", "updated:enter", "deleted"],
    );
    assert.ok(events.every((e, i) => i === 0 || e.seq > events[i - 1].seq), "strictly increasing seq");
    assert.equal(events[0].document.data.title, "a");
    assert.deepEqual(events[1].old, { title: "a", status: "open" });
    assert.equal(events[4].document.id, a.id);
    assert.equal(w.lastSeq, events[4].seq);
    await w.unsubscribe();
  });

  test("snapshot then live; live query keeps the matching documents", async () => {
    const todos = writer.collection("todos");
    const t1 = await todos.create({ title: "one", done: false });
    await todos.create({ title: "two", done: true });
    const c = client({ apiKey: eddy.publicKey });
    const snaps = [];
    const w = c.collection("todos").watch((e) => snaps.push(e), { snapshot: true, filters: { done: false } });
    await w.ready;
    assert.equal(snaps[0].event, "snapshot");
    assert.deepEqual(snaps[0].documents.map((d) => d.data.title), ["one"]);

    const calls = [];
    const q = c.collection("todos").live((docs, changes) => calls.push({ docs, changes }), { filters: { done: false }, sort: "title" });
    assert.deepEqual((await within(q.ready, 5000, "live ready")).map((d) => d.data.title), ["one"]);
    const t3 = await todos.create({ title: "three", done: false });
    await waitFor(() => q.documents.length === 2, { what: "added" });
    assert.deepEqual(q.documents.map((d) => d.data.title), ["one", "three"]);
    await todos.update(t1.id, { done: true });
    await waitFor(() => q.documents.length === 1, { what: "left the filter" });
    await todos.update(t3.id, { title: "3" });
    await waitFor(() => q.documents[0]?.data.title === "3", { what: "modified" });
    await todos.delete(t3.id);
    await waitFor(() => q.documents.length === 0, { what: "deleted" });
    assert.deepEqual(calls.map((c) => c.changes.map((x) => x.type).join()), ["added", "added", "removed", "modified", "removed"]);
    await q.unsubscribe();
    await w.unsubscribe();
  });

  test("rooms: two clients, presence, broadcast with ack, track, leave", async () => {
    const ann = client({ token: eddy.token("ann") });
    const bob = client({ token: eddy.token("bob") });
    const ra = ann.room("chat-123");
    const rb = bob.room("chat-123");
    await within(ra.join({ presence: { name: "Ann" } }), 5000, "ann joins");
    const members = await rb.join({ presence: { name: "Bob" } });
    assert.deepEqual(members.map((m) => m.sub).sort(), ["ann", "bob"]);
    await waitFor(() => ra.members().length === 2, { what: "ann sees bob" });
    assert.deepEqual(ra.members().find((m) => m.sub === "bob").state, { name: "Bob" });

    const got = [];
    rb.on("chat:message", (message, meta) => got.push({ message, meta }));
    await within(ra.broadcast("chat:message", { text: "hi" }), 5000, "broadcast ack");
    await waitFor(() => got.length === 1, { what: "bob receives" });
    assert.deepEqual(got[0].message, { text: "hi" });
    assert.equal(got[0].meta.from.sub, "ann");
    assert.equal(got[0].meta.from.connection, ann.connectionId);
    assert.equal(typeof got[0].meta.ts, "number");

    await rb.track({ name: "Bob", typing: true });
    await waitFor(() => ra.members().find((m) => m.sub === "bob")?.state.typing === true, { what: "presence update" });

    // Server API broadcasts arrive with from.server.
    await eddy.admin("POST", "/v1/rooms/chat-123/broadcast", { event: "chat:message", message: { text: "from server" } });
    await waitFor(() => got.length === 2, { what: "server broadcast" });
    assert.equal(got[1].meta.from.server, true);

    await rb.leave();
    await waitFor(() => ra.members().length === 1, { what: "bob left" });
  });

  test("a burst of 300 broadcasts is paced under the server's rate limit: all acked, no disconnect", async () => {
    const rec = await recordingWebSocket();
    const ivy = client({ token: eddy.token("ivy"), WebSocket: rec.WebSocket });
    const jay = client({ token: eddy.token("jay") });
    const ri = ivy.room("burst");
    const rj = jay.room("burst");
    await ri.join();
    await rj.join();
    const got = [];
    rj.on("n", (m) => got.push(m));
    const t0 = Date.now();
    await within(Promise.all(Array.from({ length: 300 }, (_, i) => ri.broadcast("n", i))), 15_000, "300 acks");
    await waitFor(() => got.length === 300, { timeoutMs: 5000, what: "300 broadcasts received" });
    assert.deepEqual(got, Array.from({ length: 300 }, (_, i) => i), "in order");
    assert.equal(rec.sockets.length, 1, "no reconnect");
    assert.ok(!rec.sockets[0].received.some((m) => m.code === "rate_limited"), "nothing rate limited");
    assert.ok(Date.now() - t0 < 10_000);
  });

  test("server publish API reaches client.on('message')", async () => {
    const carol = client({ token: eddy.token("carol") });
    const got = [];
    carol.on("message", (m) => got.push(m));
    await carol.connect();
    const res = await eddy.admin("POST", "/v1/users/carol/messages", { event: "billing:notice", message: { due: 3 } });
    assert.equal(res.delivered, 1);
    await eddy.admin("POST", "/v1/broadcast", { event: "system:hello", message: "all" });
    await waitFor(() => got.length === 2, { what: "2 messages" });
    assert.deepEqual(got[0].message, { due: 3 });
    assert.equal(got[0].event, "billing:notice");
    assert.equal(got[1].event, "system:hello");
  });

  test("forced socket drop: resumes with since, rejoins the room, flushes queued broadcasts", async () => {
    const proxy = await startProxy(eddy.port);
    try {
      const c = client({ url: proxy.url, token: eddy.token("dora") });
      const peer = client({ token: eddy.token("eve") });
      const statuses = [];
      c.on("status", (s) => statuses.push(s));
      const events = [];
      const w = c.watchCollection("posts", (e) => events.push(e));
      await w.ready;
      const room = c.room("drop-room");
      await room.join({ presence: { name: "Dora" } });
      const pr = peer.room("drop-room");
      await pr.join();
      const heard = [];
      pr.on("note", (m) => heard.push(m));
      const posts = writer.collection("posts");
      const docs = [];
      for (let i = 0; i < 3; i++) docs.push(await posts.create({ drop: i }));
      await waitFor(() => events.length === 3, { what: "before drop" });

      proxy.mode = "refuse";
      proxy.dropAll();
      await waitFor(() => c.status === "reconnecting", { what: "reconnecting" });
      for (let i = 3; i < 6; i++) docs.push(await posts.create({ drop: i }));
      await waitFor(() => pr.members().length === 1, { what: "peer sees dora leave" });
      const queued = room.broadcast("note", "sent while down");
      proxy.mode = "pass";
      await within(queued, 10_000, "queued broadcast acked");
      await waitFor(() => events.length === 6, { timeoutMs: 10_000, what: "replayed events" });
      assert.deepEqual(events.map((e) => e.document.data.drop), [0, 1, 2, 3, 4, 5]);
      await waitFor(() => heard.length === 1, { what: "peer hears queued broadcast" });
      await waitFor(() => pr.members().length === 2, { what: "dora rejoined" });
      assert.deepEqual(pr.members().find((m) => m.sub === "dora").state, { name: "Dora" });
      assert.deepEqual(statuses.slice(0, 3), ["connecting", "open", "reconnecting"]);
      assert.equal(statuses.at(-1), "open");
    } finally {
      await proxy.close();
    }
  });

  test("dead connection (traffic silently dropped) is detected by the heartbeat", async () => {
    const proxy = await startProxy(eddy.port);
    try {
      const c = client({ url: proxy.url, apiKey: eddy.publicKey, heartbeat: { interval: 500, timeout: 500 } });
      const events = [];
      const w = c.watchCollection("posts", (e) => events.push(e));
      await w.ready;
      proxy.mode = "blackhole";
      const t0 = Date.now();
      await waitFor(() => c.status === "reconnecting", { timeoutMs: 3000, what: "dead connection detected" });
      assert.ok(Date.now() - t0 < 1500, `detected after ${Date.now() - t0} ms`);
      const doc = await writer.collection("posts").create({ while: "dead" });
      proxy.mode = "pass";
      await waitFor(() => events.some((e) => e.document.id === doc.id), { timeoutMs: 10_000, what: "event after recovery" });
    } finally {
      await proxy.close();
    }
  });

  test("token refresh: getToken before exp and on token_expiring, auth on the same socket", async () => {
    // 5 s tokens; the server warns 2 s before expiry (--token-expiry-warning 2s). Client `early`
    // refreshes on its own schedule (half the remaining life); client `late` has no margin, so it is the
    // server's token_expiring that makes it refresh.
    const run = async (name, extra) => {
      const rec = await recordingWebSocket();
      let calls = 0;
      const c = client({ WebSocket: rec.WebSocket, getToken: async () => eddy.token(name, 5, { jti: `${name}-${++calls}` }), ...extra });
      const errors = [];
      c.on("error", (e) => errors.push(e));
      const events = [];
      const w = c.watchCollection("posts", (e) => events.push(e));
      await w.ready;
      return { c, rec, errors, events, connection: c.connectionId, calls: () => calls };
    };
    const early = await run("frank", {});
    const late = await run("gina", { tokenRefreshMargin: 0 });
    await sleep(7000); // longer than one token's life
    for (const x of [early, late]) {
      assert.equal(x.rec.sockets.length, 1, "one socket, no reconnect");
      assert.equal(x.c.connectionId, x.connection);
      assert.equal(x.c.status, "open");
      const auths = x.rec.sockets[0].sent.filter((m) => m.type === "auth");
      assert.ok(auths.length >= 3, `${auths.length} auth messages`);
      assert.equal(new Set(auths.map((m) => m.token)).size, auths.length, "a fresh token each time");
      assert.ok(x.calls() >= 3);
      assert.deepEqual(x.errors, []);
    }
    assert.ok(late.rec.sockets[0].received.some((m) => m.type === "token_expiring"), "late client got token_expiring");
    const doc = await writer.collection("posts").create({ after: "refresh" });
    for (const x of [early, late]) {
      await waitFor(() => x.events.some((e) => e.document.id === doc.id), { timeoutMs: 5000, what: "event after refresh" });
    }
  });

  test("token expires because getToken keeps failing: close 4001, then reconnect with a new token", async () => {
    const rec = await recordingWebSocket();
    let calls = 0;
    const getToken = async () => {
      calls++;
      if (calls === 2 || calls === 3) throw new Error("token service down");
      return eddy.token("hank", 3, { jti: `hank-${calls}` });
    };
    const c = client({ WebSocket: rec.WebSocket, getToken });
    const errors = [];
    c.on("error", (e) => errors.push(e));
    const events = [];
    const w = c.watchCollection("posts", (e) => events.push(e));
    await w.ready;
    await waitFor(() => rec.sockets.length === 2 && c.status === "open", { timeoutMs: 10_000, what: "reconnect after 4001" });
    const first = rec.sockets[0];
    assert.equal(first.closeCode, 4001);
    assert.ok(first.received.some((m) => m.type === "error" && m.code === "token_expired"), "server sent token_expired");
    assert.ok(errors.some((e) => /token service down/.test(e.message)), "refresh failures reported");
    const resub = rec.sockets[1].sent.find((m) => m.type === "subscribe");
    assert.equal(typeof resub.since, "number", "resubscribed with since");
    const doc = await writer.collection("posts").create({ after: "4001" });
    await waitFor(() => events.some((e) => e.document.id === doc.id), { timeoutMs: 5000, what: "event after reconnect" });
  });
});
