//! Documents to evaluate filters on, and the invariants every parsed filter,
//! sort, cursor and list query must satisfy.

use crate::feat;
use crate::features::{bucket, normalize, Features};
use chrono::{DateTime, Utc};
use eddy::matcher::{Cursor, DocRef, Field, Filter, Sort, MAX_PATH_DEPTH};
use eddy::store::build_list_query;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use uuid::Uuid;

/// An owned document.
pub struct OwnedDoc {
    id: Uuid,
    data: Value,
    owner: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl OwnedDoc {
    fn new(data: Value) -> OwnedDoc {
        OwnedDoc {
            id: Uuid::from_u128(0x67e5_5044_10b1_426f_9247_bb68_0e5f_e0c8),
            data,
            owner: Some("alice".into()),
            created_at: time("2024-05-01T12:00:00.123456Z"),
            updated_at: time("2024-05-02T00:00:00Z"),
        }
    }

    /// The borrowed view the matcher takes.
    pub fn view(&self) -> DocRef<'_> {
        DocRef {
            id: self.id,
            data: &self.data,
            owner: self.owner.as_deref(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// A fixed set of documents with mixed types at the fields the seeds use.
pub fn fixed_docs() -> &'static [OwnedDoc] {
    static DOCS: OnceLock<Vec<OwnedDoc>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut docs: Vec<OwnedDoc> = [
            json!({}),
            json!({"a": 1, "b": "x", "n": null, "t": true, "tags": ["a", 1, null, ["x"]], "o": {"b": 2, "c": "deep"},
                   "status": "open", "views": 10, "age": 10}),
            json!({"a": "1", "b": ["x"], "tags": "a,b", "o": {"b": "2"}, "status": "closed", "views": 9.5}),
            json!({"a": 1.0, "b": "X", "n": 0, "o": [1, {"b": 3}], "tags": [], "age": -0.0}),
            json!({"a": 9007199254740993u64, "b": "é\u{1F600}", "tags": [1.0, "a"], "o": {"b": null}, "age": 1e300}),
            json!({"a": [1, 2], "b": {"x": 1}, "t": false, "tags": ["x", 3], "views": 18446744073709551615u64}),
        ]
        .into_iter()
        .map(OwnedDoc::new)
        .collect();
        if let Some(d) = docs.get_mut(2) {
            d.owner = None;
        }
        if let Some(d) = docs.get_mut(3) {
            d.owner = Some(String::new());
            d.id = Uuid::nil();
        }
        docs
    })
}

/// Splits a filter key into (field, op) the way the parser does, ignoring the
/// group prefix; garbage in, garbage out (used only to build likely matches).
fn split_key(key: &str) -> (&str, &str) {
    let rest = match key.strip_prefix('[') {
        Some(after) => after.split_once(']').map_or(after, |(_, r)| r),
        None => key,
    };
    rest.rsplit_once("__").unwrap_or((rest, "eq"))
}

/// A value that should satisfy `op` against `v`.
fn satisfying(op: &str, v: &Value) -> Value {
    match (op, v) {
        ("in", Value::Array(items)) => items.first().cloned().unwrap_or(Value::Null),
        ("notin" | "ne", _) => json!("~other~"),
        ("isnull", Value::Bool(true)) => Value::Null,
        ("isnull", _) => json!(1),
        ("contains", Value::String(s)) => json!(format!("<{s}>")),
        ("contains", other) => json!([0, other]),
        ("startswith", Value::String(s)) => json!(format!("{s}zz")),
        ("endswith", Value::String(s)) => json!(format!("zz{s}")),
        ("gt", Value::Number(n)) => json!(n.as_f64().unwrap_or(0.0) + 1.0),
        ("lt", Value::Number(n)) => json!(n.as_f64().unwrap_or(0.0) - 1.0),
        ("gt", Value::String(s)) => json!(format!("{s}~")),
        ("lt", Value::String(_)) => json!(""),
        (_, other) => other.clone(),
    }
}

fn set_path(root: &mut Value, path: &[&str], v: Value, arrays: bool) {
    let Some((first, rest)) = path.split_first() else {
        *root = v;
        return;
    };
    if arrays {
        if let Ok(i) = first.parse::<usize>() {
            if i < 8 {
                if !root.is_array() {
                    *root = Value::Array(Vec::new());
                }
                if let Value::Array(items) = root {
                    if items.len() <= i {
                        items.resize(i + 1, Value::Null);
                    }
                    if let Some(slot) = items.get_mut(i) {
                        set_path(slot, rest, v, arrays);
                    }
                }
                return;
            }
        }
    }
    if !root.is_object() {
        *root = Value::Object(Map::new());
    }
    if let Value::Object(m) = root {
        let slot = m.entry((*first).to_owned()).or_insert(Value::Null);
        set_path(slot, rest, v, arrays);
    }
}

fn apply(doc: &mut OwnedDoc, key: &str, v: &Value, arrays: bool) {
    let (field, op) = split_key(key);
    let target = satisfying(op, v);
    match field {
        "$id" => {
            if let Some(id) = target.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
                doc.id = id;
            }
        }
        "$owner" => {
            doc.owner = match target {
                Value::String(s) => Some(s),
                _ => None,
            }
        }
        "$created_at" | "$updated_at" => {
            if let Some(t) = target.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()) {
                if field == "$created_at" {
                    doc.created_at = t.with_timezone(&Utc);
                } else {
                    doc.updated_at = t.with_timezone(&Utc);
                }
            }
        }
        _ => {
            let path: Vec<&str> = field.split('.').collect();
            if path.len() <= MAX_PATH_DEPTH {
                set_path(&mut doc.data, &path, target, arrays);
            }
        }
    }
}

