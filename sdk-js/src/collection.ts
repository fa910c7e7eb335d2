// `client.collection(name)`: document CRUD over REST, pagination, and realtime entry points.

import type { EddyClient } from "./client.js";
import { LiveQuery, type LiveCallback, type LiveOptions } from "./live.js";
import type { Patch } from "./fields.js";
import { appendFilters, type Rest } from "./rest.js";
import type {
  BatchOperation,
  CreateOptions,
  DocumentData,
  EddyDocument,
  ListOptions,
  ListPage,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from "./types.js";
import type { WatchHandle } from "./watch.js";

/** A deleted document in `batch()` results. */
export interface BatchDeleted {
  id: string;
  deleted: true;
}

/**
 * Documents of one collection. `T` is the type of `data`: any object type, interfaces included;
 * it is trusted, not validated (the server stores any JSON object).
 */
export class Collection<T extends object = DocumentData> {
  constructor(
    private readonly client: EddyClient,
    private readonly rest: Rest,
    /** The collection name. */
    readonly name: string,
  ) {}

  private path(id?: string): string {
    const base = `/v1/collections/${encodeURIComponent(this.name)}/documents`;
    return id === undefined ? base : `${base}/${encodeURIComponent(id)}`;
  }

  /** Creates a document (`POST`); resolves with the stored document. */
  create(data: T, options: CreateOptions = {}): Promise<EddyDocument<T>> {
    const body: Record<string, unknown> = { data };
    if (options.id !== undefined) body.id = options.id;
    if (options.owner !== undefined) body.owner = options.owner;
    return this.rest.request("POST", this.path(), { body });
  }

  /** Reads one document; rejects with `EddyError` code `not_found` (status 404) if missing. */
  get(id: string): Promise<EddyDocument<T>> {
    return this.rest.request("GET", this.path(id));
  }

  /** Applies a JSON merge patch to `data` (`null` removes a key, so only optional keys may be `null`). */
  update(id: string, patch: Patch<T>, options: WriteOptions = {}): Promise<EddyDocument<T>> {
    return this.rest.request("PATCH", this.path(id), { body: { data: patch }, headers: ifMatch(options) });
  }

  /** Replaces `data` entirely. */
  replace(id: string, data: T, options: WriteOptions = {}): Promise<EddyDocument<T>> {
    return this.rest.request("PUT", this.path(id), { body: { data }, headers: ifMatch(options) });
  }

  /** Deletes a document. */
  async delete(id: string, options: WriteOptions = {}): Promise<void> {
    await this.rest.request("DELETE", this.path(id), { headers: ifMatch(options) });
  }

  /** One page of documents; pass `page.next` as `after` for the next one. */
  list(options: ListOptions<T> = {}): Promise<ListPage<T>> {
    const query = new URLSearchParams();
    appendFilters(query, options.filters);
    if (options.sort !== undefined) query.set("sort", options.sort as string);
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    if (options.after !== undefined) query.set("after", options.after);
    return this.rest.request<ListPage<T>>("GET", this.path(), { query }).then((page) => ({
      documents: page?.documents ?? [],
      next: page?.next ?? null,
    }));
  }

  /** Iterates over pages until the last one. */
  async *pages(options: ListOptions<T> = {}): AsyncGenerator<ListPage<T>, void, undefined> {
    let after = options.after;
    for (;;) {
      const page = await this.list({ ...options, after });
      yield page;
      if (!page.next) return;
      after = page.next;
    }
  }

  /** Iterates over every matching document, fetching pages as needed. */
  async *iterate(options: ListOptions<T> = {}): AsyncGenerator<EddyDocument<T>, void, undefined> {
    for await (const page of this.pages(options)) yield* page.documents;
  }

  /** `for await (const doc of client.collection("posts"))` iterates over all documents. */
  [Symbol.asyncIterator](): AsyncGenerator<EddyDocument<T>, void, undefined> {
    return this.iterate();
  }

  /** Runs up to 1,000 operations in one transaction; results are in the order of the operations. */
  async batch(operations: BatchOperation<T>[]): Promise<Array<EddyDocument<T> | BatchDeleted>> {
    const res = await this.rest.request<{ results: Array<EddyDocument<T> | BatchDeleted> }>(
      "POST",
      `/v1/collections/${encodeURIComponent(this.name)}/batch`,
      { body: { operations: operations.map(wireOperation) } },
    );
    return res.results;
  }

  /** Same as `client.watchCollection(name, callback, options)`. */
  watch(callback: (event: WatchEvent<T>) => void, options: WatchOptions<T> = {}): WatchHandle {
    return this.client.watchCollection<T>(this.name, callback, options);
  }

  /**
   * A live query: keeps the documents matching `options.filters` (snapshot, then changes) and
   * calls `callback(docs, changes)` after every change.
   */
  // The deprecated overload comes first so that type errors are reported against the current one.
  /** @deprecated Pass the callback first: `live(callback, options)`. */
  live(options: LiveOptions<T>, callback: LiveCallback<T>): LiveQuery<T>;
  live(callback: LiveCallback<T>, options?: LiveOptions<T>): LiveQuery<T>;
  live(a: LiveCallback<T> | LiveOptions<T>, b?: LiveOptions<T> | LiveCallback<T>): LiveQuery<T> {
    const [callback, options] =
      typeof a === "function" ? [a, (b ?? {}) as LiveOptions<T>] : [b as LiveCallback<T>, a];
    if (typeof callback !== "function") throw new TypeError("live(callback, options): callback must be a function");
    return new LiveQuery<T>(this.client, this.name, options, callback);
  }
}

/** The wire form of a batch operation: `ifMatch` is sent as `if_match`. */
function wireOperation(op: BatchOperation<object>): Record<string, unknown> {
  if (op.op === "create") return op;
  const { ifMatch, if_match, ...rest } = op;
  const version = ifMatch ?? if_match;
  return version === undefined ? rest : { ...rest, if_match: version };
}

function ifMatch(options: WriteOptions): Record<string, string> | undefined {
  return options.ifMatch === undefined ? undefined : { "if-match": String(options.ifMatch) };
}
