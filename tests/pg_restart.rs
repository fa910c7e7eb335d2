//! Fault tests: the PostgreSQL server under Eddy is stopped (or killed with
//! SIGKILL, so that it runs crash recovery) and started again, twice, while
//! documents are being written and three subscribers are live.
//!
//! The test runs its own private PostgreSQL cluster (initdb + pg_ctl from
//! `/usr/lib/postgresql/<latest>/bin`, as the `postgres` OS user when running
//! as root), on a free port, in a fresh temporary directory, so that it never
//! touches a shared server. The cluster is always stopped and removed at the
//! end by a guard, also when the test fails.

#[path = "it/pg_cluster.rs"]
mod pg_cluster;
#[path = "it/support.rs"]
mod support;

use pg_cluster::PgCluster;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

/// Documents written.
const DOCS: usize = 300;
/// How long PostgreSQL stays down each time.
const OUTAGE: Duration = Duration::from_millis(1500);

/// Writes documents 0..n with client-chosen ids, retrying through outages (a
/// 409 on a retry means the earlier attempt landed); counts finished writes.
async fn write_all(http: reqwest::Client, base: String, coll: &'static str, n: usize, done: Arc<AtomicUsize>) {
    for i in 0..n {
        create_retrying(&http, &base, coll, i as i64, Duration::from_secs(60)).await;
        done.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// What one subscriber saw.
struct Received {
    /// `data.i` of each event, in arrival order.
    docs: Vec<i64>,
    /// Connections opened after the first.
    reconnects: usize,
    /// `internal` errors answered to a subscribe (database down); each was retried.
    internal_errors: usize,
}

/// A subscriber that reconnects and resumes with `since` until it has `n`
/// documents. An `internal` error (database unavailable while subscribing) is
/// retryable: reconnect. With `outages`, it also drops its socket whenever an
/// outage begins, so that it resumes while PostgreSQL is down.
async fn resuming_subscriber(
    url: String,
    coll: &'static str,
    n: usize,
    mut outages: Option<tokio::sync::watch::Receiver<u32>>,
) -> Received {
    let mut r = Received {
        docs: Vec::new(),
        reconnects: 0,
        internal_errors: 0,
    };
    let mut last: Option<i64> = None;
    let mut connections = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while r.docs.len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscriber stuck at {} of {n}",
            r.docs.len()
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
        connections += 1;
        r.reconnects = connections - 1;
        let mut ws = Ws { stream };
        let mut sub = json!({"type": "subscribe", "id": "f", "collection": coll});
        if let Some(l) = last {
            sub["since"] = json!(l);
        }
        ws.send(sub).await;
        loop {
            let next = match outages.as_mut() {
                Some(rx) => tokio::select! {
                    v = ws.next(Duration::from_secs(5)) => v,
                    // An outage began: drop this socket and resume on a new one.
                    _ = rx.changed() => break,
                },
                None => ws.next(Duration::from_secs(5)).await,
            };
            match next {
                Some(v) if v["type"] == "event" => {
                    let seq = v["seq"].as_i64().expect("event seq");
                    assert!(last.is_none_or(|l| seq > l), "seq went backwards: {seq} after {last:?}");
                    last = Some(seq);
                    r.docs.push(v["document"]["data"]["i"].as_i64().expect("document i"));
                    if r.docs.len() >= n {
                        break;
                    }
                }
                Some(v) if v["type"] == "subscribed" => {
                    if last.is_none() {
                        last = v["seq"].as_i64();
                    }
                }
                Some(v) if v["type"] == "error" && v["code"] == "internal" => {
                    r.internal_errors += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    break;
                }
                Some(v) if v["type"] == "error" => panic!("subscriber error {v}"),
                Some(_) => {}
                None => break,
            }
        }
    }
    r
}

async fn ready_status(http: &reqwest::Client, base: &str, timeout: Duration) -> Option<u16> {
    http.get(format!("{base}/readyz"))
        .timeout(timeout)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// Waits (bounded) until the writer has finished `at` documents.
async fn wait_for_progress(done: &AtomicUsize, at: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.load(Ordering::SeqCst) < at {
        assert!(
            Instant::now() < deadline,
            "writer stuck at {}",
            done.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// PostgreSQL stopped (fast shutdown) for 1.5 s and started again, twice, during 300 writes: each of 3 resuming subscribers gets every document exactly once in increasing seq order, and Eddy becomes ready again by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_during_writes() {
    outages_during_writes(Outage::Stop).await;
}

/// The same with PostgreSQL killed (SIGKILL, crash recovery on start) instead of
/// stopped: no resumed cursor skips or repeats a change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_during_writes() {
    outages_during_writes(Outage::Kill).await;
}

/// How PostgreSQL goes down.
#[derive(Clone, Copy, Debug)]
enum Outage {
    /// `pg_ctl stop -m fast`.
    Stop,
    /// SIGKILL to every process of the cluster.
    Kill,
}

async fn outages_during_writes(how: Outage) {
    let started = Instant::now();
    let pg = PgCluster::create().await;
    let s = Server::start_on(pg.url("eddy"), &[]).await;
    s.open_collection("pgr").await;

    // Subscriber 0 keeps its socket through the outages; 1 and 2 drop theirs when an
    // outage begins and resume with `since` while PostgreSQL is down.
    let (outage_tx, outage_rx) = tokio::sync::watch::channel(0u32);
    let subs: Vec<_> = (0..3)
        .map(|k| {
            let churn = (k > 0).then(|| outage_rx.clone());
            tokio::spawn(resuming_subscriber(s.ws_url(), "pgr", DOCS, churn))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let done = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn(write_all(s.http.clone(), s.base.clone(), "pgr", DOCS, done.clone()));

    let mut during = Vec::new();
    for at in [DOCS / 4, DOCS * 3 / 5] {
        wait_for_progress(&done, at).await;
        let before = done.load(Ordering::SeqCst);
        assert!(before < DOCS, "the writer finished before the outage");
        match how {
            Outage::Stop => pg.stop().await,
            Outage::Kill => pg.kill().await,
        }
        let down = Instant::now();
        outage_tx.send_modify(|n| *n += 1);
        during.push(ready_status(&s.http, &s.base, Duration::from_millis(1000)).await);
        tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
        pg.start().await;
        eprintln!(
            "{how:?} at {before} of {DOCS} writes: PostgreSQL down {:?}, /readyz during it: {:?}",
            down.elapsed(),
            during.last()
        );
    }

    if let Outage::Kill = how {
        let log = pg.server_log();
        assert!(
            log.contains("automatic recovery in progress"),
            "PostgreSQL did not run crash recovery:\n{log}"
        );
    }
    tokio::time::timeout(Duration::from_secs(120), writer)
        .await
        .expect("writer finished in time")
        .expect("writer");
    for (k, sub) in subs.into_iter().enumerate() {
        let r = tokio::time::timeout(Duration::from_secs(120), sub)
            .await
            .expect("subscriber finished in time")
            .expect("subscriber");
        eprintln!(
            "subscriber {k}: {} documents, {} reconnects, {} internal errors retried",
            r.docs.len(),
            r.reconnects,
            r.internal_errors
        );
        if k > 0 {
            assert!(r.reconnects >= 2, "subscriber {k} did not resume during the outages");
        }
        let got = r.docs;
        let mut sorted = got.clone();
        sorted.sort_unstable();
        let want: Vec<i64> = (0..DOCS as i64).collect();
        assert_eq!(sorted, want, "lost or duplicated documents");
        // Writes are sequential, so commit (seq) order is write order.
        assert_eq!(got, want, "documents out of write order");
    }

    // Recovered by itself: ready again, and a fresh subscription works end to end.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if ready_status(&s.http, &s.base, Duration::from_secs(3)).await == Some(200) {
            break;
        }
        assert!(Instant::now() < deadline, "eddy did not become ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut ws = s.ws(SERVICE_KEY).await;
    ws.expect_type("auth_ok").await;
    ws.subscribe(json!({"type": "subscribe", "id": "after", "collection": "pgr"}))
        .await;
    s.create("pgr", json!({"i": -1})).await;
    let ev = ws.expect_type("event").await;
    assert_eq!(ev["document"]["data"]["i"], -1);
    eprintln!("pg_restart took {:?}", started.elapsed());
}
