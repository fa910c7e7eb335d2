// The server is SIGKILLed (and later SIGTERMed) and restarted while a writer keeps writing: after reconnecting, the
// watcher has received every write exactly once, in order, and the live query matches the database.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { createClient } from "../../dist/index.js";
import { startEddy } from "../helpers/eddy.mjs";
import { sleep, waitFor } from "../helpers/util.mjs";

const WRITES = 200;
let eddy;
const clients = [];

before(async () => {
  eddy = await startEddy({ name: "crash" });
  await eddy.openCollection("crash");
});
after(async () => {
  for (const c of clients) await c.close();
  await eddy?.dispose();
});

/** Creates document `n` with a fixed id, retrying through the outage; a 409 means an earlier try committed. */
async function writeOne(col, id, n, stats) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await col.create({ n }, { id });
      return;
    } catch (e) {
      if (e.code === "conflict") {
        stats.conflicts++;
        return;
      }
      stats.retries++;
      if (Date.now() > deadline) throw new Error(`write ${n} still failing after 30 s: ${e.code} ${e.message}`);
      await sleep(50);
    }
  }
}

test("SIGKILL and SIGTERM restarts while writing: every write delivered exactly once", async () => {
  const writer = createClient(eddy.url, { apiKey: eddy.serviceKey });
  const watcher = createClient(eddy.url, { apiKey: eddy.publicKey, reconnect: { initialDelay: 100, maxDelay: 1000 } });
  clients.push(writer, watcher);
  const statuses = [];
  watcher.on("status", (s) => statuses.push(s));
  const events = [];
  const w = watcher.watchCollection("crash", (e) => events.push(e));
  const live = watcher.collection("crash").live(() => undefined, { sort: "n" });
  await w.ready;
  await live.ready;

  const col = writer.collection("crash");
  const ids = Array.from({ length: WRITES }, () => randomUUID());
  const stats = { retries: 0, conflicts: 0 };
  const writing = (async () => {
    for (let n = 0; n < WRITES; n++) {
      await writeOne(col, ids[n], n, stats);
      await sleep(10);
    }
  })();

  // Crash (SIGKILL) once about a third of the writes are in, then a graceful restart (SIGTERM: close
  // 1001) at two thirds; each time the server comes back on the same port and database.
  for (const [fraction, signal] of [[1 / 3, "SIGKILL"], [2 / 3, "SIGTERM"]]) {
    await waitFor(() => events.length >= WRITES * fraction, { timeoutMs: 20_000, what: `${fraction} of the writes delivered` });
    const t0 = Date.now();
    await eddy.stop(signal);
    console.log(`# ${signal}: server exited after ${Date.now() - t0} ms`);
    await waitFor(() => watcher.status === "reconnecting", { timeoutMs: 5000, what: `watcher notices ${signal}` });
    await sleep(300);
    await eddy.restart();
  }
  await writing;

  await waitFor(() => events.length >= WRITES, { timeoutMs: 30_000, what: `all ${WRITES} events (have ${events.length})` });
  await sleep(300); // anything extra (a duplicate) would arrive now
  const delivered = events.map((e) => e.document.id);
  assert.equal(events.length, WRITES, "no duplicates");
  assert.equal(new Set(delivered).size, WRITES, "each write once");
  assert.deepEqual(new Set(delivered), new Set(ids), "every write delivered");
  assert.ok(events.every((e) => e.event === "created"));
  assert.ok(events.every((e, i) => i === 0 || e.seq > events[i - 1].seq), "strictly increasing seq");
  assert.deepEqual(events.map((e) => e.document.data.n), Array.from({ length: WRITES }, (_, i) => i), "in write order");

  const stored = [];
  for await (const d of col.iterate({ limit: 1000 })) stored.push(d.id);
  assert.equal(stored.length, WRITES);
  assert.equal(live.documents.length, WRITES, "live query has every document");
  assert.ok(statuses.includes("reconnecting") && statuses.at(-1) === "open", statuses.join(","));
  console.log(`# crash test: ${stats.retries} write retries, ${stats.conflicts} writes committed before their response was lost`);
});
