//! The console's endpoints: connections, disconnect, room members, keys,
//! explain, stats, impersonation on `auth`, and the embedded console files.

use crate::support::*;
use serde_json::{json, Value};

async fn ws_as(s: &Server, as_: Value) -> Ws {
    let mut ws = Ws::connect(&s.ws_url()).await;
    ws.send(json!({"type":"auth","token":SERVICE_KEY,"as":as_})).await;
    ws
}

#[tokio::test]
async fn console_files_are_served_with_a_strict_csp() {
    let s = Server::start().await;
    for path in ["/console", "/console/", "/console/app.js", "/console/style.css"] {
        let r = s.http.get(format!("{}{path}", s.base)).send().await.expect("get");
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()["content-security-policy"].to_str().expect("csp").to_owned();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }
    for (name, _, _) in eddy::http::console::ASSETS {
        let r = s
            .http
            .get(format!("{}/console/{name}", s.base))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200, "{name}");
        assert!(!r.text().await.expect("body").is_empty(), "{name} is empty");
    }
    let r = s
        .http
        .get(format!("{}/console/nope.js", s.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);
    assert!(r.headers().contains_key("content-security-policy"));
    // The HTML has no inline script or style, so the CSP does not have to allow any.
    let html = s
        .http
        .get(format!("{}/console", s.base))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(
        !html.contains("<script>") && !html.contains("style=") && !html.contains("onclick"),
        "{html}"
    );
}

#[tokio::test]
async fn every_console_endpoint_requires_a_service_key() {
    let s = Server::start().await;
    let user = jwt("alice", None, 300);
    for (m, p) in [
        ("GET", "/v1/connections"),
        ("DELETE", "/v1/connections/c1"),
        ("GET", "/v1/rooms/r/members"),
        ("GET", "/v1/keys"),
        ("POST", "/v1/keys"),
        ("DELETE", "/v1/keys/00000000-0000-0000-0000-000000000000"),
        ("POST", "/v1/explain"),
        ("GET", "/v1/console/stats"),
    ] {
        let body = (m == "POST").then(|| json!({}));
        assert_eq!(s.call(m, p, None, body.clone()).await.0, 401, "{m} {p}");
        let (st, b) = s.call(m, p, Some(PUBLIC_KEY), body.clone()).await;
        assert!(st == 403 || st == 400, "{m} {p}: {st} {b}");
        let (st, b) = s.call(m, p, Some(&user), body).await;
        assert!(st == 403 || st == 400, "{m} {p}: {st} {b}");
    }
}

