//! Realtime subscriptions over WebSocket and SSE: matching, transitions, access,
//! ordering, snapshots, resume, liveness and every error path.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

async fn authed(s: &Server, token: &str) -> Ws {
    let mut ws = s.ws(token).await;
    assert_eq!(ws.recv().await["type"], "auth_ok");
    ws
}

/// Reads `n` events, failing on anything else but presence/pong noise.
async fn events(ws: &mut Ws, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        let v = ws.recv().await;
        if v["type"] == "event" {
            out.push(v);
        }
    }
    out
}

/// A REST write reaches matching subscribers only; AND, OR groups and nested paths work.
#[tokio::test]
async fn filtered_subscriptions() {
    let s = Server::start().await;
    s.open_collection("posts").await;
    let mut ws = authed(&s, SERVICE_KEY).await;
    ws.subscribe(json!({"type": "subscribe", "id": "all", "collection": "posts"}))
        .await;
    ws.subscribe(json!({"type": "subscribe", "id": "open", "collection": "posts", "filters": {"status": "open"}}))
        .await;
    ws.subscribe(json!({"type": "subscribe", "id": "and", "collection": "posts", "filters": {"status": "open", "views__gte": 10}})).await;
    ws.subscribe(json!({"type": "subscribe", "id": "or", "collection": "posts", "filters": {"[or]status": "closed", "[or]author.name": "ann"}})).await;
    s.open_collection("comments").await;
    ws.subscribe(json!({"type": "subscribe", "id": "other", "collection": "comments"}))
        .await;
    let docs = [
        json!({"status": "open", "views": 3, "author": {"name": "bob"}}),
        json!({"status": "open", "views": 30, "author": {"name": "ann"}}),
        json!({"status": "closed", "views": 50}),
        json!({"status": "draft", "author": {"name": "cy"}}),
    ];
    for d in &docs {
        s.create("posts", d.clone()).await;
    }
    let mut got: Vec<(String, i64)> = Vec::new();
    while got.len() < 4 + 2 + 1 + 2 {
        let e = ws.expect_type("event").await;
        got.push((
            e["subscription"].as_str().expect("sub").to_owned(),
            e["seq"].as_i64().expect("seq"),
        ));
    }
    let subs_for = |i: usize| -> Vec<&str> {
        match i {
            0 => vec!["all", "open"],
            1 => vec!["all", "open", "and", "or"],
            2 => vec!["all", "or"],
            _ => vec!["all"],
        }
    };
    let mut seqs: Vec<i64> = got.iter().map(|g| g.1).collect();
    seqs.dedup();
    assert_eq!(seqs.len(), 4, "{got:?}");
    for (i, seq) in seqs.iter().enumerate() {
        let mut here: Vec<&str> = got.iter().filter(|g| g.1 == *seq).map(|g| g.0.as_str()).collect();
        here.sort_unstable();
        let mut want = subs_for(i);
        want.sort_unstable();
        assert_eq!(here, want, "doc {i}");
    }
    assert!(
        ws.next(Duration::from_millis(300)).await.is_none(),
        "unexpected extra message"
    );
}

