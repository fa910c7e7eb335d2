//! The filter language shared by REST lists and realtime subscriptions.
//!
//! This module owns the filter AST ([`Filter`]), its two input forms (URL
//! query pairs and JSON objects, in `parse`), in-memory evaluation against a
//! document (`eval`), compilation to a PostgreSQL boolean expression (`sql`),
//! and list sorting with keyset cursors (`sort`). It performs no I/O; the SQL
//! side only appends to a caller-owned [`sqlx::QueryBuilder`]. The user-facing
//! contract is documented in `docs/FILTERS.md`; SQL and in-memory evaluation
//! must agree on every document, which `tests/filter_sql.rs` checks.

mod eval;
mod parse;
mod sort;
mod sql;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use uuid::Uuid;

pub use parse::OPERATORS;
pub use sort::{Cursor, Sort, SortKey};

/// Maximum number of conditions in one filter, counting OR-group members.
pub const MAX_CONDITIONS: usize = 64;
/// Maximum number of segments in a dotted data path.
pub const MAX_PATH_DEPTH: usize = 16;
/// Maximum number of items in an `in`/`notin` list.
pub const MAX_LIST_ITEMS: usize = 1000;

/// A parsed filter: the AND of plain conditions and of OR groups.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Filter {
    pub(crate) all: Vec<Cond>,
    pub(crate) groups: Vec<Group>,
}

/// Members of one `[or]` / `[or:name]` group; at least one must hold.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) any: Vec<Cond>,
}

/// One condition, typed by the kind of field it reads so that invalid
/// field/operator/value combinations cannot be represented.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cond {
    Json(JsonField, JsonTest),
    Id(MetaTest<Uuid>),
    Time(TimeField, MetaTest<DateTime<Utc>>),
}

/// Fields whose values are JSON-like: paths into `data`, and `$owner`
/// (a string, or JSON null when the document has no owner).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum JsonField {
    Data(Vec<String>),
    Owner,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeField {
    CreatedAt,
    UpdatedAt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rel {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Rel {
    pub(crate) fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Rel::Eq => ord == Equal,
            Rel::Ne => ord != Equal,
            Rel::Gt => ord == Greater,
            Rel::Gte => ord != Less,
            Rel::Lt => ord == Less,
            Rel::Lte => ord != Greater,
        }
    }

    pub(crate) fn sql(self) -> &'static str {
        match self {
            Rel::Eq => " = ",
            Rel::Ne => " <> ",
            Rel::Gt => " > ",
            Rel::Gte => " >= ",
            Rel::Lt => " < ",
            Rel::Lte => " <= ",
        }
    }
}

/// Tests on JSON-like fields. `Rel(Eq|Ne, v)` is deep equality; the
/// ordering relations only ever hold a number or a string.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum JsonTest {
    Rel(Rel, Value),
    Contains(Value),
    StartsWith(String),
    EndsWith(String),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    IsNull(bool),
}

/// Tests on `$id` (only Eq/Ne relations) and timestamps.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum MetaTest<T> {
    Rel(Rel, T),
    In(Vec<T>),
    NotIn(Vec<T>),
}

/// Why a filter, sort or cursor was rejected; messages name the bad part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The suffix after the last `__` is not a known operator.
    #[error("unknown operator \"{op}\" in \"{key}\"")]
    UnknownOperator { key: String, op: String },
    /// The field part of a key is malformed.
    #[error("invalid field \"{field}\" in \"{key}\": {reason}")]
    InvalidField { key: String, field: String, reason: String },
    /// A `[...]` key prefix is not `[or]` or `[or:name]`.
    #[error("invalid group prefix in \"{key}\": expected \"[or]\" or \"[or:NAME]\" with NAME made of A-Z a-z 0-9 _ -")]
    InvalidGroup { key: String },
    /// The operator cannot be applied to this field.
    #[error("operator \"{op}\" is not supported on {target} in \"{key}\"")]
    UnsupportedOperator {
        key: String,
        op: String,
        target: &'static str,
    },
    /// The value has the wrong type or format for the operator.
    #[error("invalid value for \"{key}\": {reason}")]
    InvalidValue { key: String, reason: String },
    /// More than [`MAX_CONDITIONS`] conditions.
    #[error("too many conditions at \"{key}\": at most {max} are allowed")]
    TooManyConditions { key: String, max: usize },
    /// A JSON-form filter that is neither an object nor null.
    #[error("filter must be a JSON object or null")]
    NotAnObject,
    /// A malformed `sort` parameter.
    #[error("invalid sort key \"{part}\": {reason}")]
    InvalidSort { part: String, reason: String },
    /// A malformed or mismatched `after` cursor.
    #[error("invalid cursor: {reason}")]
    InvalidCursor { reason: String },
}

