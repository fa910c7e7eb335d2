//! Access rules across identities and operations, and JWT rejection.

use crate::support::*;
use serde_json::{json, Value};

struct Who {
    name: &'static str,
    token: String,
}

fn identities() -> Vec<Who> {
    vec![
        Who {
            name: "service",
            token: SERVICE_KEY.into(),
        },
        Who {
            name: "public",
            token: PUBLIC_KEY.into(),
        },
        Who {
            name: "alice",
            token: jwt("alice", None, 3600),
        },
        Who {
            name: "bob-editor",
            token: jwt("bob", Some("editor"), 3600),
        },
    ]
}

/// Expected outcome of one operation for one identity under one rule.
/// `own`: the target document belongs to the caller (created by them).
fn allowed(rule: &str, who: &str, own: bool) -> bool {
    match (rule, who) {
        (_, "service") => true,
        ("public", _) => true,
        ("authenticated", "alice" | "bob-editor") => true,
        ("owner", "alice" | "bob-editor") => own,
        ("role:editor", "bob-editor") => true,
        _ => false,
    }
}

/// Every rule × identity × operation, over REST, including list filtering under owner.
#[tokio::test]
async fn rules_matrix() {
    let s = Server::start().await;
    for rule in ["public", "authenticated", "owner", "role:editor", "service"] {
        let coll = format!("m_{}", rule.replace(':', "_"));
        s.collection(
            &coll,
            json!({"read": rule, "create": rule, "update": rule, "delete": rule}),
        )
        .await;
        for who in identities() {
            // create
            let (st, doc) = s
                .call(
                    "POST",
                    &format!("/v1/collections/{coll}/documents"),
                    Some(&who.token),
                    Some(json!({"data": {"by": who.name}})),
                )
                .await;
            let create_ok = allowed(rule, who.name, true);
            assert_eq!(st == 201, create_ok, "create {rule} {}: {st} {doc}", who.name);
            // A document owned by someone else (carol), made by the service key.
            let (st, other) = s
                .call(
                    "POST",
                    &format!("/v1/collections/{coll}/documents"),
                    Some(SERVICE_KEY),
                    Some(json!({"data": {"by": "carol"}, "owner": "carol"})),
                )
                .await;
            assert_eq!(st, 201);
            let other_id = other["id"].as_str().expect("id");
            let path = format!("/v1/collections/{coll}/documents/{other_id}");
            let others_ok = allowed(rule, who.name, false);
            let (st, b) = s.call("GET", &path, Some(&who.token), None).await;
            assert_eq!(st == 200, others_ok, "read other {rule} {}: {st} {b}", who.name);
            let (st, b) = s
                .call("PATCH", &path, Some(&who.token), Some(json!({"data": {"x": 1}})))
                .await;
            assert_eq!(st == 200, others_ok, "update other {rule} {}: {st} {b}", who.name);
            let (st, b) = s.call("DELETE", &path, Some(&who.token), None).await;
            assert_eq!(st == 204, others_ok, "delete other {rule} {}: {st} {b}", who.name);
            if create_ok {
                let own = format!("/v1/collections/{coll}/documents/{}", doc["id"].as_str().expect("id"));
                let (st, b) = s.call("GET", &own, Some(&who.token), None).await;
                assert_eq!(st, 200, "read own {rule} {}: {b}", who.name);
                let (st, b) = s
                    .call("PATCH", &own, Some(&who.token), Some(json!({"data": {"y": 1}})))
                    .await;
                assert_eq!(st, 200, "update own {rule} {}: {b}", who.name);
            }
            // list: under owner, only own documents come back
            let (st, list) = s
                .call(
                    "GET",
                    &format!("/v1/collections/{coll}/documents?limit=1000"),
                    Some(&who.token),
                    None,
                )
                .await;
            let list_ok = allowed(rule, who.name, true);
            assert_eq!(st == 200, list_ok, "list {rule} {}: {st} {list}", who.name);
            if st == 200 && rule == "owner" && who.name != "service" {
                let sub = if who.name == "alice" { "alice" } else { "bob" };
                for d in list["documents"].as_array().expect("docs") {
                    assert_eq!(d["owner"], sub, "owner list leaked {d}");
                }
            }
        }
    }
}