/// Updates moving a document into or out of a filter carry enter/leave transitions.
#[tokio::test]
async fn enter_and_leave_transitions() {
    let s = Server::start().await;
    s.open_collection("t").await;
    let doc = s.create("t", json!({"status": "draft"})).await;
    let id = doc["id"].as_str().expect("id").to_owned();
    let mut ws = authed(&s, SERVICE_KEY).await;
    ws.subscribe(json!({"type": "subscribe", "id": "live", "collection": "t", "filters": {"status": "live"}}))
        .await;
    let path = format!("/v1/collections/t/documents/{id}");
    for (n, status) in ["live", "live", "archived", "draft"].into_iter().enumerate() {
        let (st, _) = s
            .call(
                "PATCH",
                &path,
                Some(SERVICE_KEY),
                Some(json!({"data": {"status": status, "n": n}})),
            )
            .await;
        assert_eq!(st, 200);
    }
    s.call("DELETE", &path, Some(SERVICE_KEY), None).await;
    let ev = events(&mut ws, 3).await;
    assert_eq!(
        (ev[0]["event"].as_str(), ev[0]["transition"].as_str()),
        (Some("updated"), Some("enter"))
    );
    assert_eq!(ev[0]["old"], json!({"status": "draft"}));
    assert_eq!(
        (ev[1]["event"].as_str(), ev[1].get("transition")),
        (Some("updated"), None)
    );
    assert_eq!(
        (ev[2]["event"].as_str(), ev[2]["transition"].as_str()),
        (Some("updated"), Some("leave"))
    );
    assert_eq!(ev[2]["document"]["data"]["status"], "archived");
    // The later update (archived → draft) and the delete of a draft do not match.
    assert!(ws.next(Duration::from_millis(300)).await.is_none());
}

/// Under an owner read rule each subscriber sees only its own documents, deletes included,
/// and a token refresh to another user switches what the socket sees.
#[tokio::test]
async fn owner_rule_per_subscriber() {
    let s = Server::start().await;
    s.collection(
        "notes",
        json!({"read": "owner", "create": "authenticated", "update": "owner", "delete": "owner"}),
    )
    .await;
    let alice = jwt("alice", None, 3600);
    let bob = jwt("bob", None, 3600);
    let mut wa = authed(&s, &alice).await;
    let mut wb = authed(&s, &bob).await;
    let mut wp = authed(&s, PUBLIC_KEY).await;
    wa.subscribe(json!({"type": "subscribe", "id": "n", "collection": "notes"}))
        .await;
    wb.subscribe(json!({"type": "subscribe", "id": "n", "collection": "notes"}))
        .await;
    wp.send(json!({"type": "subscribe", "id": "n", "collection": "notes"}))
        .await;
    assert_eq!(wp.expect_type("error").await["code"], "forbidden");
    let (_, a_doc) = s
        .call(
            "POST",
            "/v1/collections/notes/documents",
            Some(&alice),
            Some(json!({"data": {"t": "a"}})),
        )
        .await;
    let (_, b_doc) = s
        .call(
            "POST",
            "/v1/collections/notes/documents",
            Some(&bob),
            Some(json!({"data": {"t": "b"}})),
        )
        .await;
    s.call(
        "DELETE",
        &format!("/v1/collections/notes/documents/{}", a_doc["id"].as_str().expect("id")),
        Some(&alice),
        None,
    )
    .await;
    let ea = events(&mut wa, 2).await;
    assert_eq!(ea[0]["document"]["data"]["t"], "a");
    assert_eq!(ea[1]["event"], "deleted");
    assert_eq!(ea[1]["document"]["owner"], "alice");
    let eb = events(&mut wb, 1).await;
    assert_eq!(eb[0]["document"]["id"], b_doc["id"]);
    assert!(
        wb.next(Duration::from_millis(300)).await.is_none(),
        "bob saw alice's delete"
    );
    // Alice's socket re-authenticates as bob: from now on it sees bob's documents.
    wa.send(json!({"type": "auth", "token": bob, "ref": "r"})).await;
    let ok = wa.expect_type("auth_ok").await;
    assert_eq!(ok["identity"]["sub"], "bob");
    s.call(
        "POST",
        "/v1/collections/notes/documents",
        Some(&alice),
        Some(json!({"data": {"t": "a2"}})),
    )
    .await;
    s.call(
        "POST",
        "/v1/collections/notes/documents",
        Some(&bob),
        Some(json!({"data": {"t": "b2"}})),
    )
    .await;
    let e = events(&mut wa, 1).await;
    assert_eq!(e[0]["document"]["data"]["t"], "b2");
    // Refreshing to an identity that may not read ends the subscription with an error naming it.
    s.collection("notes", json!({"read": "role:staff"})).await;
    wa.send(json!({"type": "auth", "token": jwt("bob", Some("guest"), 3600)}))
        .await;
    wa.expect_type("auth_ok").await;
    let err = wa.expect_type("error").await;
    assert_eq!(
        (err["code"].as_str(), err["subscription"].as_str()),
        (Some("forbidden"), Some("n"))
    );
}

