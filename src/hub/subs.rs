//! Subscriptions, their index and per-change evaluation.
//!
//! Delivery semantics: a change reaches a subscription when its seq is above the
//! subscription's start, and its new state (created/updated) or old state
//! (updated/deleted) matches the filter and may be read by the connection's
//! identity. Each subscription sees changes in seq order because the feed hands
//! them over in seq order and delivery never reorders a connection's queue.

use super::conn::{ConnHandle, Outbound};
use crate::auth::{CollectionRules, Identity};
use crate::matcher::{DocRef, Field, Filter, IndexKey};
use crate::protocol::{event_prefix, event_tail, DocumentJson, EventTail};
use crate::store::{Change, ChangeOp};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One live subscription.
pub struct Subscription {
    /// Client-visible id.
    pub id: String,
    /// Collection watched.
    pub collection: String,
    /// Filter on documents.
    pub filter: Filter,
    /// Only changes with a higher seq are delivered.
    pub start_after: i64,
    /// Where events go.
    pub conn: ConnHandle,
    /// Changes already reflected in this subscription's snapshot although their
    /// seq is above it: document id → highest such version (usually empty).
    pub skip: HashMap<uuid::Uuid, i64>,
    prefix: Arc<str>,
}

impl Subscription {
    /// A subscription not yet registered.
    pub fn new(id: String, collection: String, filter: Filter, conn: ConnHandle) -> Self {
        let prefix: Arc<str> = Arc::from(event_prefix(&id));
        Subscription {
            id,
            collection,
            filter,
            start_after: 0,
            conn,
            skip: HashMap::new(),
            prefix,
        }
    }
}

/// Which shape of event a change takes for one subscription.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Plain,
    Enter,
    Leave,
    LeaveRedacted,
}

/// Lazily built event tails of one change, shared by all recipients.
#[derive(Default)]
pub struct EventCache {
    tails: [Option<Arc<EventTail>>; 4],
}

fn new_doc(c: &Change) -> Option<DocRef<'_>> {
    c.data.as_ref().map(|data| DocRef {
        id: c.doc_id,
        data,
        owner: c.owner.as_deref(),
        created_at: c.created_at,
        updated_at: c.updated_at,
    })
}

fn old_doc(c: &Change) -> Option<DocRef<'_>> {
    c.old_data.as_ref().map(|data| DocRef {
        id: c.doc_id,
        data,
        owner: c.old_owner.as_deref(),
        created_at: c.created_at,
        updated_at: c.updated_at,
    })
}

fn variant(change: &Change, rules: &CollectionRules, filter: &Filter, who: &Identity) -> Option<Variant> {
    let visible = |d: Option<DocRef<'_>>| d.is_some_and(|d| rules.read.allows(who, d.owner) && filter.matches(&d));
    match change.op {
        ChangeOp::Created => visible(new_doc(change)).then_some(Variant::Plain),
        ChangeOp::Deleted => visible(old_doc(change)).then_some(Variant::Plain),
        ChangeOp::Updated => match (visible(old_doc(change)), visible(new_doc(change))) {
            (true, true) => Some(Variant::Plain),
            (false, true) => Some(Variant::Enter),
            (true, false) if rules.read.allows(who, change.owner.as_deref()) => Some(Variant::Leave),
            (true, false) => Some(Variant::LeaveRedacted),
            (false, false) => None,
        },
    }
}

fn tail(change: &Change, v: Variant) -> EventTail {
    let (data, owner) = match change.op {
        ChangeOp::Deleted => (change.old_data.as_ref(), change.owner.as_deref()),
        _ if v == Variant::LeaveRedacted => (None, change.owner.as_deref()),
        _ => (change.data.as_ref(), change.owner.as_deref()),
    };
    let document = DocumentJson {
        id: change.doc_id,
        collection: &change.collection,
        data,
        owner,
        version: change.version,
        created_at: change.created_at,
        updated_at: change.updated_at,
    };
    let transition = match v {
        Variant::Plain => None,
        Variant::Enter => Some("enter"),
        Variant::Leave | Variant::LeaveRedacted => Some("leave"),
    };
    event_tail(
        change.op.as_str(),
        change.seq,
        &document,
        change.old_data.as_ref(),
        transition,
    )
}

