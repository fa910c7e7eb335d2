// Compile-only check of the published types, imported through the package's own `exports`.
//
// Every `// @ts-expect-error TS<code> …` marks a line that must not compile: `tsc` fails if it does
// (TS2578, unused directive), and test/unit/types.test.mjs also compiles a copy without the directives and
// checks that each marked line fails with exactly that error code, and no other line fails.

import {
  createClient,
  EddyError,
  isEddyError,
  type BatchOperation,
  type ChangeEvent,
  type ConnectionStatus,
  type EddyDocument,
  type ErrorCode,
  type Filters,
  type LiveChange,
  type Member,
  type Patch,
  type Sort,
  type WatchEvent,
} from "eddy-client";

// An interface (no index signature) works as a document type.
interface Todo {
  title: string;
  done: boolean;
  priority?: number;
  tags: string[];
  author: { name: string; email?: string };
}

interface ChatMessage {
  text: string;
}

type ChatEvents = {
  "chat:message": ChatMessage;
  "chat:typing": { typing: boolean };
};

interface Cursor {
  name: string;
  x?: number;
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

  // ---- documents ----
  const todos = client.collection<Todo>("todos");
  const created: EddyDocument<Todo> = await todos.create({ title: "x", done: false, tags: [], author: { name: "Ann" } });
  const title: string = created.data.title;
  // @ts-expect-error TS2739 a document must have every required field
  await todos.create({ title: "x" });

  await todos.update(created.id, { done: true }, { ifMatch: created.version });
  await todos.update(created.id, { priority: null }); // null removes an optional key
  await todos.update(created.id, { author: { email: "a@example.com" } }); // merge patches descend into objects
  // @ts-expect-error TS2561 a misspelt key in a patch
  await todos.update(created.id, { titel: "x" });
  // @ts-expect-error TS2322 a patch value of the wrong type
  await todos.update(created.id, { done: "yes" });
  // @ts-expect-error TS2322 null would remove a required key
  await todos.update(created.id, { title: null });
  // @ts-expect-error TS2353 misspelt nested key
  await todos.update(created.id, { author: { nmae: "x" } });
  // @ts-expect-error TS2561 the old spelling of the precondition
  await todos.update(created.id, { done: true }, { if_match: 1 });

  await todos.replace(created.id, { title, done: false, tags: ["a"], author: { name: "Ann" } });
  await todos.delete(created.id, { ifMatch: 2 });

  // ---- filters and sort ----
  const page = await todos.list({
    filters: {
      done: false,
      priority__gte: 3,
      title__startswith: "a",
      tags__contains: "x",
      tags__in: [["a"], ["b"]],
      author__isnull: false,
      "author.name": "Ann", // dotted paths are accepted unchecked
      "[or]author.email__endswith": "@example.com",
      "[or]title": "a",
      "[or:who]$owner": "alice",
      "[or:who]$owner__isnull": true,
      $id__in: ["7d3c…"],
      $created_at__gte: "2024-05-01T12:00:00Z",
    },
    sort: "-$created_at",
    limit: 10,
  });
  const next: string | null = page.next;
  for await (const doc of todos.iterate({ after: next ?? undefined, sort: "-priority" })) void doc.data.done;
  await todos.list({ sort: "title" });
  await todos.list({ sort: "-priority,$created_at" }); // comma lists are accepted as strings
  await todos.list({ sort: "author.name" });
  // @ts-expect-error TS2561 a misspelt filter field
  await todos.list({ filters: { titel: "x" } });
  // @ts-expect-error TS2353 an unknown operator suffix
  await todos.list({ filters: { title__foo: "x" } });
  // @ts-expect-error TS2322 a filter value of the wrong type
  await todos.list({ filters: { done: "no" } });
  // @ts-expect-error TS2322 ordering needs a number or string like the field
  await todos.list({ filters: { priority__gt: "3" } });
  // @ts-expect-error TS2322 `in` takes an array
  await todos.list({ filters: { title__in: "a,b" } });
  // @ts-expect-error TS2353 `$id` does not support `gt`
  await todos.list({ filters: { $id__gt: "x" } });
  // @ts-expect-error TS2353 a group prefix other than [or] / [or:NAME]
  await todos.list({ filters: { "[and]title": "x" } });
  // @ts-expect-error TS2820 a misspelt sort key
  await todos.list({ sort: "-titel" });
  // @ts-expect-error TS2322 a misspelt metadata field
  await todos.list({ sort: "$created" });

