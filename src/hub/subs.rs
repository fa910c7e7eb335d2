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
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
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
    /// The filter as the client sent it (JSON form), for listings.
    pub filter_source: Option<Value>,
    /// Seq of the last event queued for this subscription (0: none yet).
    pub last_seq: AtomicI64,
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
            filter_source: None,
            last_seq: AtomicI64::new(0),
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

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Plain => "event",
            Variant::Enter => "enter",
            Variant::Leave => "leave",
            Variant::LeaveRedacted => "leave_redacted",
        }
    }
}

/// The read rule and filter checked against one state (old or new) of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideCheck {
    /// Whether the read rule lets the identity see this state.
    pub read: bool,
    /// Whether the filter matches this state.
    pub filter: bool,
}

/// Why a change would or would not reach a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The event the subscription would get (`event`, `enter`, `leave`,
    /// `leave_redacted`), or None when nothing is delivered.
    pub delivered: Option<&'static str>,
    /// Whether the identity may subscribe to the collection at all.
    pub subscribe: bool,
    /// Checks on the state before the change (updates and deletes).
    pub old: Option<SideCheck>,
    /// Checks on the state after the change (creates and updates).
    pub new: Option<SideCheck>,
}

/// Explains delivery of one change to a subscription with `filter` held by `who`.
/// The decision is `variant`, the very function real delivery uses, so the two cannot drift.
pub fn explain(change: &Change, rules: &CollectionRules, filter: &Filter, who: &Identity) -> Explanation {
    let check = |d: Option<DocRef<'_>>| {
        d.map(|d| SideCheck {
            read: rules.read.allows(who, d.owner),
            filter: filter.matches(&d),
        })
    };
    let subscribe = rules.read.admits(who);
    Explanation {
        delivered: if subscribe {
            variant(change, rules, filter, who).map(Variant::name)
        } else {
            None
        },
        subscribe,
        old: check(old_doc(change)),
        new: check(new_doc(change)),
    }
}

/// Whether a filter matches the old and the new state of a change (None: no such state).
pub fn matches_states(change: &Change, filter: &Filter) -> (Option<bool>, Option<bool>) {
    let m = |d: Option<DocRef<'_>>| d.map(|d| filter.matches(&d));
    (m(old_doc(change)), m(new_doc(change)))
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
    sub.last_seq.store(change.seq, Ordering::Relaxed);
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

    /// Every subscription, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Subscription>> {
        self.collections.values().flat_map(|c| c.all.values())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Rule;
    use serde_json::json;

    fn change(op: ChangeOp, old: Option<(Value, &str)>, new: Option<(Value, &str)>) -> Change {
        let now = chrono::Utc::now();
        Change {
            seq: 7,
            collection: "posts".into(),
            doc_id: uuid::Uuid::new_v4(),
            op,
            owner: new.as_ref().or(old.as_ref()).map(|(_, o)| o.to_string()),
            old_owner: old.as_ref().map(|(_, o)| o.to_string()),
            data: new.map(|(d, _)| d),
            old_data: old.map(|(d, _)| d),
            version: 2,
            created_at: now,
            updated_at: now,
        }
    }

    fn rules(read: Rule) -> CollectionRules {
        CollectionRules {
            read,
            ..CollectionRules::service_only()
        }
    }

    fn user(sub: &str, role: Option<&str>) -> Identity {
        Identity::User {
            sub: Arc::from(sub),
            role: role.map(Arc::from),
            exp: i64::MAX,
        }
    }

    fn filter(v: Value) -> Filter {
        Filter::from_json(&v).expect("filter")
    }

    #[test]
    fn owner_rule_refuses_other_users_on_both_states() {
        let c = change(
            ChangeOp::Updated,
            Some((json!({"s": "open"}), "alice")),
            Some((json!({"s": "done"}), "alice")),
        );
        let e = explain(&c, &rules(Rule::Owner), &Filter::default(), &user("bob", None));
        assert_eq!(e.delivered, None);
        assert!(e.subscribe, "owner admits any user at subscribe time");
        assert_eq!(
            e.old,
            Some(SideCheck {
                read: false,
                filter: true
            })
        );
        assert_eq!(
            e.new,
            Some(SideCheck {
                read: false,
                filter: true
            })
        );
        let e = explain(&c, &rules(Rule::Owner), &Filter::default(), &user("alice", None));
        assert_eq!(e.delivered, Some("event"));
    }

    #[test]
    fn role_rule_refuses_at_subscribe() {
        let c = change(ChangeOp::Created, None, Some((json!({"s": "open"}), "alice")));
        let e = explain(
            &c,
            &rules(Rule::Role("admin".into())),
            &Filter::default(),
            &user("bob", Some("viewer")),
        );
        assert_eq!(e.delivered, None);
        assert!(!e.subscribe);
        assert_eq!(e.old, None);
        let admin = user("bob", Some("admin"));
        assert_eq!(
            explain(&c, &rules(Rule::Role("admin".into())), &Filter::default(), &admin).delivered,
            Some("event")
        );
    }

    #[test]
    fn filter_transitions_are_named() {
        let f = filter(json!({"s": "open"}));
        let leave = change(
            ChangeOp::Updated,
            Some((json!({"s": "open"}), "a")),
            Some((json!({"s": "done"}), "a")),
        );
        let e = explain(&leave, &rules(Rule::Public), &f, &Identity::Public { key: None });
        assert_eq!(e.delivered, Some("leave"));
        assert_eq!(
            e.new,
            Some(SideCheck {
                read: true,
                filter: false
            })
        );
        assert_eq!(matches_states(&leave, &f), (Some(true), Some(false)));
        let enter = change(
            ChangeOp::Updated,
            Some((json!({"s": "done"}), "a")),
            Some((json!({"s": "open"}), "a")),
        );
        assert_eq!(
            explain(&enter, &rules(Rule::Public), &f, &Identity::Public { key: None }).delivered,
            Some("enter")
        );
        let neither = change(ChangeOp::Created, None, Some((json!({"s": "done"}), "a")));
        let e = explain(&neither, &rules(Rule::Public), &f, &Identity::Public { key: None });
        assert_eq!(e.delivered, None);
        assert_eq!(
            e.new,
            Some(SideCheck {
                read: true,
                filter: false
            })
        );
    }

    #[test]
    fn explanation_agrees_with_delivery() {
        let f = filter(json!({"s": "open"}));
        let r = rules(Rule::Owner);
        let (conn, _rx) = ConnHandle::new(user("alice", None), 4, "test");
        let sub = Subscription::new("s1".into(), "posts".into(), f.clone(), conn);
        for c in [
            change(ChangeOp::Created, None, Some((json!({"s": "open"}), "alice"))),
            change(ChangeOp::Created, None, Some((json!({"s": "open"}), "bob"))),
            change(
                ChangeOp::Updated,
                Some((json!({"s": "open"}), "alice")),
                Some((json!({"s": "x"}), "alice")),
            ),
            change(ChangeOp::Deleted, Some((json!({"s": "open"}), "bob")), None),
        ] {
            let delivered = frame_for(&c, &r, &sub, &mut EventCache::default()).is_some();
            assert_eq!(explain(&c, &r, &f, &user("alice", None)).delivered.is_some(), delivered);
        }
    }
}
