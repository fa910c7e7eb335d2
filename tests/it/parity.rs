//! WebSocket and SSE share one implementation of the realtime semantics: the
//! same subscription scenarios run over both must produce the same frames.

use crate::support::*;
use serde_json::{json, Value};
use std::time::Instant;

const SPEC: &str = r#"{"status":"open"}"#;

/// Subscribes over WebSocket with the SSE subscription's id, so frames compare whole.
async fn ws_sub(s: &Server, token: &str, extra: Value) -> (Ws, Vec<Value>) {
    let mut ws = s.ws(token).await;
    ws.expect_type("auth_ok").await;
    let mut msg = json!({"type": "subscribe", "id": "sse", "collection": "p", "filters": serde_json::from_str::<Value>(SPEC).expect("spec")});
    if let (Some(m), Some(e)) = (msg.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    let (mut before, subscribed) = ws.subscribe(msg).await;
    before.push(subscribed);
    (ws, before)
}

fn sse_path(token: &str, extra: &str) -> String {
    format!(
        "/realtime/sse?collection=p&filters={}&token={token}{extra}",
        urlencode(SPEC)
    )
}

/// The JSON of SSE events, checking that names and ids follow the frames.
fn sse_frames(events: &[SseEvent]) -> Vec<Value> {
    for e in events {
        let expected_name = match e.data["type"].as_str() {
            Some("event") => e.data["event"].as_str().unwrap_or_default().to_owned(),
            Some(t) => t.to_owned(),
            None => panic!("frame without type: {e:?}"),
        };
        assert_eq!(e.event, expected_name, "SSE event name of {e:?}");
        match e.data.get("seq") {
            Some(seq) => assert_eq!(e.id, seq.to_string(), "SSE id of {e:?}"),
            None => assert!(e.id.is_empty(), "unexpected SSE id on {e:?}"),
        }
    }
    events.iter().map(|e| e.data.clone()).collect()
}

async fn ws_events(ws: &mut Ws, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        out.push(ws.recv().await);
    }
    out
}

async fn sse_events(sse: &mut Sse, n: usize) -> Vec<SseEvent> {
    let mut out = Vec::new();
    while out.len() < n {
        out.push(sse.recv().await);
    }
    out
}

/// Filters, snapshot with limit and sort, enter/leave transitions, deletes, and
/// resume with `since` / `Last-Event-ID`: identical frames on both transports.
#[tokio::test]
async fn websocket_and_sse_deliver_the_same_frames() {
    let s = Server::start().await;
    let everyone = json!({"read": "authenticated", "create": "authenticated", "update": "authenticated", "delete": "authenticated"});
    s.collection("p", everyone).await;
    let alice = jwt("alice", None, 3600);
    for (rank, status) in [(1, "open"), (2, "open"), (3, "open"), (4, "closed"), (5, "open")] {
        let (st, _) = s
            .call(
                "POST",
                "/v1/collections/p/documents",
                Some(&alice),
                Some(json!({"data": {"rank": rank, "status": status}})),
            )
            .await;
        assert_eq!(st, 201);
    }

    // Both snapshots must be taken at the same log position: wait until all five
    // writes are numbered (a replay from 0 returns them).
    let mut watcher = s.ws(&alice).await;
    watcher.expect_type("auth_ok").await;
    let (mut seen, _) = watcher
        .subscribe(json!({"type": "subscribe", "collection": "p", "since": 0}))
        .await;
    while seen.len() < 5 {
        seen.push(watcher.expect_type("event").await);
    }

    let (mut ws, ws_start) = ws_sub(&s, &alice, json!({"snapshot": true, "limit": 2, "sort": "-rank"})).await;
    let mut sse = Sse::open(&s, &sse_path(&alice, "&snapshot=true&limit=2&sort=-rank"), None).await;
    let sse_start = sse_frames(&sse.until_subscribed().await);
    assert_eq!(ws_start, sse_start, "snapshot and subscribed differ");
    let ranks: Vec<&Value> = ws_start[0]["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| &d["data"]["rank"])
        .collect();
    assert_eq!(ranks, [&json!(5), &json!(3)], "limit 2, sorted by -rank");
    assert_eq!(ws_start[0]["truncated"], true);

    let write = |method: &'static str, path: String, body: Option<Value>| {
        let (s, alice) = (&s, alice.clone());
        async move {
            let (st, doc) = s.call(method, &path, Some(&alice), body).await;
            assert!(st < 300, "{method} {path}: {st} {doc}");
            doc
        }
    };
    let six = write(
        "POST",
        "/v1/collections/p/documents".into(),
        Some(json!({"data": {"rank": 6, "status": "open"}})),
    )
    .await;
    let six_path = format!("/v1/collections/p/documents/{}", six["id"].as_str().expect("id"));
    write("PATCH", six_path.clone(), Some(json!({"data": {"status": "closed"}}))).await;
    write("PATCH", six_path.clone(), Some(json!({"data": {"status": "open"}}))).await;
    write(
        "POST",
        "/v1/collections/p/documents".into(),
        Some(json!({"data": {"rank": 7, "status": "closed"}})),
    )
    .await;
    write("DELETE", six_path, None).await;

    let from_ws = ws_events(&mut ws, 4).await;
    let from_sse = sse_frames(&sse_events(&mut sse, 4).await);
    assert_eq!(from_ws, from_sse, "live events differ");
    let shape: Vec<(&Value, &Value)> = from_ws.iter().map(|e| (&e["event"], &e["transition"])).collect();
    assert_eq!(
        shape,
        [
            (&json!("created"), &Value::Null),
            (&json!("updated"), &json!("leave")),
            (&json!("updated"), &json!("enter")),
            (&json!("deleted"), &Value::Null),
        ]
    );

    // Resume after the second event on both transports.
    let since = from_ws[1]["seq"].as_i64().expect("seq");
    let (_ws2, ws_resumed) = ws_sub(&s, &alice, json!({"since": since})).await;
    let mut sse2 = Sse::open(&s, &sse_path(&alice, ""), Some(&since.to_string())).await;
    let sse_resumed = sse_frames(&sse2.until_subscribed().await);
    assert_eq!(ws_resumed, sse_resumed, "resumed frames differ");
    assert_eq!(
        &ws_resumed[..2],
        &from_ws[2..],
        "resume replays exactly what followed the cursor"
    );
}

