//! The change feed: the only place that LISTENs. It reads the change log by seq
//! in batches and hands each batch to the hub, in order.
//!
//! A notification is only a wake-up. After any reconnect, and on a timer, the feed
//! reads everything after the last seq it dispatched, so a lost notification or a
//! lost LISTEN connection delays events but never loses them.
//!
//! Before reading, the feed numbers committed changes that have no seq yet
//! (`store::sequence_pending`); any server on the database may do this. The
//! numbering returns the changes it numbered, so the usual path from a commit to
//! dispatch is one round trip; the sequencer's NOTIFY (for other servers) is
//! ignored by the feed that sent it.

mod replay;

pub use replay::{GoLive, Step};

use crate::access::Access;
use crate::auth::Rule;
use crate::hub::{Hub, RoomRule};
use crate::store::{self, ReloadHint, CHANGES_CHANNEL, CONFIG_CHANNEL};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Rows read per query.
const BATCH: i64 = 5000;
/// Changes numbered per sequencing transaction.
const SEQUENCE_BATCH: i64 = 10_000;

/// Runs the feed until `shutdown` fires.
pub async fn run(
    pool: PgPool,
    hub: Arc<Hub>,
    access: Arc<Access>,
    wake: Arc<Notify>,
    poll: Duration,
    shutdown: CancellationToken,
) {
    let mut last = hub.head();
    let mut listener: Option<PgListener> = None;
    let mut failures = 0u32;
    // The payload of our sequencer's NOTIFY: only other servers need that wake-up.
    let server = uuid::Uuid::new_v4().simple().to_string();
    let mut own_wake_only = false;
    loop {
        if listener.is_none() {
            match listen(&pool).await {
                Ok(l) => {
                    listener = Some(l);
                    // Hints may have been missed while not listening.
                    reload(&pool, &hub, &access, ReloadHint::All).await;
                }
                Err(e) => tracing::warn!(error = %e, "feed: cannot LISTEN; polling"),
            }
        }
        let result = if std::mem::take(&mut own_wake_only) {
            Ok(())
        } else {
            catch_up(&pool, &hub, &access, &server, &mut last).await
        };
        match result {
            Ok(()) => failures = 0,
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, last, "feed: reading the change log failed");
                let backoff = Duration::from_millis(100 * u64::from(failures.min(20)));
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => continue,
                }
            }
        }
        let wait = async {
            match listener.as_mut() {
                Some(l) => l.try_recv().await,
                None => std::future::pending().await,
            }
        };
        let woke = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = wake.notified() => None,
            r = wait => Some(r),
            _ = tokio::time::sleep(poll) => None,
        };
        match woke {
            Some(Ok(Some(n))) => {
                let mut hints = vec![n];
                if let Some(l) = listener.as_mut() {
                    while let Some(n) = l.next_buffered() {
                        hints.push(n);
                    }
                }
                for n in hints.iter().filter(|n| n.channel() == CONFIG_CHANNEL) {
                    reload(&pool, &hub, &access, ReloadHint::parse(n.payload())).await;
                }
                // Our own sequencer's notification: its changes were dispatched already.
                own_wake_only = hints
                    .iter()
                    .all(|n| n.channel() == CHANGES_CHANNEL && n.payload() == server);
            }
            // Connection lost: the next try_recv reconnects; the loop catches up first,
            // and configuration hints sent meanwhile (e.g. a key revocation) are re-read.
            Some(Ok(None)) => {
                tracing::info!("feed: LISTEN connection lost; catching up");
                reload(&pool, &hub, &access, ReloadHint::All).await;
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "feed: LISTEN failed");
                listener = None;
            }
            None => {}
        }
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut l = PgListener::connect_with(pool).await?;
    l.listen_all([CHANGES_CHANNEL, CONFIG_CHANNEL]).await?;
    Ok(l)
}

/// Numbers pending changes, then dispatches every change after `last`, advancing it.
///
/// When this server's own sequencer numbered the changes right after `last`,
/// they are dispatched as returned, without reading them back; otherwise (other
/// servers numbered some, a wake-up with nothing to number, a restart) the log
/// is read from `last`.
async fn catch_up(
    pool: &PgPool,
    hub: &Hub,
    access: &Access,
    server: &str,
    last: &mut i64,
) -> Result<(), store::StoreError> {
    loop {
        let numbered = store::sequence_pending(pool, SEQUENCE_BATCH, server).await?;
        let more = numbered.changes.len() as i64 == SEQUENCE_BATCH;
        if numbered.after == Some(*last) {
            deliver(pool, hub, access, &numbered.changes, last).await?;
        } else {
            read_log(pool, hub, access, last).await?;
        }
        if !more {
            return Ok(());
        }
    }
}

