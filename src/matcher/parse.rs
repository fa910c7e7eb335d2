//! Parsing of filter keys and values, in both the URL form (query pairs with
//! JSON-scalar-or-string values) and the JSON form (an object of JSON
//! values), into the typed [`Filter`] AST. All validation happens here so
//! evaluation and SQL compilation never see an ill-typed condition.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{
    trunc_micros, Cond, Field, Filter, FilterError, Group, JsonField, JsonTest, MetaTest, Rel, TimeField,
    MAX_CONDITIONS, MAX_LIST_ITEMS, MAX_PATH_DEPTH,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Rel(Rel),
    Contains,
    StartsWith,
    EndsWith,
    In,
    NotIn,
    IsNull,
}

/// Every operator suffix of the filter language (`field__op`), as written by
/// clients; shared with tests and fuzz targets so they cannot drift.
pub const OPERATORS: &[&str] = &[
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "startswith",
    "endswith",
    "in",
    "notin",
    "isnull",
];

impl Op {
    fn from_name(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Rel(Rel::Eq),
            "ne" => Op::Rel(Rel::Ne),
            "gt" => Op::Rel(Rel::Gt),
            "gte" => Op::Rel(Rel::Gte),
            "lt" => Op::Rel(Rel::Lt),
            "lte" => Op::Rel(Rel::Lte),
            "contains" => Op::Contains,
            "startswith" => Op::StartsWith,
            "endswith" => Op::EndsWith,
            "in" => Op::In,
            "notin" => Op::NotIn,
            "isnull" => Op::IsNull,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Op::Rel(Rel::Eq) => "eq",
            Op::Rel(Rel::Ne) => "ne",
            Op::Rel(Rel::Gt) => "gt",
            Op::Rel(Rel::Gte) => "gte",
            Op::Rel(Rel::Lt) => "lt",
            Op::Rel(Rel::Lte) => "lte",
            Op::Contains => "contains",
            Op::StartsWith => "startswith",
            Op::EndsWith => "endswith",
            Op::In => "in",
            Op::NotIn => "notin",
            Op::IsNull => "isnull",
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Parses a field as used in filter keys and sort keys; the error is the
/// reason only, so callers can name the surrounding key.
pub(crate) fn parse_field(s: &str) -> Result<Field, String> {
    if let Some(meta) = s.strip_prefix('$') {
        return match meta {
            "id" => Ok(Field::Id),
            "owner" => Ok(Field::Owner),
            "created_at" => Ok(Field::CreatedAt),
            "updated_at" => Ok(Field::UpdatedAt),
            _ => Err("unknown metadata field (expected $id, $owner, $created_at or $updated_at)".into()),
        };
    }
    if s.is_empty() {
        return Err("empty path".into());
    }
    let mut path = Vec::new();
    for seg in s.split('.') {
        if seg.is_empty() {
            return Err("empty path segment".into());
        }
        if !seg.chars().all(is_name_char) {
            return Err(format!("path segment \"{seg}\" may only contain A-Z a-z 0-9 _ -"));
        }
        if path.len() == MAX_PATH_DEPTH {
            return Err(format!("path deeper than {MAX_PATH_DEPTH} segments"));
        }
        path.push(seg.to_owned());
    }
    Ok(Field::Data(path))
}

/// Splits a key into its OR group (`Some("")` for `[or]`), field and op.
fn parse_key(key: &str) -> Result<(Option<&str>, Field, Op), FilterError> {
    let (group, rest) = match key.strip_prefix('[') {
        None => (None, key),
        Some(after) => {
            let bad = || FilterError::InvalidGroup { key: key.into() };
            let (inside, rest) = after.split_once(']').ok_or_else(bad)?;
            let name = if inside == "or" {
                ""
            } else {
                let name = inside.strip_prefix("or:").ok_or_else(bad)?;
                if name.is_empty() || !name.chars().all(is_name_char) {
                    return Err(bad());
                }
                name
            };
            (Some(name), rest)
        }
    };
    let (field, op) = match rest.rsplit_once("__") {
        None => (rest, Op::Rel(Rel::Eq)),
        Some((field, op)) => match Op::from_name(op) {
            Some(op) => (field, op),
            None => {
                return Err(FilterError::UnknownOperator {
                    key: key.into(),
                    op: op.into(),
                })
            }
        },
    };
    let field = parse_field(field).map_err(|reason| FilterError::InvalidField {
        key: key.into(),
        field: field.into(),
        reason,
    })?;
    Ok((group, field, op))
}

#[derive(Default)]
struct Builder {
    filter: Filter,
    count: usize,
}

impl Builder {
    fn add(&mut self, group: Option<&str>, cond: Cond) {
        self.count += 1;
        match group {
            None => self.filter.all.push(cond),
            Some(name) => match self.filter.groups.iter_mut().find(|g| g.name == name) {
                Some(g) => g.any.push(cond),
                None => self.filter.groups.push(Group {
                    name: name.into(),
                    any: vec![cond],
                }),
            },
        }
    }

    fn check_room(&self, key: &str) -> Result<(), FilterError> {
        if self.count >= MAX_CONDITIONS {
            return Err(FilterError::TooManyConditions {
                key: key.into(),
                max: MAX_CONDITIONS,
            });
        }
        Ok(())
    }
}

pub(crate) fn parse_pairs(pairs: &[(String, String)]) -> Result<Filter, FilterError> {
    let mut b = Builder::default();
    for (key, raw) in pairs {
        b.check_room(key)?;
        let (group, field, op) = parse_key(key)?;
        let v = url_value(&field, op, raw);
        let cond = build(key, field, op, &v)?;
        b.add(group, cond);
    }
    Ok(b.filter)
}

pub(crate) fn parse_json(v: &Value) -> Result<Filter, FilterError> {
    let map = match v {
        Value::Null => return Ok(Filter::default()),
        Value::Object(m) => m,
        _ => return Err(FilterError::NotAnObject),
    };
    let mut b = Builder::default();
    for (key, v) in map {
        b.check_room(key)?;
        let (group, field, op) = parse_key(key)?;
        let cond = build(key, field, op, v)?;
        b.add(group, cond);
    }
    Ok(b.filter)
}

/// A URL value is a JSON scalar if it parses as one, else the raw string.
fn url_scalar(raw: &str) -> Value {
    match serde_json::from_str::<Value>(raw) {
        Ok(v) if !v.is_array() && !v.is_object() => v,
        _ => Value::String(raw.to_owned()),
    }
}

/// Converts a URL value to the JSON form. Where only a string makes sense
/// (string operators, metadata) unquoted text stays text, so that
/// `name__startswith=10` and `$owner=123` mean what they look like.
fn url_value(field: &Field, op: Op, raw: &str) -> Value {
    let stringy = op != Op::IsNull && (matches!(op, Op::StartsWith | Op::EndsWith) || !matches!(field, Field::Data(_)));
    let allow_null = *field == Field::Owner;
    let item = |s: &str| {
        let v = url_scalar(s);
        if stringy && !(v.is_string() || (allow_null && v.is_null())) {
            Value::String(s.to_owned())
        } else {
            v
        }
    };
    match op {
        Op::In | Op::NotIn => Value::Array(split_list(raw).into_iter().map(item).collect()),
        _ => item(raw),
    }
}

/// Splits on commas, except inside an item that starts with a double quote
/// (a JSON string, which may contain commas and escaped quotes).
fn split_list(raw: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut in_str, mut escaped) = (0, false, false);
    for (i, ch) in raw.char_indices() {
        if in_str {
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_str = false;
            }
        } else if ch == '"' && i == start {
            in_str = true;
        } else if ch == ',' {
            out.push(&raw[start..i]);
            start = i + 1;
        }
    }
    out.push(&raw[start..]);
    out
}