/// Concurrent writers: each subscriber gets every change once, in increasing seq.
#[tokio::test]
async fn ordered_exactly_once_under_concurrent_writers() {
    let s = Server::start().await;
    s.open_collection("c").await;
    let mut ws = authed(&s, SERVICE_KEY).await;
    ws.subscribe(json!({"type": "subscribe", "id": "x", "collection": "c"}))
        .await;
    let mut tasks = Vec::new();
    for w in 0..4 {
        let http = s.http.clone();
        let url = format!("{}/v1/collections/c/documents", s.base);
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let r = http
                    .post(&url)
                    .bearer_auth(SERVICE_KEY)
                    .json(&json!({"data": {"w": w, "i": i}}))
                    .send()
                    .await
                    .expect("post");
                assert_eq!(r.status(), 201);
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let ev = events(&mut ws, 200).await;
    let seqs: Vec<i64> = ev.iter().map(|e| e["seq"].as_i64().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "not in seq order");
    let ids: HashSet<&str> = ev.iter().map(|e| e["document"]["id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), 200);
    assert!(ws.next(Duration::from_millis(300)).await.is_none());
}

/// A snapshot taken while writes race it, plus the events after it, cover every
/// document exactly once.
#[tokio::test]
async fn snapshot_racing_writes() {
    let s = Server::start().await;
    s.open_collection("snap").await;
    let writer = {
        let http = s.http.clone();
        let url = format!("{}/v1/collections/snap/documents", s.base);
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..300 {
                let r = http
                    .post(&url)
                    .bearer_auth(SERVICE_KEY)
                    .json(&json!({"data": {"i": i}}))
                    .send()
                    .await
                    .expect("post");
                let d: Value = r.json().await.expect("json");
                ids.push(d["id"].as_str().expect("id").to_owned());
            }
            ids
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut ws = authed(&s, SERVICE_KEY).await;
    let (before, sub) = ws
        .subscribe(json!({"type": "subscribe", "id": "s", "collection": "snap", "snapshot": true, "limit": 1000}))
        .await;
    let snap = &before[0];
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["truncated"], false);
    let snap_seq = snap["seq"].as_i64().expect("seq");
    let mut seen: Vec<String> = snap["documents"]
        .as_array()
        .expect("docs")
        .iter()
        .map(|d| d["id"].as_str().expect("id").to_owned())
        .collect();
    let mut last = snap_seq;
    for e in before[1..].iter().chain(std::iter::empty()) {
        assert!(e["seq"].as_i64().expect("seq") > last);
        last = e["seq"].as_i64().expect("seq");
        seen.push(e["document"]["id"].as_str().expect("id").to_owned());
    }
    assert!(sub["seq"].as_i64().expect("seq") >= snap_seq);
    let ids = writer.await.expect("writer");
    while seen.len() < ids.len() {
        let e = ws.expect_type("event").await;
        let seq = e["seq"].as_i64().expect("seq");
        assert!(seq > last, "duplicate or out of order: {seq} <= {last}");
        last = seq;
        seen.push(e["document"]["id"].as_str().expect("id").to_owned());
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a document was delivered twice");
    assert_eq!(unique, ids.iter().collect::<HashSet<_>>());
}

/// A client killed mid-stream resumes with `since` and receives each write exactly once.
#[tokio::test]
async fn resume_with_since_after_client_drop() {
    let s = Server::start().await;
    s.open_collection("r").await;
    let writer = {
        let http = s.http.clone();
        let url = format!("{}/v1/collections/r/documents", s.base);
        tokio::spawn(async move {
            for i in 0..300 {
                http.post(&url)
                    .bearer_auth(SERVICE_KEY)
                    .json(&json!({"data": {"i": i}}))
                    .send()
                    .await
                    .expect("post");
            }
        })
    };
    let mut got: Vec<i64> = Vec::new();
    let mut last = 0i64;
    let mut first = true;
    while got.len() < 300 {
        let mut ws = authed(&s, SERVICE_KEY).await;
        let mut sub = json!({"type": "subscribe", "id": "r", "collection": "r", "since": last});
        if first {
            sub = json!({"type": "subscribe", "id": "r", "collection": "r", "since": 0});
            first = false;
        }
        let (replayed, _) = ws.subscribe(sub).await;
        for e in replayed {
            last = e["seq"].as_i64().expect("seq");
            got.push(e["document"]["data"]["i"].as_i64().expect("i"));
        }
        // Read a few live events, then drop the socket abruptly.
        for _ in 0..40 {
            match ws.next(Duration::from_secs(3)).await {
                Some(e) if e["type"] == "event" => {
                    assert!(e["seq"].as_i64().expect("seq") > last);
                    last = e["seq"].as_i64().expect("seq");
                    got.push(e["document"]["data"]["i"].as_i64().expect("i"));
                }
                Some(_) => {}
                None => break,
            }
            if got.len() >= 300 {
                break;
            }
        }
        drop(ws);
    }
    writer.await.expect("writer");
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..300).collect::<Vec<_>>(), "lost or duplicated writes");
}

/// Terminating the LISTEN backend during writes delays nothing beyond a catch-up and loses nothing.
#[tokio::test]
async fn listener_backend_terminated() {
    let s = Server::start().await;
    s.open_collection("l").await;
    let pool = s.pool().await;
    let mut ws = authed(&s, SERVICE_KEY).await;
    ws.subscribe(json!({"type": "subscribe", "id": "l", "collection": "l"}))
        .await;
    // Terminating backends can also hit a pooled connection that last ran LISTEN and now
    // carries a write: such a write fails and is retried (what is tested is that no
    // committed change is lost across the LISTEN drops).
    let writer = {
        let (http, base) = (s.http.clone(), s.base.clone());
        tokio::spawn(async move {
            for i in 0..200 {
                create_retrying(&http, &base, "l", i, Duration::from_secs(30)).await;
            }
        })
    };
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'")
            .execute(&pool)
            .await
            .expect("terminate");
    }
    writer.await.expect("writer");
    let ev = events(&mut ws, 200).await;
    let mut is: Vec<i64> = ev
        .iter()
        .map(|e| e["document"]["data"]["i"].as_i64().expect("i"))
        .collect();
    is.sort_unstable();
    assert_eq!(is, (0..200).collect::<Vec<_>>());
}

/// Every protocol error code a client can provoke, with the socket staying open.
#[tokio::test]
async fn protocol_errors() {
    let s = Server::start_with(&["--max-subscriptions", "2", "--max-message-bytes", "4096"]).await;
    s.open_collection("e").await;
    let mut ws = Ws::connect(&s.ws_url()).await;
    let cases = [
        (
            json!({"type": "subscribe", "collection": "e", "ref": 1}).to_string(),
            "unauthorized",
        ),
        ("{not json".to_string(), "invalid_json"),
        (json!({"type": "dance"}).to_string(), "unknown_type"),
        (
            json!({"type": "auth", "token": "eddy_pk_nope_nope_nope_nope"}).to_string(),
            "unauthorized",
        ),
        (
            json!({"type": "auth", "token": jwt("x", None, -10)}).to_string(),
            "token_expired",
        ),
    ];
    for (text, code) in cases {
        ws.send_text(&text).await;
        let e = ws.expect_type("error").await;
        assert_eq!(e["code"], code, "{text}");
    }
    ws.send(json!({"type": "ping", "ref": "p"})).await;
    assert_eq!(ws.recv().await, json!({"type": "pong", "ref": "p"}));
    ws.send(json!({"type": "auth", "token": SERVICE_KEY})).await;
    ws.expect_type("auth_ok").await;
    let cases = [
        (json!({"type": "subscribe"}), "invalid_message"),
        (
            json!({"type": "subscribe", "collection": "e", "filters": {"a__nope": 1}}),
            "invalid_filter",
        ),
        (json!({"type": "subscribe", "collection": "missing"}), "not_found"),
        (json!({"type": "unsubscribe", "id": "zzz"}), "not_found"),
        (json!({"type": "leave", "room": "zzz"}), "not_found"),
        (json!({"type": "join", "room": "bad room!"}), "invalid_message"),
    ];
    for (msg, code) in cases {
        ws.send(msg.clone()).await;
        let e = ws.expect_type("error").await;
        assert_eq!(e["code"], code, "{msg}");
    }
    ws.subscribe(json!({"type": "subscribe", "id": "a", "collection": "e"}))
        .await;
    ws.send(json!({"type": "subscribe", "id": "a", "collection": "e"}))
        .await;
    assert_eq!(ws.expect_type("error").await["code"], "invalid_message");
    ws.subscribe(json!({"type": "subscribe", "id": "b", "collection": "e"}))
        .await;
    ws.send(json!({"type": "subscribe", "id": "c", "collection": "e"}))
        .await;
    assert_eq!(ws.expect_type("error").await["code"], "limit_exceeded");
    ws.send(json!({"type": "unsubscribe", "id": "a", "ref": 9})).await;
    assert_eq!(
        ws.expect_type("unsubscribed").await,
        json!({"type": "unsubscribed", "id": "a", "ref": 9})
    );
    ws.stream
        .send(tokio_tungstenite::tungstenite::Message::Binary(vec![1u8, 2, 3].into()))
        .await
        .expect("binary");
    assert_eq!(ws.expect_type("error").await["code"], "invalid_message");
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.expect_type("pong").await["type"], "pong");
    // Oversized frame: error, then close 1009.
    ws.send(json!({"type": "ping", "pad": "x".repeat(10_000)})).await;
    assert_eq!(ws.expect_type("error").await["code"], "payload_too_large");
    assert_eq!(ws.close_code().await, Some(1009));
}

