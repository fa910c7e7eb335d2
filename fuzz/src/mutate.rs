//! Mutations: byte-level (AFL-style "havoc") and JSON-structure-aware, plus
//! small generators of interesting JSON values.

use crate::rng::Rng;
use serde_json::{Map, Number, Value};

/// Tokens a target wants spliced into its inputs, and JSON object keys that
/// mean something to it.
pub struct Dict {
    /// Byte strings inserted or overwritten anywhere.
    pub tokens: &'static [&'static str],
    /// Object keys for structural mutations.
    pub keys: &'static [&'static str],
}

/// Tokens useful for any JSON-speaking target.
pub const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\\",
    "null",
    "true",
    "false",
    "-0",
    "0",
    "1",
    "-1",
    "1.5",
    "1e308",
    "-1e308",
    "1e400",
    "5e-324",
    "9007199254740993",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "\\u0000",
    "\\ud800",
    "\\udc00",
    "\\ud83d\\ude00",
    "\\\"",
    "\\\\",
    "\\/",
    "{}",
    "[]",
    "\"\"",
    " ",
    "\t",
    "\n",
    "\u{feff}",
    "é",
    "\u{1F600}",
    "\u{202e}",
    "%",
    "%00",
    "\0",
];

/// Byte sequences that are not valid UTF-8.
const BAD_UTF8: &[&[u8]] = &[
    &[0xff],
    &[0xfe, 0xff],
    &[0xc3],
    &[0xc0, 0x80],
    &[0xe0, 0x80, 0x80],
    &[0xed, 0xa0, 0x80],
    &[0xf4, 0x90, 0x80, 0x80],
    &[0xf8, 0x88, 0x80, 0x80, 0x80],
    &[0x80],
    &[0xe2, 0x82],
];

/// Numbers at the edges of what JSON parsers, f64 and i64 handle.
const HUGE_NUMBERS: &[&str] = &[
    "1e400",
    "-1e400",
    "1e-400",
    "1E+308",
    "2.2250738585072014e-308",
    "4.9e-324",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "123456789012345678901234567890123456789",
    "0.000000000000000000000000000000000000001",
    "1.7976931348623157e308",
    "-0.0",
    "00",
    "01",
    "1.",
    ".5",
    "+1",
    "1e",
    "NaN",
    "Infinity",
];

const INTERESTING_BYTES: &[u8] = b"\0\x01\x7f\x80\xff\"\\{}[],:._-$%&=+#' \n";

/// Applies 1 to 8 stacked byte-level mutations.
pub fn havoc(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], dict: &Dict, max_len: usize) {
    let rounds = 1 + rng.small(7);
    for _ in 0..rounds {
        byte_mutation(rng, data, other, dict);
    }
    data.truncate(max_len);
}

fn byte_mutation(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], dict: &Dict) {
    let len = data.len();
    let pos = rng.below(len + 1);
    match rng.below(16) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = *rng.pick(INTERESTING_BYTES).unwrap_or(&0);
        }
        2 => {
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            data.splice(pos..pos, bytes);
        }
        3 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.small(len - start)).min(len);
            data.drain(start..end);
        }
        4 if len > 0 => {
            // Duplicate a range somewhere else.
            let start = rng.below(len);
            let end = (start + 1 + rng.small(len - start)).min(len);
            let chunk = data[start..end].to_vec();
            data.splice(pos..pos, chunk);
        }
        5 if !other.is_empty() => {
            // Splice: our prefix, their suffix.
            let cut = rng.below(other.len());
            data.truncate(pos);
            data.extend_from_slice(&other[cut..]);
        }
        6 | 7 => {
            let tok = if rng.one_in(2) {
                rng.pick(dict.tokens).copied()
            } else {
                rng.pick(JSON_TOKENS).copied()
            };
            if let Some(tok) = tok {
                if rng.one_in(3) && len > 0 {
                    let end = (pos + tok.len()).min(len);
                    data.splice(pos..end, tok.bytes());
                } else {
                    data.splice(pos..pos, tok.bytes());
                }
            }
        }
        8 => {
            if let Some(bad) = rng.pick(BAD_UTF8) {
                data.splice(pos..pos, bad.iter().copied());
            }
        }
        9 if rng.one_in(4) => {
            // A long run of one token (long strings, long lists, long keys).
            let tok: &[u8] = match rng.below(4) {
                0 => b"a",
                1 => b"1,",
                2 => b"\\u0041",
                _ => rng.pick(dict.tokens).map(|t| t.as_bytes()).unwrap_or(b"x"),
            };
            let n = 1 + rng.small(70_000 / tok.len().max(1));
            let run: Vec<u8> = tok.iter().copied().cycle().take(n * tok.len()).collect();
            data.splice(pos..pos, run);
        }
        10 => replace_number(rng, data),
        11 if rng.one_in(3) => {
            // Deep nesting, around the parser's recursion limit.
            let depth = if rng.one_in(2) {
                120 + rng.below(20)
            } else {
                1 + rng.small(600)
            };
            let (open, close): (&[u8], &[u8]) = match rng.below(3) {
                0 => (b"[", b"]"),
                1 => (b"{\"a\":", b"}"),
                _ => (b"{\"type\":", b"}"),
            };
            let mut nest = open.repeat(depth);
            nest.extend_from_slice(b"1");
            nest.extend_from_slice(&close.repeat(depth));
            data.splice(pos..pos, nest);
        }
        12 if len > 0 => data.truncate(rng.below(len)),
        13 if len > 1 => {
            let (i, j) = (rng.below(len), rng.below(len));
            data.swap(i, j);
        }
        14 if len > 0 => {
            let i = rng.below(len);
            data[i] = data[i].wrapping_add((rng.below(33) as u8).wrapping_sub(16));
        }
        15 if len > 0 && !other.is_empty() => {
            // Overwrite a range with a piece of another input.
            let start = rng.below(other.len());
            let n = (1 + rng.small(other.len() - start)).min(other.len() - start);
            let end = (pos + n).min(len);
            data.splice(pos..end, other[start..start + n].iter().copied());
        }
        _ => {
            if let Some(tok) = rng.pick(dict.tokens) {
                data.splice(pos..pos, tok.bytes());
            }
        }
    }
}

