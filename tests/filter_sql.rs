//! Property tests of the matcher against a real PostgreSQL: compiled SQL
//! selects exactly the documents `Filter::matches` selects (both input
//! forms, metadata fields, OR groups), and keyset pagination over random
//! sorts visits every row once, in `ORDER BY` order, despite concurrent
//! inserts. Each test runs in a fresh database that is dropped afterwards.
//!
//! Env: `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! `FILTER_SQL_SEED` to replay a run, `FILTER_SQL_CASES` to scale it.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use chrono::{DateTime, SecondsFormat, Utc};
use eddy::matcher::{Cursor, DocRef, Filter, Sort};
use eddy::store::build_list_query;

/// "" (plain equality) and every operator suffix.
fn ops() -> Vec<&'static str> {
    std::iter::once("")
        .chain(eddy::matcher::OPERATORS.iter().copied())
        .collect()
}
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool, QueryBuilder, Row};
use uuid::Uuid;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Creates a fresh database, runs `body` on it, drops it, then re-raises
/// any panic so failures do not leak databases.
async fn with_db<F, Fut>(body: F)
where
    F: FnOnce(PgPool) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin_opts: PgConnectOptions = url.parse().expect("DATABASE_URL is a postgres URL");
    let name = format!("eddy_filter_{:016x}", rand::random::<u64>());
    let mut admin = PgConnection::connect_with(&admin_opts)
        .await
        .expect("connect to PostgreSQL (set DATABASE_URL)");
    // A non-byte-order default collation (ICU, where available) proves the
    // SQL does not depend on the database collation for string comparisons.
    let icu = format!("CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'");
    if admin.execute(icu.as_str()).await.is_err() {
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
    }
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(admin_opts.clone().database(&name))
        .await
        .expect("connect to test database");
    let setup = async {
        sqlx::migrate!("./migrations").run(&pool).await?;
        sqlx::query("INSERT INTO collections(name, rules) VALUES ('c', '{}')")
            .execute(&pool)
            .await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .await;
    let outcome: Result<(), Box<dyn std::any::Any + Send>> = match setup {
        Ok(()) => match tokio::spawn(body(pool.clone())).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_panic() => Err(e.into_panic()),
            Err(e) => Err(Box::new(format!("test task failed: {e}"))),
        },
        Err(e) => Err(Box::new(format!("setup failed: {e}"))),
    };
    pool.close().await;
    admin
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .expect("drop test database");
    if let Err(payload) = outcome {
        std::panic::resume_unwind(payload);
    }
}

const STRINGS: &[&str] = &[
    "",
    "a",
    "A",
    "ab",
    "aB",
    "b",
    "B",
    "é",
    "É",
    "e",
    "ä",
    "z",
    "日本",
    "日",
    "a,b",
    "\"q\"",
    "10",
    "9",
    "true",
    "null",
    "x y",
    "Émile",
    "émile",
    "ab\u{1F600}",
    "\u{1F600}",
];

fn scalar(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..10) {
        0..=2 => json!(rng.gen_range(-3..=3)),
        3 => [
            json!(0.5),
            json!(1.0),
            json!(-2.5),
            json!(2.0),
            json!(1e20),
            json!(0.1),
            json!(0.30000000000000004),
            json!(-0.0),
        ]
        .choose(rng)
        .expect("non-empty")
        .clone(),
        4 => [
            json!(9007199254740993u64),
            json!(9007199254740992.0),
            json!(1u64 << 60),
            json!((1u64 << 60) as f64),
            json!(1152921504606847000u64),
            json!(-9007199254740993i64),
        ]
        .choose(rng)
        .expect("non-empty")
        .clone(),
        5..=7 => json!(STRINGS.choose(rng).expect("non-empty")),
        8 => json!(rng.gen_bool(0.5)),
        _ => Value::Null,
    }
}

fn value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..10) {
        0 if depth < 2 => Value::Array((0..rng.gen_range(0..4)).map(|_| value(rng, depth + 1)).collect()),
        1 if depth < 2 => {
            let mut m = Map::new();
            for k in ["x", "y"] {
                if rng.gen_bool(0.6) {
                    m.insert(k.into(), value(rng, depth + 1));
                }
            }
            Value::Object(m)
        }
        _ => scalar(rng),
    }
}

