//! List ordering and keyset pagination: the `sort` parameter ([`Sort`]) and
//! the opaque `after` cursor ([`Cursor`]), with the SQL fragments that
//! `store::build_list_query` assembles into the list statement.
//!
//! Pages are cut with a keyset condition on the full sort key (which always
//! ends in `$id`, unique within a collection), never with OFFSET, so rows
//! inserted or deleted between requests cannot shift or repeat other rows.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::{parse, Field, FilterError};

type Qb<'a> = QueryBuilder<'a, Postgres>;

/// Maximum number of user-given sort keys (the implicit `$id` not counted).
pub const MAX_SORT_KEYS: usize = 4;
/// Maximum length of an encoded cursor accepted by [`Cursor::parse`].
pub const MAX_CURSOR_LEN: usize = 64 * 1024;

/// One sort key: a field and its direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortKey {
    /// The field to order by.
    pub field: Field,
    /// True for a `-` prefix.
    pub descending: bool,
}

/// A total list order; always ends with a `$id` key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sort {
    keys: Vec<SortKey>,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            keys: vec![
                SortKey {
                    field: Field::CreatedAt,
                    descending: false,
                },
                SortKey {
                    field: Field::Id,
                    descending: false,
                },
            ],
        }
    }
}

impl Sort {
    /// Parses the `sort` query value; `None` or empty gives `$created_at`.
    pub fn parse(s: Option<&str>) -> Result<Sort, FilterError> {
        let s = match s {
            None | Some("") => return Ok(Sort::default()),
            Some(s) => s,
        };
        let bad = |part: &str, reason: String| FilterError::InvalidSort {
            part: part.into(),
            reason,
        };
        let mut keys: Vec<SortKey> = Vec::new();
        for part in s.split(',') {
            let (descending, name) = match part.strip_prefix('-') {
                Some(name) => (true, name),
                None => (false, part),
            };
            let field = parse::parse_field(name).map_err(|r| bad(part, r))?;
            if keys.iter().any(|k| k.field == field) {
                return Err(bad(part, "duplicate sort key".into()));
            }
            if keys.len() == MAX_SORT_KEYS {
                return Err(bad(part, format!("at most {MAX_SORT_KEYS} sort keys")));
            }
            keys.push(SortKey { field, descending });
        }
        if !keys.iter().any(|k| k.field == Field::Id) {
            let descending = keys.last().is_some_and(|k| k.descending);
            keys.push(SortKey {
                field: Field::Id,
                descending,
            });
        }
        Ok(Sort { keys })
    }

    /// The keys in order, including the `$id` tie-breaker.
    pub fn keys(&self) -> &[SortKey] {
        &self.keys
    }
}

/// Position after a row: its sort key values, one per [`Sort`] key.
#[derive(Clone, Debug, PartialEq)]
pub struct Cursor(Value);

impl Cursor {
    /// Decodes a client-supplied cursor and checks it fits `sort`.
    pub fn parse(s: &str, sort: &Sort) -> Result<Cursor, FilterError> {
        let bad = |reason: &str| FilterError::InvalidCursor { reason: reason.into() };
        if s.len() > MAX_CURSOR_LEN {
            return Err(bad("too long"));
        }
        let bytes = hex::decode(s).map_err(|_| bad("not a cursor string"))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad("not a cursor string"))?;
        let items = v.as_array().ok_or_else(|| bad("not a cursor string"))?;
        if items.len() != sort.keys.len() {
            return Err(bad("it was made for a different sort order"));
        }
        for (key, item) in sort.keys.iter().zip(items) {
            if Bound::of(&key.field, item).is_none() {
                return Err(bad("it was made for a different sort order"));
            }
        }
        Ok(Cursor(v))
    }

    /// The URL-safe opaque form (lowercase hex of a JSON array).
    pub fn encode(&self) -> String {
        hex::encode(self.0.to_string())
    }

    /// Wraps the `sort_keys` column of the last row of a page.
    pub fn from_sort_keys(keys: Value) -> Cursor {
        Cursor(keys)
    }
}

