//! PostgreSQL engine: `NOTIFY eddy_bus` carries each message; one larger than
//! NOTIFY's 8,000-byte payload limit is stored in `bus_messages` and the
//! notification carries `#<id>` instead. Stored messages are deleted after a
//! minute (receivers fetch them within milliseconds).

use super::{backoff, fail_queued, next_batch, Broker, Outgoing};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const CHANNEL: &str = "eddy_bus";
/// Payloads up to this size travel in the notification itself.
const INLINE_MAX: usize = 7900;
/// Messages sent per statement.
const BATCH: usize = 256;

/// Runs the engine until shutdown.
pub(super) async fn run(
    broker: Arc<Broker>,
    pool: PgPool,
    mut rx: mpsc::Receiver<Outgoing>,
    shutdown: CancellationToken,
) {
    let mut failures = 0u32;
    loop {
        match session(&broker, &pool, &mut rx, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                broker.set_up(false);
                failures = failures.saturating_add(1);
                tracing::warn!(error = %e, "postgres broker: connection failed");
            }
        }
        fail_queued(&mut rx);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff(failures)) => {}
        }
    }
}

async fn session(
    broker: &Arc<Broker>,
    pool: &PgPool,
    rx: &mut mpsc::Receiver<Outgoing>,
    shutdown: &CancellationToken,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    broker.set_up(true);
    let mut liveness = tokio::time::interval(Duration::from_millis(200));
    let mut prune = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            batch = next_batch(rx, BATCH) => {
                let Some(batch) = batch else { return Ok(()) };
                let r = publish(pool, &batch).await;
                let ok = r.is_ok();
                for o in batch {
                    o.done(ok);
                }
                r?;
            }
            n = listener.try_recv() => {
                match n? {
                    Some(n) => match n.payload().strip_prefix('#').map(str::parse::<i64>) {
                        Some(Ok(id)) => match crate::store::bus_message(pool, id).await? {
                            Some(p) => broker.inbound(&p),
                            None => tracing::warn!(id, "postgres broker: stored message already pruned"),
                        },
                        _ => broker.inbound(n.payload()),
                    },
                    None => return Err(sqlx::Error::Protocol("LISTEN connection lost".into())),
                }
            }
            _ = liveness.tick() => {
                if broker.is_stale() {
                    return Err(sqlx::Error::Protocol("no bus message within the presence TTL".into()));
                }
            }
            _ = prune.tick() => {
                if let Err(e) = crate::store::prune_bus_messages(pool).await {
                    tracing::debug!(error = %e, "pruning bus messages");
                }
            }
        }
    }
}

/// Sends a batch in order, in one statement per run of inline messages.
async fn publish(pool: &PgPool, batch: &[Outgoing]) -> Result<(), sqlx::Error> {
    let mut inline: Vec<&str> = Vec::new();
    for o in batch {
        if o.payload.len() <= INLINE_MAX {
            inline.push(&o.payload);
            continue;
        }
        crate::store::notify_many(pool, CHANNEL, &inline).await?;
        inline.clear();
        crate::store::notify_stored(pool, CHANNEL, &o.payload).await?;
    }
    crate::store::notify_many(pool, CHANNEL, &inline).await
}
