// Browser test: user accounts in headless Chromium against a real Eddy. A page signs up with the
// session kept in localStorage, watches its own notes across access-token refreshes, survives a
// reload (the stored session is picked up), and signing out ends the watch.

import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { join, normalize, resolve } from "node:path";
import { after, before, test } from "node:test";
import { startEddy } from "../helpers/eddy.mjs";

const DIST = resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "../../dist");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"];
const PAGE = `<!doctype html><meta charset="utf-8"><title>accounts</title>
<script type="module">
  import { createClient } from "/dist/index.js";
  window.createClient = createClient;
  window.sdkReady = true;
</script>`;

/** Serves the test page and sdk-js/dist/. */
function startStatic() {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (path === "/") return res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
    const file = join(DIST, path.replace(/^\/dist\//, "/"));
    if (!path.startsWith("/dist/") || !file.startsWith(DIST + "/") || !existsSync(file) || !statSync(file).isFile()) {
      return res.writeHead(404).end("not found");
    }
    res.writeHead(200, { "content-type": "text/javascript", "cache-control": "no-store" }).end(readFileSync(file));
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r(server)));
}

let eddy;
let staticServer;
let browser;
let skipReason = null;

before(async () => {
  if (!existsSync(CHROMIUM)) {
    skipReason = `${CHROMIUM} is missing (the todo browser test installs it)`;
    return;
  }
  eddy = await startEddy({
    name: "browser-accounts",
    args: ["--access-token-ttl", "4s", "--token-expiry-warning", "1s"],
  });
  await eddy.admin("PUT", "/v1/collections/notes", {
    rules: { read: "owner", create: "authenticated", update: "owner", delete: "owner" },
  });
  staticServer = await startStatic();
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 60_000 });
});

after(async () => {
  await browser?.close();
  staticServer?.close();
  await eddy?.dispose();
});

test("accounts in a browser: localStorage session, watch across refreshes and a reload, sign-out", async (t) => {
  if (skipReason) return t.skip(skipReason);
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const open = async () => {
    await page.goto(`http://127.0.0.1:${staticServer.address().port}/`);
    await page.waitForFunction(() => window.sdkReady === true);
  };
  await open();

  const userId = await page.evaluate(async (url) => {
    const c = window.createClient(url, { session: { storage: localStorage } });
    window.c = c;
    window.refreshes = 0;
    c.auth.onChange((e) => e === "TOKEN_REFRESHED" && window.refreshes++);
    const s = await c.auth.signUp({ email: "dora@example.com", password: "correct horse battery" });
    window.seen = [];
    window.ended = null;
    const w = c.watchCollection("notes", (e) => window.seen.push(e.document.data.n), {
      onError: (err) => (window.ended = err.code),
    });
    await w.ready;
    return s.user.id;
  }, eddy.url);
  assert.ok(await page.evaluate(() => localStorage.getItem("eddy.session")?.includes("dora@example.com")));

  // Notes written by the page's own user, spaced over more than one access-token lifetime.
  for (let n = 1; n <= 12; n++) {
    await page.evaluate((n) => window.c.collection("notes").create({ n }), n);
    await page.waitForTimeout(500);
  }
  await page.waitForFunction(() => window.seen.length === 12);
  assert.deepEqual(await page.evaluate(() => window.seen), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.ok((await page.evaluate(() => window.refreshes)) >= 1, "the access token was refreshed");

  // A reload keeps the session (localStorage) and the same user.
  await open();
  const after = await page.evaluate(async (url) => {
    const c = window.createClient(url, { session: { storage: localStorage } });
    window.c = c;
    const me = await c.auth.user();
    window.ended = null;
    window.seen = [];
    const w = c.watchCollection("notes", (e) => window.seen.push(e.document.data.n), {
      onError: (err) => (window.ended = err.code),
    });
    await w.ready;
    await c.collection("notes").create({ n: 13 });
    return me.id;
  }, eddy.url);
  assert.equal(after, userId);
  await page.waitForFunction(() => window.seen.includes(13));

  await page.evaluate(() => window.c.auth.signOut());
  await page.waitForFunction(() => window.ended !== null);
  assert.equal(await page.evaluate(() => localStorage.getItem("eddy.session")), null);
  assert.deepEqual(errors, []);
  await context.close();
});