/// Documents built to satisfy the given conditions: one per condition (first
/// few) and one with all of them, so AND and OR groups can match.
pub fn derived_docs(conds: &[(String, Value)]) -> Vec<OwnedDoc> {
    let mut out = Vec::new();
    for (k, v) in conds.iter().take(6) {
        let mut d = OwnedDoc::new(json!({}));
        apply(&mut d, k, v, false);
        out.push(d);
    }
    for arrays in [false, true] {
        let mut all = OwnedDoc::new(json!({}));
        for (k, v) in conds.iter().take(64) {
            apply(&mut all, k, v, arrays);
        }
        out.push(all);
    }
    out
}

/// Documents with the given data values.
pub fn from_values(values: impl Iterator<Item = Value>) -> Vec<OwnedDoc> {
    values.map(OwnedDoc::new).collect()
}

/// In-memory evaluation invariants: an empty filter matches everything, and
/// whenever a filter matches, every equality key it reports equals the
/// document's index key for that field (the hub's index relies on this).
pub fn check_filter(filter: &Filter, docs: &[&OwnedDoc], f: &mut Features) {
    let keys = filter.equality_keys();
    feat!(f, "eqkeys:{}", keys.len().min(4));
    for (i, d) in docs.iter().enumerate() {
        let doc = d.view();
        let m = filter.matches(&doc);
        feat!(f, "match:{}:{}", i.min(16), m);
        if filter.is_empty() {
            assert!(m, "an empty filter did not match {}", d.data);
        }
        if m {
            for (field, key) in &keys {
                let got = field.index_key(&doc);
                assert!(
                    got.as_ref() == Some(key),
                    "index invariant broken: filter {filter:?} matches {} but its equality key on {field:?} is \
                     {key:?} while the document's is {got:?}",
                    d.data
                );
            }
        }
    }
}

/// Sort invariants: always ends up containing `$id`, no duplicate fields, at
/// most 4 user keys plus `$id`.
pub fn check_sort(s: Option<&str>, f: &mut Features) -> Option<Sort> {
    match Sort::parse(s) {
        Ok(sort) => {
            let keys = sort.keys();
            assert!(keys.iter().any(|k| k.field == Field::Id), "sort without $id: {keys:?}");
            assert!(keys.len() <= 5, "too many sort keys: {keys:?}");
            for (i, k) in keys.iter().enumerate() {
                assert!(
                    !keys[..i].iter().any(|p| p.field == k.field),
                    "duplicate sort key {keys:?}"
                );
            }
            feat!(f, "sort:ok:{}:{}", keys.len(), keys[0].descending);
            Some(sort)
        }
        Err(e) => {
            feat!(f, "sort:err:{}", normalize(&e.to_string()));
            None
        }
    }
}

/// Cursor invariants: a cursor that parses re-encodes to one that parses to
/// the same value.
pub fn check_cursor(s: &str, sort: &Sort, f: &mut Features) -> Option<Cursor> {
    match Cursor::parse(s, sort) {
        Ok(c) => {
            let again = Cursor::parse(&c.encode(), sort);
            assert!(
                again.as_ref() == Ok(&c),
                "cursor did not round-trip: {c:?} -> {again:?}"
            );
            feat!(f, "cursor:ok:{}", sort.keys().len());
            Some(c)
        }
        Err(e) => {
            feat!(f, "cursor:err:{}", normalize(&e.to_string()));
            None
        }
    }
}

/// Builds the list query and checks its text: no statement separator, only
/// the fixed literals the compiler writes, placeholders numbered 1..=n.
pub fn check_query(filter: &Filter, sort: &Sort, after: Option<&Cursor>, owner: Option<&str>, f: &mut Features) {
    let qb = build_list_query("posts", filter, sort, after, owner, 101);
    let sql = qb.sql();
    assert!(!sql.contains(';'), "statement separator in SQL: {sql}");
    const LITERALS: &[&str] = &["null", "{}", "number", "string", "array", "object", "boolean"];
    let mut rest = sql;
    while let Some(start) = rest.find('\'') {
        let after_quote = &rest[start + 1..];
        let Some(end) = after_quote.find('\'') else {
            panic!("unterminated literal in SQL: {sql}");
        };
        let lit = &after_quote[..end];
        assert!(LITERALS.contains(&lit), "unexpected SQL literal '{lit}' in {sql}");
        rest = &after_quote[end + 1..];
    }
    let mut expected = 1u32;
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let digits: String = sql[i + 1..].chars().take_while(char::is_ascii_digit).collect();
            assert_eq!(
                digits.parse::<u32>().ok(),
                Some(expected),
                "placeholder out of order in {sql}"
            );
            expected += 1;
            i += 1 + digits.len();
        } else {
            i += 1;
        }
    }
    assert!(
        expected <= 65_536,
        "more bind parameters than PostgreSQL accepts: {}",
        expected - 1
    );
    feat!(f, "sql:{}:{}", bucket(sql.len()), bucket(expected as usize - 1));
}