use futures_util::SinkExt;

/// Flooding past the rate limit gets `rate_limited`, and persistent abuse closes with 4008.
#[tokio::test]
async fn rate_limit_and_abuse() {
    let s = Server::start_with(&["--rate-limit", "5", "--rate-burst", "5"]).await;
    let mut ws = authed(&s, SERVICE_KEY).await;
    for _ in 0..80 {
        ws.send(json!({"type": "ping"})).await;
    }
    let mut limited = 0;
    loop {
        match ws.next(Duration::from_secs(5)).await {
            Some(v) if v["code"] == "rate_limited" => limited += 1,
            Some(_) => {}
            None => break,
        }
    }
    assert!(limited >= 50, "{limited}");
    let mut ws = authed(&s, SERVICE_KEY).await;
    for _ in 0..60 {
        ws.send(json!({"type": "ping"})).await;
    }
    assert_eq!(ws.close_code().await, Some(4008));
}

/// Sockets that never authenticate are closed with 4001; past max connections the upgrade gets 503.
#[tokio::test]
async fn auth_timeout_and_max_connections() {
    let s = Server::start_with(&["--auth-timeout", "500ms", "--max-connections", "2"]).await;
    let mut idle = Ws::connect(&s.ws_url()).await;
    let e = idle.expect_type("error").await;
    assert_eq!(e["code"], "unauthorized");
    assert_eq!(idle.close_code().await, Some(4001));
    drop(idle);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _a = authed(&s, SERVICE_KEY).await;
    let _b = authed(&s, SERVICE_KEY).await;
    let err = tokio_tungstenite::connect_async(format!("{}?token={SERVICE_KEY}", s.ws_url()))
        .await
        .expect_err("third connection");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 503),
        other => panic!("expected HTTP 503, got {other}"),
    }
}

