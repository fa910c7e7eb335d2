//! Faults: server killed or stopped during writes, and two servers on one database.

use crate::support::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Writes documents 0..n with client-chosen ids, retrying through outages
/// (a 409 on retry means the earlier attempt landed).
async fn write_all(http: reqwest::Client, bases: Vec<String>, coll: &'static str, n: i64) {
    for i in 0..n {
        let base = &bases[i as usize % bases.len()];
        create_retrying(&http, base, coll, i, Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A subscriber that reconnects and resumes with `since` until it has `n` documents.
async fn resuming_subscriber(url: String, coll: &'static str, n: usize) -> Vec<i64> {
    let mut got = Vec::new();
    let mut last: Option<i64> = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while got.len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscriber stuck at {} of {n}",
            got.len()
        );
        let Ok(Ok((stream, _))) = tokio::time::timeout(
            WAIT,
            tokio_tungstenite::connect_async(format!("{url}?token={SERVICE_KEY}")),
        )
        .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut ws = Ws { stream };
        let mut sub = json!({"type": "subscribe", "id": "f", "collection": coll});
        if let Some(l) = last {
            sub["since"] = json!(l);
        }
        ws.send(sub).await;
        loop {
            match ws.next(Duration::from_secs(5)).await {
                Some(v) if v["type"] == "event" => {
                    let seq = v["seq"].as_i64().expect("seq");
                    assert!(last.is_none_or(|l| seq > l), "seq went backwards");
                    last = Some(seq);
                    got.push(v["document"]["data"]["i"].as_i64().expect("i"));
                    if got.len() >= n {
                        break;
                    }
                }
                Some(v) if v["type"] == "subscribed" => {
                    if last.is_none() {
                        last = v["seq"].as_i64();
                    }
                }
                Some(v) if v["type"] == "error" => panic!("subscriber error {v}"),
                Some(_) => {}
                None => break,
            }
        }
    }
    got
}

fn assert_exactly_once(mut got: Vec<i64>, n: i64) {
    got.sort_unstable();
    assert_eq!(got, (0..n).collect::<Vec<_>>(), "lost or duplicated");
}

/// Eddy SIGKILLed and restarted twice during writes: every subscriber resumes with
/// `since` and receives every write exactly once.
#[tokio::test]
async fn server_killed_and_restarted() {
    let mut s = Server::start().await;
    s.open_collection("k").await;
    let subs: Vec<_> = (0..3)
        .map(|_| tokio::spawn(resuming_subscriber(s.ws_url(), "k", 300)))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let writer = tokio::spawn(write_all(s.http.clone(), vec![s.base.clone()], "k", 300));
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        s.restart().await;
    }
    writer.await.expect("writer");
    for sub in subs {
        assert_exactly_once(sub.await.expect("subscriber"), 300);
    }
}

/// SIGTERM during writes: sockets get the shutdown notice and close 1001, the process
/// exits within the grace period, and clients lose nothing after a restart.
#[tokio::test]
async fn graceful_shutdown() {
    let mut s = Server::start_with(&["--shutdown-grace", "3s"]).await;
    s.open_collection("g").await;
    let mut probe = s.ws(SERVICE_KEY).await;
    probe.expect_type("auth_ok").await;
    let sub = tokio::spawn(resuming_subscriber(s.ws_url(), "g", 200));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let writer = tokio::spawn(write_all(s.http.clone(), vec![s.base.clone()], "g", 200));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let took = s.terminate().await;
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    let notice: Value = probe.expect_type("system").await;
    assert_eq!(notice["event"], "shutdown");
    assert_eq!(probe.close_code().await, Some(1001));
    s.restart().await;
    writer.await.expect("writer");
    assert_exactly_once(sub.await.expect("subscriber"), 200);
}

/// Two servers on one database: subscribers on either get every change exactly once,
/// whichever server (or direct SQL) made the write.
#[tokio::test]
async fn two_servers_one_database() {
    two_servers(&[]).await;
}

/// Two servers on one database (with extra flags, e.g. a broker) share the
/// change feed: every subscriber on either gets every write exactly once.
pub async fn two_servers(flags: &[&str]) {
    let a = Server::start_with(flags).await;
    let b = Server::start_on(a.db_url.clone(), flags).await;
    a.open_collection("two").await;
    let subs: Vec<_> = [a.ws_url(), b.ws_url(), a.ws_url(), b.ws_url()]
        .into_iter()
        .map(|u| tokio::spawn(resuming_subscriber(u, "two", 200)))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    write_all(a.http.clone(), vec![a.base.clone(), b.base.clone()], "two", 200).await;
    for sub in subs {
        assert_exactly_once(sub.await.expect("subscriber"), 200);
    }
}
