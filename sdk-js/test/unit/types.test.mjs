// Type-level tests: the published declarations accept the documented usage and reject the mistakes
// marked `// @ts-expect-error TS<code>` in test/types/usage.ts (and with that very error code).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const SDK = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const TSC = resolve(SDK, "node_modules/.bin/tsc");
const TYPES = join(SDK, "test/types");
const DIRECTIVE = /^\s*\/\/ @ts-expect-error (TS\d+)\b/;

function tsc(project) {
  const r = spawnSync(TSC, ["-p", project, "--pretty", "false"], { cwd: SDK, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.error, undefined, `could not run tsc: ${r.error}`);
  return r;
}

/** `file(line,col): error TSnnnn` lines of tsc output, as { line, code }. */
function diagnostics(output) {
  return [...output.matchAll(/^[^\n(]*\((\d+),\d+\): error (TS\d+)/gm)].map((m) => ({ line: Number(m[1]), code: m[2] }));
}

/**
 * Copies test/types into artifacts/ (still inside the package, so `eddy-client` resolves to this package
 * through its `exports`) with `transform` applied to usage.ts, and type-checks the copy.
 */
function checkCopy(name, transform) {
  const dir = join(SDK, "artifacts", name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "tsconfig.json"), readFileSync(join(TYPES, "tsconfig.json")));
  writeFileSync(join(dir, "usage.ts"), transform(readFileSync(join(TYPES, "usage.ts"), "utf8")));
  return tsc(join(dir, "tsconfig.json"));
}

test("types: usage.ts type-checks against dist/index.d.ts via package exports", () => {
  const r = tsc("test/types/tsconfig.json");
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});

test("types: each @ts-expect-error line fails with its stated code, and nothing else fails", () => {
  const source = readFileSync(join(TYPES, "usage.ts"), "utf8").split("\n");
  const expected = new Map(); // line (1-based) of the statement after the directive -> code
  const stripped = source.map((text, i) => {
    const m = DIRECTIVE.exec(text);
    if (!m) return text;
    expected.set(i + 2, m[1]);
    return ""; // keep the line numbering
  });
  assert.ok(expected.size >= 20, `expected many negative cases, found ${expected.size}`);
  assert.equal(
    source.filter((l) => /^\s*\/\/ @ts-expect-error/.test(l)).length,
    expected.size,
    "every @ts-expect-error must state the code it expects (`// @ts-expect-error TS2322 why`)",
  );

  const r = checkCopy("types-stripped", () => stripped.join("\n"));
  const found = diagnostics(r.stdout + r.stderr);
  assert.notEqual(r.status, 0, "with the directives removed, tsc must fail");
  const unexpected = found.filter((d) => !expected.has(d.line));
  assert.deepEqual(unexpected, [], `errors on lines that are not marked:\n${r.stdout}`);
  for (const [line, code] of expected) {
    const codes = found.filter((d) => d.line === line).map((d) => d.code);
    assert.ok(codes.includes(code), `line ${line} (${source[line - 1]?.trim()}): expected ${code}, got ${codes.join(", ") || "no error"}`);
  }
});

test("types: a @ts-expect-error over a line that compiles makes the check fail", () => {
  const r = checkCopy("types-unused-directive", (text) => `${text}\n// @ts-expect-error TS2322 not an error\nexport const fine: number = 1;\n`);
  assert.notEqual(r.status, 0, "tsc must reject an unused @ts-expect-error");
  assert.ok(diagnostics(r.stdout).some((d) => d.code === "TS2578"), `expected TS2578, got:\n${r.stdout}`);
});

/** Codes in the `code` column of a markdown table following `heading` in a doc. */
function documentedCodes(doc, heading) {
  const text = readFileSync(resolve(SDK, "..", doc), "utf8");
  const start = text.indexOf(heading);
  assert.notEqual(start, -1, `${doc}: heading "${heading}" not found`);
  const table = text.slice(start).split("\n\n").find((block) => block.trimStart().startsWith("|"));
  assert.ok(table, `${doc}: no table after "${heading}"`);
  const rows = table.split("\n").slice(2);
  const header = table.split("\n")[0].split("|").map((c) => c.trim());
  const col = header.indexOf("code");
  return rows.map((row) => row.split("|").map((c) => c.trim())[col]?.replace(/`/g, "")).filter(Boolean);
}

test("types: ErrorCode lists exactly the codes documented in docs/API.md and docs/PROTOCOL.md", async () => {
  const { REST_ERROR_CODES, REALTIME_ERROR_CODES } = await import("../../dist/errors.js");
  const rest = documentedCodes("docs/API.md", "## Errors");
  const realtime = documentedCodes("docs/PROTOCOL.md", "## Server → client: errors");
  assert.ok(rest.length >= 10 && realtime.length >= 10, `parsed too few codes: ${rest} / ${realtime}`);
  assert.deepEqual([...REST_ERROR_CODES].sort(), [...new Set(rest)].sort());
  assert.deepEqual([...REALTIME_ERROR_CODES].sort(), [...new Set(realtime)].sort());
});
