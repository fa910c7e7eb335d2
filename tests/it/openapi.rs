//! The OpenAPI document against the real server: every route is routed, and real
//! responses of every operation (successes and errors) are validated against the
//! schema the document declares for their status; the `/docs` page is served
//! from the binary and points at nothing outside it.

use crate::support::*;
use serde_json::{json, Value};

/// Validates responses against the server's own `/v1/openapi.json`.
struct Contract {
    doc: Value,
    checked: std::collections::BTreeSet<(String, String, u16)>,
}

impl Contract {
    async fn load(s: &Server) -> Contract {
        let (st, doc) = s.call("GET", "/v1/openapi.json", None, None).await;
        assert_eq!(st, 200, "{doc}");
        assert_eq!(doc["openapi"], "3.1.0");
        Contract {
            doc,
            checked: Default::default(),
        }
    }

    /// The response object the document declares for a status (explicitly, not `default`).
    fn response(&self, method: &str, template: &str, status: u16) -> Value {
        let op = &self.doc["paths"][template][method.to_lowercase()];
        assert!(op.is_object(), "{method} {template} is not in the document");
        let r = &op["responses"][status.to_string()];
        assert!(r.is_object(), "{method} {template}: status {status} is not documented");
        match r["$ref"].as_str() {
            Some(p) => self.doc.pointer(&p[1..]).cloned().expect("response ref"),
            None => r.clone(),
        }
    }

    /// Checks one real answer: its status is documented and its body fits the schema.
    fn check(&mut self, method: &str, template: &str, status: u16, body: &Value) {
        let r = self.response(method, template, status);
        self.checked
            .insert((method.to_lowercase(), template.to_owned(), status));
        let Some(schema) = r["content"]["application/json"]["schema"].as_object() else {
            if status == 204 {
                assert!(r.get("content").is_none(), "{method} {template} 204 declares a body");
            }
            return;
        };
        let mut root = json!({"components": self.doc["components"].clone()});
        for (k, v) in schema {
            root[k] = v.clone();
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{method} {template} {status}: bad schema: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {template} {status}: the body breaks the schema: {errors:?}\nbody: {body}"
        );
    }

    /// Sends a request, validates the answer, returns it.
    async fn call(
        &mut self,
        s: &Server,
        method: &str,
        template: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (st, b) = s.call(method, path, token, body).await;
        self.check(method, template, st, &b);
        (st, b)
    }
}

const DOC: &str = "/v1/collections/{collection}/documents/{id}";
const DOCS: &str = "/v1/collections/{collection}/documents";

