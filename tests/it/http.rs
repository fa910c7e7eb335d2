//! REST API behaviour: CRUD, merge/replace, If-Match, errors, pagination, batch, OpenAPI.

use crate::support::*;
use serde_json::{json, Value};

/// Create, read, merge-patch, replace and delete a document, with versions.
#[tokio::test]
async fn crud_round_trip() {
    let s = Server::start().await;
    s.open_collection("posts").await;
    let doc = s.create("posts", json!({"title": "a", "tags": {"x": 1, "y": 2}})).await;
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["collection"], "posts");
    let id = doc["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/collections/posts/documents/{id}");
    let (st, got) = s.call("GET", &path, Some(SERVICE_KEY), None).await;
    assert_eq!(
        (st, &got["data"]),
        (200, &json!({"title": "a", "tags": {"x": 1, "y": 2}}))
    );
    let (st, patched) = s
        .call(
            "PATCH",
            &path,
            Some(SERVICE_KEY),
            Some(json!({"data": {"tags": {"x": null, "z": 3}, "n": 1}})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(patched["data"], json!({"title": "a", "tags": {"y": 2, "z": 3}, "n": 1}));
    assert_eq!(patched["version"], 2);
    let (st, replaced) = s
        .call("PUT", &path, Some(SERVICE_KEY), Some(json!({"data": {"only": true}})))
        .await;
    assert_eq!(
        (st, &replaced["data"], &replaced["version"]),
        (200, &json!({"only": true}), &json!(3))
    );
    assert_eq!(replaced["created_at"], doc["created_at"]);
    let (st, _) = s.call("DELETE", &path, Some(SERVICE_KEY), None).await;
    assert_eq!(st, 204);
    let (st, body) = s.call("GET", &path, Some(SERVICE_KEY), None).await;
    assert_eq!((st, &body["error"]["code"]), (404, &json!("not_found")));
    let (st, _) = s.call("DELETE", &path, Some(SERVICE_KEY), None).await;
    assert_eq!(st, 404);
}

/// If-Match guards writes: a stale version gets 412 and changes nothing.
#[tokio::test]
async fn if_match_rejects_stale_versions() {
    let s = Server::start().await;
    s.open_collection("c").await;
    let id = s.create("c", json!({"v": 1})).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let url = format!("{}/v1/collections/c/documents/{id}", s.base);
    let send = |m: reqwest::Method, v: &str| {
        s.http
            .request(m, &url)
            .bearer_auth(SERVICE_KEY)
            .header("if-match", v)
            .json(&json!({"data": {"v": 2}}))
            .send()
    };
    let r = send(reqwest::Method::PATCH, "1").await.expect("patch");
    assert_eq!(r.status(), 200);
    let r = send(reqwest::Method::PUT, "\"1\"").await.expect("put");
    assert_eq!(r.status(), 412);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "precondition_failed");
    let r = send(reqwest::Method::DELETE, "1").await.expect("delete");
    assert_eq!(r.status(), 412);
    let r = send(reqwest::Method::PATCH, "abc").await.expect("patch");
    assert_eq!(r.status(), 400);
    let r = send(reqwest::Method::DELETE, "2").await.expect("delete");
    assert_eq!(r.status(), 204);
}

