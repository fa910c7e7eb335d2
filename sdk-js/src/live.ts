// Live queries: the current set of matching documents, kept up to date (like Firestore onSnapshot).

import type { EddyClient } from "./client.js";
import { safeCall } from "./emitter.js";
import type { EddyError } from "./errors.js";
import type { Filters, Sort } from "./fields.js";
import type { DocumentData, EddyDocument, WatchEvent } from "./types.js";
import type { WatchHandle } from "./watch.js";

/** Options of `collection.live()`. */
export interface LiveOptions<T = DocumentData> {
  filters?: Filters<T>;
  /** Order of the documents, e.g. `"-$created_at"` or `"done,-priority"` (default `$created_at`). */
  sort?: Sort<T>;
  /** Size of the initial snapshot (default 1000, the server's maximum). */
  limit?: number;
  /** Called when the query fails for good (e.g. `forbidden`, `invalid_filter`). */
  onError?: (error: EddyError) => void;
}

/** One change reported to a live query's callback. */
export interface LiveChange<T = DocumentData> {
  type: "added" | "modified" | "removed";
  document: EddyDocument<T>;
}

/** Called with the current documents and what changed since the last call. */
export type LiveCallback<T = DocumentData> = (documents: EddyDocument<T>[], changes: LiveChange<T>[]) => void;

/** The matching documents of a collection, kept up to date; made by `collection.live()`. */
export class LiveQuery<T extends object = DocumentData> {
  /** Resolves with the documents once the first snapshot is in. */
  readonly ready: Promise<EddyDocument<T>[]>;
  /** True when the last snapshot had more matching documents than `limit`. */
  truncated = false;

  private readonly docs = new Map<string, EddyDocument<T>>();
  private readonly watch: WatchHandle;
  private readonly compare: (a: EddyDocument<T>, b: EddyDocument<T>) => number;

  constructor(client: EddyClient, collection: string, options: LiveOptions<T>, private readonly callback: LiveCallback<T>) {
    this.compare = comparator<T>(options.sort as string | undefined);
    this.watch = client.watchCollection<T>(collection, (ev) => this.apply(ev), {
      filters: options.filters,
      sort: options.sort,
      limit: options.limit ?? 1000,
      snapshot: true,
      onError: options.onError,
    });
    this.ready = this.watch.ready.then(() => this.documents);
    this.ready.catch(() => undefined);
  }

  /** The current matching documents, sorted. */
  get documents(): EddyDocument<T>[] {
    return [...this.docs.values()].sort(this.compare);
  }

  /** Stops the live query. */
  unsubscribe(): Promise<void> {
    return this.watch.unsubscribe();
  }

  private apply(ev: WatchEvent<T>): void {
    const changes: LiveChange<T>[] = [];
    if (ev.event === "snapshot") {
      this.truncated = ev.truncated;
      const next = new Map(ev.documents.map((d) => [d.id, d] as const));
      for (const [id, doc] of this.docs) if (!next.has(id)) changes.push({ type: "removed", document: doc });
      for (const [id, doc] of next) {
        const prev = this.docs.get(id);
        if (!prev) changes.push({ type: "added", document: doc });
        else if (prev.version !== doc.version) changes.push({ type: "modified", document: doc });
      }
      this.docs.clear();
      for (const [id, doc] of next) this.docs.set(id, doc);
      // The first snapshot is always reported, even when empty, so the app can render.
      if (changes.length === 0 && ev.reason === "resync") return;
    } else {
      const id = ev.document.id;
      const prev = this.docs.get(id);
      if (ev.event === "deleted" || ev.transition === "leave") {
        if (!prev) return;
        this.docs.delete(id);
        changes.push({ type: "removed", document: prev });
      } else {
        this.docs.set(id, ev.document);
        changes.push({ type: prev ? "modified" : "added", document: ev.document });
      }
    }
    safeCall(this.callback, this.documents, changes);
  }
}

/** A comparator for a sort spec such as `"-views,$created_at"`; ties go by creation time, then id. */
export function comparator<T>(sort: string | undefined): (a: EddyDocument<T>, b: EddyDocument<T>) => number {
  const keys = (sort ?? "$created_at")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => (s.startsWith("-") ? { field: s.slice(1), dir: -1 } : { field: s.replace(/^\+/, ""), dir: 1 }));
  keys.push({ field: "$created_at", dir: 1 }, { field: "$id", dir: 1 });
  return (a, b) => {
    for (const { field, dir } of keys) {
      const c = compareValues(fieldValue(a, field), fieldValue(b, field));
      if (c !== 0) return c * dir;
    }
    return 0;
  };
}

function fieldValue(doc: EddyDocument<any>, field: string): unknown {
  if (field.startsWith("$")) return (doc as unknown as Record<string, unknown>)[field.slice(1)];
  let v: unknown = doc.data;
  for (const part of field.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

const RANK: Record<string, number> = { undefined: 0, object: 1, boolean: 2, number: 3, string: 4 };

function compareValues(a: unknown, b: unknown): number {
  const ta = a === null ? "undefined" : typeof a;
  const tb = b === null ? "undefined" : typeof b;
  if (ta !== tb) return (RANK[ta] ?? 5) - (RANK[tb] ?? 5);
  if (ta === "number" || ta === "string" || ta === "boolean") {
    return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  }
  return 0;
}