/// A cursor value typed for binding against its sort key.
#[derive(Clone, Copy)]
enum Bound<'a> {
    Json(&'a Value),
    Id(Uuid),
    Time(DateTime<Utc>),
    Owner(Option<&'a str>),
}

impl<'a> Bound<'a> {
    fn of(field: &Field, v: &'a Value) -> Option<Bound<'a>> {
        match (field, v) {
            (Field::Data(_), v) if !parse::has_nul(v) => Some(Bound::Json(v)),
            (Field::Id, Value::String(s)) => Uuid::parse_str(s).ok().map(Bound::Id),
            (Field::CreatedAt | Field::UpdatedAt, Value::Number(n)) => {
                n.as_i64().and_then(DateTime::from_timestamp_micros).map(Bound::Time)
            }
            (Field::Owner, Value::Null) => Some(Bound::Owner(None)),
            (Field::Owner, Value::String(s)) if !s.contains('\0') => Some(Bound::Owner(Some(s.as_str()))),
            _ => None,
        }
    }

    fn push(self, qb: &mut Qb<'a>) {
        match self {
            Bound::Json(v) => qb.push_bind(v),
            Bound::Id(id) => qb.push_bind(id),
            Bound::Time(t) => qb.push_bind(t),
            Bound::Owner(o) => qb.push_bind(o),
        };
    }
}

/// The expression rows are ordered by. Data paths use jsonb's btree order
/// with missing as JSON null; owner strings use byte order.
fn push_order_expr<'a>(field: &'a Field, qb: &mut Qb<'a>) {
    match field {
        Field::Data(path) => {
            qb.push("coalesce(d.data #> ");
            qb.push_bind(path.as_slice());
            qb.push(", 'null'::jsonb)");
        }
        Field::Id => {
            qb.push("d.id");
        }
        Field::Owner => {
            qb.push("d.owner COLLATE \"C\"");
        }
        Field::CreatedAt => {
            qb.push("d.created_at");
        }
        Field::UpdatedAt => {
            qb.push("d.updated_at");
        }
    }
}

/// The value reported in `sort_keys`; timestamps as integer microseconds
/// since the Unix epoch so cursors do not depend on the session time zone.
fn push_key_value<'a>(field: &'a Field, qb: &mut Qb<'a>) {
    match field {
        Field::CreatedAt => {
            qb.push("(extract(epoch from d.created_at) * 1000000)::bigint");
        }
        Field::UpdatedAt => {
            qb.push("(extract(epoch from d.updated_at) * 1000000)::bigint");
        }
        Field::Owner => {
            qb.push("d.owner");
        }
        other => push_order_expr(other, qb),
    }
}

/// `row key == cursor key`, treating a NULL owner as a value.
fn push_key_eq<'a>(field: &'a Field, b: Bound<'a>, qb: &mut Qb<'a>) {
    match b {
        Bound::Owner(None) => {
            qb.push("d.owner IS NULL");
        }
        Bound::Owner(Some(_)) => {
            qb.push("d.owner = ");
            b.push(qb);
        }
        _ => {
            push_order_expr(field, qb);
            qb.push(" = ");
            b.push(qb);
        }
    }
}

/// `row key comes after cursor key` in the key's direction. A NULL owner
/// sorts first ascending and last descending.
fn push_key_after<'a>(field: &'a Field, descending: bool, b: Bound<'a>, qb: &mut Qb<'a>) {
    match (b, descending) {
        (Bound::Owner(None), false) => {
            qb.push("d.owner IS NOT NULL");
        }
        (Bound::Owner(None), true) => {
            qb.push("FALSE");
        }
        (Bound::Owner(Some(_)), false) => {
            qb.push("d.owner COLLATE \"C\" > ");
            b.push(qb);
        }
        (Bound::Owner(Some(_)), true) => {
            qb.push("(d.owner IS NULL OR d.owner COLLATE \"C\" < ");
            b.push(qb);
            qb.push(")");
        }
        _ => {
            push_order_expr(field, qb);
            qb.push(if descending { " < " } else { " > " });
            b.push(qb);
        }
    }
}

fn push_keyset<'a>(sort: &'a Sort, cursor: &'a Cursor, qb: &mut Qb<'a>) {
    let bounds: Option<Vec<Bound<'a>>> = match cursor.0.as_array() {
        Some(items) if items.len() == sort.keys.len() => sort
            .keys
            .iter()
            .zip(items)
            .map(|(k, v)| Bound::of(&k.field, v))
            .collect(),
        _ => None,
    };
    // Only an unchecked `from_sort_keys` cursor can get here; an empty page
    // is the safe answer.
    let Some(bounds) = bounds else {
        qb.push("FALSE");
        return;
    };
    let keys = &sort.keys;
    let uniform =
        keys.iter().all(|k| k.descending == keys[0].descending) && !keys.iter().any(|k| k.field == Field::Owner);
    if uniform {
        // A row comparison lets PostgreSQL use (collection, created_at, id).
        qb.push("((");
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            push_order_expr(&k.field, qb);
        }
        qb.push(if keys[0].descending { ") < (" } else { ") > (" });
        for (i, b) in bounds.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            b.push(qb);
        }
        qb.push("))");
        return;
    }
    qb.push("(");
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            qb.push(" OR ");
        }
        qb.push("(");
        for (prev, b) in keys.iter().zip(&bounds).take(i) {
            push_key_eq(&prev.field, *b, qb);
            qb.push(" AND ");
        }
        push_key_after(&k.field, k.descending, bounds[i], qb);
        qb.push(")");
    }
    qb.push(")");
}