/// A borrowed view of one document, as seen by [`Filter::matches`].
#[derive(Clone, Copy, Debug)]
pub struct DocRef<'a> {
    /// `$id`.
    pub id: Uuid,
    /// The document body (a JSON object); data paths read from it.
    pub data: &'a Value,
    /// `$owner`; `None` behaves like JSON null.
    pub owner: Option<&'a str>,
    /// `$created_at`; compared at microsecond precision.
    pub created_at: DateTime<Utc>,
    /// `$updated_at`; compared at microsecond precision.
    pub updated_at: DateTime<Utc>,
}

/// An addressable field: a path into `data`, or a metadata column.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// A dotted path into `data`, one element per segment.
    Data(Vec<String>),
    Id,
    Owner,
    CreatedAt,
    UpdatedAt,
}

/// A hashable scalar used by the realtime matcher's equality index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IndexKey {
    Null,
    Bool(bool),
    /// `f64` bits of the number, normalised so `1 == 1.0` and `-0 == 0`.
    Num(u64),
    /// A string; also UUIDs (lowercase hyphenated) and timestamps (RFC 3339, UTC, microseconds).
    Str(String),
}

/// The index key of a JSON value, or `None` for arrays and objects.
pub fn index_key_of(v: &Value) -> Option<IndexKey> {
    match v {
        Value::Null => Some(IndexKey::Null),
        Value::Bool(b) => Some(IndexKey::Bool(*b)),
        // Every JSON number has an f64 rendering; equal numbers (by the
        // decimal comparison used in `eval`) round to the same f64.
        Value::Number(n) => n.as_f64().map(|f| IndexKey::Num(num_bits(f))),
        Value::String(s) => Some(IndexKey::Str(s.clone())),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn num_bits(f: f64) -> u64 {
    if f == 0.0 {
        0.0f64.to_bits()
    } else {
        f.to_bits()
    }
}

/// Timestamps are indexed by a canonical text form; any injective encoding
/// works because equality on timestamps is exact (microseconds).
fn time_key(t: &DateTime<Utc>) -> IndexKey {
    IndexKey::Str(t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

impl Field {
    /// The key of the doc's value at this field, if it is a scalar.
    pub fn index_key(&self, doc: &DocRef<'_>) -> Option<IndexKey> {
        match self {
            Field::Data(path) => eval::lookup(doc.data, path).and_then(index_key_of),
            Field::Id => Some(IndexKey::Str(doc.id.to_string())),
            Field::Owner => Some(match doc.owner {
                Some(o) => IndexKey::Str(o.to_owned()),
                None => IndexKey::Null,
            }),
            Field::CreatedAt => Some(time_key(&trunc_micros(doc.created_at))),
            Field::UpdatedAt => Some(time_key(&trunc_micros(doc.updated_at))),
        }
    }
}

/// PostgreSQL stores microseconds; flooring keeps memory and SQL in step.
pub(crate) fn trunc_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

impl Cond {
    fn field(&self) -> Field {
        match self {
            Cond::Json(JsonField::Data(p), _) => Field::Data(p.clone()),
            Cond::Json(JsonField::Owner, _) => Field::Owner,
            Cond::Id(_) => Field::Id,
            Cond::Time(TimeField::CreatedAt, _) => Field::CreatedAt,
            Cond::Time(TimeField::UpdatedAt, _) => Field::UpdatedAt,
        }
    }

    fn equality_key(&self) -> Option<IndexKey> {
        match self {
            Cond::Json(_, JsonTest::Rel(Rel::Eq, v)) => index_key_of(v),
            Cond::Id(MetaTest::Rel(Rel::Eq, id)) => Some(IndexKey::Str(id.to_string())),
            Cond::Time(_, MetaTest::Rel(Rel::Eq, t)) => Some(time_key(t)),
            _ => None,
        }
    }
}

impl Filter {
    /// Parses the URL form from already percent-decoded query pairs.
    pub fn parse_query(pairs: &[(String, String)]) -> Result<Filter, FilterError> {
        parse::parse_pairs(pairs)
    }

    /// Parses the JSON form: an object of conditions, or null (match all).
    pub fn from_json(v: &Value) -> Result<Filter, FilterError> {
        parse::parse_json(v)
    }

    /// True when the filter has no conditions and so matches everything.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty() && self.groups.is_empty()
    }

    /// Evaluates the filter against one document in memory.
    pub fn matches(&self, doc: &DocRef<'_>) -> bool {
        self.all.iter().all(|c| eval::cond(c, doc))
            && self.groups.iter().all(|g| g.any.iter().any(|c| eval::cond(c, doc)))
    }

    /// Top-level AND `eq` conditions on scalars, for the realtime index.
    pub fn equality_keys(&self) -> Vec<(Field, IndexKey)> {
        self.all
            .iter()
            .filter_map(|c| c.equality_key().map(|k| (c.field(), k)))
            .collect()
    }

    /// Appends one parenthesised boolean expression over alias `d`.
    pub fn push_sql<'a>(&'a self, qb: &mut sqlx::QueryBuilder<'a, sqlx::Postgres>) {
        sql::push_filter(self, qb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn time(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn doc_data() -> Value {
        json!({
            "age": 10, "sage": "10", "f": 1.5, "big": 9007199254740993u64,
            "name": "Émile", "flag": true, "nil": null,
            "tags": ["a", 3, 1.0, null, ["x"]], "empty": [],
            "author": {"name": "ann", "id": 7, "x": {"y": [1, {"z": "deep"}]}},
        })
    }

    fn with_doc<R>(owner: Option<&str>, f: impl FnOnce(&DocRef<'_>) -> R) -> R {
        let data = doc_data();
        let doc = DocRef {
            id: Uuid::from_u128(0x67e5_5044_10b1_426f_9247_bb68_0e5f_e0c8),
            data: &data,
            owner,
            created_at: time("2024-05-01T12:00:00.123456Z"),
            updated_at: time("2024-05-02T00:00:00Z"),
        };
        f(&doc)
    }

    #[test]
    fn evaluation() {
        let cases: Vec<(Value, bool)> = vec![
            (json!({}), true),
            (json!({"age": 10}), true),
            (json!({"age": 10.0}), true),
            (json!({"age": "10"}), false),
            (json!({"sage": 10}), false),
            (json!({"age__gt": 3}), true),
            (json!({"sage__gt": 3}), false),
            (json!({"sage__gt": "1"}), true),
            (json!({"sage__lt": "9"}), true),
            (json!({"age__ne": "10"}), true),
            (json!({"age__ne": 10}), false),
            (json!({"missing__ne": 1}), true),
            (json!({"missing__eq": null}), false),
            (json!({"nil": null}), true),
            (json!({"missing__isnull": true}), true),
            (json!({"nil__isnull": true}), true),
            (json!({"nil__isnull": false}), false),
            (json!({"age__isnull": false}), true),
            (json!({"missing__notin": [1]}), true),
            (json!({"missing__in": [null]}), false),
            (json!({"age__in": [1, "10"]}), false),
            (json!({"age__in": [1, 10.0]}), true),
            (json!({"age__notin": []}), true),
            (json!({"age__in": []}), false),
            (json!({"big__gt": 9007199254740992.0}), true),
            (json!({"f__gte": 1.5, "f__lt": 2}), true),
            (json!({"name__gt": "E"}), true),
            (json!({"name__lt": "e"}), false),
            (json!({"name__startswith": "É"}), true),
            (json!({"name__startswith": "é"}), false),
            (json!({"name__endswith": "ile"}), true),
            (json!({"name__contains": "mil"}), true),
            (json!({"name__contains": ""}), true),
            (json!({"tags__contains": "a"}), true),
            (json!({"tags__contains": "x"}), false),
            (json!({"tags__contains": 1}), true),
            (json!({"tags__contains": null}), true),
            (json!({"empty__contains": null}), false),
            (json!({"age__contains": 1}), false),
            (json!({"tags": ["a", 3.0, 1, null, ["x"]]}), true),
            (json!({"tags__ne": ["a"]}), true),
            (
                json!({"author": {"id": 7, "name": "ann", "x": {"y": [1, {"z": "deep"}]}}}),
                true,
            ),
            (json!({"author.name": "ann"}), true),
            (json!({"author.x.y.1.z": "deep"}), true),
            (json!({"author.x.y.-1.z__startswith": "de"}), true),
            (json!({"author.name.first__isnull": true}), true),
            (json!({"flag": true}), true),
            (json!({"flag__ne": 1}), true),
            (json!({"$owner": "alice"}), true),
            (json!({"$owner__gt": "Alice"}), true),
            (json!({"$owner__in": [null, "bob"]}), false),
            (json!({"$owner__isnull": false}), true),
            (json!({"$id": "67E55044-10B1-426F-9247-BB680E5FE0C8"}), true),
            (json!({"$id__ne": "67e55044-10b1-426f-9247-bb680e5fe0c8"}), false),
            (json!({"$id__in": ["00000000-0000-0000-0000-000000000000"]}), false),
            (json!({"$created_at": "2024-05-01T14:00:00.123456+02:00"}), true),
            (json!({"$created_at__gt": "2024-05-01T12:00:00.1234569Z"}), false),
            (json!({"$created_at__gte": "2024-05-01T12:00:00.1234569Z"}), true),
            (json!({"$updated_at__lt": "2024-05-02T00:00:00.000001Z"}), true),
            (json!({"$updated_at__notin": ["2024-05-02T00:00:00Z"]}), false),
            (json!({"[or]age": 1, "[or]flag": true}), true),
            (json!({"[or]age": 1, "[or]flag": false}), false),
            (json!({"[or]age": 10, "[or:b]flag": false}), false),
            (json!({"[or]age": 10, "[or:b]flag": false, "[or:b]f": 1.5}), true),
            (json!({"[or]age": 10, "missing": 1}), false),
        ];
        with_doc(Some("alice"), |doc| {
            for (v, want) in &cases {
                let f = Filter::from_json(v).unwrap_or_else(|e| panic!("{v}: {e}"));
                assert_eq!(f.matches(doc), *want, "{v}");
            }
        });
        let ownerless: Vec<(Value, bool)> = vec![
            (json!({"$owner": null}), true),
            (json!({"$owner__isnull": true}), true),
            (json!({"$owner__ne": "alice"}), true),
            (json!({"$owner__in": [null]}), true),
            (json!({"$owner__gt": ""}), false),
            (json!({"$owner__notin": ["alice"]}), true),
        ];
        with_doc(None, |doc| {
            for (v, want) in &ownerless {
                let f = Filter::from_json(v).unwrap_or_else(|e| panic!("{v}: {e}"));
                assert_eq!(f.matches(doc), *want, "{v}");
            }
        });
    }

    #[test]
    fn equality_keys_select_only_top_level_scalar_eq() {
        let f = Filter::from_json(&json!({
            "a": 1, "b__ne": 2, "c": {"x": 1}, "d": [1], "e": null, "$owner": "bob",
            "$id": "67e55044-10b1-426f-9247-bb680e5fe0c8", "[or]g": 1, "[or]h": 2,
        }))
        .expect("valid");
        let mut keys: Vec<String> = f.equality_keys().iter().map(|k| format!("{k:?}")).collect();
        keys.sort();
        assert_eq!(
            keys,
            vec![
                format!("{:?}", (Field::Data(vec!["a".into()]), IndexKey::Num(1.0f64.to_bits()))),
                format!("{:?}", (Field::Data(vec!["e".into()]), IndexKey::Null)),
                format!(
                    "{:?}",
                    (Field::Id, IndexKey::Str("67e55044-10b1-426f-9247-bb680e5fe0c8".into()))
                ),
                format!("{:?}", (Field::Owner, IndexKey::Str("bob".into()))),
            ]
        );
        assert_eq!(index_key_of(&json!(-0.0)), index_key_of(&json!(0)));
        assert_eq!(index_key_of(&json!(1)), index_key_of(&json!(1.0)));
        assert_eq!(index_key_of(&json!([1])), None);
    }

    /// If a filter matches, every equality key equals the doc's key there.
    #[test]
    fn equality_keys_invariant() {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-0.0),
            json!(1),
            json!(1.0),
            json!(1.5),
            json!(9007199254740993u64),
            json!(9007199254740992.0),
            json!((1u64 << 60) as f64),
            json!(1152921504606847000u64),
            json!("a"),
            json!("A"),
            json!(""),
            json!([1]),
            json!({"a": 1}),
        ];
        let owners = [None, Some("a"), Some("")];
        let times = ["2024-05-01T12:00:00.123456Z", "2024-05-01T12:00:00Z"];
        let mut checked = 0;
        for dv in &values {
            let data = json!({"k": dv, "n": {"k": dv}});
            for owner in owners {
                for t in times {
                    let doc = DocRef {
                        id: Uuid::from_u128(7),
                        data: &data,
                        owner,
                        created_at: time(t),
                        updated_at: time(t),
                    };
                    for fv in &values {
                        let filters = [
                            json!({"k": fv}),
                            json!({"n.k": fv, "[or]k__ne": 1}),
                            json!({"$owner": owner, "k": fv}),
                            json!({"$created_at": times[0], "$updated_at": t, "k__eq": fv}),
                            json!({"$id": Uuid::from_u128(7).to_string(), "n.k": fv}),
                        ];
                        for fj in filters {
                            let f = Filter::from_json(&fj).unwrap_or_else(|e| panic!("{fj}: {e}"));
                            if !f.matches(&doc) {
                                continue;
                            }
                            checked += 1;
                            for (field, key) in f.equality_keys() {
                                assert_eq!(field.index_key(&doc), Some(key), "{fj} on {data}");
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 100, "only {checked} matching cases");
    }
}