  const f: Filters<Todo> = { "[or:a]done": true, "[or:a]priority__lte": 1 };
  const s: Sort<Todo> = "-author.name";
  const p: Patch<Todo> = { tags: ["b"] };
  void [f, s, p];

  // Untyped collections accept any key.
  const posts = client.collection("posts");
  await posts.list({ filters: { anything__gte: 1, "[or]x": "y" }, sort: "whatever,-else" });
  await posts.update("id", { views: 3, gone: null });

  // ---- batch: camelCase ifMatch like the other write options ----
  const ops: BatchOperation<Todo>[] = [
    { op: "create", data: { title: "b", done: false, tags: [], author: { name: "Bo" } } },
    { op: "update", id: created.id, data: { done: true }, ifMatch: 3 },
    { op: "delete", id: created.id, ifMatch: 4 },
  ];
  await todos.batch(ops);
  // @ts-expect-error TS2561 a misspelt key in a batch update patch
  await todos.batch([{ op: "update", id: created.id, data: { dne: true } }]);

  // ---- watches and live queries: callback first, then options ----
  const handle = client.watchCollection<Todo>(
    "todos",
    (ev: WatchEvent<Todo>) => {
      if (ev.event === "snapshot") void ev.documents.length;
      else {
        const change: ChangeEvent<Todo> = ev;
        void [change.seq, change.old?.title, change.transition, change.document.data.done];
      }
    },
    { filters: { done: false }, sort: "-priority", snapshot: true, since: 10, onResync: (snap) => void snap.seq },
  );
  await handle.ready;
  const last: number | undefined = handle.lastSeq;
  void last;
  await handle.unsubscribe();
  // @ts-expect-error TS2561 watch filters are checked too
  todos.watch(() => undefined, { filters: { don: false } });
  todos.watch((ev) => void ev.event, { onError: (e) => void e.code });

  const live = todos.live(
    (docs: EddyDocument<Todo>[], changes: LiveChange<Todo>[]) => void [docs.length, changes[0]?.type],
    { filters: { done: false }, sort: "title" },
  );
  await live.ready;
  await live.unsubscribe();
  todos.live((docs) => void docs[0]?.data.title);
  // The previous order still compiles (deprecated).
  todos.live({ filters: { done: true } }, (docs) => void docs.length);
  // @ts-expect-error TS2769 live filters are checked too
  todos.live(() => undefined, { filters: { don: false } });

  // ---- rooms with a typed event map and presence ----
  const room = client.room<ChatEvents, Cursor>("chat-123");
  const members: Member<Cursor>[] = await room.join({ presence: { name: "Ann" } });
  void members[0]?.state.name;
  const off = room.on("chat:message", (message, meta) => {
    const text: string = message.text;
    const event: "chat:message" = meta.event;
    void [text, event, meta.from.sub, meta.ts];
  });
  off();
  room.on("*", (message, meta) => {
    if (meta.event === "chat:typing") void message;
  });
  room.onPresence((all, diff) => void [all[0]?.state.x, Object.keys(diff.joins)]);
  await room.broadcast("chat:message", { text: "hi" }, { echo: false });
  await room.track({ name: "Ann", x: 3 });
  // @ts-expect-error TS2769 an event name outside the map
  room.on("chat:mesage", () => undefined);
  // @ts-expect-error TS2561 a message of the wrong shape
  await room.broadcast("chat:message", { txt: "hi" });
  // @ts-expect-error TS2561 presence of the wrong shape
  await room.track({ nam: "Ann" });
  room.on("chat:message", (message) => {
    // @ts-expect-error TS2339 messages are typed, not `any`
    void message.body;
  });
  await room.leave();

  // Untyped rooms: any event name, messages are `unknown`.
  const lobby = client.room("lobby");
  lobby.on("anything", (message) => {
    // @ts-expect-error TS18046 unknown must be narrowed before use
    void message.text;
  });
  await lobby.broadcast("anything", 42);
  await client.close();

  // ---- errors: a union of the documented codes ----
  try {
    await todos.get("nope");
  } catch (e) {
    if (e instanceof EddyError && e.status === 404) {
      const code: ErrorCode = e.code;
      void code;
    }
    if (isEddyError(e, "precondition_failed")) void e.status;
    if (isEddyError(e) && e.code === "cursor_expired") void e.subscription;
    // @ts-expect-error TS2367 a misspelt code can never match
    if (isEddyError(e) && e.code === "not_fuond") void e;
    // @ts-expect-error TS2345 a misspelt code
    if (isEddyError(e, "forbiden")) void e;
  }
}
