//! `filter-url` and `filter-json`: the filter language in both input forms,
//! with sort and cursor parsing, SQL building and in-memory evaluation.

use super::docs::{check_cursor, check_filter, check_query, check_sort, derived_docs, fixed_docs};
use super::Target;
use crate::feat;
use crate::features::{bucket, normalize, Features};
use crate::mutate::{edge_number, interesting_scalar, Dict};
use crate::rng::Rng;
use eddy::matcher::Filter;
use serde_json::{json, Map, Value};

const KEYS: &[&str] = &[
    "a",
    "b",
    "n",
    "t",
    "tags",
    "o.b",
    "o.b.c",
    "o.1.b",
    "o.-1",
    "status",
    "views__gte",
    "a__ne",
    "a__gt",
    "a__lte",
    "b__in",
    "b__notin",
    "tags__contains",
    "b__startswith",
    "b__endswith",
    "n__isnull",
    "[or]a",
    "[or]b__lt",
    "[or:g]t",
    "$id",
    "$owner",
    "$owner__in",
    "$created_at__gte",
    "$updated_at",
    "filter",
    "sort",
    "after",
    "docs",
];

const TOKENS: &[&str] = &[
    "__eq",
    "__ne",
    "__gt",
    "__gte",
    "__lt",
    "__lte",
    "__contains",
    "__startswith",
    "__endswith",
    "__in",
    "__notin",
    "__isnull",
    "__",
    "__foo",
    "[or]",
    "[or:g]",
    "[or:]",
    "[and]",
    "[",
    "]",
    "$id",
    "$owner",
    "$created_at",
    "$updated_at",
    "$",
    ".",
    "..",
    "-",
    "-1",
    "0",
    "2147483648",
    "67e55044-10b1-426f-9247-bb680e5fe0c8",
    "2024-05-01T12:00:00.123456Z",
    "2024-05-01T14:00:00.1234569+02:00",
    "+00:00",
    "&",
    "=",
    "+",
    "%",
    "%00",
    "%22",
    "%2C",
    "%25",
    "%E9",
    "%FF",
    ",",
    "\"",
    "\\\"",
    "sort=",
    "after=",
    "limit=",
    "&sort=-",
    "$created_at,",
    "5b5d",
    "5b",
    "5d",
    "22",
    "6e756c6c",
];

static DICT: Dict = Dict {
    tokens: TOKENS,
    keys: KEYS,
};

const FIELDS: &[&str] = &[
    "a",
    "b",
    "n",
    "t",
    "tags",
    "o.b",
    "o.b.c",
    "o.1.b",
    "o.-1",
    "a.0",
    "$id",
    "$owner",
    "$created_at",
    "$updated_at",
    "$nope",
    "",
    "a..b",
    "é",
    "a b",
    "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p",
    "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q",
    "9999999999",
    "-2147483649",
];
const OPS: &[&str] = &[
    "",
    "__eq",
    "__ne",
    "__gt",
    "__gte",
    "__lt",
    "__lte",
    "__contains",
    "__startswith",
    "__endswith",
    "__in",
    "__notin",
    "__isnull",
    "__foo",
    "__",
];
const GROUPS: &[&str] = &[
    "", "", "", "", "[or]", "[or]", "[or:g]", "[or:h-1]", "[and]", "[or:]", "[or", "[or:a b]",
];

fn gen_key(rng: &mut Rng) -> String {
    let g = rng.pick(GROUPS).copied().unwrap_or("");
    let field = rng.pick(FIELDS).copied().unwrap_or("a");
    let op = rng.pick(OPS).copied().unwrap_or("");
    format!("{g}{field}{op}")
}

/// A value of the type the key's operator wants, most of the time.
fn gen_value_for(rng: &mut Rng, key: &str) -> Value {
    let meta = key.contains("$id") || key.contains("$created_at") || key.contains("$updated_at");
    let one = |rng: &mut Rng| -> Value {
        if meta && rng.below(4) != 0 {
            match rng.below(4) {
                0 => json!("67e55044-10b1-426f-9247-bb680e5fe0c8"),
                1 => json!("00000000-0000-0000-0000-000000000000"),
                2 => json!("2024-05-01T12:00:00.123456Z"),
                _ => json!("9999-12-31T23:59:59.9999999-23:59"),
            }
        } else {
            match rng.below(8) {
                0 => json!("x"),
                1 => json!("open"),
                2 => json!(1),
                3 => json!(1.0),
                4 => edge_number(rng),
                5 => json!("alice"),
                _ => interesting_scalar(rng),
            }
        }
    };
    if key.ends_with("__in") || key.ends_with("__notin") {
        let n = if rng.one_in(16) {
            1000 + rng.below(3)
        } else {
            rng.small(5)
        };
        Value::Array((0..n).map(|_| one(rng)).collect())
    } else if key.ends_with("__isnull") && rng.below(4) != 0 {
        json!(rng.one_in(2))
    } else if rng.one_in(12) {
        json!([one(rng), {"k": one(rng)}])
    } else {
        one(rng)
    }
}