/// Owners are set from the JWT, and only a service key may set another owner.
#[tokio::test]
async fn owner_is_the_creator() {
    let s = Server::start().await;
    s.collection(
        "o",
        json!({"read": "owner", "create": "authenticated", "update": "owner", "delete": "owner"}),
    )
    .await;
    let alice = jwt("alice", None, 3600);
    let (st, doc) = s
        .call(
            "POST",
            "/v1/collections/o/documents",
            Some(&alice),
            Some(json!({"data": {}})),
        )
        .await;
    assert_eq!((st, &doc["owner"]), (201, &json!("alice")));
    let (st, _) = s
        .call(
            "POST",
            "/v1/collections/o/documents",
            Some(&alice),
            Some(json!({"data": {}, "owner": "bob"})),
        )
        .await;
    assert_eq!(st, 403);
    // Bob cannot tell whether alice's document exists.
    let bob = jwt("bob", None, 3600);
    let (st, _) = s
        .call(
            "GET",
            &format!("/v1/collections/o/documents/{}", doc["id"].as_str().expect("id")),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(st, 404);
}

/// Collections are created on first write only by the service key unless configured.
#[tokio::test]
async fn auto_create_collections() {
    let s = Server::start().await;
    let alice = jwt("alice", None, 3600);
    let (st, _) = s
        .call(
            "POST",
            "/v1/collections/fresh/documents",
            Some(&alice),
            Some(json!({"data": {}})),
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = s
        .call(
            "POST",
            "/v1/collections/fresh/documents",
            Some(SERVICE_KEY),
            Some(json!({"data": {}})),
        )
        .await;
    assert_eq!(st, 201);
    let s2 = Server::start_with(&["--auto-create-collections"]).await;
    let (st, d) = s2
        .call(
            "POST",
            "/v1/collections/fresh/documents",
            Some(&alice),
            Some(json!({"data": {}})),
        )
        .await;
    assert_eq!((st, &d["owner"]), (201, &json!("alice")));
}

fn b64(v: &Value) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = v.to_string().into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Expired, tampered, wrong-key, alg none, wrong alg and wrong iss/aud JWTs are refused.
#[tokio::test]
async fn jwt_rejections() {
    let s = Server::start_with(&["--jwt-issuer", "eddy-tests", "--jwt-audience", "app"]).await;
    s.open_collection("j").await;
    let now = chrono::Utc::now().timestamp();
    let mint = |secret: &str, sub: &str, exp: i64, iss: Option<&str>, aud: Option<&str>| {
        eddy::auth::mint_hs256(secret, sub, None, exp, iss, aud).expect("mint")
    };
    let good = mint(JWT_SECRET, "alice", now + 600, Some("eddy-tests"), Some("app"));
    let (st, _) = s.call("GET", "/v1/collections/j/documents", Some(&good), None).await;
    assert_eq!(st, 200);
    let parts: Vec<&str> = good.split('.').collect();
    let claims = json!({"sub": "mallory", "exp": now + 600, "iss": "eddy-tests", "aud": "app"});
    let bad = vec![
        (
            "expired",
            mint(JWT_SECRET, "alice", now - 5, Some("eddy-tests"), Some("app")),
        ),
        (
            "wrong key",
            mint("another-secret", "alice", now + 600, Some("eddy-tests"), Some("app")),
        ),
        (
            "wrong iss",
            mint(JWT_SECRET, "alice", now + 600, Some("other"), Some("app")),
        ),
        (
            "wrong aud",
            mint(JWT_SECRET, "alice", now + 600, Some("eddy-tests"), Some("web")),
        ),
        ("no iss", mint(JWT_SECRET, "alice", now + 600, None, Some("app"))),
        (
            "alg none",
            format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims)),
        ),
        (
            "alg HS512",
            format!(
                "{}.{}.{}",
                b64(&json!({"alg": "HS512", "typ": "JWT"})),
                b64(&claims),
                parts[2]
            ),
        ),
        (
            "alg RS256",
            format!(
                "{}.{}.{}",
                b64(&json!({"alg": "RS256", "typ": "JWT"})),
                b64(&claims),
                parts[2]
            ),
        ),
        ("tampered claims", format!("{}.{}.{}", parts[0], b64(&claims), parts[2])),
        ("garbage", "a.b.c".into()),
    ];
    for (what, token) in bad {
        let (st, b) = s.call("GET", "/v1/collections/j/documents", Some(&token), None).await;
        assert_eq!(st, 401, "{what}: {b}");
        assert_eq!(b["error"]["code"], "unauthorized", "{what}");
    }
}

/// Collections created and deleted concurrently with writes and rules reloads
/// (each `eddy_config` notification re-reads every collection) never make a
/// write to a just-created collection fail: a reload that read the table before
/// a collection existed must not drop it from the cache.
#[tokio::test]
async fn rules_cache_survives_concurrent_creates_and_reloads() {
    let s = Server::start().await;
    let pool = s.pool().await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reloader = {
        let (pool, stop) = (pool.clone(), stop.clone());
        tokio::spawn(async move {
            let mut sent = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 20_000 {
                sqlx::query("SELECT pg_notify('eddy_config', 'collections')")
                    .execute(&pool)
                    .await
                    .expect("notify");
                sent += 1;
            }
            sent
        })
    };
    let mut writers = Vec::new();
    for w in 0..6 {
        let (http, base) = (s.http.clone(), s.base.clone());
        writers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            for i in 0..25 {
                let coll = format!("race{w}x{i}");
                for n in 0..2 {
                    let r = http
                        .post(format!("{base}/v1/collections/{coll}/documents"))
                        .header("x-api-key", SERVICE_KEY)
                        .json(&json!({"data": {"n": n}}))
                        .send()
                        .await
                        .expect("create");
                    if r.status() != 201 {
                        failures.push(format!(
                            "create in {coll}: {} {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        ));
                    }
                }
                let r = http
                    .delete(format!("{base}/v1/collections/{coll}"))
                    .header("x-api-key", SERVICE_KEY)
                    .send()
                    .await
                    .expect("delete");
                if r.status() != 204 {
                    failures.push(format!("delete {coll}: {}", r.status()));
                }
            }
            failures
        }));
    }
    let mut failures = Vec::new();
    for w in writers {
        failures.extend(w.await.expect("writer"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reloads = reloader.await.expect("reloader");
    assert!(reloads > 0);
    assert!(
        failures.is_empty(),
        "{} failures, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}
