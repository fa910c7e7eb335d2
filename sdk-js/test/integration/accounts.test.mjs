// User accounts against a real Eddy: sign-up and sign-in, a watch that keeps delivering across
// access-token refreshes on the same socket, sign-out ending it, storage, and refresh failure.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient } from "../../dist/index.js";
import { startEddy } from "../helpers/eddy.mjs";
import { waitFor, within } from "../helpers/util.mjs";

const PASSWORD = "correct horse battery";
let eddy;
const clients = [];

function client(opts = {}) {
  const c = createClient(eddy.url, { reconnect: { initialDelay: 100, maxDelay: 1000 }, ...opts });
  clients.push(c);
  return c;
}

/** A Map-backed stand-in for localStorage. */
function memoryStorage() {
  const m = new Map();
  return {
    map: m,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
  };
}

before(async () => {
  // Access tokens live 4 s so that a test sees several refreshes; the server warns 1 s before expiry.
  eddy = await startEddy({
    name: "accounts",
    args: ["--access-token-ttl", "4s", "--token-expiry-warning", "1s", "--auth-ip-rate", "1000", "--auth-account-rate", "1000"],
  });
  await eddy.admin("PUT", "/v1/collections/notes", {
    rules: { read: "owner", create: "authenticated", update: "owner", delete: "owner" },
  });
});
after(async () => {
  for (const c of clients) await c.close();
  await eddy?.dispose();
});

describe("accounts (real server)", () => {
  test("sign up, sign in, user, profile, sign out", async () => {
    const c = client();
    const events = [];
    c.auth.onChange((e, s) => events.push([e, s?.user.email ?? null]));
    const s = await c.auth.signUp({ email: "Ann@Example.com", password: PASSWORD, profile: { name: "Ann" } });
    assert.equal(s.user.email, "ann@example.com");
    assert.equal(c.auth.session?.user.id, s.user.id);
    const me = await c.auth.user();
    assert.deepEqual(me?.profile, { name: "Ann" });
    const updated = await c.auth.updateProfile({ city: "Oslo" });
    assert.deepEqual(updated.profile, { name: "Ann", city: "Oslo" });
    // The session's token is the client's credential for REST.
    const doc = await c.collection("notes").create({ text: "mine" });
    assert.equal(doc.owner, s.user.id);
    await c.auth.signOut();
    assert.equal(c.auth.session, null);
    assert.equal(await c.auth.user(), null);
    assert.deepEqual(
      events.map((e) => e[0]),
      ["SIGNED_IN", "USER_UPDATED", "SIGNED_OUT"],
    );
    // The same address again: the server does not say it is taken; signing in with another password fails.
    await assert.rejects(c.auth.signUp({ email: "ann@example.com", password: "a different password" }), (err) => {
      assert.equal(err.code, "unauthorized");
      return true;
    });
    await assert.rejects(c.auth.signIn({ email: "ann@example.com", password: "wrong password!" }), { code: "unauthorized" });
  });

  test("a watch keeps delivering across access-token refreshes, and sign-out ends it", async () => {
    const c = client();
    await c.auth.signUp({ email: "ben@example.com", password: PASSWORD });
    const writer = client();
    await writer.auth.signIn({ email: "ben@example.com", password: PASSWORD });
    const statuses = [];
    c.on("status", (s) => statuses.push(s));
    const refreshed = [];
    c.auth.onChange((e, s) => e === "TOKEN_REFRESHED" && refreshed.push(s.access_token));
    const seen = [];
    let ended;
    const w = c.watchCollection("notes", (e) => seen.push(e.document.data.n), { onError: (err) => (ended = err) });
    await within(w.ready, 5000, "subscribed");
    const firstToken = c.auth.session.access_token;
    // Write across more than two access-token lifetimes (4 s each), one note every 500 ms.
    let n = 0;
    const until = Date.now() + 9000;
    while (Date.now() < until) {
      await writer.collection("notes").create({ n: ++n });
      await new Promise((r) => setTimeout(r, 500));
    }
    await waitFor(() => seen.length === n, { timeoutMs: 5000, what: `${n} notes` });
    assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i + 1), "no gaps or duplicates");
    assert.ok(refreshed.length >= 2, `expected at least 2 refreshes, saw ${refreshed.length}`);
    assert.notEqual(c.auth.session.access_token, firstToken);
    assert.ok(!statuses.includes("reconnecting"), `the socket was dropped: ${statuses.join(",")}`);
    assert.equal(ended, undefined);

    await c.auth.signOut();
    await waitFor(() => ended !== undefined, { timeoutMs: 5000, what: "the watch to end" });
    const before = seen.length;
    await writer.collection("notes").create({ n: ++n });
    // The writer's own watch proves the note was published; the signed-out client got nothing.
    const probe = [];
    const pw = writer.watchCollection("notes", (e) => probe.push(e), { since: 0 });
    await waitFor(() => probe.length >= n, { timeoutMs: 5000, what: "the writer's replay" });
    await pw.unsubscribe();
    assert.equal(seen.length, before);
    // Signing out here ended only this session: the writer's refresh token still works.
    await writer.auth.refresh();
  });

  test("sessions survive in a storage adapter, and a revoked session signs the client out", async () => {
    const storage = memoryStorage();
    const a = client({ session: { storage } });
    await a.auth.signUp({ email: "cat@example.com", password: PASSWORD });
    assert.ok(storage.map.get("eddy.session")?.includes("cat@example.com"));
    const b = client({ session: { storage } });
    assert.equal(b.auth.session?.user.email, "cat@example.com", "a second client picks up the stored session");
    await b.auth.refresh();
    // `a` still holds the rotated-away token, but reads the newer one from storage instead of reusing it.
    await a.auth.refresh();
    assert.equal(a.auth.session.refresh_token, b.auth.session.refresh_token);

    const other = client();
    await other.auth.signIn({ email: "cat@example.com", password: PASSWORD });
    const out = [];
    other.auth.onChange((e) => out.push(e));
    await a.auth.signOut({ everywhere: true });
    assert.equal(storage.map.has("eddy.session"), false);
    await assert.rejects(other.auth.refresh(), { code: "unauthorized" });
    assert.deepEqual(out, ["SIGNED_OUT"]);
    assert.equal(other.auth.session, null);
  });
});
