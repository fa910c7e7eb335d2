//! The collection-rules cache. Writers and readers of the database race: a
//! reload may read the `collections` table just before another task creates a
//! collection and caches it. Every entry therefore records the cache
//! generation at which it was learnt, and an update computed from a database
//! read carries the generation taken *before* that read: it never replaces or
//! drops an entry learnt after it (newer than the snapshot it applies).

use crate::auth::CollectionRules;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// Collection name → rules, with generation-guarded updates.
#[derive(Default)]
pub struct RulesCache {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    entries: HashMap<String, Entry>,
}

struct Entry {
    /// None: deleted (a tombstone, so an older read cannot bring it back).
    rules: Option<Arc<CollectionRules>>,
    generation: u64,
}

impl RulesCache {
    /// The cached rules of a collection.
    pub fn get(&self, name: &str) -> Option<Arc<CollectionRules>> {
        self.inner.read().entries.get(name).and_then(|e| e.rules.clone())
    }

    /// Whether every named collection is cached.
    pub fn knows_all<'a>(&self, mut names: impl Iterator<Item = &'a str>) -> bool {
        let inner = self.inner.read();
        names.all(|n| inner.entries.get(n).is_some_and(|e| e.rules.is_some()))
    }

    /// The current generation: take it before reading the database, and pass it
    /// to `fill` or `replace_all` with what was read.
    pub fn generation(&self) -> u64 {
        self.inner.read().generation
    }

    /// Records rules that this process has just committed (authoritative).
    pub fn set(&self, name: &str, rules: CollectionRules) -> Arc<CollectionRules> {
        let rules = Arc::new(rules);
        let mut inner = self.inner.write();
        inner.generation += 1;
        let generation = inner.generation;
        inner.entries.insert(
            name.to_owned(),
            Entry {
                rules: Some(rules.clone()),
                generation,
            },
        );
        rules
    }

    /// Records that this process has just deleted a collection.
    pub fn remove(&self, name: &str) {
        let mut inner = self.inner.write();
        inner.generation += 1;
        let generation = inner.generation;
        inner.entries.insert(
            name.to_owned(),
            Entry {
                rules: None,
                generation,
            },
        );
    }

    /// Adds one collection's rules read at `read_at`, unless the cache learnt
    /// something newer about it meanwhile; returns the rules to use now.
    pub fn fill(&self, name: &str, rules: CollectionRules, read_at: u64) -> Arc<CollectionRules> {
        let mut inner = self.inner.write();
        if let Some(e) = inner.entries.get(name) {
            if e.generation > read_at {
                // Newer knowledge wins; after a newer deletion the caller's read is
                // answered as it was, but not cached.
                return e.rules.clone().unwrap_or_else(|| Arc::new(rules));
            }
        }
        let rules = Arc::new(rules);
        inner.entries.insert(
            name.to_owned(),
            Entry {
                rules: Some(rules.clone()),
                generation: read_at,
            },
        );
        rules
    }

    /// Replaces the cache with every collection read at `read_at`, keeping
    /// entries (and tombstones) learnt after that read.
    pub fn replace_all(&self, all: Vec<(String, CollectionRules)>, read_at: u64) {
        let mut inner = self.inner.write();
        let mut next: HashMap<String, Entry> = HashMap::with_capacity(all.len());
        for (name, rules) in all {
            next.insert(
                name,
                Entry {
                    rules: Some(Arc::new(rules)),
                    generation: read_at,
                },
            );
        }
        for (name, e) in inner.entries.drain() {
            if e.generation > read_at {
                next.insert(name, e);
            }
        }
        // Tombstones the read confirmed are no longer needed.
        next.retain(|_, e| e.rules.is_some() || e.generation > read_at);
        inner.entries = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> CollectionRules {
        CollectionRules::service_only()
    }

    #[test]
    fn a_reload_read_before_a_create_keeps_the_created_collection() {
        let cache = RulesCache::default();
        cache.set("old", rules());
        let read_at = cache.generation();
        // Created (and cached) after the reload read the table.
        cache.set("new", rules());
        cache.replace_all(vec![("old".into(), rules())], read_at);
        assert!(cache.get("new").is_some(), "the newer entry was dropped");
        assert!(cache.get("old").is_some());
    }

    #[test]
    fn a_reload_drops_what_the_read_no_longer_has() {
        let cache = RulesCache::default();
        cache.set("gone", rules());
        let read_at = cache.generation();
        cache.replace_all(vec![], read_at);
        assert!(cache.get("gone").is_none());
    }

    #[test]
    fn an_older_read_does_not_resurrect_a_deleted_collection() {
        let cache = RulesCache::default();
        cache.set("c", rules());
        let read_at = cache.generation();
        cache.remove("c");
        cache.replace_all(vec![("c".into(), rules())], read_at);
        assert!(cache.get("c").is_none());
        cache.fill("c", rules(), read_at);
        assert!(cache.get("c").is_none());
        // A later read is newer than the tombstone.
        let later = cache.generation();
        cache.replace_all(vec![("c".into(), rules())], later);
        assert!(cache.get("c").is_some());
    }

    #[test]
    fn fill_does_not_overwrite_newer_rules() {
        let cache = RulesCache::default();
        let read_at = cache.generation();
        let mut public = rules();
        public.read = crate::auth::Rule::Public;
        cache.set("c", public.clone());
        let got = cache.fill("c", rules(), read_at);
        assert_eq!(*got, public);
    }
}
