//! API keys: generation, hashing and the in-memory cache used to check them.
//!
//! Keys are high-entropy random strings, so a plain SHA-256 is enough to store
//! them; the database never holds a usable key.

use super::Identity;
use parking_lot::RwLock;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use uuid::Uuid;

pub(super) const SERVICE_PREFIX: &str = "eddy_sk_";
pub(super) const PUBLIC_PREFIX: &str = "eddy_pk_";

/// The two kinds of API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Bypasses rules; may use the admin API.
    Service,
    /// Anonymous client key.
    Public,
}

impl KeyKind {
    /// Parses `service` or `public`.
    pub fn parse(s: &str) -> Option<KeyKind> {
        match s {
            "service" => Some(KeyKind::Service),
            "public" => Some(KeyKind::Public),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Service => "service",
            KeyKind::Public => "public",
        }
    }
}

/// Makes a new random key of the given kind.
pub fn generate_key(kind: KeyKind) -> String {
    let prefix = match kind {
        KeyKind::Service => SERVICE_PREFIX,
        KeyKind::Public => PUBLIC_PREFIX,
    };
    format!("{prefix}{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// The stored hash of a key.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[derive(Clone)]
struct Entry {
    id: Option<Uuid>,
    kind: KeyKind,
}

/// Active keys by hash; replaced wholesale on reload.
#[derive(Default)]
pub struct KeyStore {
    by_hash: RwLock<HashMap<String, Entry>>,
    bootstrap: HashMap<String, Entry>,
}

impl KeyStore {
    /// A store holding the bootstrap keys from configuration.
    pub fn new(bootstrap: &[(KeyKind, String)]) -> Self {
        let bootstrap = bootstrap
            .iter()
            .map(|(kind, key)| (hash_key(key), Entry { id: None, kind: *kind }))
            .collect::<HashMap<_, _>>();
        Self {
            by_hash: RwLock::new(bootstrap.clone()),
            bootstrap,
        }
    }

    /// Replaces the cached keys with the active ones from the database.
    pub fn replace(&self, active: Vec<(Uuid, KeyKind, String)>) {
        let mut map = self.bootstrap.clone();
        for (id, kind, hash) in active {
            map.insert(hash, Entry { id: Some(id), kind });
        }
        *self.by_hash.write() = map;
    }

    /// Whether a key id is still active.
    pub fn is_active(&self, id: Uuid) -> bool {
        self.by_hash.read().values().any(|e| e.id == Some(id))
    }

    /// The identity of a presented key, if it is active.
    pub fn lookup(&self, key: &str) -> Option<Identity> {
        let hash = hash_key(key);
        let entry = self.by_hash.read().get(&hash).cloned()?;
        Some(match entry.kind {
            KeyKind::Service => Identity::Service { key: entry.id },
            KeyKind::Public => Identity::Public { key: entry.id },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_resolve_and_revocation_removes_them() {
        let key = generate_key(KeyKind::Public);
        assert!(key.starts_with(PUBLIC_PREFIX));
        let id = Uuid::new_v4();
        let store = KeyStore::new(&[]);
        store.replace(vec![(id, KeyKind::Public, hash_key(&key))]);
        assert_eq!(store.lookup(&key), Some(Identity::Public { key: Some(id) }));
        assert!(store.is_active(id));
        store.replace(vec![]);
        assert_eq!(store.lookup(&key), None);
        assert!(!store.is_active(id));
    }

    #[test]
    fn bootstrap_keys_survive_reload() {
        let store = KeyStore::new(&[(KeyKind::Service, "eddy_sk_boot".into())]);
        store.replace(vec![]);
        assert_eq!(store.lookup("eddy_sk_boot"), Some(Identity::Service { key: None }));
    }
}
