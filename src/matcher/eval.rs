//! In-memory evaluation of filter conditions against a [`DocRef`].
//!
//! Owns the value semantics that the SQL compiler must mirror: path lookup
//! (including PostgreSQL's `#>` array indexing), deep equality with numeric
//! normalisation (jsonb `=`), and type-aware ordering. Evaluation borrows
//! from the document and allocates nothing except in one rare numeric case.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use super::{Cond, DocRef, JsonField, JsonTest, MetaTest, Rel, TimeField};

/// Follows `path` like PostgreSQL's `jsonb #> text[]`: object keys by name,
/// array elements by a 32-bit decimal index (negative counts from the end).
pub(crate) fn lookup<'v>(root: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut cur = root;
    for seg in path {
        cur = match cur {
            Value::Object(m) => m.get(seg.as_str())?,
            Value::Array(items) => {
                let i: i32 = seg.parse().ok()?;
                let idx = if i >= 0 {
                    usize::try_from(i).ok()?
                } else {
                    let back = usize::try_from(i.unsigned_abs()).ok()?;
                    items.len().checked_sub(back)?
                };
                items.get(idx)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// A borrowed JSON value; lets `$owner` (a plain `Option<&str>`) be tested
/// with the same code as data fields without building a `Value`.
#[derive(Clone, Copy)]
enum Val<'a> {
    Null,
    Bool(bool),
    Num(&'a Number),
    Str(&'a str),
    Arr(&'a [Value]),
    Obj(&'a Map<String, Value>),
}

fn view(v: &Value) -> Val<'_> {
    match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => Val::Num(n),
        Value::String(s) => Val::Str(s),
        Value::Array(a) => Val::Arr(a),
        Value::Object(o) => Val::Obj(o),
    }
}

pub(crate) fn cond(c: &Cond, doc: &DocRef<'_>) -> bool {
    match c {
        Cond::Json(JsonField::Data(path), t) => json_test(t, lookup(doc.data, path).map(view)),
        Cond::Json(JsonField::Owner, t) => json_test(t, Some(doc.owner.map_or(Val::Null, Val::Str))),
        Cond::Id(t) => meta_test(t, &doc.id, |a, b| a.cmp(b)),
        Cond::Time(f, t) => {
            let at = match f {
                TimeField::CreatedAt => doc.created_at,
                TimeField::UpdatedAt => doc.updated_at,
            };
            // Both sides at microsecond precision, as stored by PostgreSQL.
            let at = at.timestamp_micros();
            meta_test(t, &at, |a, b| a.cmp(&b.timestamp_micros()))
        }
    }
}

fn meta_test<A, T>(t: &MetaTest<T>, actual: &A, cmp: impl Fn(&A, &T) -> Ordering) -> bool {
    match t {
        MetaTest::Rel(rel, v) => rel.holds(cmp(actual, v)),
        MetaTest::In(items) => items.iter().any(|v| cmp(actual, v) == Ordering::Equal),
        MetaTest::NotIn(items) => !items.iter().any(|v| cmp(actual, v) == Ordering::Equal),
    }
}

/// `x` is `None` when the field is missing.
fn json_test(t: &JsonTest, x: Option<Val<'_>>) -> bool {
    match t {
        JsonTest::Rel(Rel::Eq, v) => x.is_some_and(|x| val_eq(x, v)),
        JsonTest::Rel(Rel::Ne, v) => !x.is_some_and(|x| val_eq(x, v)),
        JsonTest::Rel(rel, v) => match (x, v) {
            (Some(Val::Num(a)), Value::Number(b)) => rel.holds(num_cmp(a, b)),
            (Some(Val::Str(a)), Value::String(b)) => rel.holds(a.cmp(b.as_str())),
            _ => false,
        },
        JsonTest::Contains(v) => match (x, v) {
            (Some(Val::Str(s)), Value::String(needle)) => s.contains(needle.as_str()),
            (Some(Val::Arr(items)), v) => items.iter().any(|i| val_eq(view(i), v)),
            _ => false,
        },
        JsonTest::StartsWith(p) => matches!(x, Some(Val::Str(s)) if s.starts_with(p.as_str())),
        JsonTest::EndsWith(p) => matches!(x, Some(Val::Str(s)) if s.ends_with(p.as_str())),
        JsonTest::In(items) => x.is_some_and(|x| items.iter().any(|v| val_eq(x, v))),
        JsonTest::NotIn(items) => !x.is_some_and(|x| items.iter().any(|v| val_eq(x, v))),
        JsonTest::IsNull(want) => matches!(x, None | Some(Val::Null)) == *want,
    }
}

/// Deep equality with jsonb `=` semantics: numbers compare by value,
/// object key order is irrelevant, array order matters.
fn val_eq(x: Val<'_>, v: &Value) -> bool {
    match (x, v) {
        (Val::Null, Value::Null) => true,
        (Val::Bool(a), Value::Bool(b)) => a == *b,
        (Val::Num(a), Value::Number(b)) => num_cmp(a, b) == Ordering::Equal,
        (Val::Str(a), Value::String(b)) => a == b,
        (Val::Arr(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| val_eq(view(x), y)),
        (Val::Obj(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, x)| b.get(k).is_some_and(|y| val_eq(view(x), y)))
        }
        _ => false,
    }
}

/// Integers up to 2^53 convert to f64 exactly.
const EXACT_F64_INT: u64 = 1 << 53;

/// Orders two JSON numbers as PostgreSQL's `numeric` orders their JSON
/// text: integers exactly, floats by their shortest round-trip decimal
/// (which is what serde_json sends and PostgreSQL stores).
pub(crate) fn num_cmp(a: &Number, b: &Number) -> Ordering {
    if let (Some(x), Some(y)) = (int_of(a), int_of(b)) {
        return x.cmp(&y);
    }
    if a.is_f64() && b.is_f64() {
        // Shortest decimals preserve the order of the doubles they denote.
        return float_cmp(a, b);
    }
    let small = |n: &Number| int_of(n).is_none_or(|i| i.unsigned_abs() <= u128::from(EXACT_F64_INT));
    if small(a) && small(b) {
        return float_cmp(a, b);
    }
    decimal_cmp(&a.to_string(), &b.to_string())
}

fn int_of(n: &Number) -> Option<i128> {
    n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from))
}

fn float_cmp(a: &Number, b: &Number) -> Ordering {
    let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
    x.partial_cmp(&y).unwrap_or(Ordering::Equal)
}

/// A decimal as sign, significant digits (no leading/trailing zeros) and
/// exponent, meaning `0.DIGITS × 10^exp`.
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exp: i64,
}

fn parse_decimal(s: &str) -> Decimal {
    let (negative, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (mantissa, exp_part) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let exp10: i64 = exp_part.trim_start_matches('+').parse().unwrap_or(0);
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    let int_len = i64::try_from(int_part.len()).unwrap_or(i64::MAX);
    let lead = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..lead);
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    let exp = int_len - i64::try_from(lead).unwrap_or(0) + exp10;
    Decimal {
        negative: negative && !digits.is_empty(),
        digits,
        exp,
    }
}

/// Exact comparison of two JSON number texts.
fn decimal_cmp(a: &str, b: &str) -> Ordering {
    let (x, y) = (parse_decimal(a), parse_decimal(b));
    let sign = |d: &Decimal| match (d.digits.is_empty(), d.negative) {
        (true, _) => 0,
        (false, true) => -1,
        (false, false) => 1,
    };
    let (sx, sy) = (sign(&x), sign(&y));
    if sx != sy || sx == 0 {
        return sx.cmp(&sy);
    }
    let magnitude = x.exp.cmp(&y.exp).then_with(|| x.digits.cmp(&y.digits));
    if sx < 0 {
        magnitude.reverse()
    } else {
        magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn n(v: Value) -> Number {
        match v {
            Value::Number(n) => n,
            other => panic!("not a number: {other}"),
        }
    }

    #[test]
    fn numbers_compare_by_decimal_value() {
        let cases = [
            (json!(1), json!(1.0), Ordering::Equal),
            (json!(-0.0), json!(0), Ordering::Equal),
            (json!(2), json!(1.5), Ordering::Greater),
            (json!(-3), json!(-2.5), Ordering::Less),
            (json!(u64::MAX), json!(i64::MIN), Ordering::Greater),
            (json!(1u64 << 60), json!(1152921504606847000u64), Ordering::Less),
            // 2^60 as a double is sent to PostgreSQL as 1.152921504606847e18.
            (
                json!((1u64 << 60) as f64),
                json!(1152921504606847000u64),
                Ordering::Equal,
            ),
            (json!(9007199254740993u64), json!(9007199254740992.0), Ordering::Greater),
            (json!(-9007199254740993i64), json!(-9007199254740992.0), Ordering::Less),
            (json!(1e300), json!(u64::MAX), Ordering::Greater),
            (json!(-1e300), json!(i64::MIN), Ordering::Less),
            (json!(0.1), json!(0), Ordering::Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(num_cmp(&n(a.clone()), &n(b.clone())), want, "{a} vs {b}");
            assert_eq!(num_cmp(&n(b.clone()), &n(a.clone())), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn decimal_parsing() {
        assert_eq!(decimal_cmp("1.5e3", "1500"), Ordering::Equal);
        assert_eq!(decimal_cmp("0.00012", "1.2e-4"), Ordering::Equal);
        assert_eq!(decimal_cmp("-0", "0"), Ordering::Equal);
        assert_eq!(decimal_cmp("-12", "-1.2e1"), Ordering::Equal);
        assert_eq!(decimal_cmp("10", "9.99"), Ordering::Greater);
        assert_eq!(decimal_cmp("-10", "-9.99"), Ordering::Less);
    }

    #[test]
    fn lookup_follows_postgres_path_rules() {
        let doc = json!({"a": {"b": [10, 20, {"c": true}]}, "0": "zero"});
        let p = |s: &str| s.split('.').map(str::to_owned).collect::<Vec<_>>();
        let cases = [
            ("a.b.0", Some(json!(10))),
            ("a.b.-1.c", Some(json!(true))),
            ("a.b.-3", Some(json!(10))),
            ("a.b.-4", None),
            ("a.b.3", None),
            ("a.b.01", Some(json!(20))),
            ("a.b.x", None),
            ("a.b.2147483648", None),
            ("a.b.-2147483648", None),
            ("0", Some(json!("zero"))),
            ("a.b.0.x", None),
            ("missing", None),
        ];
        for (path, want) in cases {
            assert_eq!(lookup(&doc, &p(path)).cloned(), want, "{path}");
        }
    }

    #[test]
    fn deep_equality_is_jsonb_equality() {
        let cases = [
            (json!({"a": 1, "b": [1, 2]}), json!({"b": [1.0, 2], "a": 1.0}), true),
            (json!([1, 2]), json!([2, 1]), false),
            (json!({"a": 1}), json!({"a": 1, "b": null}), false),
            (json!([1]), json!(1), false),
            (json!("1"), json!(1), false),
            (json!(null), json!(false), false),
        ];
        for (a, b, want) in cases {
            assert_eq!(val_eq(view(&a), &b), want, "{a} = {b}");
        }
    }
}