/// A token close to expiry gets `token_expiring`; a refresh keeps the socket; without one it closes 4001.
#[tokio::test]
async fn token_expiry_and_refresh() {
    let s = Server::start_with(&["--token-expiry-warning", "2s"]).await;
    s.open_collection("x").await;
    let mut ws = authed(&s, &jwt("alice", None, 3)).await;
    ws.subscribe(json!({"type": "subscribe", "id": "x", "collection": "x"}))
        .await;
    let warn = ws.expect_type("token_expiring").await;
    assert!(warn["expires_at"].as_i64().is_some());
    ws.send(json!({"type": "auth", "token": jwt("alice", None, 4)})).await;
    ws.expect_type("auth_ok").await;
    s.create("x", json!({"after": "refresh"})).await;
    assert_eq!(ws.expect_type("event").await["document"]["data"]["after"], "refresh");
    ws.expect_type("token_expiring").await;
    let e = ws.expect_type("error").await;
    assert_eq!(e["code"], "token_expired");
    assert_eq!(ws.close_code().await, Some(4001));
}

/// A subscriber that stops reading is closed as a slow consumer with bounded server
/// memory, and then resumes with `since` without loss.
#[tokio::test]
async fn slow_consumer_is_closed_and_resumes() {
    let s = Server::start_with(&["--outbound-queue", "32"]).await;
    s.open_collection("slow").await;
    let mut ws = authed(&s, SERVICE_KEY).await;
    let (_, sub) = ws
        .subscribe(json!({"type": "subscribe", "id": "s", "collection": "slow"}))
        .await;
    let start_seq = sub["seq"].as_i64().expect("seq");
    let rss = |pid: u32| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let before = rss(s.pid());
    let blob = "y".repeat(60_000);
    let mut written = 0;
    for i in 0..600 {
        s.create("slow", json!({"i": i, "blob": blob})).await;
        written += 1;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss(s.pid());
    // 600 × 60 KB = 36 MB were written; the stalled socket must not have buffered them.
    assert!(
        after < before + 30_000,
        "server RSS grew from {before} kB to {after} kB"
    );
    // Drain what the socket got, then it must be closed with 4100.
    let mut last = start_seq;
    let mut code = None;
    loop {
        match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut ws.stream))
            .await
            .expect("closed in time")
        {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).expect("json");
                if v["type"] == "event" {
                    last = v["seq"].as_i64().expect("seq");
                }
            }
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f))) => {
                code = f.map(|f| u16::from(f.code));
                break;
            }
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    assert!(code.is_none() || code == Some(4100), "close code {code:?}");
    let mut ws = authed(&s, SERVICE_KEY).await;
    let (replayed, _) = ws
        .subscribe(json!({"type": "subscribe", "id": "s", "collection": "slow", "since": last}))
        .await;
    let mut is: Vec<i64> = replayed
        .iter()
        .map(|e| e["document"]["data"]["i"].as_i64().expect("i"))
        .collect();
    let seen_before = written - is.len() as i64;
    is.sort_unstable();
    assert_eq!(is, (seen_before..written).collect::<Vec<_>>());
}