/// Revoking a key ends a WebSocket and an SSE stream the same way, through the
/// hub (the notice names the reason; no polling interval is involved).
#[tokio::test]
async fn key_revocation_ends_both_transports() {
    let s = Server::start().await;
    s.collection(
        "p",
        json!({"read": "public", "create": "service", "update": "service", "delete": "service"}),
    )
    .await;
    let (id, key) = s.create_key("public").await;
    let (mut ws, _) = ws_sub(&s, &key, json!({})).await;
    let mut sse = Sse::open(&s, &sse_path(&key, ""), None).await;
    sse.until_subscribed().await;
    assert_eq!(connections(&s, "sse").await, 1.0, "SSE streams count as connections");

    let started = Instant::now();
    s.revoke_key(&id);
    let ws_notice = ws.expect_type("error").await;
    assert_eq!(ws.close_code().await, Some(4001));
    let ws_took = started.elapsed();
    let sse_notice = sse.recv().await;
    assert!(sse.ended().await, "the SSE stream stayed open after revocation");
    let sse_took = started.elapsed();
    eprintln!("revocation closed the WebSocket after {ws_took:?} and the SSE stream after {sse_took:?}");
    assert_eq!(sse_notice.event, "error");
    assert_eq!(ws_notice, sse_notice.data, "the same notice on both transports");
    assert_eq!(ws_notice["message"], "API key revoked");
}

/// An expiring JWT ends both transports with `token_expired` (WebSocket also
/// warns first, since it can re-authenticate in place).
#[tokio::test]
async fn token_expiry_ends_both_transports() {
    let s = Server::start().await;
    s.collection(
        "p",
        json!({"read": "authenticated", "create": "service", "update": "service", "delete": "service"}),
    )
    .await;
    let short = jwt("alice", None, 2);
    let (mut ws, mut seen) = ws_sub(&s, &short, json!({})).await;
    let mut sse = Sse::open(&s, &sse_path(&short, ""), None).await;
    sse.until_subscribed().await;
    let ws_end = loop {
        let v = ws.recv().await;
        if v["type"] == "error" {
            break v;
        }
        seen.push(v);
    };
    assert!(
        seen.iter().any(|v| v["type"] == "token_expiring"),
        "no warning before expiry: {seen:?}"
    );
    assert_eq!(ws_end["code"], "token_expired");
    assert_eq!(ws.close_code().await, Some(4001));
    let sse_end = sse.recv().await;
    assert_eq!(
        (sse_end.event.as_str(), &sse_end.data["code"]),
        ("error", &json!("token_expired"))
    );
    assert!(sse.ended().await, "the SSE stream stayed open after expiry");
}

/// The `eddy_connections` gauge for one transport.
async fn connections(s: &Server, transport: &str) -> f64 {
    s.metric(&format!("eddy_connections{{transport=\"{transport}\"}}"))
        .await
}
