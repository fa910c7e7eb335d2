// Starts a real Eddy server for integration tests (see the harness contract in the SDK README):
// a unique database per server, bootstrap keys, HS256 secret, readiness via /readyz, and cleanup
// of every started process by PID even when a test fails.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, appendFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { jwt } from "./util.mjs";

const SDK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const ARTIFACTS = resolve(SDK_DIR, "artifacts");
export const EDDY_BIN = resolve(SDK_DIR, process.env.EDDY_BIN ?? "../target/debug/eddy");
const DB_BASE = (process.env.EDDY_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432").replace(/\/+$/, "");

const live = new Set(); // every Eddy process started by this test file
const databases = new Set();

function killAll() {
  for (const p of live) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  live.clear();
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

const rand = (n) => randomBytes(n).toString("hex");

export class Eddy {
  constructor({ args = [], name = "eddy" } = {}) {
    this.args = args;
    this.name = name;
    this.dbName = `eddy_sdk_${rand(6)}`;
    this.serviceKey = `eddy_sk_${rand(20)}`;
    this.publicKey = `eddy_pk_${rand(20)}`;
    this.jwtSecret = rand(32);
    this.output = [];
    this.proc = undefined;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A user JWT signed with this server's secret. */
  token(sub, ttlSeconds = 3600, extra = {}) {
    return jwt(this.jwtSecret, sub, ttlSeconds, extra);
  }

  async start() {
    if (!existsSync(EDDY_BIN)) {
      throw new Error(`Eddy binary not found at ${EDDY_BIN}: run \`cargo build\` at the repo root or set EDDY_BIN`);
    }
    this.port ??= await freePort();
    mkdirSync(ARTIFACTS, { recursive: true });
    const logFile = resolve(ARTIFACTS, `${this.name}-${this.port}.log`);
    const proc = spawn(
      EDDY_BIN,
      ["serve", "--listen", `127.0.0.1:${this.port}`, "--database-url", `${DB_BASE}/${this.dbName}`, ...this.args],
      {
        env: {
          ...process.env,
          EDDY_SERVICE_KEY: this.serviceKey,
          EDDY_PUBLIC_KEY: this.publicKey,
          EDDY_JWT_SECRET: this.jwtSecret,
          RUST_LOG: process.env.RUST_LOG ?? "info",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.proc = proc;
    live.add(proc);
    databases.add(this.dbName);
    const onData = (chunk) => {
      const text = String(chunk);
      appendFileSync(logFile, text);
      this.output.push(...text.split("\n").filter(Boolean));
      if (this.output.length > 200) this.output.splice(0, this.output.length - 200);
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    let exited;
    proc.once("exit", (code, signal) => {
      exited = { code, signal };
      live.delete(proc);
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited) {
        throw new Error(
          `eddy exited (${JSON.stringify(exited)}) before /readyz answered 200; last output:\n${this.output.slice(-30).join("\n")}`,
        );
      }
      try {
        const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) return this;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) {
        this.kill();
        throw new Error(`eddy did not become ready within 30 s; last output:\n${this.output.slice(-30).join("\n")}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops the process with `signal` and waits for it to exit (SIGKILL after 10 s). */
  async stop(signal = "SIGTERM") {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
    live.delete(proc);
  }

  /** Crash: SIGKILL. */
  kill() {
    return this.stop("SIGKILL");
  }

  /** Starts again on the same port and database. */
  restart() {
    return this.start();
  }

  /** Stops the server and drops its database (best effort). */
  async dispose() {
    await this.stop();
    dropDatabase(this.dbName);
  }

  /** A REST call with the service key; throws on a non-2xx answer. */
  async admin(method, path, body) {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.serviceKey}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  /** Makes a collection readable and writable by anyone with a credential. */
  openCollection(name) {
    return this.admin("PUT", `/v1/collections/${name}`, {
      rules: { read: "public", create: "public", update: "public", delete: "public" },
    });
  }

  /** Lets anyone join and broadcast to any room. */
  openRooms() {
    return this.admin("PUT", "/v1/room-rules", { rules: [{ pattern: "*", join: "public", broadcast: "public" }] });
  }
}

/** Starts a server; `args` are extra `eddy serve` flags. */
export async function startEddy(opts = {}) {
  const eddy = new Eddy(opts);
  await eddy.start();
  return eddy;
}

function dropDatabase(name) {
  if (!/^eddy_sdk_[0-9a-f]+$/.test(name)) return;
  spawnSync("psql", [`${DB_BASE}/postgres`, "-q", "-c", `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], {
    stdio: "ignore",
    timeout: 10_000,
  });
}