fn gen_filter(rng: &mut Rng) -> Map<String, Value> {
    let n = if rng.one_in(20) {
        60 + rng.below(10)
    } else {
        rng.small(6)
    };
    let mut m = Map::new();
    for i in 0..n {
        let mut k = gen_key(rng);
        if m.contains_key(&k) {
            k = format!("[or:g{i}]{}", k.trim_start_matches('['));
        }
        let v = gen_value_for(rng, &k);
        m.insert(k, v);
    }
    m
}

fn gen_sort(rng: &mut Rng) -> String {
    let n = 1 + rng.small(5);
    (0..n)
        .map(|_| {
            let dash = if rng.one_in(2) { "-" } else { "" };
            format!("{dash}{}", rng.pick(FIELDS).copied().unwrap_or("a"))
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn gen_cursor_value(rng: &mut Rng) -> Value {
    let n = 1 + rng.small(5);
    Value::Array(
        (0..n)
            .map(|_| match rng.below(5) {
                0 => json!(1714567890123456i64),
                1 => json!("67e55044-10b1-426f-9247-bb680e5fe0c8"),
                2 => Value::Null,
                3 => json!({"x": [1, "é"]}),
                _ => interesting_scalar(rng),
            })
            .collect(),
    )
}

// --- filter-url ------------------------------------------------------------------

/// The `filter-url` target.
pub fn url_target() -> Target {
    Target {
        name: "filter-url",
        about: "Filter::parse_query on form_urlencoded pairs (plus sort, after), build_list_query, matches",
        seeds: url_seeds,
        dict: &DICT,
        run: run_url,
        special: url_special,
    }
}

fn url_seeds() -> Vec<Vec<u8>> {
    let cursor = hex_of(&json!([1714567890123456i64, "67e55044-10b1-426f-9247-bb680e5fe0c8"]));
    let cursor3 = hex_of(&json!([null, 1, "67e55044-10b1-426f-9247-bb680e5fe0c8"]));
    [
        "status=open&views__gte=10".to_owned(),
        "a=1&b__ne=x&sort=-a,b&limit=10".to_owned(),
        "[or]status=open&[or]priority__gte=3&[or:who]$owner=alice&[or:who]shared=true&kind=task".to_owned(),
        "s__in=a,3,%22b,c%22,null,%22%5C%22q%5C%22%22,x%22y".to_owned(),
        "$id=67e55044-10b1-426f-9247-bb680e5fe0c8&$created_at__lt=2024-05-01T12:00:00.1234567%2B02:00".to_owned(),
        "n__isnull=true&tags__contains=a&b__startswith=%C3%A9&b__endswith=x".to_owned(),
        "o.b.c__gt=%22m%22&o.1.b__lte=2.5&$owner__in=alice,null,%22null%22".to_owned(),
        format!("a=1&after={cursor}"),
        format!("sort=-$owner,x&after={cursor3}"),
        "$updated_at__notin=2024-05-02T00:00:00Z&$id__notin=".to_owned(),
        "a__foo=1&[and]a=1&a..b=1&$nope=1".to_owned(),
        "x=%00&y=%FF%FE&z=\u{e9}".to_owned(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect()
}

fn hex_of(v: &Value) -> String {
    v.to_string().bytes().map(|b| format!("{b:02x}")).collect()
}

fn url_special(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    if !rng.one_in(8) {
        return false;
    }
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in gen_filter(rng) {
        let text = match v {
            Value::String(s) if rng.below(4) != 0 => s,
            Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) if rng.one_in(2) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        ser.append_pair(&k, &text);
    }
    if rng.one_in(3) {
        ser.append_pair("sort", &gen_sort(rng));
    }
    if rng.one_in(4) {
        ser.append_pair("after", &hex_of(&gen_cursor_value(rng)));
    }
    *data = ser.finish().into_bytes();
    true
}

fn run_url(data: &[u8], f: &mut Features) {
    // Split exactly as the list route does (`list_params` in src/http/documents.rs).
    let mut pairs = Vec::new();
    let (mut sort, mut after) = (None, None);
    for (k, v) in form_urlencoded::parse(data) {
        match &*k {
            "sort" => sort = Some(v.into_owned()),
            "limit" => {}
            "after" => after = Some(v.into_owned()),
            _ => pairs.push((k.into_owned(), v.into_owned())),
        }
    }
    feat!(f, "pairs:{}", bucket(pairs.len()));
    let filter = match Filter::parse_query(&pairs) {
        Ok(filter) => {
            feat!(f, "filter:ok:{}", filter.is_empty());
            Some(filter)
        }
        Err(e) => {
            feat!(f, "filter:err:{}", normalize(&e.to_string()));
            None
        }
    };
    let sort = check_sort(sort.as_deref(), f);
    let cursor = match (&sort, &after) {
        (Some(s), Some(a)) => check_cursor(a, s, f),
        _ => None,
    };
    if let (Some(filter), Some(sort)) = (&filter, &sort) {
        let conds: Vec<(String, Value)> = pairs.iter().map(|(k, v)| (k.clone(), url_guess(v))).collect();
        for ((k, _), (_, v)) in pairs.iter().zip(&conds) {
            feat!(f, "cond:{}:{}", key_shape(k), value_shape(v));
        }
        let derived = derived_docs(&conds);
        let docs: Vec<_> = fixed_docs().iter().chain(derived.iter()).collect();
        check_filter(filter, &docs, f);
        if after.is_none() || cursor.is_some() {
            check_query(filter, sort, cursor.as_ref(), None, f);
            check_query(filter, sort, cursor.as_ref(), Some("alice"), f);
        }
    }
}

/// Roughly how the URL form reads a value (a JSON scalar, else the raw text;
/// comma lists as arrays of their first 8 items), for building likely matches.
fn url_guess(raw: &str) -> Value {
    match serde_json::from_str::<Value>(raw) {
        Ok(v) if !v.is_array() && !v.is_object() => v,
        _ if raw.contains(',') => Value::Array(
            raw.split(',')
                .take(8)
                .map(|s| serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned())))
                .collect(),
        ),
        _ => Value::String(raw.to_owned()),
    }
}

/// A key reduced to group kind, field kind and operator.
fn key_shape(key: &str) -> String {
    let (group, rest) = match key.strip_prefix('[') {
        Some(after) => match after.split_once(']') {
            Some((g, r)) => (if g == "or" { "or" } else { "or:n" }, r),
            None => ("bad", after),
        },
        None => ("", key),
    };
    let (field, op) = rest.rsplit_once("__").unwrap_or((rest, "eq"));

    let op = if eddy::matcher::OPERATORS.contains(&op) { op } else { "?" };
    let field_kind = if field.starts_with('$') {
        match field {
            "$id" | "$owner" | "$created_at" | "$updated_at" => field,
            _ => "$?",
        }
    } else if field.contains('.') {
        "path"
    } else {
        "name"
    };
    format!("{group}:{field_kind}:{op}")
}

fn value_shape(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) if n.is_f64() => "float".into(),
        Value::Number(n) if n.is_u64() => "u64".into(),
        Value::Number(_) => "i64".into(),
        Value::String(s) => format!("str{}", bucket(s.len()).min(6)),
        Value::Array(a) => format!("arr{}", bucket(a.len())),
        Value::Object(m) => format!("obj{}", bucket(m.len())),
    }
}

// --- filter-json -----------------------------------------------------------------

/// The `filter-json` target.
pub fn json_target() -> Target {
    Target {
        name: "filter-json",
        about: "Filter::from_json on JSON values (optionally with sort/after/docs), Sort::parse, Cursor::parse, \
                build_list_query, matches",
        seeds: json_seeds,
        dict: &DICT,
        run: run_json,
        special: json_special,
    }
}

fn json_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Value> = vec![
        json!({"status": "open", "views__gte": 10}),
        json!(null),
        json!({}),
        json!({"a": {"x": [1]}, "a__ne": [1, 2], "b__in": [1, "x", null], "n__isnull": true}),
        json!({"[or]a": 1, "[or]b__lt": "x", "c__in": [1], "[or:g]t": true, "[or:g]o.b__gte": 2}),
        json!({"$owner": null, "$id__in": ["67e55044-10b1-426f-9247-bb680e5fe0c8"], "$created_at__gte": "2024-01-01T00:00:00Z"}),
        json!({"tags__contains": "a", "b__startswith": "é", "b__endswith": "x", "a__gt": 9007199254740993u64}),
        json!({"filter": {"a": 1}, "sort": "-a,$owner", "after": [1, null, "67e55044-10b1-426f-9247-bb680e5fe0c8"]}),
        json!({"filter": {"o.b": 2}, "sort": "-$created_at", "after": "5b5d", "docs": [{"o": {"b": 2}}, {"o": [2]}]}),
        json!({"a": {"k\u{0}": 1}}),
        json!({"a__in": 1, "$owner__contains": null, "$id__gt": "x"}),
    ];
    // Every filter in docs/FILTERS.md-style examples from the protocol fixtures.
    for text in super::files_in(&super::repo_root().join("protocol-fixtures/client")) {
        if let Ok(v) = serde_json::from_slice::<Value>(&text) {
            if let Some(filters) = v.get("filters") {
                seeds.push(filters.clone());
            }
        }
    }
    seeds.into_iter().map(|v| v.to_string().into_bytes()).collect()
}

