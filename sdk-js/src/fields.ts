// Type-level checks of patches, filters and sort keys against a collection's document type.
// Nothing here exists at runtime; the server stays the authority on what is valid.

/** Metadata pseudo-fields usable in filters and sort keys (docs/FILTERS.md). */
export type MetaField = "$id" | "$owner" | "$created_at" | "$updated_at";

/** OR-group prefix of a filter key: `[or]` (the unnamed group) or `[or:NAME]`. */
export type OrGroup = "[or]" | `[or:${string}]`;

/**
 * A dotted path into nested data (`author.name`, `items.0.sku`), optionally with a group prefix and an
 * operator. Not checked against the document type, so that every valid filter can still be written.
 */
export type NestedPath = `${string}.${string}`;

/** Filter operators (the text after the last `__`). */
export type FilterOperator =
  | "eq"
  | "ne"
  | "gt"
  | "gte"
  | "lt"
  | "lte"
  | "contains"
  | "startswith"
  | "endswith"
  | "in"
  | "notin"
  | "isnull";

type Group = "" | OrGroup;
type Keys<T> = Extract<keyof T, string>;
type EqOp = "eq" | "ne";
type OrderOp = "gt" | "gte" | "lt" | "lte";
type TextOp = "startswith" | "endswith";
type ListOp = "in" | "notin";

// `unknown` fields (index signatures, `DocumentData`) accept any value rather than none.
type Loose<V, X> = unknown extends V ? unknown : X;
type EqValue<V> = Loose<V, Exclude<V, undefined> | null>;
type Widen<V> = V extends string ? string : V extends number ? number : never;
type OrderValue<V> = Loose<V, Widen<V>>;
type ContainsValue<V> = Loose<V, V extends readonly (infer E)[] ? E : V extends string ? string : never>;

type DataFilters<T> = {
  [F in Keys<T> as `${Group}${F}` | `${Group}${F}__${EqOp}`]?: EqValue<T[F]>;
} & {
  [F in Keys<T> as `${Group}${F}__${OrderOp}`]?: OrderValue<T[F]>;
} & {
  [F in Keys<T> as `${Group}${F}__${TextOp}`]?: string;
} & {
  [F in Keys<T> as `${Group}${F}__contains`]?: ContainsValue<T[F]>;
} & {
  [F in Keys<T> as `${Group}${F}__${ListOp}`]?: readonly EqValue<T[F]>[];
} & {
  [F in Keys<T> as `${Group}${F}__isnull`]?: boolean;
};

// The operators FILTERS.md allows on each metadata field.
type MetaFilters = {
  [K in `${Group}$id` | `${Group}$id__${EqOp}`]?: string;
} & {
  [K in `${Group}$id__${ListOp}`]?: readonly string[];
} & {
  [K in `${Group}$owner` | `${Group}$owner__${EqOp}`]?: string | null;
} & {
  [K in `${Group}$owner__${OrderOp | TextOp | "contains"}`]?: string;
} & {
  [K in `${Group}$owner__${ListOp}`]?: readonly (string | null)[];
} & {
  [K in `${Group}$owner__isnull`]?: boolean;
} & {
  [K in `${Group}${"$created_at" | "$updated_at"}` | `${Group}${"$created_at" | "$updated_at"}__${EqOp | OrderOp}`]?: string;
} & {
  [K in `${Group}${"$created_at" | "$updated_at"}__${ListOp}`]?: readonly string[];
};

/**
 * Filters in the JSON form of Eddy's filter language, e.g.
 * `{ status: "open", views__gte: 10, "[or]tags__contains": "x" }`. For a declared document type the keys
 * (`[or]`/`[or:NAME]` prefix, field, `__op` suffix) and the value types are checked against it; dotted
 * paths are accepted unchecked. For the untyped `DocumentData` any key is accepted.
 */
export type Filters<T = Record<string, unknown>> = string extends Keys<T>
  ? Record<string, unknown>
  : DataFilters<T> & MetaFilters & { [path: NestedPath]: unknown };

/** A field a list or snapshot can be ordered by. */
export type SortField<T = Record<string, unknown>> = Keys<T> | MetaField | NestedPath;

/** One sort key: a field, or `-field` for descending. */
export type SortKey<T = Record<string, unknown>> = SortField<T> | `-${SortField<T>}`;

/**
 * A sort spec: one key (checked against the document type) or a comma list such as `"-views,title"`
 * (accepted as is; TypeScript cannot check every combination).
 */
export type Sort<T = Record<string, unknown>> = string extends Keys<T> ? string : SortKey<T> | `${string},${string}`;

// A merge patch descends into objects (RFC 7396) but replaces arrays and scalars.
type PatchValue<V> = V extends readonly unknown[] ? V : V extends object ? Patch<V> : V;

/**
 * A JSON merge patch of `T`: every key optional, nested objects patched in turn, and `null` (which removes
 * a key) allowed only on keys that are optional in `T`.
 */
export type Patch<T> = {
  [K in keyof T]?: PatchValue<T[K]> | ({} extends Pick<T, K> ? null : never);
};