/// Bad input gets the documented status and error code.
#[tokio::test]
async fn error_statuses() {
    let s = Server::start_with(&["--max-document-bytes", "2000"]).await;
    s.open_collection("c").await;
    let docs = "/v1/collections/c/documents";
    type Case<'a> = (&'a str, String, Option<&'a str>, Option<Value>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "POST",
            docs.into(),
            None,
            Some(json!({"data": {}})),
            401,
            "unauthorized",
        ),
        (
            "POST",
            docs.into(),
            Some("eddy_sk_wrong_key_000000000000"),
            Some(json!({"data": {}})),
            401,
            "unauthorized",
        ),
        (
            "POST",
            docs.into(),
            Some("not-a-jwt"),
            Some(json!({"data": {}})),
            401,
            "unauthorized",
        ),
        (
            "POST",
            docs.into(),
            Some(SERVICE_KEY),
            Some(json!({"data": [1]})),
            422,
            "unprocessable",
        ),
        (
            "POST",
            docs.into(),
            Some(SERVICE_KEY),
            Some(json!({"nodata": 1})),
            400,
            "invalid_request",
        ),
        (
            "POST",
            docs.into(),
            Some(SERVICE_KEY),
            Some(json!({"data": {"x": "y".repeat(4000)}})),
            413,
            "payload_too_large",
        ),
        (
            "GET",
            "/v1/collections/c/documents/not-a-uuid".into(),
            Some(SERVICE_KEY),
            None,
            400,
            "invalid_request",
        ),
        (
            "GET",
            format!("{docs}?a__bogus=1"),
            Some(SERVICE_KEY),
            None,
            400,
            "invalid_filter",
        ),
        (
            "GET",
            format!("{docs}?limit=5000"),
            Some(SERVICE_KEY),
            None,
            400,
            "invalid_request",
        ),
        (
            "GET",
            format!("{docs}?after=garbage"),
            Some(SERVICE_KEY),
            None,
            400,
            "invalid_filter",
        ),
        (
            "GET",
            "/v1/collections/nope/documents".into(),
            Some(SERVICE_KEY),
            None,
            404,
            "not_found",
        ),
        (
            "GET",
            "/v1/collections/..%2Fetc/documents".into(),
            Some(SERVICE_KEY),
            None,
            400,
            "invalid_request",
        ),
        (
            "GET",
            "/v1/nothing-here".into(),
            Some(SERVICE_KEY),
            None,
            404,
            "not_found",
        ),
        (
            "DELETE",
            "/v1/collections/c/batch".into(),
            Some(SERVICE_KEY),
            None,
            405,
            "method_not_allowed",
        ),
        (
            "GET",
            "/v1/collections".into(),
            Some(PUBLIC_KEY),
            None,
            403,
            "forbidden",
        ),
    ];
    for (method, path, token, body, status, code) in cases {
        let (st, b) = s.call(method, &path, token, body).await;
        assert_eq!(st, status, "{method} {path}: {b}");
        assert_eq!(b["error"]["code"], code, "{method} {path}: {b}");
        assert!(b["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Wrong content type, invalid UTF-8, deep nesting and duplicates.
    let url = format!("{}{docs}", s.base);
    let r = s
        .http
        .post(&url)
        .bearer_auth(SERVICE_KEY)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 415);
    let r = s
        .http
        .post(&url)
        .bearer_auth(SERVICE_KEY)
        .header("content-type", "application/json")
        .body(vec![b'{', 0xff, b'}'])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    let deep = format!("{{\"data\":{}1{}}}", "{\"a\":".repeat(200), "}".repeat(200));
    let r = s
        .http
        .post(&url)
        .bearer_auth(SERVICE_KEY)
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    // Deeper than relayed frames could be parsed by common JSON readers: 422.
    let nested = format!("{{\"data\":{{\"a\":{}1{}}}}}", "[".repeat(110), "]".repeat(110));
    let r = s
        .http
        .post(&url)
        .bearer_auth(SERVICE_KEY)
        .header("content-type", "application/json")
        .body(nested)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    let r = s
        .http
        .post(&url)
        .bearer_auth(SERVICE_KEY)
        .header("content-type", "application/json")
        .body(r#"{"data":{"n":1e999}}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    let id = uuid::Uuid::new_v4();
    let (st, _) = s
        .call("POST", docs, Some(SERVICE_KEY), Some(json!({"id": id, "data": {}})))
        .await;
    assert_eq!(st, 201);
    let (st, b) = s
        .call("POST", docs, Some(SERVICE_KEY), Some(json!({"id": id, "data": {}})))
        .await;
    assert_eq!((st, &b["error"]["code"]), (409, &json!("conflict")));
    // The server is still healthy after all of that.
    let (st, _) = s.call("GET", "/healthz", None, None).await;
    assert_eq!(st, 200);
}

/// Keyset pages cover every document exactly once even with inserts between pages.
#[tokio::test]
async fn pagination_is_stable_under_concurrent_inserts() {
    let s = Server::start().await;
    s.open_collection("p").await;
    let mut ids = std::collections::HashSet::new();
    for i in 0..45 {
        ids.insert(
            s.create("p", json!({"i": i, "g": i % 3})).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for page in 0.. {
        let mut path = "/v1/collections/p/documents?limit=10&sort=-i".to_string();
        if let Some(a) = &after {
            path.push_str(&format!("&after={a}"));
        }
        let (st, b) = s.call("GET", &path, Some(SERVICE_KEY), None).await;
        assert_eq!(st, 200, "{b}");
        for d in b["documents"].as_array().expect("documents") {
            seen.push((
                d["data"]["i"].as_i64().expect("i"),
                d["id"].as_str().expect("id").to_owned(),
            ));
        }
        // Inserted rows sort before the walked range (higher i), so they must not appear.
        s.create("p", json!({"i": 1000 + page, "g": 0})).await;
        match b["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    let walked: Vec<i64> = seen.iter().map(|(i, _)| *i).collect();
    assert_eq!(walked, (0..45).rev().collect::<Vec<_>>());
    let got: std::collections::HashSet<_> = seen.into_iter().map(|(_, id)| id).collect();
    assert_eq!(got, ids);
    let (_, b) = s
        .call(
            "GET",
            "/v1/collections/p/documents?g=1&i__lt=10&sort=i",
            Some(SERVICE_KEY),
            None,
        )
        .await;
    let is: Vec<i64> = b["documents"]
        .as_array()
        .expect("docs")
        .iter()
        .map(|d| d["data"]["i"].as_i64().expect("i"))
        .collect();
    assert_eq!(is, vec![1, 4, 7]);
}

/// A batch applies all operations in one transaction, or none.
#[tokio::test]
async fn batch_is_atomic() {
    let s = Server::start().await;
    s.open_collection("b").await;
    let keep = s.create("b", json!({"k": 1})).await;
    let kid = keep["id"].as_str().expect("id");
    let (st, b) = s
        .call(
            "POST",
            "/v1/collections/b/batch",
            Some(SERVICE_KEY),
            Some(json!({"operations": [
                {"op": "create", "data": {"n": 1}},
                {"op": "update", "id": kid, "data": {"k": 2}},
                {"op": "delete", "id": uuid::Uuid::new_v4()}
            ]})),
        )
        .await;
    assert_eq!(st, 404, "{b}");
    assert!(b["error"]["message"]
        .as_str()
        .expect("msg")
        .starts_with("operations[2]"));
    let (_, list) = s
        .call("GET", "/v1/collections/b/documents", Some(SERVICE_KEY), None)
        .await;
    assert_eq!(list["documents"].as_array().expect("docs").len(), 1);
    let (st, b) = s
        .call(
            "POST",
            "/v1/collections/b/batch",
            Some(SERVICE_KEY),
            Some(json!({"operations": [
                {"op": "create", "data": {"n": 1}},
                {"op": "update", "id": kid, "data": {"k": 2}, "if_match": 1},
                {"op": "replace", "id": kid, "data": {"k": 3}},
                {"op": "delete", "id": kid}
            ]})),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["results"][2]["data"], json!({"k": 3}));
    assert_eq!(b["results"][3]["deleted"], true);
    let (_, list) = s
        .call("GET", "/v1/collections/b/documents", Some(SERVICE_KEY), None)
        .await;
    assert_eq!(list["documents"].as_array().expect("docs").len(), 1);
}

/// Admin routes: list/get/put/delete collections, counts (the OpenAPI document: `openapi.rs`).
#[tokio::test]
async fn admin_and_openapi() {
    let s = Server::start().await;
    s.open_collection("a1").await;
    s.create("a1", json!({})).await;
    s.create("a1", json!({})).await;
    let (st, b) = s.call("GET", "/v1/collections", Some(SERVICE_KEY), None).await;
    assert_eq!(st, 200);
    assert_eq!(b["collections"][0]["documents"], 2);
    assert_eq!(b["collections"][0]["rules"]["read"], "public");
    let (st, b) = s
        .call(
            "PUT",
            "/v1/collections/a1",
            Some(SERVICE_KEY),
            Some(json!({"rules": {"read": "nobody"}})),
        )
        .await;
    assert_eq!(st, 400, "{b}");
    let (st, _) = s.call("DELETE", "/v1/collections/a1", Some(SERVICE_KEY), None).await;
    assert_eq!(st, 204);
    let (st, _) = s.call("GET", "/v1/collections/a1", Some(SERVICE_KEY), None).await;
    assert_eq!(st, 404);
    let (st, m) = s.call("GET", "/metrics", Some(SERVICE_KEY), None).await;
    assert_eq!(st, 200);
    assert!(m.as_str().is_some_and(|t| t.contains("eddy_")), "{m}");
}
