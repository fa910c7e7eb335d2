// cursor_expired recovery: a client that was away longer than the change-log retention
// re-snapshots, tells the app (onResync + a snapshot event), and live queries refresh.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createClient } from "../../dist/index.js";
import { startEddy } from "../helpers/eddy.mjs";
import { startProxy } from "../helpers/proxy.mjs";
import { sleep, waitFor, within } from "../helpers/util.mjs";

let eddy;
let proxy;
const clients = [];

before(async () => {
  eddy = await startEddy({ name: "cursor", args: ["--retention", "1s", "--prune-interval", "1s"] });
  await eddy.openCollection("notes");
  proxy = await startProxy(eddy.port);
});
after(async () => {
  for (const c of clients) await c.close();
  await proxy?.close();
  await eddy?.dispose();
});

test("cursor_expired: the server rejects an old since; the SDK re-snapshots and refreshes live queries", async () => {
  const writer = createClient(eddy.url, { apiKey: eddy.serviceKey });
  const c = createClient(proxy.url, { apiKey: eddy.publicKey, reconnect: { initialDelay: 100, maxDelay: 500 } });
  clients.push(writer, c);
  const notes = writer.collection("notes");
  const n1 = await notes.create({ t: "one" });
  const n2 = await notes.create({ t: "two" });

  const events = [];
  const resyncs = [];
  const w = c.watchCollection("notes", (e) => events.push(e), { onResync: (s) => resyncs.push(s) });
  const live = c.collection("notes").live(() => undefined, { sort: "t" });
  await w.ready;
  await live.ready;
  assert.deepEqual(live.documents.map((d) => d.data.t), ["one", "two"]);
  const n3 = await notes.create({ t: "three" });
  await waitFor(() => events.length === 1, { what: "live event" });
  const before = w.lastSeq;
  assert.equal(before, events[0].seq);

  // Away: writes happen and are pruned from the change log before the client returns.
  proxy.mode = "refuse";
  proxy.dropAll();
  await waitFor(() => c.status === "reconnecting", { what: "offline" });
  await notes.delete(n1.id);
  await notes.update(n2.id, { t: "two!" });
  const n4 = await notes.create({ t: "four" });
  await sleep(3500); // retention 1 s, prune every 1 s

  // Check the server's side of the contract directly: an old since gives cursor_expired.
  const probe = createClient(eddy.url, { apiKey: eddy.publicKey });
  clients.push(probe);
  const probeErrors = [];
  const pw = probe.watchCollection("notes", () => undefined, { since: before, onResync: () => probeErrors.push("resync") });
  await within(pw.ready, 5000, "probe subscribed");
  assert.deepEqual(probeErrors, ["resync"], "the server answered cursor_expired and the SDK re-snapshotted");

  proxy.mode = "pass";
  await waitFor(() => resyncs.length === 1, { timeoutMs: 10_000, what: "resync after cursor_expired" });
  const snap = events.find((e) => e.event === "snapshot");
  assert.equal(snap.reason, "resync");
  assert.deepEqual(snap.documents.map((d) => d.data.t).sort(), ["four", "three", "two!"]);
  assert.ok(snap.seq > before);
  const titles = () => live.documents.map((d) => d.data.t).join();
  await waitFor(() => titles() === "four,three,two!", { timeoutMs: 5000, what: `live query refreshed (has ${titles()})` });
  assert.ok(!live.documents.some((d) => d.id === n1.id));
  assert.ok(live.documents.some((d) => d.id === n3.id && d.id !== n4.id));

  // And it is live again afterwards.
  await notes.create({ t: "five" });
  await waitFor(() => live.documents.length === 4, { timeoutMs: 5000, what: "live after resync" });
  assert.equal(events.at(-1).event, "created");
});
