// REST CRUD against a real Eddy + PostgreSQL.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { createClient, EddyError } from "../../dist/index.js";
import { startEddy } from "../helpers/eddy.mjs";

let eddy;
let client;

before(async () => {
  eddy = await startEddy({ name: "crud" });
  await eddy.openCollection("posts");
  client = createClient(eddy.url, { apiKey: eddy.publicKey });
});
after(async () => {
  await client?.close();
  await eddy?.dispose();
});

describe("CRUD (real server)", () => {
  test("create, get, update (merge patch), replace, delete", async () => {
    const posts = client.collection("posts");
    const created = await posts.create({ title: "Hello", status: "open", tags: ["a"] });
    assert.match(created.id, /^[0-9a-f-]{36}$/);
    assert.equal(created.collection, "posts");
    assert.equal(created.version, 1);
    assert.deepEqual(created.data, { title: "Hello", status: "open", tags: ["a"] });

    const got = await posts.get(created.id);
    assert.deepEqual(got, created);

    const updated = await posts.update(created.id, { title: "Hi", tags: null });
    assert.deepEqual(updated.data, { title: "Hi", status: "open" });
    assert.equal(updated.version, 2);

    const replaced = await posts.replace(created.id, { only: true });
    assert.deepEqual(replaced.data, { only: true });
    assert.equal(replaced.version, 3);

    await posts.delete(created.id);
    await assert.rejects(posts.get(created.id), (e) => {
      assert.ok(e instanceof EddyError);
      assert.equal(e.code, "not_found");
      assert.equal(e.status, 404);
      assert.ok(e.message.length > 0);
      return true;
    });
  });

  test("client-chosen id, conflict, If-Match precondition", async () => {
    const posts = client.collection("posts");
    const id = randomUUID();
    const doc = await posts.create({ n: 1 }, { id });
    assert.equal(doc.id, id);
    await assert.rejects(posts.create({ n: 2 }, { id }), (e) => e.code === "conflict" && e.status === 409);
    await assert.rejects(posts.update(id, { n: 3 }, { ifMatch: 7 }), (e) => e.code === "precondition_failed" && e.status === 412);
    const ok = await posts.update(id, { n: 3 }, { ifMatch: 1 });
    assert.equal(ok.version, 2);
    await assert.rejects(posts.delete(id, { ifMatch: 1 }), (e) => e.status === 412);
    await posts.delete(id, { ifMatch: 2 });
  });

  test("errors carry the server's code: unauthorized, forbidden, invalid_filter", async () => {
    const anon = createClient(eddy.url, { apiKey: "eddy_pk_not_a_real_key_000000000000" });
    await assert.rejects(anon.collection("posts").list(), (e) => e.code === "unauthorized" && e.status === 401);
    await eddy.admin("PUT", "/v1/collections/private", { rules: { read: "service", create: "service" } });
    await assert.rejects(client.collection("private").create({ a: 1 }), (e) => e.code === "forbidden" && e.status === 403);
    await assert.rejects(client.collection("posts").list({ filters: { age__foo: 1 } }), (e) => e.code === "invalid_filter" && e.status === 400);
  });

  test("list with filters and sort; pagination and async iteration over all pages", async () => {
    const items = client.collection("items");
    await eddy.openCollection("items");
    for (let i = 0; i < 25; i++) {
      await items.create({ i, kind: i % 2 === 0 ? "even" : "odd", code: String(i) });
    }
    const page = await items.list({ filters: { kind: "even", i__gte: 10 }, sort: "-i", limit: 3 });
    assert.deepEqual(page.documents.map((d) => d.data.i), [24, 22, 20]);
    assert.equal(typeof page.next, "string");
    const page2 = await items.list({ filters: { kind: "even", i__gte: 10 }, sort: "-i", limit: 3, after: page.next });
    assert.deepEqual(page2.documents.map((d) => d.data.i), [18, 16, 14]);

    // A string value that looks like a number stays a string.
    const byCode = await items.list({ filters: { code: "7" } });
    assert.deepEqual(byCode.documents.map((d) => d.data.i), [7]);
    const byIn = await items.list({ filters: { i__in: [1, 2, 3] }, sort: "i" });
    assert.deepEqual(byIn.documents.map((d) => d.data.i), [1, 2, 3]);

    const seen = [];
    for await (const d of items.iterate({ limit: 4, sort: "i" })) seen.push(d.data.i);
    assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => i));
    let pages = 0;
    for await (const p of items.pages({ limit: 10 })) pages += p.documents.length > 0 ? 1 : 0;
    assert.equal(pages, 3);
  });

  test("batch runs operations in one transaction", async () => {
    const posts = client.collection("posts");
    const a = await posts.create({ a: 1 });
    const res = await posts.batch([
      { op: "create", data: { b: 1 } },
      { op: "update", id: a.id, data: { a: 2 } },
      { op: "delete", id: a.id },
    ]);
    assert.equal(res.length, 3);
    assert.deepEqual(res[2], { id: a.id, deleted: true });
    await assert.rejects(posts.batch([{ op: "create", data: { c: 1 } }, { op: "delete", id: randomUUID() }]), (e) => e.code === "not_found");

    // `ifMatch` in a batch reaches the server as its `if_match` precondition.
    const v = await posts.create({ v: 1 });
    await assert.rejects(posts.batch([{ op: "update", id: v.id, data: { v: 2 }, ifMatch: 5 }]), (e) => e.code === "precondition_failed");
    const [updated] = await posts.batch([{ op: "update", id: v.id, data: { v: 2 }, ifMatch: 1 }]);
    assert.equal(updated.version, 2);
  });
});
