// Pure helpers: backoff, JWT decoding, sort comparator.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backoffDelay, backoffSettings } from "../../dist/backoff.js";
import { jwtExpiresAt } from "../../dist/auth.js";
import { comparator } from "../../dist/live.js";
import { decodeJwtPayload, EddyError, isEddyError } from "../../dist/index.js";
import { mintJwt } from "../helpers/util.mjs";

describe("backoff", () => {
  test("defaults: 0.5 s doubling up to 30 s", () => {
    const s = backoffSettings();
    const nominal = [0, 1, 2, 3, 4, 5, 6, 7, 10, 50].map((n) => backoffDelay(s, n, () => 0));
    assert.deepEqual(nominal, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  });

  test("jitter stays within [1 - jitter, 1] of the nominal delay", () => {
    const s = backoffSettings({ initialDelay: 1000, maxDelay: 1000, jitter: 0.5 });
    assert.equal(backoffDelay(s, 0, () => 0), 1000);
    assert.equal(backoffDelay(s, 0, () => 0.999999), 500);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(s, 3);
      assert.ok(d >= 500 && d <= 1000, String(d));
    }
  });

  test("rejects nonsense", () => {
    assert.throws(() => backoffSettings({ initialDelay: 10, maxDelay: 5 }), RangeError);
  });
});

describe("JWT", () => {
  test("decodes the payload (base64url, UTF-8) without verifying", () => {
    const t = mintJwt("secret", { sub: "zoë", exp: 1795000000, role: "editor" });
    assert.deepEqual(decodeJwtPayload(t), { sub: "zoë", exp: 1795000000, role: "editor" });
    assert.equal(jwtExpiresAt(t), 1795000000 * 1000);
    assert.equal(decodeJwtPayload("eddy_sk_abc"), undefined);
    assert.equal(jwtExpiresAt("a.b.c"), undefined);
  });
});

describe("live sort", () => {
  const d = (id, data, created_at = "2026-01-01") => ({ id, data, created_at });
  test("data fields, descending, $ fields, ties by creation then id", () => {
    const docs = [d("b", { p: 1 }, "2"), d("a", { p: 1 }, "2"), d("c", { p: 3 }, "1"), d("d", {}, "0")];
    assert.deepEqual([...docs].sort(comparator("-p")).map((x) => x.id), ["c", "a", "b", "d"]);
    assert.deepEqual([...docs].sort(comparator("p")).map((x) => x.id), ["d", "a", "b", "c"]);
    assert.deepEqual([...docs].sort(comparator(undefined)).map((x) => x.id), ["d", "c", "a", "b"]);
    assert.deepEqual([...docs].sort(comparator("-$created_at")).map((x) => x.id), ["a", "b", "c", "d"]);
  });
});

describe("EddyError", () => {
  test("carries code, message, status; built from protocol errors", () => {
    const e = EddyError.fromMessage({ type: "error", code: "forbidden", message: "nope", subscription: "s1" });
    assert.ok(e instanceof Error);
    assert.equal(e.name, "EddyError");
    assert.equal(e.code, "forbidden");
    assert.equal(e.message, "nope");
    assert.equal(e.subscription, "s1");
    assert.ok(isEddyError(e, "forbidden"));
    assert.ok(!isEddyError(new Error("x")));
  });
});