fn random_data(rng: &mut StdRng) -> Value {
    let mut m = Map::new();
    for k in ["a", "b", "s", "t"] {
        if rng.gen_bool(0.85) {
            m.insert(k.into(), value(rng, 0));
        }
    }
    if rng.gen_bool(0.8) {
        let mut o = Map::new();
        if rng.gen_bool(0.8) {
            o.insert("x".into(), value(rng, 1));
        }
        if rng.gen_bool(0.7) {
            o.insert("y".into(), json!({"z": scalar(rng)}));
        }
        m.insert("o".into(), Value::Object(o));
    }
    if rng.gen_bool(0.8) {
        m.insert(
            "arr".into(),
            Value::Array((0..rng.gen_range(0..5)).map(|_| scalar(rng)).collect()),
        );
    }
    Value::Object(m)
}

const OWNERS: &[Option<&str>] = &[None, Some("alice"), Some("Alice"), Some("bob"), Some("émile"), Some("")];

/// Few distinct instants so sort keys tie often; includes pre-1970 times.
fn times() -> Vec<DateTime<Utc>> {
    [
        "1969-12-31T23:59:59.999999Z",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.000001Z",
        "2024-01-01T00:00:00.5Z",
        "2024-03-10T12:34:56.789012Z",
        "2025-06-30T23:59:59.999999Z",
    ]
    .iter()
    .map(|s| DateTime::parse_from_rfc3339(s).expect("valid time").with_timezone(&Utc))
    .collect()
}

async fn insert_random(pool: &PgPool, rng: &mut StdRng, n: usize) {
    let ts = times();
    for _ in 0..n {
        sqlx::query(
            "INSERT INTO documents (id, collection, data, owner, created_at, updated_at) \
             VALUES ($1, 'c', $2, $3, $4, $5)",
        )
        .bind(Uuid::new_v4())
        .bind(random_data(rng))
        .bind(*OWNERS.choose(rng).expect("non-empty"))
        .bind(*ts.choose(rng).expect("non-empty"))
        .bind(*ts.choose(rng).expect("non-empty"))
        .execute(pool)
        .await
        .expect("insert document");
    }
}

