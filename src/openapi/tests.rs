use super::schemas::ErrorCode;
use super::{document, OPERATIONS};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// Every (method, path) registered with `.route("…", get(…).post(…))` anywhere in `src/`.
fn routed() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    collect(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let needle = concat!(".", "route(");
    let mut found = BTreeSet::new();
    for text in files {
        let mut rest = text.as_str();
        while let Some(at) = rest.find(needle) {
            rest = &rest[at + needle.len()..];
            let args = call_args(rest);
            let trimmed = args.trim_start();
            let Some(lit) = trimmed.strip_prefix('"') else { continue };
            let Some(end) = lit.find('"') else { continue };
            let path = &lit[..end];
            if !path.starts_with('/') {
                continue;
            }
            let handlers = &lit[end..];
            for m in ["get", "post", "put", "patch", "delete"] {
                let call = format!("{m}(");
                let hit = handlers.match_indices(&call).any(|(i, _)| {
                    i == 0 || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric() && handlers.as_bytes()[i - 1] != b'_'
                });
                if hit {
                    found.insert((m.to_owned(), path.to_owned()));
                }
            }
        }
    }
    found
}

fn collect(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            if let Ok(t) = std::fs::read_to_string(&p) {
                out.push(t);
            }
        }
    }
}

/// The text of a call's arguments up to its closing parenthesis (strings skipped).
fn call_args(s: &str) -> &str {
    let (mut depth, mut in_str, mut escaped) = (1usize, false, false);
    for (i, c) in s.char_indices() {
        if in_str {
            match (c, escaped) {
                (_, true) => escaped = false,
                ('\\', false) => escaped = true,
                ('"', false) => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..i];
                }
            }
            _ => {}
        }
    }
    s
}

#[test]
fn every_route_is_documented_and_every_operation_routed() {
    let routed = routed();
    assert!(routed.len() > 40, "the source scan found only {routed:?}");
    let documented: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|o| (o.method.to_owned(), o.path.to_owned()))
        .collect();
    let missing: Vec<_> = routed.difference(&documented).collect();
    assert!(missing.is_empty(), "routes missing from the OpenAPI table: {missing:?}");
    let stale: Vec<_> = documented.difference(&routed).collect();
    assert!(stale.is_empty(), "documented operations that no router has: {stale:?}");
    assert_eq!(documented.len(), OPERATIONS.len(), "an operation is listed twice");
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let doc = document();
    let mut all = Vec::new();
    refs(doc, &mut all);
    assert!(all.len() > 50);
    for r in all {
        let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("external reference {r}"));
        assert!(doc.pointer(pointer).is_some(), "dangling reference {r}");
    }
}

#[test]
fn error_codes_cover_rest_and_realtime_refusals() {
    let doc = document();
    let listed: BTreeSet<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(listed.len(), ErrorCode::ALL.len());
    use crate::protocol::ErrorCode as P;
    for p in [
        P::InvalidJson,
        P::UnknownType,
        P::InvalidMessage,
        P::InvalidFilter,
        P::Unauthorized,
        P::Forbidden,
        P::TokenExpired,
        P::CursorExpired,
        P::RateLimited,
        P::PayloadTooLarge,
        P::LimitExceeded,
        P::NotFound,
        P::Unavailable,
        P::Internal,
    ] {
        assert!(listed.contains(p.as_str()), "{} missing", p.as_str());
    }
    let retry = &doc["components"]["responses"]["E429"]["headers"]["Retry-After"];
    assert!(retry.is_object(), "429 documents Retry-After");
}

#[test]
fn security_schemes_and_ids() {
    let doc = document();
    let s = &doc["components"]["securitySchemes"];
    assert_eq!(s["bearer"]["scheme"], "bearer");
    assert_eq!(s["apiKey"]["name"], "x-api-key");
    let mut ids = BTreeSet::new();
    for (_, item) in doc["paths"].as_object().expect("paths") {
        for (_, op) in item.as_object().expect("item") {
            assert!(ids.insert(op["operationId"].as_str().expect("id").to_owned()), "{op}");
        }
    }
}
