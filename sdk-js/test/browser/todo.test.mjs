// Browser test: the examples/todo app in headless Chromium against a real Eddy. Two pages: one
// creates, edits and deletes todos and the other shows each change live; a chat message goes from
// one page to the other. Screenshots land in sdk-js/artifacts/.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, resolve } from "node:path";
import { after, before, test } from "node:test";
import { ARTIFACTS, startEddy } from "../helpers/eddy.mjs";
import { startProxy } from "../helpers/proxy.mjs";

const REPO = resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "../../..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Installs Debian's chromium when missing (as root); returns a reason to skip otherwise. */
function ensureChromium() {
  if (existsSync(CHROMIUM)) return null;
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    return `${CHROMIUM} is missing and we are not root: install it with \`apt-get install -y chromium\` to run the browser test`;
  }
  console.log("# installing chromium with apt-get (one-time)");
  const opts = { stdio: "inherit", timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } };
  let r = spawnSync("apt-get", ["install", "-y", "chromium"], opts);
  if (r.status !== 0) {
    spawnSync("apt-get", ["update"], opts);
    r = spawnSync("apt-get", ["install", "-y", "chromium"], opts);
  }
  if (r.status !== 0 || !existsSync(CHROMIUM)) throw new Error(`apt-get install -y chromium failed (status ${r.status})`);
  return null;
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".map": "application/json" };

/** Serves examples/ and sdk-js/dist/ from the repository. */
function startStatic() {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const file = join(REPO, path.endsWith("/") ? `${path}index.html` : path);
    const allowed = [join(REPO, "examples") + "/", join(REPO, "sdk-js/dist") + "/"].some((p) => file.startsWith(p));
    if (!allowed || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end("not found");
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
    res.end(readFileSync(file));
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r(server)));
}

let skipReason = null;
let eddy;
let staticServer;
let browser;
let proxy;

before(async () => {
  skipReason = ensureChromium();
  if (skipReason) return;
  eddy = await startEddy({ name: "browser" });
  await eddy.openCollection("todos");
  await eddy.openRooms();
  staticServer = await startStatic();
  proxy = await startProxy(eddy.port);
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 60_000 });
  mkdirSync(ARTIFACTS, { recursive: true });
}, { timeout: 900_000 }); // a first run may have to apt-get install chromium

after(async () => {
  await browser?.close();
  staticServer?.close();
  await proxy?.close();
  await eddy?.dispose();
});

async function openApp(name, url = eddy.url) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && errors.push(`console: ${m.text()} (${m.location().url})`));
  const q = new URLSearchParams({ url, key: eddy.publicKey, name, room: "chat-e2e" });
  await page.goto(`http://127.0.0.1:${staticServer.address().port}/examples/todo/index.html?${q}`);
  await page.getByTestId("status").filter({ hasText: "open" }).waitFor();
  return { page, context, errors };
}

const shot = (page, name) => page.screenshot({ path: resolve(ARTIFACTS, `${name}.png`) });

test("todo app: changes on one page show live on the other; chat between pages", async (t) => {
  if (skipReason) return t.skip(skipReason);
  const a = await openApp("Ann");
  const b = await openApp("Bob", proxy.url);
  const items = (p) => p.page.locator('[data-testid="todo"]');
  const titleOf = (p, i) => items(p).nth(i).getByTestId("todo-title");

  // Create on A → appears on B.
  await a.page.getByTestId("todo-input").fill("Buy milk");
  await a.page.getByTestId("todo-input").press("Enter");
  await items(b).first().waitFor();
  assert.equal(await titleOf(b, 0).inputValue(), "Buy milk");
  await a.page.getByTestId("todo-input").fill("Write tests");
  await a.page.getByTestId("todo-add").click();
  await b.page.getByTestId("todo-count").filter({ hasText: "2" }).waitFor();
  await shot(a.page, "todo-a-created");
  await shot(b.page, "todo-b-created");

  // Mark done and rename on A → B follows.
  await items(a).nth(0).getByTestId("todo-done").check();
  await b.page.locator('[data-testid="todo"].done').waitFor();
  await titleOf(a, 1).fill("Write more tests");
  await titleOf(a, 1).press("Enter");
  await b.page.waitForFunction(
    () => document.querySelectorAll('[data-testid="todo-title"]')[1]?.value === "Write more tests",
  );
  await shot(b.page, "todo-b-edited");

  // Delete on A → gone on B.
  await items(a).nth(0).getByTestId("todo-delete").click();
  await b.page.getByTestId("todo-count").filter({ hasText: "1" }).waitFor();
  assert.equal(await titleOf(b, 0).inputValue(), "Write more tests");

  // Chat: presence shows both, a message goes from A to B.
  await a.page.getByTestId("members").filter({ hasText: "Bob" }).waitFor();
  await b.page.getByTestId("members").filter({ hasText: "Ann" }).waitFor();
  await a.page.getByTestId("chat-input").fill("Hello Bob");
  await a.page.getByTestId("chat-send").click();
  await b.page.getByTestId("message").filter({ hasText: "Hello Bob" }).waitFor();
  assert.match(await b.page.getByTestId("message").last().textContent(), /Ann.*Hello Bob/);
  await a.page.getByTestId("message").filter({ hasText: "Hello Bob" }).waitFor();
  await shot(a.page, "todo-a-final");
  await shot(b.page, "todo-b-final");

  // B's connection drops and cannot come back for a while (its traffic goes through a proxy);
  // A adds a todo meanwhile; when the network returns, B catches up (resume with since).
  proxy.mode = "refuse";
  proxy.dropAll();
  await b.page.getByTestId("status").filter({ hasText: "reconnecting" }).waitFor();
  await a.page.getByTestId("todo-input").fill("Added while B was offline");
  await a.page.getByTestId("todo-input").press("Enter");
  await a.page.getByTestId("todo-count").filter({ hasText: "2" }).waitFor();
  await shot(b.page, "todo-b-offline");
  proxy.mode = "pass";
  await b.page.getByTestId("status").filter({ hasText: "open" }).waitFor({ timeout: 15_000 });
  await b.page.getByTestId("todo-count").filter({ hasText: "2" }).waitFor();
  assert.equal(await titleOf(b, 1).inputValue(), "Added while B was offline");
  await shot(b.page, "todo-b-back-online");

  assert.deepEqual([...a.errors, ...b.errors], [], "no errors in the pages");
  assert.equal(await b.page.getByTestId("error").isHidden(), true);
});
