//! The change log: reading by sequence number, snapshots, retention.

use super::{Document, ListQuery, StoreError};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

/// What happened to a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOp {
    /// Inserted.
    Created,
    /// Updated.
    Updated,
    /// Deleted.
    Deleted,
}

impl ChangeOp {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Created => "created",
            ChangeOp::Updated => "updated",
            ChangeOp::Deleted => "deleted",
        }
    }
}

/// One committed change, in commit order by `seq`.
#[derive(Debug, Clone)]
pub struct Change {
    /// Position in the log; strictly increasing in commit order.
    pub seq: i64,
    /// Collection name.
    pub collection: String,
    /// Document id.
    pub doc_id: Uuid,
    /// Kind of change.
    pub op: ChangeOp,
    /// New data (created/updated).
    pub data: Option<Value>,
    /// Previous data (updated/deleted).
    pub old_data: Option<Value>,
    /// Owner after the change (for deletes: the owner it had).
    pub owner: Option<String>,
    /// Owner before the change (updated/deleted).
    pub old_owner: Option<String>,
    /// Version after the change.
    pub version: i64,
    /// Document creation time.
    pub created_at: DateTime<Utc>,
    /// Time of this write.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    seq: i64,
    collection: String,
    doc_id: Uuid,
    op: String,
    data: Option<Value>,
    old_data: Option<Value>,
    owner: Option<String>,
    old_owner: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ChangeRow> for Change {
    fn from(r: ChangeRow) -> Change {
        let op = match r.op.as_str() {
            "created" => ChangeOp::Created,
            "deleted" => ChangeOp::Deleted,
            _ => ChangeOp::Updated,
        };
        Change {
            seq: r.seq,
            collection: r.collection,
            doc_id: r.doc_id,
            op,
            data: r.data,
            old_data: r.old_data,
            owner: r.owner,
            old_owner: r.old_owner,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Changes with `after < seq <= upto`, optionally of one collection, in seq order.
pub async fn changes_after(
    db: impl PgExecutor<'_>,
    after: i64,
    upto: Option<i64>,
    collection: Option<&str>,
    limit: i64,
) -> Result<Vec<Change>, StoreError> {
    let rows = sqlx::query_as::<_, ChangeRow>(
        "SELECT seq, collection, doc_id, op, data, old_data, owner, old_owner, version, created_at, updated_at
         FROM changes
         WHERE seq > $1 AND ($2::bigint IS NULL OR seq <= $2) AND ($3::text IS NULL OR collection = $3)
         ORDER BY seq LIMIT $4",
    )
    .bind(after)
    .bind(upto)
    .bind(collection)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Change::from).collect())
}

/// The highest seq handed out so far (0 on a new database).
pub async fn head_seq(db: impl PgExecutor<'_>) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT last_seq FROM feed_state")
        .fetch_one(db)
        .await?)
}

/// Changes with seq at or below this are gone; older cursors are expired.
pub async fn pruned_through(db: impl PgExecutor<'_>) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT pruned_through FROM feed_state")
        .fetch_one(db)
        .await?)
}

/// Changes one sequencer round numbered, ready to dispatch.
#[derive(Debug, Default)]
pub struct Numbered {
    /// `last_seq` before the round (the changes are `after + 1`, `after + 2`, ...);
    /// `None` when nothing was numbered.
    pub after: Option<i64>,
    /// The numbered changes in seq order.
    pub changes: Vec<Change>,
}

#[derive(sqlx::FromRow)]
struct NumberedRow {
    base: i64,
    #[sqlx(flatten)]
    change: ChangeRow,
}