/// Dispatches every change after `last` from the log, in batches.
async fn read_log(pool: &PgPool, hub: &Hub, access: &Access, last: &mut i64) -> Result<(), store::StoreError> {
    loop {
        let batch = store::changes_after(pool, *last, None, None, BATCH).await?;
        if batch.is_empty() {
            return Ok(());
        }
        deliver(pool, hub, access, &batch, last).await?;
        if (batch.len() as i64) < BATCH {
            return Ok(());
        }
    }
}

/// Hands one ordered batch to the hub and advances `last` past it.
async fn deliver(
    pool: &PgPool,
    hub: &Hub,
    access: &Access,
    batch: &[store::Change],
    last: &mut i64,
) -> Result<(), store::StoreError> {
    let Some(end) = batch.last().map(|c| c.seq) else {
        return Ok(());
    };
    if !access.rules().knows_all(batch.iter().map(|c| c.collection.as_str())) {
        let read_at = access.rules().generation();
        access
            .rules()
            .replace_all(store::load_collections(pool).await?, read_at);
    }
    let loaded = hub.dispatch(batch);
    *last = end;
    let _ = pause_for(&loaded).await;
    metrics::gauge!("eddy_feed_seq").set(end as f64);
    Ok(())
}

/// Longest the feed waits per batch for loaded queues to drain.
const MAX_PAUSE: Duration = Duration::from_millis(250);

/// Flow control for catch-up bursts: reading the log can outpace a healthy
/// socket, so while some recipients' queues are more than half full the feed
/// waits briefly (bounded) before reading on. A consumer that stays stuck still
/// overflows and is closed; a fast one is never paused for.
async fn pause_for(loaded: &[crate::hub::ConnHandle]) -> Duration {
    let start = tokio::time::Instant::now();
    while !loaded.is_empty() && loaded.iter().any(|c| c.is_loaded()) && start.elapsed() < MAX_PAUSE {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    start.elapsed()
}

/// Reloads the cached configuration a hint names.
pub async fn reload(pool: &PgPool, hub: &Hub, access: &Access, hint: ReloadHint) {
    if hint.covers(ReloadHint::Keys) {
        match access.reload_keys().await {
            Ok(()) => hub.close_revoked(access.keys()),
            Err(e) => tracing::warn!(error = %e, "reload keys"),
        }
    }
    if hint.covers(ReloadHint::Collections) {
        if let Err(e) = access.reload_collections().await {
            tracing::warn!(error = %e, "reload collections");
        }
    }
    if hint.covers(ReloadHint::Users) {
        match access.reload_denied().await {
            Ok(()) => {
                hub.close_users(|s| access.is_denied(s), "account disabled or deleted");
            }
            Err(e) => tracing::warn!(error = %e, "reload denied users"),
        }
    }
    if let ReloadHint::Sessions(user) = hint {
        let sub = user.to_string();
        hub.close_users(|s| s == sub, "signed out everywhere");
    }
    if hint.covers(ReloadHint::RoomRules) {
        match store::load_room_rules(pool).await {
            Ok(rows) => hub.set_room_rules(room_rules(rows)),
            Err(e) => tracing::warn!(error = %e, "reload room rules"),
        }
    }
}

/// Converts stored room rules, skipping (and logging) any that no longer parse.
pub fn room_rules(rows: Vec<store::RoomRuleRow>) -> Vec<RoomRule> {
    rows.into_iter()
        .filter_map(|r| match (Rule::parse(&r.join), Rule::parse(&r.broadcast)) {
            (Ok(join), Ok(broadcast)) => Some(RoomRule {
                pattern: r.pattern,
                join,
                broadcast,
            }),
            _ => {
                tracing::warn!(pattern = %r.pattern, "skipping unparsable room rule");
                None
            }
        })
        .collect()
}

/// Prunes the change log on an interval until `shutdown` fires.
pub async fn prune_loop(pool: PgPool, retention: Duration, every: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match store::prune(&pool, retention).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "pruned change log"),
            Err(e) => tracing::warn!(error = %e, "pruning the change log failed"),
        }
    }
}
