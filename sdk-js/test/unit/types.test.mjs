// The published type declarations compile for a consumer importing the package by name.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const SDK = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

test("types: a consumer program type-checks against dist/index.d.ts via package exports", () => {
  const tsc = resolve(SDK, "node_modules/.bin/tsc");
  const r = spawnSync(tsc, ["-p", "test/types/tsconfig.json"], { cwd: SDK, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