/// Replaces a run of digits (or inserts) with an edge-case number text.
fn replace_number(rng: &mut Rng, data: &mut Vec<u8>) {
    let Some(num) = rng.pick(HUGE_NUMBERS) else { return };
    let digits: Vec<usize> = data
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    match rng.pick(&digits) {
        Some(&i) => {
            let mut end = i;
            while end < data.len() && (data[end].is_ascii_digit() || b".eE+-".contains(&data[end])) {
                end += 1;
            }
            data.splice(i..end, num.bytes());
        }
        None => {
            let pos = rng.below(data.len() + 1);
            data.splice(pos..pos, num.bytes());
        }
    }
}

// --- JSON-structure-aware mutations ------------------------------------------

/// Mutates the JSON document in `data` structurally; false when `data` is not
/// JSON (the caller then falls back to byte mutations).
pub fn json_mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], dict: &Dict) -> bool {
    let Ok(mut v) = serde_json::from_slice::<Value>(data) else {
        return false;
    };
    let donor = serde_json::from_slice::<Value>(other).ok();
    let rounds = 1 + rng.small(3);
    for _ in 0..rounds {
        mutate_value(rng, &mut v, donor.as_ref(), dict);
    }
    let mut text = v.to_string().into_bytes();
    if rng.one_in(6) {
        duplicate_key(rng, &mut text, &v);
    }
    *data = text;
    true
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(m) => m.values().map(count).sum(),
        _ => 0,
    }
}

fn nth_mut<'v>(v: &'v mut Value, n: &mut usize) -> Option<&'v mut Value> {
    if *n == 0 {
        return Some(v);
    }
    *n -= 1;
    match v {
        Value::Array(a) => {
            for x in a.iter_mut() {
                if let Some(found) = nth_mut(x, n) {
                    return Some(found);
                }
            }
            None
        }
        Value::Object(m) => {
            for x in m.values_mut() {
                if let Some(found) = nth_mut(x, n) {
                    return Some(found);
                }
            }
            None
        }
        _ => None,
    }
}

fn nth(v: &Value, n: &mut usize) -> Option<Value> {
    if *n == 0 {
        return Some(v.clone());
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter().find_map(|x| nth(x, n)),
        Value::Object(m) => m.values().find_map(|x| nth(x, n)),
        _ => None,
    }
}

/// A random sub-value of `v`.
fn random_node(rng: &mut Rng, v: &Value) -> Option<Value> {
    let mut n = rng.below(count(v));
    nth(v, &mut n)
}

