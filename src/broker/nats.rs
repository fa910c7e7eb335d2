//! NATS engine: core subject `eddy.bus`, one client connection for publishing
//! and receiving. The client reconnects by itself; its connection events drive
//! this node's broker state, and a flush per batch is the acknowledgement.

use super::{fail_queued, next_batch, Broker, Outgoing};
use async_nats::{ConnectOptions, Event};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const SUBJECT: &str = "eddy.bus";
/// Messages published per flush.
const BATCH: usize = 256;
/// A flush slower than this fails the batch.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the engine until shutdown.
pub(super) async fn run(
    broker: Arc<Broker>,
    url: String,
    mut rx: mpsc::Receiver<Outgoing>,
    shutdown: CancellationToken,
) {
    // Up only once our subscription is in place: a node that publishes before it
    // can receive would miss what others send meanwhile.
    let subscribed = Arc::new(AtomicBool::new(false));
    let (events, ready) = (broker.clone(), subscribed.clone());
    let options = ConnectOptions::new()
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(3))
        .event_callback(move |e| {
            let (b, ready) = (events.clone(), ready.clone());
            async move {
                match e {
                    Event::Connected if ready.load(Ordering::Acquire) => b.set_up(true),
                    Event::Disconnected => b.set_up(false),
                    _ => {}
                }
            }
        });
    let client = match async_nats::connect_with_options(url.as_str(), options).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "nats broker: cannot start");
            return;
        }
    };
    let mut sub = loop {
        let attempt = async {
            let s = client.subscribe(SUBJECT).await.map_err(|e| e.to_string())?;
            client.flush().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(s)
        };
        match attempt.await {
            Ok(s) => {
                subscribed.store(true, Ordering::Release);
                if client.connection_state() == async_nats::connection::State::Connected {
                    broker.set_up(true);
                }
                break s;
            }
            Err(e) => {
                tracing::warn!(error = %e, "nats broker: subscribe failed; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
    };
    let mut liveness = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            batch = next_batch(&mut rx, BATCH) => {
                let Some(batch) = batch else { return };
                if !broker.is_up() {
                    batch.into_iter().for_each(|o| o.done(false));
                    continue;
                }
                let mut ok = true;
                for o in &batch {
                    if client.publish(SUBJECT, o.payload.clone().into()).await.is_err() {
                        ok = false;
                        break;
                    }
                }
                let ok = ok && matches!(tokio::time::timeout(FLUSH_TIMEOUT, client.flush()).await, Ok(Ok(())));
                for o in batch {
                    o.done(ok);
                }
            }
            msg = sub.next() => {
                let Some(msg) = msg else {
                    broker.set_up(false);
                    return;
                };
                match std::str::from_utf8(&msg.payload) {
                    Ok(p) => broker.inbound(p),
                    Err(_) => tracing::warn!("nats broker: non-UTF-8 message ignored"),
                }
            }
            _ = liveness.tick() => {
                if broker.is_stale() {
                    // The client's own reconnect takes over; refuse until it reports back.
                    broker.set_up(false);
                    fail_queued(&mut rx);
                }
            }
        }
    }
}