#[tokio::test]
async fn real_responses_fit_the_document() {
    let s = Server::start_with(&["--auth-ip-rate", "1000", "--auth-account-rate", "3"]).await;
    let mut c = Contract::load(&s).await;
    let sk = Some(SERVICE_KEY);
    let pk = Some(PUBLIC_KEY);

    c.call(&s, "GET", "/healthz", "/healthz", None, None).await;
    c.call(&s, "GET", "/readyz", "/readyz", None, None).await;

    // Collections.
    let (st, _) = c
        .call(
            &s,
            "PUT",
            "/v1/collections/{collection}",
            "/v1/collections/posts",
            sk,
            Some(json!({"rules": {"read": "public", "create": "public", "update": "public", "delete": "public"}})),
        )
        .await;
    assert_eq!(st, 200);
    c.call(
        &s,
        "PUT",
        "/v1/collections/{collection}",
        "/v1/collections/posts",
        sk,
        Some(json!({"rules": {"read": "x"}})),
    )
    .await;
    c.call(&s, "GET", "/v1/collections", "/v1/collections", sk, None).await;
    c.call(&s, "GET", "/v1/collections", "/v1/collections", pk, None).await;
    c.call(&s, "GET", "/v1/collections", "/v1/collections", None, None)
        .await;
    c.call(
        &s,
        "GET",
        "/v1/collections/{collection}",
        "/v1/collections/posts",
        sk,
        None,
    )
    .await;
    c.call(
        &s,
        "GET",
        "/v1/collections/{collection}",
        "/v1/collections/none",
        sk,
        None,
    )
    .await;

    // Documents.
    let (st, d) = c
        .call(
            &s,
            "POST",
            DOCS,
            "/v1/collections/posts/documents",
            pk,
            Some(json!({"data": {"n": 1, "s": "open"}})),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    let id = d["id"].as_str().expect("id").to_owned();
    let one = format!("/v1/collections/posts/documents/{id}");
    c.call(
        &s,
        "POST",
        DOCS,
        "/v1/collections/posts/documents",
        sk,
        Some(json!({"data": {"n": 2}, "owner": "ann"})),
    )
    .await;
    c.call(
        &s,
        "POST",
        DOCS,
        "/v1/collections/posts/documents",
        pk,
        Some(json!({"data": 5})),
    )
    .await;
    c.call(
        &s,
        "POST",
        DOCS,
        "/v1/collections/posts/documents",
        pk,
        Some(json!({"data": {}, "id": id})),
    )
    .await;
    c.call(
        &s,
        "POST",
        DOCS,
        "/v1/collections/posts/documents",
        pk,
        Some(json!({"data": {}, "owner": "x"})),
    )
    .await;
    c.call(&s, "GET", DOC, &one, pk, None).await;
    // PostgreSQL cannot store U+0000 in text or jsonb: a client error, never a 500 (found by schemathesis).
    let nul = json!({"data": {"k\u{0}": "a\u{0}b"}});
    let (st, b) = c
        .call(&s, "POST", DOCS, "/v1/collections/posts/documents", pk, Some(nul))
        .await;
    assert_eq!((st, b["error"]["code"].as_str()), (400, Some("invalid_request")), "{b}");
    c.call(&s, "GET", DOC, "/v1/collections/posts/documents/not-a-uuid", pk, None)
        .await;
    c.call(&s, "PATCH", DOC, &one, pk, Some(json!({"data": {"n": null, "m": 2}})))
        .await;
    c.call(&s, "PUT", DOC, &one, pk, Some(json!({"data": {"n": 3}}))).await;
    c.call(&s, "PUT", DOC, &one, sk, Some(json!({"data": {}, "owner": "bob"})))
        .await;
    let (st, _) = c
        .call(
            &s,
            "GET",
            DOCS,
            "/v1/collections/posts/documents?limit=1&sort=-$created_at",
            pk,
            None,
        )
        .await;
    assert_eq!(st, 200);
    c.call(&s, "GET", DOCS, "/v1/collections/posts/documents?n__zz=1", pk, None)
        .await;
    c.call(&s, "GET", DOCS, "/v1/collections/posts/documents?limit=0", pk, None)
        .await;
    let precondition = s
        .http
        .patch(format!("{}{}", s.base, one))
        .bearer_auth(PUBLIC_KEY)
        .header("if-match", "99")
        .json(&json!({"data": {}}))
        .send()
        .await
        .expect("request");
    assert_eq!(precondition.status().as_u16(), 412);
    let b: Value = precondition.json().await.expect("json");
    c.check("PATCH", DOC, 412, &b);
    let batch = "/v1/collections/{collection}/batch";
    let (st, b) = c
        .call(
            &s,
            "POST",
            batch,
            "/v1/collections/posts/batch",
            pk,
            Some(json!({"operations": [
                {"op": "create", "data": {"k": 1}},
                {"op": "update", "id": id, "data": {"k": 2}},
                {"op": "delete", "id": id}
            ]})),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    c.call(
        &s,
        "POST",
        batch,
        "/v1/collections/posts/batch",
        pk,
        Some(json!({"operations": [{"op": "delete", "id": id}]})),
    )
    .await;
    c.call(&s, "DELETE", DOC, &one, pk, None).await;
    let (_, d) = s
        .call("POST", "/v1/collections/posts/documents", pk, Some(json!({"data": {}})))
        .await;
    let fresh = format!("/v1/collections/posts/documents/{}", d["id"].as_str().expect("id"));
    let (st, _) = c.call(&s, "DELETE", DOC, &fresh, pk, None).await;
    assert_eq!(st, 204);

    // Rooms and connections: a socket in a room, with a subscription.
    let mut ws = s.ws(SERVICE_KEY).await;
    ws.send(json!({"type": "join", "room": "lobby", "presence": {"name": "Ann"}}))
        .await;
    ws.expect_type("joined").await;
    ws.subscribe(json!({"type": "subscribe", "id": "s1", "collection": "posts", "filters": {"s": "open"}}))
        .await;
    c.call(&s, "GET", "/v1/rooms", "/v1/rooms", sk, None).await;
    c.call(
        &s,
        "GET",
        "/v1/rooms/{room}/members",
        "/v1/rooms/lobby/members",
        sk,
        None,
    )
    .await;
    c.call(
        &s,
        "GET",
        "/v1/rooms/{room}/members",
        "/v1/rooms/empty/members",
        sk,
        None,
    )
    .await;
    let publish = json!({"event": "hello", "message": {"x": 1}});
    c.call(
        &s,
        "POST",
        "/v1/rooms/{room}/broadcast",
        "/v1/rooms/lobby/broadcast",
        sk,
        Some(publish.clone()),
    )
    .await;
    c.call(
        &s,
        "POST",
        "/v1/users/{sub}/messages",
        "/v1/users/ann/messages",
        sk,
        Some(publish.clone()),
    )
    .await;
    c.call(&s, "POST", "/v1/broadcast", "/v1/broadcast", sk, Some(publish))
        .await;
    c.call(
        &s,
        "POST",
        "/v1/broadcast",
        "/v1/broadcast",
        sk,
        Some(json!({"message": 1})),
    )
    .await;
    let rules = json!({"rules": [{"pattern": "user:{sub}:*", "join": "authenticated", "broadcast": "authenticated"}]});
    c.call(&s, "PUT", "/v1/room-rules", "/v1/room-rules", sk, Some(rules))
        .await;
    c.call(&s, "GET", "/v1/room-rules", "/v1/room-rules", sk, None).await;
    let (_, conns) = c.call(&s, "GET", "/v1/connections", "/v1/connections", sk, None).await;
    assert_eq!(conns["connections"][0]["subscriptions"][0]["id"], "s1", "{conns}");
    c.call(&s, "GET", "/v1/console/stats", "/v1/console/stats", sk, None)
        .await;
    let conn = conns["connections"][0]["id"].as_str().expect("id").to_owned();
    let (st, _) = c
        .call(
            &s,
            "DELETE",
            "/v1/connections/{id}",
            &format!("/v1/connections/{conn}"),
            sk,
            None,
        )
        .await;
    assert_eq!(st, 204);
    c.call(&s, "DELETE", "/v1/connections/{id}", "/v1/connections/nope", sk, None)
        .await;

    // Keys and explain.
    let (st, key) = c
        .call(
            &s,
            "POST",
            "/v1/keys",
            "/v1/keys",
            sk,
            Some(json!({"kind": "public", "name": "web"})),
        )
        .await;
    assert_eq!(st, 201, "{key}");
    c.call(&s, "POST", "/v1/keys", "/v1/keys", sk, Some(json!({"kind": "root"})))
        .await;
    c.call(&s, "GET", "/v1/keys", "/v1/keys", sk, None).await;
    let kid = key["id"].as_str().expect("id");
    c.call(&s, "DELETE", "/v1/keys/{id}", &format!("/v1/keys/{kid}"), sk, None)
        .await;
    c.call(&s, "GET", "/v1/keys", "/v1/keys", sk, None).await;
    let explain =
        json!({"collection": "posts", "id": id, "filters": {"k": 1}, "identity": {"kind": "user", "sub": "bob"}});
    c.call(&s, "POST", "/v1/explain", "/v1/explain", sk, Some(explain))
        .await;
    let explain = json!({"collection": "posts", "id": id, "identity": {"kind": "public"}, "seq": 0});
    c.call(&s, "POST", "/v1/explain", "/v1/explain", sk, Some(explain))
        .await;

    // Accounts.
    let user = json!({"email": "ann@example.com", "password": "correct horse battery", "profile": {"a": 1}});
    c.call(
        &s,
        "POST",
        "/v1/auth/signup",
        "/v1/auth/signup",
        None,
        Some(user.clone()),
    )
    .await;
    c.call(
        &s,
        "POST",
        "/v1/auth/signup",
        "/v1/auth/signup",
        None,
        Some(json!({"email": "x@y.z", "password": "short"})),
    )
    .await;
    let (st, created) = c
        .call(
            &s,
            "POST",
            "/v1/auth/users",
            "/v1/auth/users",
            sk,
            Some(json!({"email": "bob@example.com", "password": "correct horse battery", "role": "editor"})),
        )
        .await;
    assert_eq!(st, 201, "{created}");
    c.call(
        &s,
        "POST",
        "/v1/auth/signup",
        "/v1/auth/signup",
        sk,
        Some(json!({"email": "cat@example.com", "password": "correct horse battery"})),
    )
    .await;
    let (st, session) = c
        .call(
            &s,
            "POST",
            "/v1/auth/login",
            "/v1/auth/login",
            None,
            Some(json!({"email": "ann@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(st, 200, "{session}");
    let token = session["access_token"].as_str().expect("token").to_owned();
    let (_, session) = c
        .call(
            &s,
            "POST",
            "/v1/auth/refresh",
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": session["refresh_token"]})),
        )
        .await;
    c.call(&s, "GET", "/v1/auth/me", "/v1/auth/me", Some(&token), None)
        .await;
    c.call(&s, "GET", "/v1/auth/me", "/v1/auth/me", pk, None).await;
    c.call(
        &s,
        "PATCH",
        "/v1/auth/me",
        "/v1/auth/me",
        Some(&token),
        Some(json!({"profile": {"a": null, "b": [1]}})),
    )
    .await;
    let (st, _) = c
        .call(
            &s,
            "POST",
            "/v1/auth/password",
            "/v1/auth/password",
            Some(&token),
            Some(json!({"current_password": "correct horse battery", "new_password": "a better horse battery"})),
        )
        .await;
    assert_eq!(st, 200);
    c.call(&s, "GET", "/v1/auth/users", "/v1/auth/users", sk, None).await;
    c.call(&s, "GET", "/v1/auth/users", "/v1/auth/users?limit=1", sk, None)
        .await;
    c.call(&s, "GET", "/v1/auth/users", "/v1/auth/users?limit=abc", sk, None)
        .await;
    let (st, _) = c
        .call(&s, "GET", "/v1/auth/users", "/v1/auth/users?search=a%00b", sk, None)
        .await;
    assert_eq!(st, 400);
    let uid = created["id"].as_str().expect("id");
    let upath = format!("/v1/auth/users/{uid}");
    c.call(&s, "GET", "/v1/auth/users/{id}", &upath, sk, None).await;
    c.call(
        &s,
        "PATCH",
        "/v1/auth/users/{id}",
        &upath,
        sk,
        Some(json!({"role": null, "disabled": true})),
    )
    .await;
    c.call(&s, "DELETE", "/v1/auth/users/{id}", &upath, sk, None).await;
    c.call(&s, "GET", "/v1/auth/users/{id}", &upath, sk, None).await;
    c.call(
        &s,
        "POST",
        "/v1/auth/logout",
        "/v1/auth/logout",
        None,
        Some(json!({"refresh_token": session["refresh_token"]})),
    )
    .await;
    c.call(
        &s,
        "POST",
        "/v1/auth/logout-all",
        "/v1/auth/logout-all",
        Some(&token),
        None,
    )
    .await;
    // Past the per-address limit (3 a minute here): 429 with Retry-After.
    let wrong = json!({"email": "ann@example.com", "password": "not the password"});
    let mut limited = None;
    for _ in 0..5 {
        let r = s
            .http
            .post(format!("{}/v1/auth/login", s.base))
            .json(&wrong)
            .send()
            .await
            .expect("login");
        let st = r.status().as_u16();
        let retry = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let b: Value = r.json().await.expect("json");
        c.check("POST", "/v1/auth/login", st, &b);
        if st == 429 {
            limited = retry;
            break;
        }
    }
    let retry: u64 = limited.expect("a 429").parse().expect("Retry-After seconds");
    assert!(retry >= 1);

    // Plain-text and HTML answers.
    let (st, m) = s.call("GET", "/metrics", sk, None).await;
    assert_eq!(st, 200);
    assert!(m.as_str().is_some_and(|t| t.contains("eddy_")));
    c.check("GET", "/metrics", st, &m);
    c.call(&s, "GET", "/metrics", "/metrics", pk, None).await;

    // Every operation with a JSON answer met at least one real response.
    for (path, item) in c.doc["paths"].as_object().expect("paths").clone() {
        for (method, op) in item.as_object().expect("item") {
            let json_ok = op["responses"]
                .as_object()
                .expect("responses")
                .iter()
                .any(|(st, r)| st.starts_with('2') && r["content"]["application/json"].is_object());
            if json_ok && path != "/v1/openapi.json" {
                assert!(
                    c.checked
                        .iter()
                        .any(|(m, p, st)| m == method && *p == path && *st < 300),
                    "{method} {path}: no successful response was validated"
                );
            }
        }
    }
}

/// Every documented operation reaches a handler (not the 404 route fallback, not 405).
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let s = Server::start().await;
    let (_, doc) = s.call("GET", "/v1/openapi.json", None, None).await;
    let mut n = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            if path.starts_with("/realtime") {
                continue;
            }
            let concrete = path
                .replace("{collection}", "c1")
                .replace("{id}", &uuid::Uuid::new_v4().to_string())
                .replace("{room}", "r")
                .replace("{sub}", "u")
                .replace("{asset}", "nope.js");
            let (st, b) = s
                .call(&method.to_uppercase(), &concrete, Some(SERVICE_KEY), Some(json!({})))
                .await;
            assert_ne!(st, 405, "{method} {path}");
            assert!(
                !(st == 404 && b["error"]["message"] == "no such route"),
                "{method} {path} not routed"
            );
            n += 1;
        }
    }
    assert!(n > 45, "{n}");
    // And the realtime endpoints answer as themselves (an upgrade is required; a collection is).
    let (st, b) = s.call("GET", "/realtime", None, None).await;
    assert!(st == 400 || st == 426, "{st} {b}");
    let (st, b) = s.call("GET", "/realtime/sse", Some(SERVICE_KEY), None).await;
    assert_eq!(st, 400, "{b}");
}

/// `/docs` is served from the binary with a strict CSP and loads nothing from elsewhere.
#[tokio::test]
async fn reference_page_is_self_contained() {
    let s = Server::start().await;
    let page = s.http.get(format!("{}/docs", s.base)).send().await.expect("docs");
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("http"), "{csp}");
    let html = page.text().await.expect("html");
    let mut refs = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            refs.push(rest[..rest.find('"').expect("quote")].to_owned());
        }
    }
    assert!(refs.len() >= 4, "{refs:?}");
    for r in &refs {
        assert!(r.starts_with("/docs/"), "{r} is not served by the binary");
        let asset = s.http.get(format!("{}{}", s.base, r)).send().await.expect("asset");
        assert_eq!(asset.status().as_u16(), 200, "{r}");
        assert!(asset.headers().contains_key("content-security-policy"), "{r}");
    }
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "inline code would break the CSP"
    );
    let init = s
        .http
        .get(format!("{}/docs/init.js", s.base))
        .send()
        .await
        .expect("init");
    let init = init.text().await.expect("text");
    assert!(
        init.contains("\"/v1/openapi.json\"") && init.contains("validatorUrl: null"),
        "{init}"
    );
    assert!(!init.contains("http:") && !init.contains("https:"), "{init}");
    let (st, b) = s.call("GET", "/docs/nope.js", None, None).await;
    assert_eq!(st, 404, "{b}");
    assert_eq!(b["error"]["code"], "not_found");
}