fn mutate_value(rng: &mut Rng, root: &mut Value, donor: Option<&Value>, dict: &Dict) {
    let mut n = rng.below(count(root));
    let transplant = match donor {
        Some(d) if rng.one_in(6) => random_node(rng, d),
        _ => None,
    };
    let Some(node) = nth_mut(root, &mut n) else { return };
    if let Some(t) = transplant {
        *node = t;
        return;
    }
    match rng.below(9) {
        0 => *node = interesting_scalar(rng),
        1 => *node = gen_value(rng, 3, dict),
        2 => {
            // Wrap: shallow usually, sometimes past the parser's depth limit.
            let depth = if rng.one_in(8) {
                100 + rng.below(60)
            } else {
                1 + rng.below(3)
            };
            for _ in 0..depth {
                let inner = std::mem::take(node);
                *node = if rng.one_in(2) {
                    Value::Array(vec![inner])
                } else {
                    let key = rng.pick(dict.keys).copied().unwrap_or("a").to_owned();
                    let mut m = Map::new();
                    m.insert(key, inner);
                    Value::Object(m)
                };
            }
        }
        3 => {
            if let Value::Object(m) = node {
                mutate_object(rng, m, dict);
            } else {
                *node = gen_value(rng, 2, dict);
            }
        }
        4 => {
            if let Value::Array(a) = node {
                mutate_array(rng, a, dict);
            } else {
                *node = Value::Array(vec![std::mem::take(node)]);
            }
        }
        5 => {
            if let Value::String(s) = node {
                mutate_string(rng, s, dict);
            } else {
                *node = Value::String(gen_string(rng, dict));
            }
        }
        6 => *node = edge_number(rng),
        7 => {
            // Type confusion: a value's text as a string, a string's content as JSON.
            let replaced = match &*node {
                Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
                other => Value::String(other.to_string()),
            };
            *node = replaced;
        }
        _ => {
            if let Value::Object(m) = node {
                mutate_object(rng, m, dict);
            } else {
                *node = Value::Null;
            }
        }
    }
}

fn mutate_object(rng: &mut Rng, m: &mut Map<String, Value>, dict: &Dict) {
    let keys: Vec<String> = m.keys().cloned().collect();
    match rng.below(5) {
        0 | 1 => {
            let key = gen_key(rng, dict);
            m.insert(key, gen_value(rng, 2, dict));
        }
        2 => {
            if let Some(k) = rng.pick(&keys) {
                m.remove(k);
            }
        }
        3 => {
            // Rename a key, keeping the value.
            if let Some(k) = rng.pick(&keys).cloned() {
                if let Some(v) = m.remove(&k) {
                    let mut nk = k;
                    mutate_string(rng, &mut nk, dict);
                    m.insert(nk, v);
                }
            }
        }
        _ => {
            // Many keys at once (condition limits).
            let n = 1 + rng.small(80);
            for i in 0..n {
                let base = gen_key(rng, dict);
                m.insert(format!("{base}{i}"), interesting_scalar(rng));
            }
        }
    }
}

fn mutate_array(rng: &mut Rng, a: &mut Vec<Value>, dict: &Dict) {
    match rng.below(5) {
        0 => a.push(interesting_scalar(rng)),
        1 if !a.is_empty() => {
            let i = rng.below(a.len());
            a.remove(i);
        }
        2 if !a.is_empty() => {
            let i = rng.below(a.len());
            let v = a[i].clone();
            a.push(v);
        }
        3 => {
            // Around the list-length limit.
            let n = if rng.one_in(2) {
                999 + rng.below(4)
            } else {
                rng.small(3000)
            };
            let fill = a.first().cloned().unwrap_or_else(|| interesting_scalar(rng));
            a.resize(n, fill);
        }
        _ => a.push(gen_value(rng, 2, dict)),
    }
}

fn mutate_string(rng: &mut Rng, s: &mut String, dict: &Dict) {
    match rng.below(7) {
        0 => {
            if let Some(t) = rng.pick(dict.tokens) {
                s.push_str(t);
            }
        }
        1 => {
            if let Some(t) = rng.pick(dict.tokens) {
                s.insert_str(0, t);
            }
        }
        2 => s.push('\0'),
        3 => {
            let n = 1 + rng.small(70_000);
            *s = "x".repeat(n);
        }
        4 => {
            let odd = [
                "é",
                "\u{1F600}",
                "\u{202e}",
                "\u{fffd}",
                "\u{feff}",
                "İ",
                "ß",
                "\r\n",
                "\\",
                "\"",
            ];
            if let Some(t) = rng.pick(&odd) {
                let at = floor_char_boundary(s, rng.below(s.len() + 1));
                s.insert_str(at, t);
            }
        }
        5 => {
            let at = floor_char_boundary(s, rng.below(s.len() + 1));
            s.truncate(at);
        }
        _ => *s = gen_string(rng, dict),
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i.min(s.len())
}

/// Inserts `"key":value,` right after an opening brace of the serialised text,
/// repeating a key the document already has (a duplicate key).
fn duplicate_key(rng: &mut Rng, text: &mut Vec<u8>, v: &Value) {
    let mut keys = Vec::new();
    collect_keys(v, &mut keys, 64);
    let Some(key) = rng.pick(&keys) else { return };
    // Opening braces outside strings.
    let mut braces = Vec::new();
    let (mut in_str, mut esc) = (false, false);
    for (i, &b) in text.iter().enumerate() {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else if b == b'"' {
            in_str = true;
        } else if b == b'{' && text.get(i + 1) != Some(&b'}') {
            braces.push(i + 1);
        }
    }
    let Some(&at) = rng.pick(&braces) else { return };
    let value = interesting_scalar(rng);
    let member = format!("{}:{},", Value::String(key.clone()), value);
    text.splice(at..at, member.into_bytes());
}

fn collect_keys(v: &Value, out: &mut Vec<String>, cap: usize) {
    if out.len() >= cap {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                collect_keys(x, out, cap);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_keys(x, out, cap)),
        _ => {}
    }
}