struct Doc {
    id: Uuid,
    data: Value,
    owner: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Doc {
    fn as_ref(&self) -> DocRef<'_> {
        DocRef {
            id: self.id,
            data: &self.data,
            owner: self.owner.as_deref(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Docs as read back from PostgreSQL, like the realtime path sees them.
async fn load_docs(pool: &PgPool) -> Vec<Doc> {
    sqlx::query("SELECT id, data, owner, created_at, updated_at FROM documents WHERE collection = 'c'")
        .fetch_all(pool)
        .await
        .expect("load documents")
        .into_iter()
        .map(|r| Doc {
            id: r.get("id"),
            data: r.get("data"),
            owner: r.get("owner"),
            created_at: r.get("created_at"),
            updated_at: r.get("updated_at"),
        })
        .collect()
}

const PATHS: &[&str] = &[
    "a", "b", "s", "t", "o", "o.x", "o.y", "o.y.z", "o.x.0", "arr", "arr.0", "arr.-1", "a.x", "missing",
];

/// A value from a random document at `path`, so filters match sometimes.
fn sample_at<'d>(rng: &mut StdRng, docs: &'d [Doc], path: &str) -> Option<&'d Value> {
    let doc = docs.choose(rng)?;
    let mut cur = &doc.data;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn string_value(rng: &mut StdRng) -> Value {
    // Short needles make substring and prefix tests hit often.
    let short = ["a", "b", "é", "日", "\u{1F600}", "", "É", "A", "x"];
    if rng.gen_bool(0.5) {
        json!(short.choose(rng).expect("non-empty"))
    } else {
        json!(STRINGS.choose(rng).expect("non-empty"))
    }
}

fn time_text(rng: &mut StdRng, t: DateTime<Utc>) -> String {
    match rng.gen_range(0..3) {
        0 => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        1 => t
            .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).expect("valid offset"))
            .to_rfc3339_opts(SecondsFormat::Nanos, false),
        _ => (t + chrono::Duration::microseconds(rng.gen_range(-1..=1))).to_rfc3339_opts(SecondsFormat::Micros, true),
    }
}

/// One random valid condition: its key and JSON-form value.
fn random_cond(rng: &mut StdRng, docs: &[Doc]) -> (String, Value) {
    let group = match rng.gen_range(0..10) {
        0..=5 => "",
        6 | 7 => "[or]",
        8 => "[or:g1]",
        _ => "[or:g2]",
    };
    let list = |rng: &mut StdRng, f: &mut dyn FnMut(&mut StdRng) -> Value| {
        Value::Array((0..rng.gen_range(0..4)).map(|_| f(rng)).collect())
    };
    let (field, op, v) = match rng.gen_range(0..10) {
        0 => {
            let op = *["", "eq", "ne", "in", "notin"].choose(rng).expect("non-empty");
            let mut id = |rng: &mut StdRng| match docs.choose(rng) {
                Some(d) if rng.gen_bool(0.8) => json!(d.id.to_string()),
                _ => json!(Uuid::new_v4().to_string()),
            };
            let v = if op.ends_with("in") {
                list(rng, &mut id)
            } else {
                id(rng)
            };
            ("$id".to_owned(), op, v)
        }
        1 => {
            let op = *ops().choose(rng).expect("non-empty");
            let owner = |rng: &mut StdRng| match OWNERS.choose(rng).copied().flatten() {
                Some(o) if rng.gen_bool(0.7) => json!(o),
                _ => string_value(rng),
            };
            let v = match op {
                "in" | "notin" => list(rng, &mut |rng: &mut StdRng| {
                    if rng.gen_bool(0.2) {
                        Value::Null
                    } else {
                        owner(rng)
                    }
                }),
                "isnull" => json!(rng.gen_bool(0.5)),
                "" | "eq" | "ne" if rng.gen_bool(0.2) => Value::Null,
                _ => owner(rng),
            };
            ("$owner".to_owned(), op, v)
        }
        2 => {
            let field = if rng.gen_bool(0.5) {
                "$created_at"
            } else {
                "$updated_at"
            };
            let op = *["", "eq", "ne", "gt", "gte", "lt", "lte", "in", "notin"]
                .choose(rng)
                .expect("non-empty");
            let ts = times();
            let mut t = |rng: &mut StdRng| {
                let t = *ts.choose(rng).expect("non-empty");
                json!(time_text(rng, t))
            };
            let v = if op.ends_with("in") { list(rng, &mut t) } else { t(rng) };
            (field.to_owned(), op, v)
        }
        _ => {
            let path = *PATHS.choose(rng).expect("non-empty");
            let op = *ops().choose(rng).expect("non-empty");
            let sampled = sample_at(rng, docs, path).cloned();
            let v = match op {
                "" | "eq" | "ne" => match sampled {
                    Some(v) if rng.gen_bool(0.6) => v,
                    _ => scalar(rng),
                },
                "gt" | "gte" | "lt" | "lte" => match sampled {
                    Some(v @ (Value::Number(_) | Value::String(_))) if rng.gen_bool(0.5) => v,
                    _ if rng.gen_bool(0.5) => json!(rng.gen_range(-3..=3)),
                    _ => string_value(rng),
                },
                "contains" => {
                    if rng.gen_bool(0.6) {
                        string_value(rng)
                    } else {
                        scalar(rng)
                    }
                }
                "startswith" | "endswith" => string_value(rng),
                "in" | "notin" => list(rng, &mut |rng: &mut StdRng| match sample_at(rng, docs, path) {
                    Some(v) if !v.is_array() && !v.is_object() && rng.gen_bool(0.5) => v.clone(),
                    _ => scalar(rng),
                }),
                _ => json!(rng.gen_bool(0.5)),
            };
            (path.to_owned(), op, v)
        }
    };
    let key = if op.is_empty() {
        format!("{group}{field}")
    } else {
        format!("{group}{field}__{op}")
    };
    (key, v)
}

/// The URL rendering of a JSON-form value, or `None` if it has none.
fn url_raw(key: &str, v: &Value) -> Option<String> {
    fn item(v: &Value, in_list: bool) -> Option<String> {
        match v {
            Value::String(s) => {
                let quote =
                    serde_json::from_str::<Value>(s).is_ok() || (in_list && (s.contains(',') || s.starts_with('"')));
                Some(if quote {
                    serde_json::to_string(s).ok()?
                } else {
                    s.clone()
                })
            }
            Value::Array(_) | Value::Object(_) => None,
            other => Some(other.to_string()),
        }
    }
    if key.ends_with("__in") || key.ends_with("__notin") {
        let items = v.as_array()?;
        if items.is_empty() {
            return None; // an empty URL value means [""]
        }
        let parts: Option<Vec<String>> = items.iter().map(|i| item(i, true)).collect();
        return parts.map(|p| p.join(","));
    }
    item(v, false)
}

async fn sql_ids(pool: &PgPool, f: &Filter) -> Result<Vec<Uuid>, String> {
    let mut qb = QueryBuilder::new("SELECT d.id FROM documents d WHERE d.collection = 'c' AND ");
    f.push_sql(&mut qb);
    let sql = qb.sql().to_owned();
    let mut ids: Vec<Uuid> = qb
        .build()
        .fetch_all(pool)
        .await
        .map_err(|e| format!("{e}\n{sql}"))?
        .iter()
        .map(|r| r.get("id"))
        .collect();
    ids.sort();
    Ok(ids)
}

#[tokio::test]
async fn sql_agrees_with_matches() {
    let seed = env_u64("FILTER_SQL_SEED").unwrap_or_else(rand::random);
    let cases = env_u64("FILTER_SQL_CASES").unwrap_or(800);
    eprintln!("sql_agrees_with_matches: FILTER_SQL_SEED={seed}");
    with_db(move |pool| async move {
        let mut rng = StdRng::seed_from_u64(seed);
        insert_random(&pool, &mut rng, 250).await;
        let docs = load_docs(&pool).await;
        let mut nonempty = 0;
        for case in 0..cases {
            let mut map = Map::new();
            let mut pairs = Vec::new();
            let mut url_ok = true;
            for _ in 0..rng.gen_range(1..=4) {
                let (k, v) = random_cond(&mut rng, &docs);
                if map.contains_key(&k) {
                    continue;
                }
                match url_raw(&k, &v) {
                    Some(raw) => pairs.push((k.clone(), raw)),
                    None => url_ok = false,
                }
                map.insert(k, v);
            }
            let json_form = Value::Object(map);
            let mut forms = vec![(
                "json",
                Filter::from_json(&json_form).unwrap_or_else(|e| panic!("case {case}: {json_form}: {e}")),
            )];
            if url_ok {
                let f = Filter::parse_query(&pairs).unwrap_or_else(|e| panic!("case {case}: {pairs:?}: {e}"));
                forms.push(("url", f));
            }
            for (form, f) in &forms {
                let mut want: Vec<Uuid> = docs.iter().filter(|d| f.matches(&d.as_ref())).map(|d| d.id).collect();
                want.sort();
                let got = sql_ids(&pool, f)
                    .await
                    .unwrap_or_else(|e| panic!("case {case} {form} {json_form}: {e}"));
                if got != want {
                    let got_set: HashSet<_> = got.iter().collect();
                    let want_set: HashSet<_> = want.iter().collect();
                    let diff: Vec<String> = docs
                        .iter()
                        .filter(|d| got_set.contains(&d.id) != want_set.contains(&d.id))
                        .take(3)
                        .map(|d| {
                            format!(
                                "sql={} mem={} owner={:?} data={}",
                                got_set.contains(&d.id),
                                want_set.contains(&d.id),
                                d.owner,
                                d.data
                            )
                        })
                        .collect();
                    panic!(
                        "case {case} ({form} form) {json_form} / {pairs:?}: SQL and memory disagree:\n{}",
                        diff.join("\n")
                    );
                }
                nonempty += usize::from(!want.is_empty() && want.len() < docs.len());
            }
            if case % 10 == 0 {
                // The list query must apply the same filter plus the owner scope.
                let f = &forms[0].1;
                let scope = OWNERS.choose(&mut rng).copied().flatten();
                let sort = Sort::default();
                let rows = build_list_query("c", f, &sort, None, scope, 100_000)
                    .build()
                    .fetch_all(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("case {case}: {e}"));
                let mut got: Vec<Uuid> = rows.iter().map(|r| r.get("id")).collect();
                got.sort();
                let mut want: Vec<Uuid> = docs
                    .iter()
                    .filter(|d| f.matches(&d.as_ref()) && scope.is_none_or(|s| d.owner.as_deref() == Some(s)))
                    .map(|d| d.id)
                    .collect();
                want.sort();
                assert_eq!(got, want, "case {case}: list query with scope {scope:?}: {json_form}");
            }
        }
        // Guard against a generator that only produces trivial filters.
        assert!(nonempty as u64 > cases / 3, "only {nonempty} selective filters");
    })
    .await;
}

const SORT_FIELDS: &[&str] = &[
    "a",
    "b",
    "s",
    "o.x",
    "arr",
    "missing",
    "$owner",
    "$created_at",
    "$updated_at",
    "$id",
];

fn random_sort(rng: &mut StdRng) -> String {
    let mut fields: Vec<&str> = SORT_FIELDS.to_vec();
    fields.shuffle(rng);
    fields
        .iter()
        .take(rng.gen_range(1..=4))
        .map(|f| {
            if rng.gen_bool(0.5) {
                format!("-{f}")
            } else {
                (*f).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

async fn list_ids(pool: &PgPool, f: &Filter, sort: &Sort, scope: Option<&str>) -> Vec<Uuid> {
    build_list_query("c", f, sort, None, scope, 1_000_000)
        .build()
        .fetch_all(pool)
        .await
        .expect("full list")
        .iter()
        .map(|r| r.get("id"))
        .collect()
}

#[tokio::test]
async fn keyset_pagination_is_complete_and_stable() {
    let seed = env_u64("FILTER_SQL_SEED").unwrap_or_else(rand::random);
    let rounds = env_u64("FILTER_SQL_CASES").map_or(32, |c| c / 25 + 1);
    eprintln!("keyset_pagination_is_complete_and_stable: FILTER_SQL_SEED={seed}");
    with_db(move |pool| async move {
        let mut rng = StdRng::seed_from_u64(seed);
        insert_random(&pool, &mut rng, 120).await;
        for round in 0..rounds {
            let sort_text = if round == 0 { None } else { Some(random_sort(&mut rng)) };
            let sort = Sort::parse(sort_text.as_deref()).unwrap_or_else(|e| panic!("{sort_text:?}: {e}"));
            let filter = if rng.gen_bool(0.3) {
                let docs = load_docs(&pool).await;
                let (k, v) = random_cond(&mut rng, &docs);
                Filter::from_json(&json!({ k: v })).expect("valid filter")
            } else {
                Filter::default()
            };
            let scope = if rng.gen_bool(0.2) {
                OWNERS.choose(&mut rng).copied().flatten()
            } else {
                None
            };
            let inserting = rng.gen_bool(0.5);
            let mut insert_budget = if inserting { 6 } else { 0 };
            let limit: usize = rng.gen_range(1..=12);
            let before = list_ids(&pool, &filter, &sort, scope).await;
            let ctx = format!("round {round} sort={sort_text:?} filter={filter:?} scope={scope:?} limit={limit}");

            let mut seen: Vec<Uuid> = Vec::new();
            let mut after: Option<Cursor> = None;
            loop {
                let rows = build_list_query("c", &filter, &sort, after.as_ref(), scope, limit as i64 + 1)
                    .build()
                    .fetch_all(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                let more = rows.len() > limit;
                let page = &rows[..rows.len().min(limit)];
                for r in page {
                    let id: Uuid = r.get("id");
                    if seen.contains(&id) {
                        let keys: Value = r.get("sort_keys");
                        panic!("{ctx}: row {id} returned again (sort_keys {keys}, after {after:?})");
                    }
                    seen.push(id);
                }
                // Bounded, so the collection cannot outgrow the walk.
                if insert_budget > 0 && rng.gen_bool(0.5) {
                    insert_budget -= 1;
                    insert_random(&pool, &mut rng, 1).await;
                }
                let Some(last) = page.last().filter(|_| more) else {
                    break;
                };
                let keys: Value = last.get("sort_keys");
                let text = Cursor::from_sort_keys(keys).encode();
                after = Some(Cursor::parse(&text, &sort).unwrap_or_else(|e| panic!("{ctx}: {e}")));
            }

            let after_all = list_ids(&pool, &filter, &sort, scope).await;
            let pos: HashMap<Uuid, usize> = after_all.iter().enumerate().map(|(i, id)| (*id, i)).collect();
            let unique: HashSet<Uuid> = seen.iter().copied().collect();
            for id in &before {
                assert!(unique.contains(id), "{ctx}: row {id} was skipped");
            }
            let order: Vec<usize> = seen
                .iter()
                .map(|id| pos.get(id).copied().unwrap_or(usize::MAX))
                .collect();
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "{ctx}: pages are out of ORDER BY order: {order:?}"
            );
            if !inserting {
                assert_eq!(seen, before, "{ctx}: pages differ from the full ORDER BY");
            }
        }
    })
    .await;
}