/// SSE streams the same events with the seq as id and resumes from Last-Event-ID.
#[tokio::test]
async fn sse_stream_and_last_event_id() {
    let s = Server::start().await;
    s.open_collection("sse").await;
    let path = format!(
        "/realtime/sse?collection=sse&filters={}&token={SERVICE_KEY}",
        urlencode(&json!({"k": 1}).to_string())
    );
    let mut sse = Sse::open(&s, &path, None).await;
    let live = sse.until_subscribed().await;
    assert_eq!(live.len(), 1, "{live:?}");
    s.create("sse", json!({"k": 1, "n": 1})).await;
    s.create("sse", json!({"k": 2, "n": 2})).await;
    s.create("sse", json!({"k": 1, "n": 3})).await;
    let got = [sse.recv().await, sse.recv().await];
    assert_eq!(got[0].event, "created");
    assert_eq!(got[0].data["document"]["data"]["n"], 1);
    assert_eq!(got[1].data["document"]["data"]["n"], 3);
    assert_eq!(got[0].id, got[0].data["seq"].to_string());
    // Resume after the first event: only n=3 again, then live.
    let mut again = Sse::open(&s, &path, Some(&got[0].id)).await;
    let n = |e: &SseEvent| e.data["document"]["data"]["n"].as_i64();
    let mut ns: Vec<i64> = again.until_subscribed().await.iter().filter_map(n).collect();
    s.create("sse", json!({"k": 1, "n": 4})).await;
    while ns.len() < 2 {
        ns.extend(n(&again.recv().await));
    }
    assert_eq!(ns, vec![3, 4]);
    let (st, b) = s
        .call(
            "GET",
            "/realtime/sse?collection=sse&filters=%7Bbad",
            Some(SERVICE_KEY),
            None,
        )
        .await;
    assert_eq!((st, &b["error"]["code"]), (400, &json!("invalid_request")));
    let (st, _) = s.call("GET", "/realtime/sse?collection=sse", None, None).await;
    assert_eq!(st, 401);
}