fn invalid(key: &str, reason: impl Into<String>) -> FilterError {
    FilterError::InvalidValue {
        key: key.into(),
        reason: reason.into(),
    }
}

/// True if any string or object key inside `v` contains NUL.
pub(crate) fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(m) => m.iter().any(|(k, i)| k.contains('\0') || has_nul(i)),
        _ => false,
    }
}

/// PostgreSQL rejects NUL in text and jsonb, so such values never reach SQL.
fn check_text(key: &str, v: &Value) -> Result<(), FilterError> {
    if has_nul(v) {
        return Err(invalid(key, "strings may not contain NUL"));
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn list<'v>(key: &str, v: &'v Value) -> Result<&'v [Value], FilterError> {
    match v {
        Value::Array(items) if items.len() <= MAX_LIST_ITEMS => Ok(items),
        Value::Array(_) => Err(invalid(key, format!("at most {MAX_LIST_ITEMS} list items are allowed"))),
        other => Err(invalid(key, format!("expected an array, got {}", type_name(other)))),
    }
}

fn build(key: &str, field: Field, op: Op, v: &Value) -> Result<Cond, FilterError> {
    check_text(key, v)?;
    Ok(match field {
        Field::Data(path) => Cond::Json(JsonField::Data(path), json_test(key, op, v, false)?),
        Field::Owner => Cond::Json(JsonField::Owner, json_test(key, op, v, true)?),
        Field::Id => Cond::Id(meta_test(key, op, v, "$id", false, |s| Uuid::parse_str(s).ok())?),
        Field::CreatedAt => Cond::Time(
            TimeField::CreatedAt,
            meta_test(key, op, v, "$created_at", true, parse_time)?,
        ),
        Field::UpdatedAt => Cond::Time(
            TimeField::UpdatedAt,
            meta_test(key, op, v, "$updated_at", true, parse_time)?,
        ),
    })
}

pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| trunc_micros(t.with_timezone(&Utc)))
}

fn json_test(key: &str, op: Op, v: &Value, owner: bool) -> Result<JsonTest, FilterError> {
    let is_scalar = |v: &Value| !v.is_array() && !v.is_object();
    // `$owner` holds a string or null, so other value types could never match.
    let owner_ok = |v: &Value| v.is_string() || v.is_null();
    let need_string = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(invalid(
            key,
            format!("\"{}\" needs a string, got {}", op.name(), type_name(other)),
        )),
    };
    Ok(match op {
        Op::Rel(rel @ (Rel::Eq | Rel::Ne)) => {
            if owner && !owner_ok(v) {
                return Err(invalid(key, "$owner compares with a string or null"));
            }
            JsonTest::Rel(rel, v.clone())
        }
        Op::Rel(rel) => match v {
            Value::String(_) => JsonTest::Rel(rel, v.clone()),
            Value::Number(_) if !owner => JsonTest::Rel(rel, v.clone()),
            other => {
                let want = if owner { "a string" } else { "a number or a string" };
                return Err(invalid(
                    key,
                    format!("\"{}\" needs {want}, got {}", op.name(), type_name(other)),
                ));
            }
        },
        Op::Contains if owner => JsonTest::Contains(Value::String(need_string(v)?)),
        Op::Contains if is_scalar(v) => JsonTest::Contains(v.clone()),
        Op::Contains => {
            return Err(invalid(
                key,
                format!("\"contains\" needs a scalar, got {}", type_name(v)),
            ))
        }
        Op::StartsWith => JsonTest::StartsWith(need_string(v)?),
        Op::EndsWith => JsonTest::EndsWith(need_string(v)?),
        Op::In | Op::NotIn => {
            let items = list(key, v)?;
            let ok = if owner { owner_ok } else { is_scalar };
            if let Some(bad) = items.iter().find(|i| !ok(i)) {
                let want = if owner { "strings or null" } else { "scalars" };
                return Err(invalid(
                    key,
                    format!("list items must be {want}, got {}", type_name(bad)),
                ));
            }
            if op == Op::In {
                JsonTest::In(items.to_vec())
            } else {
                JsonTest::NotIn(items.to_vec())
            }
        }
        Op::IsNull => match v {
            Value::Bool(b) => JsonTest::IsNull(*b),
            other => {
                return Err(invalid(
                    key,
                    format!("\"isnull\" needs true or false, got {}", type_name(other)),
                ))
            }
        },
    })
}