// --- generators ----------------------------------------------------------------

/// A scalar chosen from edge cases.
pub fn interesting_scalar(rng: &mut Rng) -> Value {
    match rng.below(14) {
        0 => Value::Null,
        1 => Value::Bool(true),
        2 => Value::Bool(false),
        3 => Value::from(rng.below(4) as i64 - 1),
        4 => edge_number(rng),
        5 => Value::from(""),
        6 => Value::from("a"),
        7 => Value::from("\u{0}"),
        8 => Value::from("67e55044-10b1-426f-9247-bb680e5fe0c8"),
        9 => Value::from("2024-05-01T12:00:00.123456Z"),
        10 => Value::from("x".repeat(1 + rng.small(5000))),
        11 => Value::from("é\u{1F600}"),
        12 => Value::from(rng.next_u64() as i64),
        _ => Value::from(f64::from_bits(rng.next_u64()).clamp(-1e300, 1e300)),
    }
}

/// A number at a representational edge.
pub fn edge_number(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::from(u64::MAX),
        1 => Value::from(i64::MIN),
        2 => Value::from(i64::MAX),
        3 => Value::from(9_007_199_254_740_993u64),
        4 => Number::from_f64(9_007_199_254_740_992.0).map_or(Value::Null, Value::Number),
        5 => Number::from_f64(-0.0).map_or(Value::Null, Value::Number),
        6 => Number::from_f64(f64::MAX).map_or(Value::Null, Value::Number),
        7 => Number::from_f64(f64::MIN_POSITIVE).map_or(Value::Null, Value::Number),
        8 => Number::from_f64(5e-324).map_or(Value::Null, Value::Number),
        9 => Number::from_f64(1.5).map_or(Value::Null, Value::Number),
        10 => Value::from(1u64 << 60),
        _ => Number::from_f64((1u64 << 60) as f64).map_or(Value::Null, Value::Number),
    }
}

/// A key: from the dictionary, sometimes decorated.
pub fn gen_key(rng: &mut Rng, dict: &Dict) -> String {
    let mut k = rng.pick(dict.keys).copied().unwrap_or("a").to_owned();
    if rng.one_in(4) {
        mutate_string(rng, &mut k, dict);
    }
    k
}

/// A string: a dictionary token, an edge case or random text.
pub fn gen_string(rng: &mut Rng, dict: &Dict) -> String {
    match rng.below(4) {
        0 => rng.pick(dict.tokens).copied().unwrap_or("").to_owned(),
        1 => rng.pick(dict.keys).copied().unwrap_or("").to_owned(),
        2 => match interesting_scalar(rng) {
            Value::String(s) => s,
            other => other.to_string(),
        },
        _ => {
            let n = rng.small(24);
            (0..n)
                .map(|_| char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'))
                .collect()
        }
    }
}

/// A random JSON value of bounded depth.
pub fn gen_value(rng: &mut Rng, depth: usize, dict: &Dict) -> Value {
    if depth == 0 || rng.one_in(2) {
        return if rng.one_in(3) {
            Value::String(gen_string(rng, dict))
        } else {
            interesting_scalar(rng)
        };
    }
    if rng.one_in(2) {
        let n = rng.small(5);
        Value::Array((0..n).map(|_| gen_value(rng, depth - 1, dict)).collect())
    } else {
        let n = rng.small(5);
        let mut m = Map::new();
        for _ in 0..n {
            m.insert(gen_key(rng, dict), gen_value(rng, depth - 1, dict));
        }
        Value::Object(m)
    }
}
