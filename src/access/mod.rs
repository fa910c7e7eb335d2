//! Access policy shared by every edge: credentials → identity (header,
//! `?token=`, `auth` message), the `Origin` allow-list, collection rules (this
//! module is the only owner of the rules cache) and owner scope. Everything is
//! decided in memory; the database is read only to fill the cache.
//!
//! Errors are `AccessError`; each edge (REST, WebSocket, SSE) maps them once.

mod cache;
mod impersonate;

pub use cache::RulesCache;
pub use impersonate::{described_identity, IMPERSONATION_TTL_SECS};

use crate::auth::{AuthError, Authenticator, CollectionRules, Identity, KeyStore, Rule};
use crate::store::{self, ReloadHint, StoreError};
use axum::http::HeaderMap;
use sqlx::PgPool;
use std::sync::Arc;

/// Why access was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Missing or bad credential.
    #[error("{0}")]
    Unauthorized(#[from] AuthError),
    /// The identity may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The collection does not exist (and may not be created by this caller).
    #[error("{0}")]
    NotFound(String),
    /// A malformed collection name.
    #[error("{0}")]
    InvalidName(String),
    /// The database failed while filling the cache.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Access policy of one server.
pub struct Access {
    pool: PgPool,
    auth: Authenticator,
    rules: Arc<RulesCache>,
    origins: Vec<String>,
    default_rules: CollectionRules,
    auto_create: bool,
}

/// Settings of `Access`.
pub struct AccessConfig {
    /// Allowed `Origin`s (empty: any).
    pub origins: Vec<String>,
    /// Rules of collections created by a first write.
    pub default_rules: CollectionRules,
    /// Whether non-service callers may create collections by writing.
    pub auto_create: bool,
}

impl Access {
    /// Builds the policy over an authenticator and an empty rules cache.
    pub fn new(pool: PgPool, auth: Authenticator, cfg: AccessConfig) -> Access {
        Access {
            pool,
            auth,
            rules: Arc::new(RulesCache::default()),
            origins: cfg.origins,
            default_rules: cfg.default_rules,
            auto_create: cfg.auto_create,
        }
    }

    /// The API key cache.
    pub fn keys(&self) -> &KeyStore {
        self.auth.keys()
    }

    /// The rules cache (the hub reads it on every event).
    pub fn rules(&self) -> &Arc<RulesCache> {
        &self.rules
    }

    /// Rules given to collections created without explicit rules.
    pub fn default_rules(&self) -> &CollectionRules {
        &self.default_rules
    }

    /// Authenticates one presented credential (API key or JWT).
    pub fn authenticate(&self, token: &str) -> Result<Identity, AccessError> {
        Ok(self.auth.authenticate(token)?)
    }

    /// The identity behind a request's credential, if it presents one:
    /// `?token=` first, then `Authorization: Bearer`, then `x-api-key`.
    pub fn identify(&self, headers: &HeaderMap, query_token: Option<&str>) -> Result<Option<Identity>, AccessError> {
        match query_token.map(str::to_owned).or_else(|| credential(headers)) {
            Some(t) => Ok(Some(self.authenticate(&t)?)),
            None => Ok(None),
        }
    }

    /// Like `identify`, but a credential is required.
    pub fn require(&self, headers: &HeaderMap, query_token: Option<&str>) -> Result<Identity, AccessError> {
        self.identify(headers, query_token)?
            .ok_or(AccessError::Unauthorized(AuthError::Missing))
    }

    /// Whether the request's `Origin` is allowed. Non-browser clients send no
    /// Origin; the allow-list guards browsers.
    pub fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        if self.origins.is_empty() {
            return true;
        }
        match headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok()) {
            Some(origin) => self.origins.iter().any(|a| a == origin || a == "*"),
            None => true,
        }
    }

    /// Whether an identity is still valid now (not expired, key not revoked).
    pub fn still_valid(&self, who: &Identity) -> bool {
        if who
            .expires_at()
            .is_some_and(|exp| exp <= chrono::Utc::now().timestamp())
        {
            return false;
        }
        who.key_id().is_none_or(|id| self.auth.keys().is_active(id))
    }

    /// A collection's rules, read through the cache. With `create`, a missing
    /// collection is created with the default rules when `who` may do so.
    pub async fn collection(
        &self,
        name: &str,
        who: &Identity,
        create: bool,
    ) -> Result<Arc<CollectionRules>, AccessError> {
        check_collection(name)?;
        if let Some(r) = self.rules.get(name) {
            return Ok(r);
        }
        let read_at = self.rules.generation();
        if let Some(r) = store::collection_rules(&self.pool, name).await? {
            return Ok(self.rules.fill(name, r, read_at));
        }
        if !(create && (who.is_service() || self.auto_create)) {
            return Err(AccessError::NotFound(format!("collection {name:?} does not exist")));
        }
        let r = store::put_collection(&self.pool, name, &self.default_rules, true).await?;
        let r = self.rules.set(name, r);
        store::notify_config(&self.pool, ReloadHint::Collections).await?;
        Ok(r)
    }

    /// Creates a collection or replaces its rules, for every server.
    pub async fn put_collection(&self, name: &str, rules: CollectionRules) -> Result<(), AccessError> {
        check_collection(name)?;
        store::put_collection(&self.pool, name, &rules, false).await?;
        self.rules.set(name, rules);
        store::notify_config(&self.pool, ReloadHint::Collections).await?;
        Ok(())
    }

    /// Re-reads every collection's rules. Entries the cache learnt after the
    /// read began are newer than the read and are kept.
    pub async fn reload_collections(&self) -> Result<(), AccessError> {
        let read_at = self.rules.generation();
        let all = store::load_collections(&self.pool).await?;
        self.rules.replace_all(all, read_at);
        Ok(())
    }

    /// The credential checker (accounts use its deny set).
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    /// Whether tokens of this user id are refused (disabled or deleted account).
    pub fn is_denied(&self, sub: &str) -> bool {
        self.auth.is_denied(sub)
    }

    /// Re-reads the disabled and deleted users whose tokens are refused.
    pub async fn reload_denied(&self) -> Result<(), AccessError> {
        let ids = store::users::denied_users(&self.pool).await?;
        self.auth.set_denied(ids.into_iter().map(|id| id.to_string()).collect());
        Ok(())
    }

    /// Replaces the API key cache from the database.
    pub async fn reload_keys(&self) -> Result<(), AccessError> {
        self.auth.keys().replace(store::active_keys(&self.pool).await?);
        Ok(())
    }
}

/// The credential in `Authorization: Bearer` or `x-api-key`, if any.
pub fn credential(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") {
            return Some(v[7..].trim().to_owned());
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
}

/// Whose documents a reader may list: None for all, Some(sub) under an owner rule.
pub fn owner_scope<'a>(rules: &CollectionRules, who: &'a Identity) -> Result<Option<&'a str>, AccessError> {
    if !rules.read.admits(who) {
        return Err(forbid(&rules.read, "read"));
    }
    Ok(match (&rules.read, who) {
        (Rule::Owner, Identity::User { sub, .. }) => Some(sub),
        _ => None,
    })
}

/// The refusal for an operation a rule does not admit.
pub fn forbid(rule: &Rule, op: &str) -> AccessError {
    AccessError::Forbidden(format!("{op} requires {rule}"))
}

/// Validates a collection name.
pub fn check_collection(name: &str) -> Result<(), AccessError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(AccessError::InvalidName(format!(
            "invalid collection name {name:?}: 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit"
        )))
    }
}