fn meta_test<T>(
    key: &str,
    op: Op,
    v: &Value,
    target: &'static str,
    ordered: bool,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<MetaTest<T>, FilterError> {
    let want = if ordered {
        "an RFC 3339 timestamp string"
    } else {
        "a UUID string"
    };
    let one = |v: &Value| match v {
        Value::String(s) => parse(s).ok_or_else(|| invalid(key, format!("\"{s}\" is not {want}"))),
        other => Err(invalid(key, format!("expected {want}, got {}", type_name(other)))),
    };
    match op {
        Op::Rel(rel @ (Rel::Eq | Rel::Ne)) => Ok(MetaTest::Rel(rel, one(v)?)),
        Op::Rel(rel) if ordered => Ok(MetaTest::Rel(rel, one(v)?)),
        Op::In | Op::NotIn => {
            let items = list(key, v)?.iter().map(one).collect::<Result<Vec<_>, _>>()?;
            Ok(if op == Op::In {
                MetaTest::In(items)
            } else {
                MetaTest::NotIn(items)
            })
        }
        _ => Err(FilterError::UnsupportedOperator {
            key: key.into(),
            op: op.name().into(),
            target,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url(pairs: &[(&str, &str)]) -> Result<Filter, FilterError> {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Filter::parse_query(&owned)
    }

    fn data(path: &str, t: JsonTest) -> Cond {
        Cond::Json(JsonField::Data(path.split('.').map(str::to_owned).collect()), t)
    }

    fn only(f: Filter) -> Cond {
        assert!(f.groups.is_empty(), "{f:?}");
        assert_eq!(f.all.len(), 1, "{f:?}");
        f.all.into_iter().next().expect("one condition")
    }

    #[test]
    fn url_values() {
        let ts = "2024-05-01T12:00:00.1234567+02:00";
        let t = parse_time(ts).expect("valid time");
        assert_eq!(t.timestamp_subsec_nanos(), 123_456_000);
        let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        let uuid = Uuid::parse_str(id).expect("valid uuid");
        let cases: Vec<(&str, &str, Cond)> = vec![
            ("age", "3", data("age", JsonTest::Rel(Rel::Eq, json!(3)))),
            ("age__gte", "2.5", data("age", JsonTest::Rel(Rel::Gte, json!(2.5)))),
            ("ok", "true", data("ok", JsonTest::Rel(Rel::Eq, json!(true)))),
            ("x", "null", data("x", JsonTest::Rel(Rel::Eq, json!(null)))),
            ("x", "\"3\"", data("x", JsonTest::Rel(Rel::Eq, json!("3")))),
            ("x", "open", data("x", JsonTest::Rel(Rel::Eq, json!("open")))),
            ("x", "[1]", data("x", JsonTest::Rel(Rel::Eq, json!("[1]")))),
            ("x", "", data("x", JsonTest::Rel(Rel::Eq, json!("")))),
            (
                "a.b-c.d_e__ne",
                "x",
                data("a.b-c.d_e", JsonTest::Rel(Rel::Ne, json!("x"))),
            ),
            ("a__b__eq", "1", data("a__b", JsonTest::Rel(Rel::Eq, json!(1)))),
            ("n__startswith", "10", data("n", JsonTest::StartsWith("10".into()))),
            ("n__endswith", "\"x\"", data("n", JsonTest::EndsWith("x".into()))),
            ("n__contains", "10", data("n", JsonTest::Contains(json!(10)))),
            (
                "s__in",
                "a,3,\"b,c\",null,\"\\\"q\\\"\",x\"y",
                data(
                    "s",
                    JsonTest::In(vec![
                        json!("a"),
                        json!(3),
                        json!("b,c"),
                        json!(null),
                        json!("\"q\""),
                        json!("x\"y"),
                    ]),
                ),
            ),
            ("s__notin", "", data("s", JsonTest::NotIn(vec![json!("")]))),
            ("s__isnull", "false", data("s", JsonTest::IsNull(false))),
            (
                "$owner",
                "123",
                Cond::Json(JsonField::Owner, JsonTest::Rel(Rel::Eq, json!("123"))),
            ),
            (
                "$owner",
                "null",
                Cond::Json(JsonField::Owner, JsonTest::Rel(Rel::Eq, json!(null))),
            ),
            (
                "$owner__in",
                "alice,null,\"null\"",
                Cond::Json(
                    JsonField::Owner,
                    JsonTest::In(vec![json!("alice"), json!(null), json!("null")]),
                ),
            ),
            ("$id", id, Cond::Id(MetaTest::Rel(Rel::Eq, uuid))),
            ("$id__notin", id, Cond::Id(MetaTest::NotIn(vec![uuid]))),
            (
                "$created_at__lt",
                ts,
                Cond::Time(TimeField::CreatedAt, MetaTest::Rel(Rel::Lt, t)),
            ),
            (
                "$updated_at__in",
                ts,
                Cond::Time(TimeField::UpdatedAt, MetaTest::In(vec![t])),
            ),
        ];
        for (k, v, want) in cases {
            let got = url(&[(k, v)]).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
            assert_eq!(only(got), want, "{k}={v}");
        }
    }

    #[test]
    fn json_values() {
        let cases: Vec<(Value, Cond)> = vec![
            (
                json!({"a": {"x": [1]}}),
                data("a", JsonTest::Rel(Rel::Eq, json!({"x": [1]}))),
            ),
            (
                json!({"a__ne": [1, 2]}),
                data("a", JsonTest::Rel(Rel::Ne, json!([1, 2]))),
            ),
            (
                json!({"a__in": [1, "x", null]}),
                data("a", JsonTest::In(vec![json!(1), json!("x"), json!(null)])),
            ),
            (json!({"a__isnull": true}), data("a", JsonTest::IsNull(true))),
            (
                json!({"a__contains": false}),
                data("a", JsonTest::Contains(json!(false))),
            ),
            (json!({"a__lt": "m"}), data("a", JsonTest::Rel(Rel::Lt, json!("m")))),
        ];
        for (v, want) in cases {
            let got = Filter::from_json(&v).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(only(got), want, "{v}");
        }
        assert!(Filter::from_json(&json!(null)).map(|f| f.is_empty()).unwrap_or(false));
        assert!(Filter::from_json(&json!({})).map(|f| f.is_empty()).unwrap_or(false));
    }

    #[test]
    fn groups() {
        let f = url(&[
            ("[or]status", "open"),
            ("[or]priority__gte", "3"),
            ("[or:who]$owner", "alice"),
            ("[or:who]shared", "true"),
            ("kind", "task"),
        ])
        .expect("valid");
        assert_eq!(f.all.len(), 1);
        let shape: Vec<(&str, usize)> = f.groups.iter().map(|g| (g.name.as_str(), g.any.len())).collect();
        assert_eq!(shape, vec![("", 2), ("who", 2)]);
    }

    #[test]
    fn errors_name_the_bad_part() {
        let long = vec!["a"; MAX_PATH_DEPTH + 1].join(".");
        let url_cases: Vec<(&str, &str, &str)> = vec![
            ("age__foo", "1", "unknown operator \"foo\" in \"age__foo\""),
            ("a__b", "1", "unknown operator \"b\" in \"a__b\""),
            ("a__", "1", "unknown operator \"\" in \"a__\""),
            ("__eq", "1", "invalid field \"\" in \"__eq\": empty path"),
            ("", "1", "invalid field \"\" in \"\": empty path"),
            ("a..b", "1", "empty path segment"),
            ("a.b c", "1", "path segment \"b c\" may only contain"),
            ("é", "1", "path segment \"é\""),
            (&long, "1", "path deeper than 16 segments"),
            (
                "$foo",
                "1",
                "invalid field \"$foo\" in \"$foo\": unknown metadata field",
            ),
            ("[and]a", "1", "invalid group prefix in \"[and]a\""),
            ("[or:]a", "1", "invalid group prefix"),
            ("[or:a b]a", "1", "invalid group prefix"),
            ("[or", "1", "invalid group prefix"),
            (
                "a__isnull",
                "yes",
                "invalid value for \"a__isnull\": \"isnull\" needs true or false, got a string",
            ),
            (
                "a__gt",
                "true",
                "invalid value for \"a__gt\": \"gt\" needs a number or a string, got a boolean",
            ),
            ("a__lte", "null", "needs a number or a string, got null"),
            ("a", "\"\\u0000\"", "NUL"),
            (
                "$id",
                "nope",
                "invalid value for \"$id\": \"nope\" is not a UUID string",
            ),
            (
                "$id__gt",
                "67e55044-10b1-426f-9247-bb680e5fe0c8",
                "operator \"gt\" is not supported on $id in \"$id__gt\"",
            ),
            ("$id__contains", "x", "operator \"contains\" is not supported on $id"),
            ("$created_at", "2024-01-01", "is not an RFC 3339 timestamp string"),
            (
                "$created_at__isnull",
                "true",
                "operator \"isnull\" is not supported on $created_at",
            ),
            ("$updated_at__startswith", "2024", "not supported on $updated_at"),
            ("$owner__gt", "null", "\"gt\" needs a string, got null"),
        ];
        for (k, v, want) in url_cases {
            let msg = url(&[(k, v)])
                .map(|f| format!("{f:?}"))
                .unwrap_or_else(|e| e.to_string());
            assert!(msg.contains(want), "{k}={v}: got {msg:?}, want {want:?}");
        }
        let json_cases: Vec<(Value, &str)> = vec![
            (json!([1]), "filter must be a JSON object or null"),
            (json!("a=1"), "filter must be a JSON object or null"),
            (
                json!({"a__in": 1}),
                "invalid value for \"a__in\": expected an array, got a number",
            ),
            (json!({"a__in": [[1]]}), "list items must be scalars, got an array"),
            (
                json!({"a__isnull": "true"}),
                "\"isnull\" needs true or false, got a string",
            ),
            (json!({"a__gt": {}}), "needs a number or a string, got an object"),
            (json!({"a__gt": [1]}), "needs a number or a string, got an array"),
            (
                json!({"a__contains": {"x": 1}}),
                "\"contains\" needs a scalar, got an object",
            ),
            (
                json!({"a__startswith": 1}),
                "\"startswith\" needs a string, got a number",
            ),
            (json!({"$owner": 1}), "$owner compares with a string or null"),
            (
                json!({"$owner__in": ["a", 1]}),
                "list items must be strings or null, got a number",
            ),
            (
                json!({"$owner__contains": null}),
                "\"contains\" needs a string, got null",
            ),
            (
                json!({"$id__in": ["67e55044-10b1-426f-9247-bb680e5fe0c8", "x"]}),
                "\"x\" is not a UUID string",
            ),
            (
                json!({"$created_at": 5}),
                "expected an RFC 3339 timestamp string, got a number",
            ),
            (json!({"a": {"k\u{0}": 1}}), "NUL"),
        ];
        for (v, want) in json_cases {
            let msg = Filter::from_json(&v)
                .map(|f| format!("{f:?}"))
                .unwrap_or_else(|e| e.to_string());
            assert!(msg.contains(want), "{v}: got {msg:?}, want {want:?}");
        }
    }

    #[test]
    fn limits() {
        let many: Vec<(String, String)> = (0..=MAX_CONDITIONS)
            .map(|i| (format!("f{i}"), "1".to_string()))
            .collect();
        assert!(Filter::parse_query(&many[..MAX_CONDITIONS]).is_ok());
        let err = Filter::parse_query(&many).map(|_| ()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "too many conditions at \"f64\": at most 64 are allowed"
        );
        let grouped: serde_json::Map<String, Value> = (0..=MAX_CONDITIONS)
            .map(|i| (format!("[or:g{}]f{i}", i % 3), json!(1)))
            .collect();
        assert!(matches!(
            Filter::from_json(&Value::Object(grouped)),
            Err(FilterError::TooManyConditions { .. })
        ));
        let items = vec![json!(1); MAX_LIST_ITEMS + 1];
        assert!(Filter::from_json(&json!({"a__in": items})).is_err());
        let ok_path = vec!["a"; MAX_PATH_DEPTH].join(".");
        assert!(url(&[(&ok_path, "1")]).is_ok());
    }
}
