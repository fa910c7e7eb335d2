//! Subscribing: validate and authorize (`prepare`), then snapshot or resume,
//! replay up to the hub's head and go live (`start`). WebSocket `subscribe`
//! messages and SSE requests both come through here.

use super::client::{Client, Step};
use super::transport::Transport;
use crate::access::{owner_scope, AccessError};
use crate::auth::CollectionRules;
use crate::feed::{GoLive, Step as Replay};
use crate::hub::Subscription;
use crate::matcher::{Filter, Sort};
use crate::protocol::{valid_name, ErrorCode, ErrorMsg, ServerMsg, SubscribeMsg};
use crate::store::{self, ListQuery};
use axum::extract::ws::Utf8Bytes;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Default and largest snapshot sizes.
const SNAPSHOT_DEFAULT: i64 = 100;
const SNAPSHOT_MAX: i64 = 1000;

/// Why a subscription was refused before anything was sent for it.
#[derive(Debug)]
pub struct Refusal {
    /// Protocol error code.
    pub code: ErrorCode,
    /// Human-readable reason.
    pub message: String,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

impl From<AccessError> for Refusal {
    fn from(e: AccessError) -> Refusal {
        let code = match &e {
            AccessError::Unauthorized(_) => ErrorCode::Unauthorized,
            AccessError::Forbidden(_) => ErrorCode::Forbidden,
            AccessError::NotFound(_) => ErrorCode::NotFound,
            AccessError::InvalidName(_) => ErrorCode::InvalidMessage,
            AccessError::Store(_) => ErrorCode::Internal,
        };
        Refusal::new(code, e.to_string())
    }
}

/// A validated, authorized subscription request.
pub struct Prepared {
    id: String,
    collection: String,
    filter: Filter,
    filter_source: Option<Value>,
    rules: Arc<CollectionRules>,
    since: Option<i64>,
    snapshot: Option<(i64, Sort)>,
}

impl Client {
    /// Validates and authorizes a subscription request; sends nothing.
    pub async fn prepare(&mut self, m: SubscribeMsg) -> Result<Prepared, Refusal> {
        if self.subs.len() >= self.state.config.max_subscriptions {
            return Err(Refusal::new(
                ErrorCode::LimitExceeded,
                "too many subscriptions on this socket",
            ));
        }
        let id = match m.id {
            Some(id) if !valid_name(&id, 64, b"") => {
                return Err(Refusal::new(
                    ErrorCode::InvalidMessage,
                    "subscription id must be 1-64 characters of A-Z a-z 0-9 _ . : -",
                ))
            }
            Some(id) => id,
            None => {
                self.next_sub += 1;
                format!("sub-{}", self.next_sub)
            }
        };
        if self.subs.contains_key(&id) {
            return Err(Refusal::new(
                ErrorCode::InvalidMessage,
                format!("subscription id {id:?} is already active"),
            ));
        }
        crate::access::check_collection(&m.collection)?;
        let filter = match m.filters.as_ref().map(Filter::from_json).transpose() {
            Ok(f) => f.unwrap_or_default(),
            Err(e) => return Err(Refusal::new(ErrorCode::InvalidFilter, e.to_string())),
        };
        let snapshot = if m.snapshot {
            let limit = m.limit.unwrap_or(SNAPSHOT_DEFAULT);
            if !(1..=SNAPSHOT_MAX).contains(&limit) {
                return Err(Refusal::new(
                    ErrorCode::InvalidMessage,
                    format!("limit must be 1 to {SNAPSHOT_MAX}"),
                ));
            }
            let sort =
                Sort::parse(m.sort.as_deref()).map_err(|e| Refusal::new(ErrorCode::InvalidFilter, e.to_string()))?;
            Some((limit, sort))
        } else {
            None
        };
        let who = self.conn.identity();
        let rules = self.state.access.collection(&m.collection, &who, false).await?;
        if !rules.read.admits(&who) {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                format!("reading {:?} requires {}", m.collection, rules.read),
            ));
        }
        Ok(Prepared {
            id,
            collection: m.collection,
            filter,
            filter_source: m.filters,
            rules,
            since: m.since,
            snapshot,
        })
    }

    /// Sends the snapshot or replays from `since`, then registers the
    /// subscription and sends `subscribed`. Failures from here on are sent as
    /// errors naming the subscription.
    pub async fn start<T: Transport>(&mut self, t: &mut T, p: Prepared, r: Option<&Value>) -> Step {
        let mut skip = HashMap::new();
        let cursor = if let Some((limit, sort)) = &p.snapshot {
            match self.snapshot(t, &p, *limit, sort).await? {
                Some((seq, reflected)) => {
                    skip = reflected;
                    seq
                }
                None => return Ok(()),
            }
        } else if let Some(since) = p.since {
            match store::pruned_through(&self.state.pool).await {
                Ok(pruned) if since < pruned => {
                    let msg = format!(
                        "changes after {since} are no longer retained (retained after {pruned}); take a snapshot"
                    );
                    return self.sub_error(t, ErrorCode::CursorExpired, &msg, &p.id, r).await;
                }
                Ok(_) => since.max(0),
                Err(e) => return self.sub_error(t, ErrorCode::Internal, &e.to_string(), &p.id, r).await,
            }
        } else {
            self.state.hub.head()
        };
        let mut sub = Subscription::new(p.id.clone(), p.collection.clone(), p.filter, self.conn.clone());
        sub.skip = skip;
        sub.filter_source = p.filter_source.clone();
        let state = self.state.clone();
        let mut live = GoLive::new(&state.pool, &state.hub, sub, cursor);
        let (key, cursor) = loop {
            match live.next().await {
                Ok(Replay::Live { key, seq }) => break (key, seq),
                Ok(Replay::Events(events)) => {
                    for e in events {
                        t.feed(e).await?;
                    }
                    t.flush().await?;
                }
                Err(e) => {
                    let msg = format!("replay failed: {e}");
                    return self.sub_error(t, ErrorCode::Internal, &msg, &p.id, r).await;
                }
            }
        };
        self.subs.insert(p.id.clone(), (p.collection.clone(), key));
        self.reply(
            t,
            &ServerMsg::Subscribed {
                id: &p.id,
                collection: &p.collection,
                seq: cursor,
            },
            r,
        )
        .await
    }

    async fn sub_error<T: Transport>(
        &mut self,
        t: &mut T,
        code: ErrorCode,
        message: &str,
        id: &str,
        r: Option<&Value>,
    ) -> Step {
        let e = ErrorMsg {
            code,
            message,
            subscription: Some(id),
            room: None,
        };
        self.reply(t, &ServerMsg::Error(e), r).await
    }

    /// Sends the snapshot; returns its seq and the changes it reflects beyond
    /// that seq, or None when an error was sent instead.
    async fn snapshot<T: Transport>(
        &mut self,
        t: &mut T,
        p: &Prepared,
        limit: i64,
        sort: &Sort,
    ) -> Result<Option<(i64, HashMap<uuid::Uuid, i64>)>, super::Closed> {
        let who = self.conn.identity();
        let scope = match owner_scope(&p.rules, &who) {
            Ok(s) => s,
            Err(e) => {
                self.sub_error(t, ErrorCode::Forbidden, &e.to_string(), &p.id, None)
                    .await?;
                return Ok(None);
            }
        };
        let q = ListQuery {
            collection: &p.collection,
            filter: &p.filter,
            sort,
            after: None,
            owner: scope,
            limit,
        };
        match store::snapshot(&self.state.pool, &q).await {
            Ok(store::Snapshot { docs, seq, reflected }) => {
                let truncated = docs.len() as i64 > limit;
                let documents: Vec<_> = docs.iter().take(limit as usize).map(|d| d.json()).collect();
                let documents = serde_json::to_value(documents).unwrap_or(Value::Null);
                self.reply(
                    t,
                    &ServerMsg::Snapshot {
                        subscription: &p.id,
                        collection: &p.collection,
                        documents,
                        seq,
                        truncated,
                    },
                    None,
                )
                .await?;
                Ok(Some((seq, reflected)))
            }
            Err(e) => {
                let msg = format!("snapshot failed: {e}");
                self.sub_error(t, ErrorCode::Internal, &msg, &p.id, None).await?;
                Ok(None)
            }
        }
    }

    pub(super) async fn on_subscribe<T: Transport>(&mut self, t: &mut T, m: SubscribeMsg, r: Option<&Value>) -> Step {
        match self.prepare(m).await {
            Ok(p) => self.start(t, p, r).await,
            Err(refusal) => self.error(t, refusal.code, &refusal.message, r).await,
        }
    }

    pub(super) async fn on_unsubscribe<T: Transport>(&mut self, t: &mut T, id: &str, r: Option<&Value>) -> Step {
        match self.subs.remove(id) {
            Some((coll, key)) => {
                self.state.hub.unsubscribe(&coll, key);
                // Through the queue, so it follows events already queued for it.
                self.conn.send(Utf8Bytes::from(crate::protocol::encode(
                    &ServerMsg::Unsubscribed { id },
                    r,
                )));
                Ok(())
            }
            None => {
                self.error(t, ErrorCode::NotFound, &format!("no subscription {id:?}"), r)
                    .await
            }
        }
    }
}