/// Revoking an API key closes the sockets that use it.
#[tokio::test]
async fn revoked_key_closes_sockets() {
    let s = Server::start().await;
    let (id, key) = s.create_key("public").await;
    let mut ws = authed(&s, &key).await;
    let (st, _) = s.call("GET", "/healthz", Some(&key), None).await;
    assert_eq!(st, 200);
    s.revoke_key(&id);
    let notice = ws.expect_type("error").await;
    assert_eq!(notice["code"], "unauthorized", "{notice}");
    assert_eq!(ws.close_code().await, Some(4001));
    s.open_collection("k").await;
    let (st, _) = s.call("GET", "/v1/collections/k/documents", Some(&key), None).await;
    assert_eq!(st, 401);
}

/// The outbound queue is bounded in bytes: a stalled reader of 16 KiB documents is
/// closed as a slow consumer within seconds, and the server's memory grows by about
/// the limit plus a small constant meanwhile (its message-count limit is far away).
#[tokio::test]
async fn byte_bounded_queue_closes_stalled_reader() {
    const LIMIT: usize = 1 << 20;
    let s = Server::start_with(&["--outbound-queue-bytes", &LIMIT.to_string()]).await;
    s.open_collection("big").await;
    let mut stalled = authed(&s, SERVICE_KEY).await;
    stalled
        .subscribe(json!({"type": "subscribe", "id": "s", "collection": "big"}))
        .await;
    let rss_kb = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let slow_closed = || async { s.metric("eddy_slow_consumers_closed_total").await >= 1.0 };
    let before = rss_kb();
    let blob = "z".repeat(16 * 1024);
    let started = std::time::Instant::now();
    let mut written = 0;
    // Bounded: at most 3,000 writes (48 MB); the socket must be closed long before.
    while written < 3000 {
        for _ in 0..50 {
            s.create("big", json!({"i": written, "blob": blob})).await;
            written += 1;
        }
        if slow_closed().await {
            break;
        }
    }
    let took = started.elapsed();
    let grew = rss_kb().saturating_sub(before);
    eprintln!("stalled reader closed after {written} writes of 16 KiB in {took:?}; server RSS grew {grew} kB");
    assert!(written < 3000, "the stalled reader was never closed");
    assert!(
        grew < (LIMIT as u64 / 1024) + 24 * 1024,
        "server RSS grew {grew} kB with a {LIMIT}-byte queue limit"
    );
    // The socket ends with 4100 after what was queued before the limit.
    let mut code = None;
    while code.is_none() {
        match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut stalled.stream))
            .await
            .expect("closed in time")
        {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f))) => code = Some(f.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    assert_eq!(code.flatten(), Some(4100));
}
