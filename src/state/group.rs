//! Group commit for single-document creates: concurrent `POST …/documents`
//! requests are written in rounds, all that are queued when a round starts in
//! one statement (one transaction, one WAL flush), and each request gets its own
//! result. An idle server writes a lone request at once: a writer never waits on
//! a timer for company.

use crate::store::{self, Document, StoreError};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex, Notify};
use uuid::Uuid;

/// Most requests written in one round (the size of the largest batch request).
const MAX_ROUND: usize = 1000;
/// Requests that may wait for the writer before senders are held back.
const QUEUE: usize = 4096;
/// Rounds in flight at once: while one waits for its commit's WAL flush, the
/// next one collects what arrived meanwhile and is written (PostgreSQL flushes
/// concurrent commits together).
const WRITERS: usize = 2;

/// One queued create.
struct Job {
    new: store::NewDocument,
    reply: oneshot::Sender<Result<Document, StoreError>>,
}

/// Handle to the create writer; cheap to clone.
#[derive(Clone)]
pub struct CreateGroup {
    tx: mpsc::Sender<Job>,
}

impl CreateGroup {
    /// Starts the writer tasks; they end when the last handle is dropped.
    pub fn start(pool: PgPool, wake: Arc<Notify>) -> CreateGroup {
        let (tx, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WRITERS {
            tokio::spawn(run(pool.clone(), wake.clone(), rx.clone()));
        }
        CreateGroup { tx }
    }

    /// Inserts one document, committed before this returns; an existing id is a
    /// `Conflict`. Errors are this request's own, never another's.
    pub async fn create(&self, new: store::NewDocument) -> Result<Document, StoreError> {
        let (reply, rx) = oneshot::channel();
        // Either side gone means the writer stopped (shutdown): nothing was written.
        self.tx
            .send(Job { new, reply })
            .await
            .map_err(|_| StoreError::Db(sqlx::Error::PoolClosed))?;
        rx.await.map_err(|_| StoreError::Db(sqlx::Error::PoolClosed))?
    }
}

async fn run(pool: PgPool, wake: Arc<Notify>, rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut jobs = Vec::with_capacity(MAX_ROUND);
    // The lock is held only while taking a round, not while writing it.
    while rx.lock().await.recv_many(&mut jobs, MAX_ROUND).await > 0 {
        metrics::histogram!("eddy_create_round_size").record(jobs.len() as f64);
        let (news, replies): (Vec<_>, Vec<_>) = jobs.drain(..).map(|j| (j.new, j.reply)).unzip();
        let results = write(&pool, &news).await;
        if results.iter().any(Result::is_ok) {
            wake.notify_one();
        }
        for (reply, r) in replies.into_iter().zip(results) {
            // The client may have gone away; its document is written all the same.
            let _ = reply.send(r);
        }
    }
}

/// Writes one round; one result per request, in order.
async fn write(pool: &PgPool, news: &[store::NewDocument]) -> Vec<Result<Document, StoreError>> {
    if let [one] = news {
        return vec![insert_one(pool, one).await];
    }
    match store::insert_documents_skipping_existing(pool, news).await {
        Ok(docs) => {
            let mut by_key: HashMap<(String, Uuid), Document> =
                docs.into_iter().map(|d| ((d.collection.clone(), d.id), d)).collect();
            // A skipped row collided with an existing document, or with an earlier
            // request for the same id in this round (rows are inserted in order).
            news.iter()
                .map(|n| by_key.remove(&(n.collection.clone(), n.id)).ok_or(StoreError::Conflict))
                .collect()
        }
        Err(e) => {
            // The round was refused as a whole (a collection deleted meanwhile, a
            // value PostgreSQL rejects, a lost connection): write each request on
            // its own so that only its own error reaches it.
            tracing::debug!(error = %e, size = news.len(), "group create failed; writing one by one");
            let mut out = Vec::with_capacity(news.len());
            for n in news {
                out.push(insert_one(pool, n).await);
            }
            out
        }
    }
}

async fn insert_one(pool: &PgPool, new: &store::NewDocument) -> Result<Document, StoreError> {
    store::insert_document(pool, &new.collection, new.id, &new.data, new.owner.as_deref()).await
}
