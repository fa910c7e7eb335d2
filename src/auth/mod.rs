//! Identities, credentials (API keys and JWTs) and access rules.
//!
//! Everything here is checked in memory: API keys are cached (and reloaded when
//! revoked), JWTs are verified locally. Nothing in this module talks HTTP.

mod jwt;
mod keys;
mod rules;

pub use jwt::{mint_hs256, JwtError, JwtSigner, JwtVerifier};
pub use keys::{generate_key, hash_key, KeyKind, KeyStore};
pub use rules::{CollectionRules, Op, Rule, RuleError};

use serde::Serialize;
use std::sync::Arc;
use uuid::Uuid;

/// Who is making a request or holding a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A service key: bypasses every rule.
    Service {
        /// The key's id (None for the bootstrap key).
        key: Option<Uuid>,
    },
    /// A public key: anonymous.
    Public {
        /// The key's id (None for the bootstrap key).
        key: Option<Uuid>,
    },
    /// A user authenticated by JWT.
    User {
        /// The `sub` claim.
        sub: Arc<str>,
        /// The optional `role` claim.
        role: Option<Arc<str>>,
        /// The `exp` claim, Unix seconds.
        exp: i64,
    },
}

/// The JSON form of an identity, as shown to clients.
#[derive(Debug, Serialize)]
pub struct IdentityView<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Option<&'a str>>,
}

impl Identity {
    /// The user id, for users.
    pub fn sub(&self) -> Option<&str> {
        match self {
            Identity::User { sub, .. } => Some(sub),
            _ => None,
        }
    }

    /// Whether this is a service key.
    pub fn is_service(&self) -> bool {
        matches!(self, Identity::Service { .. })
    }

    /// The API key id behind this identity, if any.
    pub fn key_id(&self) -> Option<Uuid> {
        match self {
            Identity::Service { key } | Identity::Public { key } => *key,
            Identity::User { .. } => None,
        }
    }

    /// Expiry in Unix seconds, for JWT identities.
    pub fn expires_at(&self) -> Option<i64> {
        match self {
            Identity::User { exp, .. } => Some(*exp),
            _ => None,
        }
    }

    /// The client-facing JSON view.
    pub fn view(&self) -> IdentityView<'_> {
        match self {
            Identity::Service { .. } => IdentityView {
                kind: "service",
                sub: None,
                role: None,
            },
            Identity::Public { .. } => IdentityView {
                kind: "public",
                sub: None,
                role: None,
            },
            Identity::User { sub, role, .. } => IdentityView {
                kind: "user",
                sub: Some(sub),
                role: Some(role.as_deref()),
            },
        }
    }
}

/// Why a credential was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credential was presented.
    #[error("missing credentials")]
    Missing,
    /// Unknown or revoked API key.
    #[error("invalid or revoked API key")]
    BadKey,
    /// The JWT is expired.
    #[error("token expired")]
    Expired,
    /// The JWT failed verification.
    #[error("invalid token: {0}")]
    BadToken(String),
    /// The token's user was disabled or deleted.
    #[error("account disabled or deleted")]
    Disabled,
    /// Sign-in failed (same answer for an unknown email and a wrong password).
    #[error("invalid email or password")]
    InvalidCredentials,
}

/// Turns presented credentials into identities.
pub struct Authenticator {
    keys: KeyStore,
    jwt: Option<JwtVerifier>,
    /// Disabled and recently deleted user ids, refused even with a valid JWT.
    denied: parking_lot::RwLock<std::collections::HashSet<String>>,
}

impl Authenticator {
    /// Builds an authenticator from a key store and an optional JWT verifier.
    pub fn new(keys: KeyStore, jwt: Option<JwtVerifier>) -> Self {
        Self {
            keys,
            jwt,
            denied: Default::default(),
        }
    }

    /// Replaces the set of user ids whose tokens are refused.
    pub fn set_denied(&self, subs: std::collections::HashSet<String>) {
        *self.denied.write() = subs;
    }

    /// Whether tokens of this user id are refused.
    pub fn is_denied(&self, sub: &str) -> bool {
        self.denied.read().contains(sub)
    }

    /// The API key cache.
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// Authenticates an API key or a JWT.
    pub fn authenticate(&self, token: &str) -> Result<Identity, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.starts_with(keys::SERVICE_PREFIX) || token.starts_with(keys::PUBLIC_PREFIX) {
            return self.keys.lookup(token).ok_or(AuthError::BadKey);
        }
        let identity = match &self.jwt {
            Some(v) => v.verify(token).map_err(|e| match e {
                JwtError::Expired => AuthError::Expired,
                other => AuthError::BadToken(other.to_string()),
            })?,
            None => return Err(AuthError::BadToken("JWTs are not configured".into())),
        };
        match identity.sub() {
            Some(sub) if self.is_denied(sub) => Err(AuthError::Disabled),
            _ => Ok(identity),
        }
    }
}