#[tokio::test]
async fn connections_list_subscriptions_rooms_and_disconnect() {
    let s = Server::start().await;
    s.open_collection("posts").await;
    let (st, _) = s
        .call(
            "PUT",
            "/v1/room-rules",
            Some(SERVICE_KEY),
            Some(json!({"rules":[{"pattern":"*","join":"public","broadcast":"public"}]})),
        )
        .await;
    assert_eq!(st, 200);
    let mut ws = s.ws(&jwt("alice", Some("editor"), 300)).await;
    ws.expect_type("auth_ok").await;
    ws.subscribe(json!({"type":"subscribe","id":"s1","collection":"posts","filters":{"status":"open"}}))
        .await;
    ws.send(json!({"type":"join","room":"lobby","presence":{"name":"<b>Al</b>"}}))
        .await;
    ws.expect_type("joined").await;
    s.create("posts", json!({"status":"open"})).await;
    let ev = ws.expect_type("event").await;
    let seq = ev["seq"].as_i64().expect("seq");

    let (st, body) = s.call("GET", "/v1/connections", Some(SERVICE_KEY), None).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["total"], 1);
    assert_eq!(body["by_transport"]["websocket"], 1);
    assert_eq!(body["by_identity"]["user"], 1);
    let c = &body["connections"][0];
    assert_eq!(c["identity"], json!({"kind":"user","sub":"alice","role":"editor"}));
    assert!(c["remote"].as_str().is_some_and(|r| r.starts_with("127.0.0.1:")), "{c}");
    assert_eq!(c["subscriptions"][0]["collection"], "posts");
    assert_eq!(c["subscriptions"][0]["filters"], json!({"status":"open"}));
    assert_eq!(c["subscriptions"][0]["last_seq"], seq);
    assert_eq!(c["rooms"], json!(["lobby"]));
    assert!(c["queue_max"].as_u64().is_some_and(|q| q > 0));

    let (st, m) = s.call("GET", "/v1/rooms/lobby/members", Some(SERVICE_KEY), None).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["members"][0]["sub"], "alice");
    assert_eq!(m["members"][0]["state"]["name"], "<b>Al</b>");
    assert_eq!(
        s.call("GET", "/v1/rooms/empty/members", Some(SERVICE_KEY), None)
            .await
            .0,
        404
    );

    let id = c["id"].as_str().expect("id");
    assert_eq!(
        s.call("DELETE", &format!("/v1/connections/{id}"), Some(SERVICE_KEY), None)
            .await
            .0,
        204
    );
    assert_eq!(ws.close_code().await, Some(4002));
    assert_eq!(
        s.call("DELETE", &format!("/v1/connections/{id}"), Some(SERVICE_KEY), None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn keys_over_rest_and_revocation_closes_sockets() {
    let s = Server::start().await;
    let (st, k) = s
        .call(
            "POST",
            "/v1/keys",
            Some(SERVICE_KEY),
            Some(json!({"kind":"public","name":"web"})),
        )
        .await;
    assert_eq!(st, 201, "{k}");
    let key = k["key"].as_str().expect("secret").to_owned();
    assert!(key.starts_with("eddy_pk_"));
    // Usable at once on this server: the answer comes after the local reload.
    let mut ws = s.ws(&key).await;
    ws.expect_type("auth_ok").await;
    let (_, list) = s.call("GET", "/v1/keys", Some(SERVICE_KEY), None).await;
    let listed = &list["keys"][0];
    assert_eq!(listed["id"], k["id"]);
    assert!(listed.get("key").is_none() && listed.get("hash").is_none(), "{listed}");
    let (st, b) = s
        .call("POST", "/v1/keys", Some(SERVICE_KEY), Some(json!({"kind":"root"})))
        .await;
    assert_eq!((st, b["error"]["code"].as_str()), (400, Some("invalid_request")));

    let id = k["id"].as_str().expect("id");
    assert_eq!(
        s.call("DELETE", &format!("/v1/keys/{id}"), Some(SERVICE_KEY), None)
            .await
            .0,
        204
    );
    assert_eq!(ws.close_code().await, Some(4001));
    assert_eq!(
        s.call("DELETE", &format!("/v1/keys/{id}"), Some(SERVICE_KEY), None)
            .await
            .0,
        404
    );
    assert_eq!(
        s.call("DELETE", "/v1/keys/not-a-uuid", Some(SERVICE_KEY), None).await.0,
        400
    );
}

#[tokio::test]
async fn impersonation_applies_rules_and_ends_with_the_service_key() {
    let s = Server::start().await;
    s.collection("notes", json!({"read":"owner","create":"service"})).await;
    let (key_id, service) = s.create_key("service").await;
    let mut ws = Ws::connect(&s.ws_url()).await;
    ws.send(json!({"type":"auth","token":service,"as":{"kind":"user","sub":"bob"}}))
        .await;
    let ok = ws.expect_type("auth_ok").await;
    assert_eq!(ok["identity"], json!({"kind":"user","sub":"bob","role":null}));
    ws.subscribe(json!({"type":"subscribe","id":"n","collection":"notes"}))
        .await;
    let (_, _) = s
        .call(
            "POST",
            "/v1/collections/notes/documents",
            Some(SERVICE_KEY),
            Some(json!({"data":{"x":1},"owner":"alice"})),
        )
        .await;
    let (_, mine) = s
        .call(
            "POST",
            "/v1/collections/notes/documents",
            Some(SERVICE_KEY),
            Some(json!({"data":{"x":2},"owner":"bob"})),
        )
        .await;
    let ev = ws.expect_type("event").await;
    assert_eq!(ev["document"]["id"], mine["id"], "alice's note must not reach bob");
    s.revoke_key(&key_id);
    assert_eq!(ws.close_code().await, Some(4001));

    // Only service keys may act as someone.
    let mut ws = Ws::connect(&s.ws_url()).await;
    ws.send(json!({"type":"auth","token":PUBLIC_KEY,"as":{"kind":"public"}}))
        .await;
    assert_eq!(ws.expect_type("error").await["code"], "forbidden");
    let mut ws = ws_as(&s, json!({"kind":"user"})).await;
    assert_eq!(ws.expect_type("error").await["code"], "invalid_message");
}

#[tokio::test]
async fn explain_names_the_refusing_part() {
    let s = Server::start().await;
    s.collection("tasks", json!({"read":"owner","create":"service","update":"service"}))
        .await;
    let (_, doc) = s
        .call(
            "POST",
            "/v1/collections/tasks/documents",
            Some(SERVICE_KEY),
            Some(json!({"data":{"status":"open","n":1},"owner":"alice"})),
        )
        .await;
    let id = doc["id"].as_str().expect("id").to_owned();
    let (st, _) = s
        .call(
            "PATCH",
            &format!("/v1/collections/tasks/documents/{id}"),
            Some(SERVICE_KEY),
            Some(json!({"data":{"status":"done"}})),
        )
        .await;
    assert_eq!(st, 200);
    let sr = &s;
    let explain = |body: Value| async move { sr.call("POST", "/v1/explain", Some(SERVICE_KEY), Some(body)).await };
    // Changes are numbered by the feed shortly after commit.
    let deadline = tokio::time::Instant::now() + WAIT;
    let alice = json!({"kind":"user","sub":"alice"});
    let r = loop {
        let (st, r) = explain(json!({"collection":"tasks","id":id,"identity":alice})).await;
        if st == 200 && r["op"] == "updated" {
            break r;
        }
        assert!(tokio::time::Instant::now() < deadline, "{st} {r}");
        tokio::task::yield_now().await;
    };
    assert_eq!(r["delivered"], true, "{r}");
    assert_eq!(r["event"], "event");

    let (_, r) = explain(json!({"collection":"tasks","id":id,"identity":{"kind":"user","sub":"bob"}})).await;
    assert_eq!(r["delivered"], false);
    let codes: Vec<&str> = r["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(|x| x["code"].as_str())
        .collect();
    assert_eq!(codes, ["read_rule", "read_rule"], "{r}");
    assert!(
        r["reasons"][0]["message"].as_str().expect("msg").contains("owner"),
        "{r}"
    );

    let (_, r) = explain(json!({"collection":"tasks","id":id,"identity":{"kind":"public"}})).await;
    assert_eq!(r["checks"]["subscribe"], false, "{r}");

    let f = json!({"status":"open","n":1});
    let (_, r) = explain(json!({"collection":"tasks","id":id,"identity":alice,"filters":f})).await;
    assert_eq!(
        r["event"], "leave",
        "matched before, not after: a leave is delivered {r}"
    );
    let f = json!({"status":"open","n__gt":5});
    let (_, r) = explain(json!({"collection":"tasks","id":id,"identity":alice,"filters":f})).await;
    assert_eq!(r["delivered"], false);
    assert_eq!(r["reasons"][0]["code"], "filter");
    let msg = r["reasons"].to_string();
    assert!(msg.contains("n__gt") && msg.contains("old state"), "{r}");

    let seq = r["seq"].as_i64().expect("seq");
    let (_, r) = explain(json!({"collection":"other","id":id,"identity":alice,"seq":seq})).await;
    assert_eq!(r["reasons"][0]["code"], "collection_mismatch", "{r}");
    let (st, r) = explain(json!({"collection":"tasks","id":id,"identity":alice,"seq":seq + 100})).await;
    assert_eq!(st, 404, "{r}");
    let (st, r) = explain(json!({"collection":"tasks","id":id,"identity":{"kind":"root"}})).await;
    assert_eq!((st, r["error"]["code"].as_str()), (400, Some("invalid_request")));
    let (st, r) = explain(json!({"collection":"tasks","id":id,"identity":alice,"filters":{"a__zz":1}})).await;
    assert_eq!((st, r["error"]["code"].as_str()), (400, Some("invalid_filter")));

    // Below the retention watermark the answer is cursor_expired.
    let pool = s.pool().await;
    sqlx::query("UPDATE feed_state SET pruned_through = $1")
        .bind(seq)
        .execute(&pool)
        .await
        .expect("prune");
    let (_, r) = explain(json!({"collection":"tasks","id":id,"identity":alice,"seq":seq})).await;
    assert_eq!(r["reasons"][0]["code"], "cursor_expired", "{r}");
}

#[tokio::test]
async fn stats_report_connections_and_heads() {
    let s = Server::start().await;
    let mut ws = s.ws(PUBLIC_KEY).await;
    ws.expect_type("auth_ok").await;
    let (st, b) = s.call("GET", "/v1/console/stats", Some(SERVICE_KEY), None).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["connections"]["websocket"], 1);
    assert!(
        b["feed_lag"].as_i64().is_some() && b["events_delivered_total"].is_number(),
        "{b}"
    );
}
