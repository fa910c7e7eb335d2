//! Redis pub/sub engine: one channel per database number (`eddy:bus`), one
//! multiplexed connection for publishing (batches pipelined in order) and one
//! pub/sub connection for receiving. Reconnects with backoff.

use super::{backoff, fail_queued, next_batch, Broker, Outgoing};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const CHANNEL: &str = "eddy:bus";
/// Messages pipelined per round trip.
const BATCH: usize = 256;
/// A publish round trip slower than this means the connection is dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the engine until shutdown.
pub(super) async fn run(
    broker: Arc<Broker>,
    url: String,
    mut rx: mpsc::Receiver<Outgoing>,
    shutdown: CancellationToken,
) {
    let mut failures = 0u32;
    loop {
        match session(&broker, &url, &mut rx, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                broker.set_up(false);
                failures = failures.saturating_add(1);
                tracing::warn!(error = %e, "redis broker: connection failed");
            }
        }
        fail_queued(&mut rx);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff(failures)) => {}
        }
        if broker.is_up() {
            failures = 0;
        }
    }
}

/// One connected session; Ok(()) only on shutdown.
async fn session(
    broker: &Arc<Broker>,
    url: &str,
    rx: &mut mpsc::Receiver<Outgoing>,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let connect = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(CHANNEL).await?;
        let conn = client.get_multiplexed_async_connection().await?;
        Ok::<_, redis::RedisError>((pubsub, conn))
    };
    let (pubsub, mut conn) = tokio::time::timeout(WRITE_TIMEOUT, connect)
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let mut messages = pubsub.into_on_message();
    broker.set_up(true);
    let mut liveness = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            batch = next_batch(rx, BATCH) => {
                let Some(batch) = batch else { return Ok(()) };
                let mut pipe = redis::pipe();
                for o in &batch {
                    pipe.cmd("PUBLISH").arg(CHANNEL).arg(&o.payload).ignore();
                }
                let r = tokio::time::timeout(WRITE_TIMEOUT, pipe.query_async::<()>(&mut conn)).await;
                let ok = matches!(r, Ok(Ok(())));
                for o in batch {
                    o.done(ok);
                }
                if !ok {
                    return Err(match r {
                        Ok(Err(e)) => e.to_string(),
                        _ => "publish timed out".into(),
                    });
                }
            }
            msg = messages.next() => {
                let Some(msg) = msg else { return Err("subscription ended".into()) };
                match msg.get_payload::<String>() {
                    Ok(p) => broker.inbound(&p),
                    Err(e) => tracing::warn!(error = %e, "redis broker: unreadable message"),
                }
            }
            _ = liveness.tick() => {
                if broker.is_stale() {
                    return Err("no message (not even our own heartbeat) within the presence TTL".into());
                }
            }
        }
    }
}
