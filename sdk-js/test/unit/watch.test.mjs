// Watches and live queries against the fake server: resume with since, exactly-once delivery,
// dedup, cursor_expired resync, terminal errors.

import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { createClient } from "../../dist/index.js";
import { startFakeServer } from "../helpers/fake-server.mjs";
import { sleep, waitFor, within } from "../helpers/util.mjs";

const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
});

async function setup(opts = {}) {
  const server = await startFakeServer();
  const client = createClient(server.url, { apiKey: "eddy_sk_test", reconnect: { initialDelay: 20, maxDelay: 100 }, ...opts });
  cleanups.push(async () => {
    await client.close();
    await server.kill().catch(() => undefined);
  });
  return { server, client };
}

const id = (n) => `00000000-0000-0000-0000-${String(n).padStart(12, "0")}`;
const seqs = (events) => events.filter((e) => e.event !== "snapshot").map((e) => e.seq);

describe("watch", () => {
  test("delivers events mirroring the protocol", async () => {
    const { server, client } = await setup();
    const events = [];
    const w = client.watchCollection("posts", (e) => events.push(e), { filters: { status: "open" } });
    await within(w.ready, 2000, "subscribed");
    const sub = server.messages("subscribe")[0];
    assert.equal(sub.collection, "posts");
    assert.deepEqual(sub.filters, { status: "open" });
    assert.equal(sub.since, undefined);
    server.write("posts", "created", id(1), { status: "open", title: "a" });
    server.write("posts", "updated", id(1), { status: "closed", title: "a" });
    server.write("other", "created", id(2), { status: "open" });
    await waitFor(() => events.length === 2, { what: "2 events" });
    assert.equal(events[0].event, "created");
    assert.equal(events[0].document.data.title, "a");
    assert.equal(events[0].seq, 1);
    assert.equal(events[1].event, "updated");
    assert.equal(events[1].transition, "leave");
    assert.deepEqual(events[1].old, { status: "open", title: "a" });
    assert.equal(w.lastSeq, 2, "the seq of the last delivered event");
  });

  test("resumes with since after a drop: every change exactly once, in order", async () => {
    const { server, client } = await setup();
    const events = [];
    const w = client.watchCollection("posts", (e) => events.push(e));
    await w.ready;
    for (let i = 1; i <= 5; i++) server.write("posts", "created", id(i), { i });
    await waitFor(() => events.length === 5, { what: "5 events" });
    server.terminateAll();
    // Writes while the client is away.
    for (let i = 6; i <= 10; i++) server.write("posts", "created", id(i), { i });
    await waitFor(() => events.length === 10, { what: "replayed events" });
    const resub = server.messages("subscribe")[1];
    assert.equal(resub.since, 5);
    assert.notEqual(resub.id, server.messages("subscribe")[0].id);
    for (let i = 11; i <= 12; i++) server.write("posts", "created", id(i), { i });
    await waitFor(() => events.length === 12, { what: "live events" });
    assert.deepEqual(seqs(events), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  test("drops duplicate and out-of-order events defensively", async () => {
    const { server, client } = await setup();
    const events = [];
    const w = client.watchCollection("posts", (e) => events.push(e));
    await w.ready;
    const c1 = server.write("posts", "created", id(1), { a: 1 });
    const c2 = server.write("posts", "created", id(2), { a: 2 });
    await waitFor(() => events.length === 2);
    const [sock] = server.sockets;
    const [sub] = sock.subs.values();
    server.deliver(sock, sub, c1); // duplicate
    server.deliver(sock, sub, c2); // duplicate
    server.write("posts", "created", id(3), { a: 3 });
    await waitFor(() => events.length >= 3);
    await sleep(30);
    assert.deepEqual(seqs(events), [1, 2, 3]);
  });

  test("snapshot first, then changes; resubscribe after a drop uses since, not a new snapshot", async () => {
    const { server, client } = await setup();
    server.write("posts", "created", id(1), { a: 1 });
    server.write("posts", "created", id(2), { a: 2 });
    const events = [];
    const w = client.watchCollection("posts", (e) => events.push(e), { snapshot: true, limit: 10, sort: "-$created_at" });
    await w.ready;
    assert.equal(events[0].event, "snapshot");
    assert.equal(events[0].reason, "initial");
    assert.equal(events[0].documents.length, 2);
    assert.equal(events[0].seq, 2);
    const sub = server.messages("subscribe")[0];
    assert.equal(sub.snapshot, true);
    assert.equal(sub.limit, 10);
    assert.equal(sub.sort, "-$created_at");
    server.terminateAll();
    server.write("posts", "updated", id(1), { a: 11 });
    await waitFor(() => events.length === 2, { what: "replayed update" });
    const resub = server.messages("subscribe")[1];
    assert.equal(resub.snapshot, undefined);
    assert.equal(resub.since, 2);
  });

  test("cursor_expired: re-snapshots and tells the app (callback + onResync)", async () => {
    const { server, client } = await setup();
    const events = [];
    const resyncs = [];
    const w = client.watchCollection("posts", (e) => events.push(e), { onResync: (s) => resyncs.push(s) });
    await w.ready;
    server.write("posts", "created", id(1), { a: 1 });
    await waitFor(() => events.length === 1);
    server.terminateAll();
    server.write("posts", "created", id(2), { a: 2 });
    server.write("posts", "deleted", id(1));
    server.prune(); // the client's cursor (1) is now expired
    await waitFor(() => resyncs.length === 1, { what: "resync" });
    const subs = server.messages("subscribe");
    assert.equal(subs[1].since, 1);
    assert.equal(subs[2].snapshot, true);
    const snap = events.at(-1);
    assert.equal(snap.event, "snapshot");
    assert.equal(snap.reason, "resync");
    assert.deepEqual(snap.documents.map((d) => d.id), [id(2)]);
    assert.equal(w.lastSeq, 3);
    server.write("posts", "created", id(3), { a: 3 });
    await waitFor(() => events.at(-1).seq === 4, { what: "live after resync" });
  });

  test("a subscription that cannot succeed fails once: onError, no retry loop", async () => {
    const { server, client } = await setup();
    server.hooks.subscribe = (sock, msg) => {
      server.send(sock, { type: "error", code: "invalid_filter", message: 'unknown operator "foo"', ref: msg.ref });
      return true;
    };
    const errors = [];
    const w = client.watchCollection("posts", () => undefined, { filters: { a__foo: 1 }, onError: (e) => errors.push(e) });
    await assert.rejects(w.ready, (e) => e.code === "invalid_filter");
    assert.equal(errors.length, 1);
    server.terminateAll();
    await waitFor(() => client.status === "open" && server.messages("auth").length === 2);
    await sleep(50);
    assert.equal(server.messages("subscribe").length, 1, "not resubscribed");
  });

  test("a server-side end of the subscription (forbidden after re-auth) reaches onError", async () => {
    const { server, client } = await setup();
    const errors = [];
    const w = client.watchCollection("posts", () => undefined, { onError: (e) => errors.push(e) });
    await w.ready;
    const [sock] = server.sockets;
    const [sub] = sock.subs.values();
    server.send(sock, { type: "error", code: "forbidden", message: "no longer readable", subscription: sub.id });
    await waitFor(() => errors.length === 1);
    assert.equal(errors[0].code, "forbidden");
    assert.equal(errors[0].subscription, sub.id);
  });

  test("internal errors are retried", async () => {
    const { server, client } = await setup();
    let fail = 2;
    server.hooks.subscribe = (sock, msg) => {
      if (fail-- <= 0) return false;
      server.send(sock, { type: "error", code: "internal", message: "db down", ref: msg.ref });
      return true;
    };
    const w = client.watchCollection("posts", () => undefined);
    await within(w.ready, 5000, "subscribed after retries");
    assert.equal(server.messages("subscribe").length, 3);
  });

  test("unsubscribe stops delivery and is not resubscribed", async () => {
    const { server, client } = await setup();
    const events = [];
    const w = client.collection("posts").watch((e) => events.push(e));
    await w.ready;
    server.write("posts", "created", id(1), {});
    await waitFor(() => events.length === 1);
    await w.unsubscribe();
    assert.equal(server.messages("unsubscribe").length, 1);
    server.write("posts", "created", id(2), {});
    server.terminateAll();
    await waitFor(() => client.status === "open" && server.messages("auth").length === 2);
    await sleep(50);
    assert.equal(events.length, 1);
    assert.equal(server.messages("subscribe").length, 1);
  });
});

describe("live query", () => {
  test("keeps the matching documents: snapshot, changes, leaves, deletes, resync", async () => {
    const { server, client } = await setup();
    server.write("todos", "created", id(1), { done: false, t: "a" });
    server.write("todos", "created", id(2), { done: true, t: "b" });
    const calls = [];
    const q = client.collection("todos").live((docs, changes) => calls.push({ docs, changes }), { filters: { done: false } });
    const initial = await within(q.ready, 2000, "live ready");
    assert.deepEqual(initial.map((d) => d.data.t), ["a"]);
    assert.equal(calls[0].changes[0].type, "added");

    server.write("todos", "created", id(3), { done: false, t: "c" });
    await waitFor(() => q.documents.length === 2, { what: "added" });
    server.write("todos", "updated", id(3), { done: false, t: "c2" });
    await waitFor(() => q.documents[1]?.data.t === "c2", { what: "modified" });
    assert.equal(calls.at(-1).changes[0].type, "modified");
    server.write("todos", "updated", id(1), { done: true, t: "a" }); // leaves the filter
    await waitFor(() => q.documents.length === 1, { what: "left" });
    assert.equal(calls.at(-1).changes[0].type, "removed");
    server.write("todos", "updated", id(2), { done: false, t: "b" }); // enters
    await waitFor(() => q.documents.length === 2, { what: "entered" });
    server.write("todos", "deleted", id(3));
    await waitFor(() => q.documents.length === 1, { what: "deleted" });
    assert.deepEqual(q.documents.map((d) => d.data.t), ["b"]);

    // Expired cursor: the live query refreshes from a new snapshot.
    server.terminateAll();
    server.write("todos", "created", id(4), { done: false, t: "d" });
    server.write("todos", "updated", id(2), { done: true, t: "b" });
    server.prune();
    await waitFor(() => q.documents.length === 1 && q.documents[0].data.t === "d", { what: "refreshed" });
    const last = calls.at(-1).changes.map((c) => `${c.type}:${c.document.data.t}`).sort();
    assert.deepEqual(last, ["added:d", "removed:b"]);
    await q.unsubscribe();
  });

  test("sorts documents by the sort spec", async () => {
    const { server, client } = await setup();
    server.write("todos", "created", id(1), { p: 2 });
    server.write("todos", "created", id(2), { p: 9 });
    server.write("todos", "created", id(3), { p: 5 });
    const q = client.collection("todos").live(() => undefined, { sort: "-p" });
    await q.ready;
    assert.deepEqual(q.documents.map((d) => d.data.p), [9, 5, 2]);
  });

  test("the deprecated live(options, callback) order still works; a missing callback throws", async () => {
    const { server, client } = await setup();
    server.write("todos", "created", id(1), { p: 2, done: true });
    server.write("todos", "created", id(2), { p: 9, done: false });
    const calls = [];
    const q = client.collection("todos").live({ filters: { done: false } }, (docs) => calls.push(docs));
    await within(q.ready, 2000, "live ready");
    assert.deepEqual(calls[0].map((d) => d.data.p), [9]);
    assert.throws(() => client.collection("todos").live({ sort: "p" }), TypeError);
    await q.unsubscribe();
  });
});
