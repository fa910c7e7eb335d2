// Rooms against the fake server: presence, broadcasts with ack, rejoin after reconnect,
// queueing while disconnected.

import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { createClient, EddyError } from "../../dist/index.js";
import { startFakeServer } from "../helpers/fake-server.mjs";
import { jwt, sleep, waitFor, within } from "../helpers/util.mjs";

const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
});

async function setup(n = 2, opts = {}, perClient = []) {
  const server = await startFakeServer();
  const clients = [];
  for (let i = 0; i < n; i++) {
    clients.push(
      createClient(server.url, {
        token: jwt("s", `user${i}`),
        reconnect: { initialDelay: 20, maxDelay: 100 },
        ...opts,
        ...perClient[i],
      }),
    );
  }
  cleanups.push(async () => {
    for (const c of clients) await c.close();
    await server.kill().catch(() => undefined);
  });
  return { server, clients };
}

describe("rooms", () => {
  test("join with presence, members and presence diffs between two clients", async () => {
    const { clients: [a, b] } = await setup();
    const ra = a.room("chat-1");
    const diffs = [];
    ra.onPresence((members, diff) => diffs.push({ members, diff }));
    const m1 = await within(ra.join({ presence: { name: "Ann" } }), 2000, "join a");
    assert.equal(m1.length, 1);
    assert.deepEqual(m1[0], { connection: a.connectionId, sub: "user0", state: { name: "Ann" } });
    const rb = b.room("chat-1");
    const m2 = await rb.join({ presence: { name: "Bob" } });
    assert.equal(m2.length, 2);
    await waitFor(() => ra.members().length === 2, { what: "a sees b" });
    assert.deepEqual(diffs.at(-1).diff.joins[b.connectionId], { sub: "user1", state: { name: "Bob" } });
    await rb.track({ name: "Bob", typing: true });
    await waitFor(() => ra.members().find((m) => m.sub === "user1")?.state.typing === true, { what: "track" });
    assert.equal(rb.members().find((m) => m.connection === b.connectionId).state.typing, true, "own state updated locally");
    await rb.leave();
    await waitFor(() => ra.members().length === 1, { what: "leave seen" });
    assert.ok(diffs.at(-1).diff.leaves[b.connectionId]);
    assert.equal(a.room("chat-1"), ra, "same handle per name");
  });

  test("broadcast resolves on ack and reaches the other member's listener", async () => {
    const { server, clients: [a, b] } = await setup();
    const ra = a.room("r");
    const rb = b.room("r");
    await ra.join();
    await rb.join();
    const got = [];
    const all = [];
    rb.on("chat:message", (message, meta) => got.push({ message, meta }));
    rb.on("*", (message, meta) => all.push(meta.event));
    const mine = [];
    ra.on("chat:message", (m) => mine.push(m));
    await within(ra.broadcast("chat:message", { text: "hi" }), 2000, "ack");
    await ra.broadcast("other:event", 1);
    await waitFor(() => all.length === 2);
    assert.deepEqual(got[0].message, { text: "hi" });
    assert.equal(got[0].meta.from.connection, a.connectionId);
    assert.equal(got[0].meta.room, "r");
    assert.deepEqual(all, ["chat:message", "other:event"]);
    assert.equal(mine.length, 0, "no echo by default");
    const sent = server.messages("broadcast")[0];
    assert.equal(sent.echo, false);
    assert.notEqual(sent.ref, undefined);
    await ra.broadcast("chat:message", { text: "me too" }, { echo: true });
    await waitFor(() => mine.length === 1, { what: "echo" });
  });

  test("rejoins after reconnect with the latest presence; queued broadcasts are sent after the rejoin", async () => {
    // a reconnects later than b, so b is back in the room when a's queued broadcasts go out.
    const { server, clients: [a, b] } = await setup(2, {}, [{ reconnect: { initialDelay: 300, maxDelay: 300, jitter: 0 } }]);
    const ra = a.room("r");
    const rb = b.room("r");
    await ra.join({ presence: { v: 1 } });
    await ra.track({ v: 2 });
    await rb.join();
    const got = [];
    rb.on("n", (m) => got.push(m));
    await server.kill();
    await waitFor(() => a.status === "reconnecting" && b.status === "reconnecting");
    const sends = [1, 2, 3].map((n) => ra.broadcast("n", n));
    await server.restart();
    await within(Promise.all(sends), 3000, "queued broadcasts acked");
    await waitFor(() => got.length === 3, { what: "queued broadcasts delivered" });
    assert.deepEqual(got, [1, 2, 3]);
    const joins = server.messages("join").filter((j) => j.room === "r");
    assert.deepEqual(joins.at(-1).presence ?? joins.at(-2).presence, { v: 2 });
    const lastJoinOfA = server.received.filter((r) => r.msg.type === "join" && r.msg.presence?.v === 2);
    assert.equal(lastJoinOfA.length, 1, "rejoined with the tracked state");
    await waitFor(() => ra.members().length === 2, { what: "members after rejoin" });
  });

  test("the broadcast queue is bounded and rejects clearly", async () => {
    const { server, clients: [a] } = await setup(1, { maxQueuedBroadcasts: 2, queuedBroadcastTimeout: 300 });
    const ra = a.room("r");
    await ra.join();
    await server.kill();
    await waitFor(() => a.status === "reconnecting");
    const p1 = ra.broadcast("e", 1);
    const p2 = ra.broadcast("e", 2);
    await assert.rejects(ra.broadcast("e", 3), (e) => e instanceof EddyError && e.code === "queue_full");
    await assert.rejects(p1, (e) => e.code === "timeout");
    await assert.rejects(p2, (e) => e.code === "timeout");
  });

  test("broadcast or track on a room that is not joined is rejected", async () => {
    const { clients: [a] } = await setup(1);
    await assert.rejects(a.room("x").broadcast("e", 1), (e) => e.code === "not_joined");
    await assert.rejects(a.room("x").track({}), (e) => e.code === "not_joined");
  });

  test("leave rejects queued broadcasts; close rejects pending joins", async () => {
    const { server, clients: [a] } = await setup(1);
    const ra = a.room("r");
    await ra.join();
    await server.kill();
    await waitFor(() => a.status === "reconnecting");
    const p = ra.broadcast("e", 1);
    await ra.leave();
    await assert.rejects(p, (e) => e.code === "not_joined");
    const pj = a.room("other").join();
    await a.close();
    await assert.rejects(pj, (e) => e.code === "closed");
    await assert.rejects(within(a.room("later").join(), 1000, "join after close"), (e) => e.code === "closed");
    await assert.rejects(ra.broadcast("e", 2), (e) => e.code === "not_joined");
  });

  test("join errors reject join()", async () => {
    const { server, clients: [a] } = await setup(1);
    server.hooks.join = (sock, msg) => {
      server.send(sock, { type: "error", code: "forbidden", message: "no", room: msg.room, ref: msg.ref });
      return true;
    };
    await assert.rejects(a.room("secret").join(), (e) => e.code === "forbidden" && e.room === "secret");
    await sleep(20);
    assert.equal(a.room("secret").isJoined, false);
  });
});