impl Sort {
    /// Pushes the comma-separated values reported as `sort_keys` (input to `Cursor::from_sort_keys`).
    pub fn push_key_values<'a>(&'a self, qb: &mut Qb<'a>) {
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            push_key_value(&k.field, qb);
        }
    }

    /// Pushes the `ORDER BY` expression list (without the keywords).
    pub fn push_order_by<'a>(&'a self, qb: &mut Qb<'a>) {
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            push_order_expr(&k.field, qb);
            qb.push(match (k.descending, &k.field) {
                (false, Field::Owner) => " ASC NULLS FIRST",
                (true, Field::Owner) => " DESC NULLS LAST",
                (false, _) => " ASC",
                (true, _) => " DESC",
            });
        }
    }
}

impl Cursor {
    /// Pushes the keyset condition "row comes after this cursor in `sort`"
    /// (`FALSE` for a cursor that does not fit the sort).
    pub fn push_after<'a>(&'a self, sort: &'a Sort, qb: &mut Qb<'a>) {
        push_keyset(sort, self, qb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(field: Field, descending: bool) -> SortKey {
        SortKey { field, descending }
    }

    fn path(s: &str) -> Field {
        Field::Data(s.split('.').map(str::to_owned).collect())
    }

    #[test]
    fn parse_sorts() {
        let cases: Vec<(Option<&str>, Vec<SortKey>)> = vec![
            (None, vec![key(Field::CreatedAt, false), key(Field::Id, false)]),
            (Some(""), vec![key(Field::CreatedAt, false), key(Field::Id, false)]),
            (Some("-score"), vec![key(path("score"), true), key(Field::Id, true)]),
            (
                Some("a.b,-$updated_at"),
                vec![
                    key(path("a.b"), false),
                    key(Field::UpdatedAt, true),
                    key(Field::Id, true),
                ],
            ),
            (Some("-$id,x"), vec![key(Field::Id, true), key(path("x"), false)]),
            // Sort keys take no operator, so `__` is part of the name.
            (Some("a__gt"), vec![key(path("a__gt"), false), key(Field::Id, false)]),
            (
                Some("$owner,a,b,-c"),
                vec![
                    key(Field::Owner, false),
                    key(path("a"), false),
                    key(path("b"), false),
                    key(path("c"), true),
                    key(Field::Id, true),
                ],
            ),
        ];
        for (s, want) in cases {
            let got = Sort::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            assert_eq!(got.keys(), want.as_slice(), "{s:?}");
        }
        let errors = [
            ("a,", "invalid sort key \"\": empty path"),
            ("-", "invalid sort key \"-\": empty path"),
            ("a,-a", "invalid sort key \"-a\": duplicate sort key"),
            ("a,b,c,d,e", "invalid sort key \"e\": at most 4 sort keys"),
            ("$nope", "unknown metadata field"),
            ("a b", "may only contain"),
        ];
        for (s, want) in errors {
            let msg = Sort::parse(Some(s))
                .map(|v| format!("{v:?}"))
                .unwrap_or_else(|e| e.to_string());
            assert!(msg.contains(want), "{s}: {msg}");
        }
    }

    #[test]
    fn cursor_round_trip_and_validation() {
        let sort = Sort::parse(Some("-a.b,$owner,$created_at")).expect("valid sort");
        let keys = json!([{"x": [1, "é"]}, null, 1714567890123456i64, "67e55044-10b1-426f-9247-bb680e5fe0c8"]);
        let c = Cursor::from_sort_keys(keys.clone());
        let s = c.encode();
        assert!(s.bytes().all(|b| b.is_ascii_hexdigit()), "{s}");
        assert_eq!(Cursor::parse(&s, &sort), Ok(c.clone()));
        let enc = |v: Value| hex::encode(v.to_string());
        let bad = [
            "zz".to_owned(),
            "abc".to_owned(),
            enc(json!({"a": 1})),
            enc(json!([1, null, 1])),
            enc(json!([1, 5, 1, "67e55044-10b1-426f-9247-bb680e5fe0c8"])),
            enc(json!([
                1,
                null,
                "2024-01-01T00:00:00Z",
                "67e55044-10b1-426f-9247-bb680e5fe0c8"
            ])),
            enc(json!([1, null, 1, "nope"])),
            enc(json!(["\u{0}", null, 1, "67e55044-10b1-426f-9247-bb680e5fe0c8"])),
            "0".repeat(MAX_CURSOR_LEN + 2),
        ];
        for s in bad {
            let r = Cursor::parse(&s, &sort);
            assert!(r.is_err(), "{s}: {r:?}");
        }
        let other = Sort::parse(Some("a.b")).expect("valid sort");
        assert!(Cursor::parse(&c.encode(), &other).is_err());
    }
}
