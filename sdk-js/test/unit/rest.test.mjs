// REST client against a tiny in-process HTTP server: request shapes, errors, pagination, token refresh.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { createClient, EddyError } from "../../dist/index.js";
import { appendFilters } from "../../dist/rest.js";
import { jwt } from "../helpers/util.mjs";

let server;
let base;
const requests = [];
let handler = () => undefined;

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const r = { method: req.method, url: req.url, headers: req.headers, body: body ? JSON.parse(body) : undefined };
      requests.push(r);
      const out = handler(r) ?? { status: 200, body: {} };
      res.writeHead(out.status, out.body === undefined ? {} : { "content-type": "application/json" });
      res.end(out.body === undefined ? undefined : typeof out.body === "string" ? out.body : JSON.stringify(out.body));
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${server.address().port}/`;
});
after(() => new Promise((r) => server.close(r)));

const doc = (id, data) => ({ id, collection: "posts", data, owner: null, version: 1, created_at: "t", updated_at: "t" });

describe("REST", () => {
  test("CRUD requests: methods, paths, bodies, headers", async () => {
    const client = createClient(base, { apiKey: "eddy_sk_k" });
    const posts = client.collection("posts");
    handler = (r) => ({ status: r.method === "POST" ? 201 : r.method === "DELETE" ? 204 : 200, body: r.method === "DELETE" ? undefined : doc("a/b", r.body?.data ?? {}) });
    requests.length = 0;
    const created = await posts.create({ title: "x" }, { id: "11111111-1111-1111-1111-111111111111" });
    assert.equal(created.data.title, "x");
    await posts.get("a/b");
    await posts.update("a/b", { title: null }, { ifMatch: 3 });
    await posts.replace("a/b", { title: "y" });
    await posts.delete("a/b", { ifMatch: 4 });
    const summary = requests.map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(summary, [
      "POST /v1/collections/posts/documents",
      "GET /v1/collections/posts/documents/a%2Fb",
      "PATCH /v1/collections/posts/documents/a%2Fb",
      "PUT /v1/collections/posts/documents/a%2Fb",
      "DELETE /v1/collections/posts/documents/a%2Fb",
    ]);
    assert.deepEqual(requests[0].body, { data: { title: "x" }, id: "11111111-1111-1111-1111-111111111111" });
    assert.equal(requests[0].headers.authorization, "Bearer eddy_sk_k");
    assert.equal(requests[0].headers["content-type"], "application/json");
    assert.deepEqual(requests[2].body, { data: { title: null } });
    assert.equal(requests[2].headers["if-match"], "3");
    assert.equal(requests[3].headers["if-match"], undefined);
    assert.equal(requests[4].headers["if-match"], "4");
    assert.equal(requests[1].headers["content-type"], undefined, "no body, no content type");
  });

  test("errors become EddyError with code, message and status", async () => {
    const client = createClient(base, { apiKey: "eddy_pk_k" });
    handler = () => ({ status: 404, body: { error: { code: "not_found", message: "no such document" } } });
    await assert.rejects(client.collection("posts").get("x"), (e) => {
      assert.ok(e instanceof EddyError);
      assert.equal(e.code, "not_found");
      assert.equal(e.message, "no such document");
      assert.equal(e.status, 404);
      return true;
    });
    handler = () => ({ status: 400, body: { error: { code: "brand_new_code", message: "from a newer server" } } });
    await assert.rejects(client.collection("posts").get("x"), (e) => {
      assert.equal(e.code, "unknown", "codes outside ErrorCode are not passed off as ErrorCode");
      assert.equal(e.serverCode, "brand_new_code");
      assert.equal(e.message, "from a newer server");
      return true;
    });
    handler = () => ({ status: 502, body: "<html>bad gateway</html>" });
    await assert.rejects(client.collection("posts").get("x"), (e) => e.code === "internal" && e.status === 502);
    const dead = createClient("http://127.0.0.1:1", { apiKey: "k" });
    await assert.rejects(dead.collection("posts").get("x"), (e) => e.code === "network_error" && e.status === undefined);
  });

  test("list encodes filters, sort, limit, after; iterate walks every page", async () => {
    const client = createClient(base, { apiKey: "k" });
    handler = (r) => {
      const u = new URL(r.url, "http://x");
      const after = u.searchParams.get("after");
      const page = after === null ? 0 : Number(after);
      return {
        status: 200,
        body: { documents: [doc(`d${page * 2}`, {}), doc(`d${page * 2 + 1}`, {})], next: page < 2 ? String(page + 1) : null },
      };
    };
    requests.length = 0;
    const page = await client.collection("posts").list({ filters: { status: "open", views__gte: 10, flag: true, "[or]tags__contains": "x" }, sort: "-views", limit: 2 });
    assert.equal(page.next, "1");
    const q = new URL(requests[0].url, "http://x").searchParams;
    assert.equal(q.get("status"), "open");
    assert.equal(q.get("views__gte"), "10");
    assert.equal(q.get("flag"), "true");
    assert.equal(q.get("[or]tags__contains"), "x");
    const p2 = new URLSearchParams();
    appendFilters(p2, { code: "10", t: "true", n: null, s: '"q"', tag__in: ["a", "b,c", "7", 7, true], raw: "plain" });
    assert.deepEqual([...p2], [
      ["code", '"10"'],
      ["t", '"true"'],
      ["n", "null"],
      ["s", '"\\"q\\""'],
      ["tag__in", 'a,"b,c","7",7,true'],
      ["raw", "plain"],
    ]);
    assert.equal(q.get("sort"), "-views");
    assert.equal(q.get("limit"), "2");
    const ids = [];
    for await (const d of client.collection("posts").iterate({ limit: 2 })) ids.push(d.id);
    assert.deepEqual(ids, ["d0", "d1", "d2", "d3", "d4", "d5"]);
    const ids2 = [];
    for await (const d of client.collection("posts")) ids2.push(d.id);
    assert.equal(ids2.length, 6);
  });

  test("getToken: used for requests, refreshed before expiry and after a 401", async () => {
    let n = 0;
    const tokens = [jwt("s", "u", 5), jwt("s", "u", 3600), jwt("s", "u", 3600, { x: 1 })];
    const client = createClient(base, { getToken: () => tokens[n++] });
    const ok = new Set([`Bearer ${tokens[0]}`, `Bearer ${tokens[2]}`]);
    handler = (r) => (ok.has(r.headers.authorization) ? { status: 200, body: doc("a", {}) } : { status: 401, body: { error: { code: "unauthorized", message: "expired" } } });
    requests.length = 0;
    await client.collection("posts").get("a"); // first token, fetched lazily
    assert.equal(n, 1);
    // tokens[0] expires within the refresh margin, so tokens[1] is fetched first; its 401 → tokens[2].
    await client.collection("posts").get("a");
    assert.equal(n, 3);
    assert.deepEqual(requests.map((r) => r.headers.authorization), tokens.map((t) => `Bearer ${t}`));
  });

  test("batch posts operations and returns results", async () => {
    const client = createClient(base.replace("http", "ws"), { apiKey: "k" });
    handler = (r) => ({ status: 200, body: { results: r.body.operations.map((o, i) => ({ id: String(i), deleted: true })) } });
    requests.length = 0;
    const res = await client.collection("posts").batch([{ op: "delete", id: "x" }]);
    assert.deepEqual(res, [{ id: "0", deleted: true }]);
    assert.equal(requests[0].url, "/v1/collections/posts/batch");
    // `ifMatch` (and the deprecated `if_match`) go out as the wire's `if_match`.
    await client.collection("posts").batch([
      { op: "create", data: { a: 1 } },
      { op: "update", id: "u", data: { a: 2 }, ifMatch: 3 },
      { op: "replace", id: "r", data: { a: 3 }, if_match: 4 },
      { op: "delete", id: "d" },
    ]);
    assert.deepEqual(requests[1].body.operations, [
      { op: "create", data: { a: 1 } },
      { op: "update", id: "u", data: { a: 2 }, if_match: 3 },
      { op: "replace", id: "r", data: { a: 3 }, if_match: 4 },
      { op: "delete", id: "d" },
    ]);
    assert.equal(client.realtimeUrl, `${base.replace("http", "ws").replace(/\/$/, "")}/realtime`);
  });
});