fn json_special(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    if !rng.one_in(8) {
        return false;
    }
    let filter = Value::Object(gen_filter(rng));
    let v = if rng.one_in(2) {
        let mut env = json!({ "filter": filter });
        if rng.one_in(2) {
            env["sort"] = json!(gen_sort(rng));
        }
        if rng.one_in(3) {
            env["after"] = gen_cursor_value(rng);
        }
        env
    } else {
        filter
    };
    *data = v.to_string().into_bytes();
    true
}

fn run_json(data: &[u8], f: &mut Features) {
    let v: Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) => {
            feat!(f, "json:err:{:?}", e.classify());
            return;
        }
    };
    // An envelope {"filter": …, "sort": …, "after": …, "docs": […]} or a bare filter.
    let (filter_v, sort_v, after_v, docs_v) = match &v {
        Value::Object(m) if m.contains_key("filter") => (
            m.get("filter").cloned().unwrap_or(Value::Null),
            m.get("sort").cloned(),
            m.get("after").cloned(),
            m.get("docs").cloned(),
        ),
        _ => (v, None, None, None),
    };
    let filter = match Filter::from_json(&filter_v) {
        Ok(filter) => {
            feat!(f, "filter:ok:{}", filter.is_empty());
            if let Value::Object(m) = &filter_v {
                for (k, v) in m {
                    feat!(f, "cond:{}:{}", key_shape(k), value_shape(v));
                }
            }
            Some(filter)
        }
        Err(e) => {
            feat!(f, "filter:err:{}", normalize(&e.to_string()));
            None
        }
    };
    let sort_text = match &sort_v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let sort = check_sort(sort_text.as_deref(), f);
    let cursor_text = match after_v {
        Some(Value::String(s)) => Some(s),
        Some(Value::Null) | None => None,
        Some(other) => Some(hex_of(&other)),
    };
    let cursor = match (&sort, &cursor_text) {
        (Some(s), Some(c)) => check_cursor(c, s, f),
        _ => None,
    };
    let Some(filter) = filter else { return };
    let conds: Vec<(String, Value)> = match &filter_v {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => Vec::new(),
    };
    let mut owned = derived_docs(&conds);
    if let Some(Value::Array(extra)) = docs_v {
        owned.extend(super::docs::from_values(extra.into_iter().take(8)));
    }
    let docs: Vec<_> = fixed_docs().iter().chain(owned.iter()).collect();
    check_filter(&filter, &docs, f);
    if let Some(sort) = &sort {
        if cursor_text.is_none() || cursor.is_some() {
            check_query(&filter, sort, cursor.as_ref(), None, f);
        }
    }
    // The realtime path (WebSocket `filters`, SSE `filters=`) has no sort; the default one applies.
    if sort_v.is_some() {
        if let Some(default) = check_sort(None, f) {
            check_query(&filter, &default, None, Some("alice"), f);
        }
    }
}