/// Numbers committed changes that have no seq yet, in insertion order, and
/// returns them (at most `batch`). Sequencers (one per server) take turns on the
/// `feed_state` row lock, which is held until the numbering commits, so a
/// higher seq never becomes visible before a lower one.
///
/// One autocommitted call of `eddy_sequence` (migration 0002): the rows come
/// back only after the numbering has committed. Only rows written by
/// transactions not older than `sequenced_xmin` are looked at: every older
/// transaction had finished, and was therefore visible, when an earlier round
/// completed. `server` is the payload of the NOTIFY that wakes other servers.
pub async fn sequence_pending(pool: &PgPool, batch: i64, server: &str) -> Result<Numbered, StoreError> {
    let rows = sqlx::query_as::<_, NumberedRow>("SELECT * FROM eddy_sequence($1, $2)")
        .bind(batch)
        .bind(server)
        .fetch_all(pool)
        .await?;
    Ok(Numbered {
        after: rows.first().map(|r| r.base),
        changes: rows.into_iter().map(|r| Change::from(r.change)).collect(),
    })
}

/// Deletes changes older than `retention`; returns how many were removed.
pub async fn prune(pool: &PgPool, retention: Duration) -> Result<u64, StoreError> {
    let secs = retention.as_secs_f64();
    let mut tx = pool.begin().await?;
    let max: Option<i64> = sqlx::query_scalar(
        // Walks the oldest changes by seq (indexed) instead of scanning the table;
        // large backlogs are pruned over several rounds.
        "SELECT max(seq) FROM (
             SELECT seq, committed_at FROM changes WHERE seq > (SELECT pruned_through FROM feed_state)
             ORDER BY seq LIMIT 50000
         ) oldest WHERE committed_at < clock_timestamp() - make_interval(secs => $1)",
    )
    .bind(secs)
    .fetch_one(&mut *tx)
    .await?;
    let Some(max) = max else { return Ok(0) };
    // Watermark first: a reader that sees it also sees the rows gone.
    sqlx::query("UPDATE feed_state SET pruned_through = GREATEST(pruned_through, $1)")
        .bind(max)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM changes WHERE seq <= $1")
        .bind(max)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// A snapshot of documents with the log position it reflects.
pub struct Snapshot {
    /// Up to `limit + 1` documents (one more tells that the snapshot was cut).
    pub docs: Vec<Document>,
    /// Every change with seq <= this is reflected in `docs`.
    pub seq: i64,
    /// Changes reflected in `docs` that had no seq yet (they will get one
    /// above `seq`): document id → highest such version, to be skipped.
    pub reflected: HashMap<Uuid, i64>,
}

/// Runs a list query and reads the log position in one snapshot.
pub async fn snapshot(pool: &PgPool, query: &ListQuery<'_>) -> Result<Snapshot, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let seq = head_seq(&mut *tx).await?;
    let reflected: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT doc_id, max(version) FROM changes
         WHERE seq IS NULL AND xid >= (SELECT sequenced_xmin FROM feed_state) AND collection = $1
         GROUP BY doc_id",
    )
    .bind(query.collection)
    .fetch_all(&mut *tx)
    .await?;
    let docs = super::list::fetch(&mut *tx, query).await?;
    tx.commit().await?;
    Ok(Snapshot {
        docs: docs.into_iter().map(|(d, _)| d).collect(),
        seq,
        reflected: reflected.into_iter().collect(),
    })
}

/// The change numbered `seq`, whatever its document.
pub async fn change_at(db: impl PgExecutor<'_>, seq: i64) -> Result<Option<Change>, StoreError> {
    let row = sqlx::query_as::<_, ChangeRow>(
        "SELECT seq, collection, doc_id, op, data, old_data, owner, old_owner, version, created_at, updated_at
         FROM changes WHERE seq = $1",
    )
    .bind(seq)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Change::from))
}

/// The latest numbered change of a document. There is no index on `doc_id`
/// (it would cost every write), so this walks the collection's log from the
/// newest change back; it is meant for operators, not for request paths.
pub async fn latest_change(
    db: impl PgExecutor<'_>,
    collection: &str,
    doc_id: Uuid,
) -> Result<Option<Change>, StoreError> {
    let row = sqlx::query_as::<_, ChangeRow>(
        "SELECT seq, collection, doc_id, op, data, old_data, owner, old_owner, version, created_at, updated_at
         FROM changes
         WHERE collection = $1 AND doc_id = $2 AND seq IS NOT NULL
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(collection)
    .bind(doc_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Change::from))
}
