//! Group commit of single-document creates: concurrent requests share rounds,
//! and each still gets its own result; every created document is delivered once.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::HashMap;

/// `eddy_create_round_size` (count, sum) from /metrics.
async fn round_sizes(s: &Server) -> (f64, f64) {
    (
        s.metric("eddy_create_round_size_count").await,
        s.metric("eddy_create_round_size_sum").await,
    )
}

async fn post(s: &Server, body: Value) -> (u16, Value) {
    s.call("POST", "/v1/collections/gc/documents", Some(SERVICE_KEY), Some(body))
        .await
}

/// Concurrent creates mixing fresh ids, ids that exist, two requests for one new
/// id, and data PostgreSQL refuses: each request gets the answer it would get
/// alone, and the subscriber receives each created document exactly once.
#[tokio::test]
async fn concurrent_creates_get_their_own_results() {
    let s = Server::start().await;
    s.open_collection("gc").await;
    let mut ws = s.ws(SERVICE_KEY).await;
    ws.expect_type("auth_ok").await;
    ws.subscribe(json!({"type": "subscribe", "id": "g", "collection": "gc"}))
        .await;

    let existing = s.create("gc", json!({"k": "existing"})).await;
    let existing_id = existing["id"].as_str().expect("id").to_owned();
    // A value jsonb cannot store; what a lone request gets for it.
    let bad = json!({"data": {"k": "bad\u{0}"}});
    let (lone_bad, lone_body) = post(&s, bad.clone()).await;
    assert_eq!(lone_bad, 400, "{lone_body}");
    let mut delivered_want = vec!["existing".to_owned()];

    let mut grouped = false;
    for attempt in 0..5 {
        let before = round_sizes(&s).await;
        let mut bodies: Vec<(String, Value)> = Vec::new();
        for i in 0..40 {
            bodies.push(("ok".into(), json!({"data": {"k": format!("ok-{attempt}-{i}")}})));
        }
        for i in 0..8 {
            bodies.push((
                "exists".into(),
                json!({"id": existing_id, "data": {"k": format!("dup-{i}")}}),
            ));
        }
        for i in 0..5 {
            let id = uuid::Uuid::new_v4();
            for side in ["a", "b"] {
                bodies.push((
                    format!("pair-{i}"),
                    json!({"id": id, "data": {"k": format!("pair-{attempt}-{i}-{side}")}}),
                ));
            }
        }
        for _ in 0..4 {
            bodies.push(("bad".into(), bad.clone()));
        }
        let results = futures_util::future::join_all(bodies.iter().map(|(_, b)| post(&s, b.clone()))).await;
        let mut pairs: HashMap<String, Vec<u16>> = HashMap::new();
        for ((kind, body), (status, answer)) in bodies.iter().zip(&results) {
            match kind.as_str() {
                "ok" => {
                    assert_eq!(*status, 201, "{answer}");
                    assert_eq!(answer["data"], body["data"]);
                    assert_eq!(answer["version"], 1);
                    delivered_want.push(body["data"]["k"].as_str().expect("k").to_owned());
                }
                "exists" => {
                    assert_eq!(*status, 409, "{answer}");
                    assert_eq!(answer["error"]["code"], "conflict", "{answer}");
                }
                "bad" => assert_eq!(*status, lone_bad, "{answer}"),
                pair => {
                    pairs.entry(pair.to_owned()).or_default().push(*status);
                    if *status == 201 {
                        assert_eq!(answer["data"], body["data"]);
                        delivered_want.push(body["data"]["k"].as_str().expect("k").to_owned());
                    }
                }
            }
        }
        for (pair, mut statuses) in pairs {
            statuses.sort_unstable();
            assert_eq!(
                statuses,
                vec![201, 409],
                "{pair}: one request wins, the other conflicts"
            );
        }
        let after = round_sizes(&s).await;
        // More requests than rounds: some round wrote several.
        if after.1 - before.1 > after.0 - before.0 {
            grouped = true;
            break;
        }
    }
    assert!(grouped, "no two concurrent creates ever shared a round");

    let mut got = Vec::new();
    while got.len() < delivered_want.len() {
        let ev = ws.expect_type("event").await;
        assert_eq!(ev["event"], "created");
        got.push(ev["document"]["data"]["k"].as_str().expect("k").to_owned());
    }
    // Nothing more: the next event is a sentinel written after everything else.
    s.create("gc", json!({"k": "sentinel"})).await;
    let ev = ws.expect_type("event").await;
    assert_eq!(ev["document"]["data"]["k"], "sentinel", "extra event {ev}");
    got.sort();
    delivered_want.sort();
    assert_eq!(got, delivered_want, "every created document delivered exactly once");
}
