//! The change log: commit order, writes made directly in SQL, large documents, retention.

use crate::support::*;
use rand::Rng;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Concurrent writers that sleep between write and commit never make a reader
/// that polls `seq > last` miss a change: seq order is commit order.
#[tokio::test]
async fn seq_order_is_commit_order() {
    let s = Server::start().await;
    s.open_collection("order").await;
    let pool = s.pool().await;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let pool = pool.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen: Vec<i64> = Vec::new();
            let mut last = 0i64;
            loop {
                let finished = done.load(Ordering::Acquire);
                let rows: Vec<i64> = sqlx::query_scalar("SELECT seq FROM changes WHERE seq > $1 ORDER BY seq")
                    .bind(last)
                    .fetch_all(&pool)
                    .await
                    .expect("read");
                if let Some(m) = rows.last() {
                    last = *m;
                }
                seen.extend(rows);
                if finished {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..8 {
        let pool = pool.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..25 {
                let mut tx = pool.begin().await.expect("begin");
                sqlx::query("INSERT INTO documents (id, collection, data) VALUES ($1, 'order', $2)")
                    .bind(uuid::Uuid::new_v4())
                    .bind(json!({"w": w, "i": i}))
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
                let delay = rand::thread_rng().gen_range(0..15);
                tokio::time::sleep(Duration::from_millis(delay)).await;
                tx.commit().await.expect("commit");
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    // Let the server number the last changes before the reader's final pass.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let n: i64 = sqlx::query_scalar("SELECT count(seq) FROM changes WHERE collection = 'order'")
            .fetch_one(&pool)
            .await
            .expect("count");
        if n == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "changes were not numbered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done.store(true, Ordering::Release);
    let seen = reader.await.expect("reader");
    let all: Vec<i64> = sqlx::query_scalar("SELECT seq FROM changes WHERE collection = 'order' ORDER BY seq")
        .fetch_all(&pool)
        .await
        .expect("all");
    assert_eq!(all.len(), 200);
    assert_eq!(
        seen, all,
        "the polling reader skipped a change that committed behind its cursor"
    );
}

type ChangeRow = (
    String,
    Option<serde_json::Value>,
    Option<serde_json::Value>,
    i64,
    Option<String>,
);

/// Inserts, updates and deletes made directly in SQL are recorded like API writes.
#[tokio::test]
async fn direct_sql_writes_produce_changes() {
    let s = Server::start().await;
    s.open_collection("raw").await;
    let pool = s.pool().await;
    let id = uuid::Uuid::new_v4();
    sqlx::query("INSERT INTO documents (id, collection, data, owner) VALUES ($1, 'raw', '{\"a\":1}', 'zed')")
        .bind(id)
        .execute(&pool)
        .await
        .expect("insert");
    sqlx::query("UPDATE documents SET data = '{\"a\":2}' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .expect("update");
    sqlx::query("UPDATE documents SET data = data WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .expect("no-op update");
    sqlx::query("DELETE FROM documents WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .expect("delete");
    let rows: Vec<ChangeRow> =
        sqlx::query_as("SELECT op, data, old_data, version, owner FROM changes WHERE doc_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&pool)
            .await
            .expect("changes");
    assert_eq!(
        rows,
        vec![
            ("created".into(), Some(json!({"a": 1})), None, 1, Some("zed".into())),
            (
                "updated".into(),
                Some(json!({"a": 2})),
                Some(json!({"a": 1})),
                2,
                Some("zed".into())
            ),
            ("deleted".into(), None, Some(json!({"a": 2})), 3, Some("zed".into())),
        ]
    );
    // The API sees the same version history.
    let doc = s.create("raw", json!({"b": 1})).await;
    let did = uuid::Uuid::parse_str(doc["id"].as_str().expect("id")).expect("uuid");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM changes WHERE doc_id = $1")
        .bind(did)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(n, 1);
}

/// A 1 MiB document is stored, recorded and delivered (NOTIFY carries no document).
#[tokio::test]
async fn one_mib_document() {
    let s = Server::start().await;
    s.open_collection("big").await;
    let mut ws = s.ws(SERVICE_KEY).await;
    ws.expect_type("auth_ok").await;
    ws.subscribe(json!({"type": "subscribe", "id": "b", "collection": "big"}))
        .await;
    let big = "x".repeat(1_040_000);
    let doc = s.create("big", json!({"blob": big})).await;
    let ev = ws.expect_type("event").await;
    assert_eq!(ev["document"]["id"], doc["id"]);
    assert_eq!(ev["document"]["data"]["blob"].as_str().map(str::len), Some(1_040_000));
    let pool = s.pool().await;
    let len: i32 = sqlx::query_scalar("SELECT length(data->>'blob') FROM changes WHERE collection = 'big'")
        .fetch_one(&pool)
        .await
        .expect("len");
    assert_eq!(len, 1_040_000);
}

/// Retention prunes old changes, and a resume cursor behind it gets `cursor_expired`.
#[tokio::test]
async fn retention_prunes_and_expires_cursors() {
    let s = Server::start_with(&["--retention", "1s", "--prune-interval", "300ms"]).await;
    s.open_collection("r").await;
    s.create("r", json!({"n": 1})).await;
    s.create("r", json!({"n": 2})).await;
    let pool = s.pool().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM changes")
            .fetch_one(&pool)
            .await
            .expect("count");
        if n == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "changes were not pruned");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut ws = s.ws(SERVICE_KEY).await;
    ws.expect_type("auth_ok").await;
    ws.send(json!({"type": "subscribe", "id": "old", "collection": "r", "since": 0, "ref": 5}))
        .await;
    let e = ws.expect_type("error").await;
    assert_eq!(e["code"], "cursor_expired");
    assert_eq!(e["subscription"], "old");
    assert_eq!(e["ref"], 5);
    // A snapshot still works, and a cursor at the watermark is fine.
    let (before, sub) = ws
        .subscribe(json!({"type": "subscribe", "id": "snap", "collection": "r", "snapshot": true}))
        .await;
    assert_eq!(before[0]["type"], "snapshot");
    assert_eq!(before[0]["documents"].as_array().map(Vec::len), Some(2));
    let seq = sub["seq"].as_i64().expect("seq");
    ws.subscribe(json!({"type": "subscribe", "id": "at", "collection": "r", "since": seq}))
        .await;
}