/// The event for one subscription, or None when the change is not for it.
pub fn frame_for(
    change: &Change,
    rules: &CollectionRules,
    sub: &Subscription,
    cache: &mut EventCache,
) -> Option<Outbound> {
    if change.seq <= sub.start_after || change.collection != sub.collection {
        return None;
    }
    if sub.skip.get(&change.doc_id).is_some_and(|v| change.version <= *v) {
        return None;
    }
    let who = sub.conn.identity();
    let v = variant(change, rules, &sub.filter, &who)?;
    let slot = &mut cache.tails[v as usize];
    let tail = slot.get_or_insert_with(|| Arc::from(tail(change, v))).clone();
    Some(Outbound::Event {
        prefix: sub.prefix.clone(),
        tail,
    })
}

/// Key of a subscription inside the index.
pub type SubKey = u64;

/// Subscriptions of one collection, indexed by one equality condition each.
#[derive(Default)]
struct CollectionSubs {
    all: HashMap<SubKey, Arc<Subscription>>,
    scan: HashSet<SubKey>,
    by_eq: HashMap<Field, HashMap<IndexKey, Vec<SubKey>>>,
    indexed_on: HashMap<SubKey, (Field, IndexKey)>,
}

/// All subscriptions, by collection.
#[derive(Default)]
pub struct SubIndex {
    next: SubKey,
    collections: HashMap<String, CollectionSubs>,
}

impl SubIndex {
    /// Adds a subscription; returns its key.
    pub fn insert(&mut self, sub: Subscription) -> SubKey {
        self.next += 1;
        let key = self.next;
        let coll = self.collections.entry(sub.collection.clone()).or_default();
        match sub.filter.equality_keys().into_iter().next() {
            Some((field, value)) => {
                coll.by_eq
                    .entry(field.clone())
                    .or_default()
                    .entry(value.clone())
                    .or_default()
                    .push(key);
                coll.indexed_on.insert(key, (field, value));
            }
            None => {
                coll.scan.insert(key);
            }
        }
        coll.all.insert(key, Arc::new(sub));
        key
    }

    /// Removes a subscription.
    pub fn remove(&mut self, collection: &str, key: SubKey) -> Option<Arc<Subscription>> {
        let coll = self.collections.get_mut(collection)?;
        let sub = coll.all.remove(&key)?;
        coll.scan.remove(&key);
        if let Some((field, value)) = coll.indexed_on.remove(&key) {
            if let Some(values) = coll.by_eq.get_mut(&field) {
                if let Some(keys) = values.get_mut(&value) {
                    keys.retain(|k| *k != key);
                    if keys.is_empty() {
                        values.remove(&value);
                    }
                }
                if values.is_empty() {
                    coll.by_eq.remove(&field);
                }
            }
        }
        if coll.all.is_empty() {
            self.collections.remove(collection);
        }
        Some(sub)
    }

    /// Number of subscriptions.
    pub fn len(&self) -> usize {
        self.collections.values().map(|c| c.all.len()).sum()
    }

    /// Calls `f` with every subscription that may match a change: unindexed
    /// ones plus those whose equality key equals the new or old document's value.
    pub fn for_each_candidate(&self, change: &Change, keys: &mut Vec<SubKey>, mut f: impl FnMut(&Subscription)) {
        let Some(coll) = self.collections.get(&change.collection) else {
            return;
        };
        for k in &coll.scan {
            if let Some(sub) = coll.all.get(k) {
                f(sub);
            }
        }
        if coll.by_eq.is_empty() {
            return;
        }
        keys.clear();
        for (field, values) in &coll.by_eq {
            for doc in [new_doc(change), old_doc(change)].into_iter().flatten() {
                if let Some(hits) = field.index_key(&doc).and_then(|k| values.get(&k)) {
                    keys.extend_from_slice(hits);
                }
            }
        }
        keys.sort_unstable();
        keys.dedup();
        for k in keys.iter() {
            if let Some(sub) = coll.all.get(k) {
                f(sub);
            }
        }
    }
}
