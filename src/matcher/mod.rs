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

pub use sort::{build_list_query, Cursor, Sort, SortKey};

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
    InvalidField {
        key: String,
        field: String,
        reason: String,
    },
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
    pub id: Uuid,
    pub data: &'a Value,
    pub owner: Option<&'a str>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An addressable field: a path into `data`, or a metadata column.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
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
            && self
                .groups
                .iter()
                .all(|g| g.any.iter().any(|c| eval::cond(c, doc)))
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

