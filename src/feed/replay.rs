//! Going live without a gap: replay from the change log until the hub can take
//! the subscription at the replay's position. Shared by WebSocket and SSE.

use crate::auth::CollectionRules;
use crate::hub::{frame_for, EventCache, Hub, Outbound, SubKey, Subscription};
use crate::store::{self, StoreError};
use sqlx::PgPool;
use std::sync::Arc;

/// Rows replayed per query.
const REPLAY_BATCH: i64 = 1000;

/// What the caller does next.
pub enum Step {
    /// Write these replayed events (in seq order), then call `next` again.
    Events(Vec<Outbound>),
    /// The subscription is registered and live after `seq`.
    Live {
        /// Its key in the hub.
        key: SubKey,
        /// Every later matching change has a higher seq.
        seq: i64,
    },
}

/// Drives one subscription from a cursor to live. The caller loops on `next`,
/// writing each `Events` batch, until `Live`.
pub struct GoLive<'a> {
    pool: &'a PgPool,
    hub: &'a Hub,
    sub: Option<Subscription>,
    cursor: i64,
    replay_to: Option<i64>,
}

impl<'a> GoLive<'a> {
    /// Starts from `cursor` (events with a higher seq are delivered).
    pub fn new(pool: &'a PgPool, hub: &'a Hub, sub: Subscription, cursor: i64) -> Self {
        GoLive {
            pool,
            hub,
            sub: Some(sub),
            cursor,
            replay_to: None,
        }
    }

    /// The next batch to write, or the registration once the hub has caught up.
    /// While the hub has dispatched past the cursor, the changes in between are
    /// read from the log; then registration is tried again at the new cursor.
    pub async fn next(&mut self) -> Result<Step, StoreError> {
        loop {
            // Only after `Live` is there no subscription left; calling again is a no-op error.
            let Some(sub) = self.sub.take() else {
                return Err(StoreError::NotFound);
            };
            let Some(head) = self.replay_to else {
                match self.hub.try_subscribe(sub, self.cursor) {
                    Ok(key) => return Ok(Step::Live { key, seq: self.cursor }),
                    Err((sub, head)) => {
                        self.sub = Some(sub);
                        self.replay_to = Some(head);
                        continue;
                    }
                }
            };
            let batch =
                store::changes_after(self.pool, self.cursor, Some(head), Some(&sub.collection), REPLAY_BATCH).await;
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    self.sub = Some(sub);
                    return Err(e);
                }
            };
            match batch.last() {
                Some(last) if batch.len() as i64 == REPLAY_BATCH => self.cursor = last.seq,
                _ => {
                    self.cursor = head;
                    self.replay_to = None;
                }
            }
            let rules = self
                .hub
                .rules(&sub.collection)
                .unwrap_or_else(|| Arc::new(CollectionRules::service_only()));
            let events: Vec<Outbound> = batch
                .iter()
                .filter_map(|c| frame_for(c, &rules, &sub, &mut EventCache::default()))
                .collect();
            self.sub = Some(sub);
            if !events.is_empty() {
                return Ok(Step::Events(events));
            }
        }
    }
}
