// A TCP proxy in front of Eddy that tests can cut: drop every connection (a forced socket drop),
// refuse new ones (network down), or silently swallow traffic (a dead peer).

import { connect, createServer } from "node:net";

export async function startProxy(targetPort) {
  const pairs = new Set();
  const state = { mode: "pass" }; // pass | refuse | blackhole
  const server = createServer((down) => {
    if (state.mode === "refuse") return down.destroy();
    const up = connect(targetPort, "127.0.0.1");
    const pair = { down, up };
    pairs.add(pair);
    const forward = (from, to) =>
      from.on("data", (chunk) => {
        if (state.mode !== "blackhole") to.write(chunk);
      });
    forward(down, up);
    forward(up, down);
    const end = () => {
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    down.on("close", end).on("error", end);
    up.on("close", end).on("error", end);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const port = server.address().port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return pairs.size;
    },
    /** Destroys every proxied connection (both sides see a reset). */
    dropAll() {
      for (const { down, up } of pairs) {
        down.destroy();
        up.destroy();
      }
      pairs.clear();
    },
    set mode(m) {
      state.mode = m;
    },
    get mode() {
      return state.mode;
    },
    close() {
      this.dropAll();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
