// Compile-only check of the published types, imported through the package's own `exports`.

import {
  createClient,
  EddyError,
  type ChangeEvent,
  type ConnectionStatus,
  type EddyDocument,
  type LiveChange,
  type Member,
  type WatchEvent,
} from "@eddy/client";

interface Todo extends Record<string, unknown> {
  title: string;
  done: boolean;
}

export async function usage(): Promise<void> {
  const client = createClient("http://127.0.0.1:8080", {
    getToken: async () => "jwt",
    reconnect: { initialDelay: 500, maxDelay: 30_000 },
    heartbeat: { interval: 20_000, timeout: 10_000 },
  });
  const offStatus = client.on("status", (s: ConnectionStatus) => void s);
  offStatus();
  client.on("message", (m) => void m.event);
  client.on("error", (e: EddyError) => void e.code);

  const todos = client.collection<Todo>("todos");
  const created: EddyDocument<Todo> = await todos.create({ title: "x", done: false });
  const title: string = created.data.title;
  await todos.update(created.id, { done: true }, { ifMatch: created.version });
  await todos.replace(created.id, { title, done: false });
  const page = await todos.list({ filters: { done: false }, sort: "-$created_at", limit: 10 });
  const next: string | null = page.next;
  for await (const doc of todos.iterate({ after: next ?? undefined })) void doc.data.done;
  await todos.delete(created.id);

  const handle = client.watchCollection<Todo>(
    "todos",
    (ev: WatchEvent<Todo>) => {
      if (ev.event === "snapshot") void ev.documents.length;
      else {
        const change: ChangeEvent<Todo> = ev;
        void [change.seq, change.old?.title, change.transition, change.document.data.done];
      }
    },
    { filters: { done: false }, snapshot: true, since: 10, onResync: (s) => void s.seq },
  );
  await handle.ready;
  const last: number | undefined = handle.lastSeq;
  void last;
  await handle.unsubscribe();

  const live = todos.live({ filters: { done: false } }, (docs: EddyDocument<Todo>[], changes: LiveChange<Todo>[]) => {
    void [docs.length, changes[0]?.type];
  });
  await live.ready;
  await live.unsubscribe();

  const room = client.room("chat-123");
  const members: Member[] = await room.join({ presence: { name: "Ann" } });
  void members;
  const off = room.on("chat:message", (message, meta) => void [message, meta.from.sub, meta.ts]);
  off();
  room.onPresence((all, diff) => void [all.length, Object.keys(diff.joins)]);
  await room.broadcast("chat:message", { text: "hi" }, { echo: false });
  await room.track({ name: "Ann", typing: true });
  await room.leave();
  await client.close();

  try {
    await todos.get("nope");
  } catch (e) {
    if (e instanceof EddyError && e.status === 404) void e.code;
  }
}
