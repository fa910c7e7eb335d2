// An in-process fake of Eddy's realtime endpoint (PROTOCOL.md), for unit tests of the client's
// reconnect, resume, dedup, token and room logic. It keeps a change log in memory.

import { createServer } from "node:http";
import { WebSocketServer } from "ws";

export async function startFakeServer(opts = {}) {
  const srv = new FakeServer(opts);
  await srv.listen(opts.port ?? 0);
  return srv;
}

export class FakeServer {
  constructor(opts) {
    this.opts = opts;
    this.sockets = new Set();
    this.received = []; // every client message: { conn, msg }
    this.log = []; // change log: { seq, collection, event, document, old }
    this.docs = new Map();
    this.seq = 0;
    this.prunedThrough = 0;
    this.rooms = new Map(); // room -> Map(conn -> { sub, state, sock })
    this.connCounter = 0;
    this.blackhole = false; // ignore every inbound message (simulates a dead peer)
    this.hooks = {}; // type -> (sock, msg) => boolean (true: handled)
    this.validTokens = opts.validTokens ?? null; // null: every token is valid
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  listen(port) {
    this.http = createServer((req, res) => {
      res.writeHead(404).end();
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.http.on("upgrade", (req, socket, head) => {
      if (!req.url.startsWith("/realtime")) return socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
    });
    return new Promise((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(port, "127.0.0.1", () => {
        this.port = this.http.address().port;
        resolve();
      });
    });
  }

  /** Stops listening and drops every socket abruptly (like a crash). */
  async kill() {
    for (const s of this.sockets) s.ws.terminate();
    this.sockets.clear();
    this.rooms.clear();
    await new Promise((r) => this.wss.close(() => r()));
    await new Promise((r) => this.http.close(() => r()));
    this.http.closeAllConnections?.();
  }

  /** Listens again on the same port, keeping the change log (like a restart). */
  async restart() {
    await this.listen(this.port);
  }

  /** Closes every socket with `code`. */
  closeAll(code = 1011, reason = "") {
    for (const s of this.sockets) s.ws.close(code, reason);
  }

  terminateAll() {
    for (const s of this.sockets) s.ws.terminate();
  }

  messages(type) {
    return this.received.filter((r) => r.msg.type === type).map((r) => r.msg);
  }

  accept(ws, req) {
    const sock = { ws, conn: `c${++this.connCounter}`, authed: false, identity: null, subs: new Map(), rooms: new Set() };
    const token = new URL(req.url, "http://x").searchParams.get("token");
    if (token) this.authenticate(sock, token);
    this.sockets.add(sock);
    ws.on("message", (data, isBinary) => {
      if (this.blackhole) {
        try {
          this.received.push({ conn: sock.conn, msg: JSON.parse(String(data)), ignored: true });
        } catch {
          /* ignore */
        }
        return;
      }
      if (isBinary) return this.send(sock, { type: "error", code: "invalid_message", message: "binary" });
      let msg;
      try {
        msg = JSON.parse(String(data));
      } catch {
        return this.send(sock, { type: "error", code: "invalid_json", message: "bad json" });
      }
      this.received.push({ conn: sock.conn, msg });
      this.onMessage(sock, msg);
    });
    ws.on("close", () => {
      this.sockets.delete(sock);
      for (const room of sock.rooms) this.leaveRoom(sock, room);
    });
  }

  send(sock, msg) {
    if (sock.ws.readyState === 1) sock.ws.send(JSON.stringify(msg));
  }

  authenticate(sock, token) {
    if (this.validTokens && !this.validTokens(token)) return false;
    sock.authed = true;
    sock.token = token;
    sock.identity = token.startsWith("eddy_") ? { kind: "service" } : { kind: "user", sub: subOf(token), role: null };
    return true;
  }

  onMessage(sock, msg) {
    const hook = this.hooks[msg.type];
    if (hook && hook(sock, msg)) return;
    const reply = (m) => this.send(sock, msg.ref !== undefined ? { ...m, ref: msg.ref } : m);
    const error = (code, extra = {}) => reply({ type: "error", code, message: code, ...extra });
    switch (msg.type) {
      case "auth": {
        if (!this.authenticate(sock, msg.token)) return error("unauthorized");
        const exp = expOf(msg.token);
        return reply({ type: "auth_ok", identity: sock.identity, connection: sock.conn, expires_at: exp ?? null });
      }
      case "ping":
        return reply({ type: "pong" });
    }
    if (!sock.authed) return error("unauthorized");
    switch (msg.type) {
      case "subscribe":
        return this.subscribe(sock, msg, reply, error);
      case "unsubscribe":
        if (!sock.subs.delete(msg.id)) return error("not_found");
        return reply({ type: "unsubscribed", id: msg.id });
      case "join": {
        let members = this.rooms.get(msg.room);
        if (!members) this.rooms.set(msg.room, (members = new Map()));
        const state = msg.presence ?? {};
        const sub = sock.identity.sub;
        members.set(sock.conn, { sub, state, sock });
        sock.rooms.add(msg.room);
        this.roomSend(msg.room, sock, { type: "presence", room: msg.room, joins: { [sock.conn]: entry(sub, state) }, leaves: {} });
        const list = [...members].map(([connection, m]) => ({ connection, ...entry(m.sub, m.state) }));
        return reply({ type: "joined", room: msg.room, members: list });
      }
      case "leave":
        if (!sock.rooms.has(msg.room)) return error("not_found");
        this.leaveRoom(sock, msg.room);
        return reply({ type: "left", room: msg.room });
      case "presence": {
        const m = this.rooms.get(msg.room)?.get(sock.conn);
        if (!m) return error("not_found");
        m.state = msg.state;
        this.roomSend(msg.room, sock, { type: "presence", room: msg.room, joins: { [sock.conn]: entry(m.sub, m.state) }, leaves: {} });
        if (msg.ref !== undefined) reply({ type: "ack" });
        return;
      }
      case "broadcast": {
        if (!sock.rooms.has(msg.room)) return error("not_found");
        const out = {
          type: "broadcast",
          room: msg.room,
          event: msg.event,
          message: msg.message,
          from: { sub: sock.identity.sub, connection: sock.conn },
          ts: Date.now(),
        };
        this.roomSend(msg.room, msg.echo ? null : sock, out);
        if (msg.ref !== undefined) reply({ type: "ack" });
        return;
      }
      default:
        return error("unknown_type");
    }
  }

  subscribe(sock, msg, reply, error) {
    const id = msg.id ?? `sub-${sock.subs.size + 1}`;
    if (sock.subs.has(id)) return error("invalid_message");
    const sub = { id, collection: msg.collection, filters: msg.filters ?? {} };
    if (msg.snapshot) {
      const documents = [...this.docs.values()].filter((d) => d.collection === msg.collection && matches(d.data, sub.filters));
      this.send(sock, { type: "snapshot", subscription: id, collection: msg.collection, documents, seq: this.seq, truncated: false });
    } else if (msg.since !== undefined && msg.since !== null) {
      if (msg.since < this.prunedThrough) return error("cursor_expired", { subscription: id });
      for (const c of this.log) if (c.seq > msg.since) this.deliver(sock, sub, c);
    }
    sock.subs.set(id, sub);
    reply({ type: "subscribed", id, collection: msg.collection, seq: this.seq });
  }

  deliver(sock, sub, c) {
    if (c.collection !== sub.collection) return;
    const now = c.document.data && matches(c.document.data, sub.filters);
    const before = c.old && matches(c.old, sub.filters);
    if (!now && !before) return;
    const ev = { type: "event", subscription: sub.id, collection: c.collection, event: c.event, seq: c.seq, document: c.document };
    if (c.old) ev.old = c.old;
    if (c.event === "updated" && Object.keys(sub.filters).length > 0 && now !== before) ev.transition = now ? "enter" : "leave";
    this.send(sock, ev);
  }

  /** Records a change and sends it to every matching subscription. */
  write(collection, event, id, data) {
    const prev = this.docs.get(id);
    const now = new Date().toISOString();
    const document = {
      id,
      collection,
      data: event === "deleted" ? prev.data : data,
      owner: null,
      version: (prev?.version ?? 0) + 1,
      created_at: prev?.created_at ?? now,
      updated_at: now,
    };
    if (event === "deleted") this.docs.delete(id);
    else this.docs.set(id, document);
    const c = { seq: ++this.seq, collection, event, document, old: prev?.data };
    this.log.push(c);
    for (const s of this.sockets) for (const sub of s.subs.values()) this.deliver(s, sub, c);
    return c;
  }

  /** Forgets changes up to `seq` (a later `since` below it gets `cursor_expired`). */
  prune(seq = this.seq) {
    this.prunedThrough = seq;
    this.log = this.log.filter((c) => c.seq > seq);
  }

  roomSend(room, except, msg) {
    for (const [, m] of this.rooms.get(room) ?? []) if (m.sock !== except) this.send(m.sock, msg);
  }

  leaveRoom(sock, room) {
    const members = this.rooms.get(room);
    const m = members?.get(sock.conn);
    if (!m) return;
    members.delete(sock.conn);
    sock.rooms.delete(room);
    this.roomSend(room, sock, { type: "presence", room, joins: {}, leaves: { [sock.conn]: entry(m.sub, m.state) } });
  }
}

function entry(sub, state) {
  return sub === undefined ? { state } : { sub, state };
}

function matches(data, filters) {
  return Object.entries(filters).every(([k, v]) => data?.[k] === v);
}

function payloadOf(token) {
  try {
    return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
  } catch {
    return undefined;
  }
}

function expOf(token) {
  return payloadOf(token)?.exp;
}

function subOf(token) {
  return payloadOf(token)?.sub ?? "anon";
}
