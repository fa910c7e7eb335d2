//! User accounts: sign-up, sign-in, sessions of rotating refresh tokens, short-lived
//! access JWTs that every rule and the realtime protocol accept as they are, and the
//! service-key administration of users.
//!
//! SQL lives in `store::users`; HTTP in `routes`. See SECURITY.md for the design.

mod error;
mod limit;
mod password;
mod revoke;
pub(crate) mod routes;

pub use error::AccountError;
pub use password::{normalise_email, MIN_PASSWORD_CHARS};
pub use routes::router;

use crate::auth::{hash_key, Authenticator, JwtSigner};
use crate::config::{ServeArgs, SignupMode};
use crate::state::AppState;
use crate::store::{users, StoreError, User};
use chrono::Utc;
use limit::Limiter;
use password::Hasher;
use rand::RngCore;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Longest access-token lifetime: tombstones of deleted users are kept this long.
pub const MAX_ACCESS_TTL: Duration = Duration::from_secs(24 * 3600);
/// Prefix of refresh tokens, so they are recognisable in logs and leaks.
const REFRESH_PREFIX: &str = "eddy_rt_";

/// What a successful sign-in, refresh or password change returns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Session {
    /// Access JWT for `Authorization: Bearer` and the realtime `auth` message.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Expiry of the access token, Unix seconds.
    pub expires_at: i64,
    /// Opaque single-use token for `POST /v1/auth/refresh`.
    pub refresh_token: String,
    /// The signed-in user.
    pub user: User,
}

/// Configuration and in-memory state of the accounts API.
pub struct Accounts {
    signer: Option<JwtSigner>,
    hasher: Arc<Hasher>,
    by_ip: Limiter,
    by_email: Limiter,
    signup: SignupMode,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

impl Accounts {
    /// Builds the accounts service; a missing signing key is not an error (the API answers 503).
    pub fn from_config(cfg: &ServeArgs) -> Result<Accounts, String> {
        let a = &cfg.accounts;
        if a.access_token_ttl.is_zero() || a.access_token_ttl > MAX_ACCESS_TTL {
            return Err("--access-token-ttl must be between 1s and 24h".into());
        }
        if a.refresh_token_ttl < a.access_token_ttl {
            return Err("--refresh-token-ttl must not be shorter than --access-token-ttl".into());
        }
        let pem = match &a.jwt_private_key_file {
            Some(p) => Some(std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()))?),
            None => None,
        };
        let jwt = &cfg.jwt;
        let hs256 = jwt.jwt_algorithm.eq_ignore_ascii_case("HS256");
        if hs256 && pem.is_some() {
            return Err("--jwt-private-key-file needs --jwt-algorithm RS256 or ES256".into());
        }
        // Verification-only set-ups (a public key, no private key) are fine: accounts answer 503.
        let signing_key = if hs256 { jwt.jwt_secret.is_some() } else { pem.is_some() };
        let signer = if signing_key {
            Some(
                JwtSigner::new(
                    &jwt.jwt_algorithm,
                    jwt.jwt_secret.as_deref(),
                    pem.as_deref(),
                    jwt.jwt_issuer.as_deref(),
                    jwt.jwt_audience.as_deref(),
                )
                .map_err(|e| e.to_string())?,
            )
        } else {
            None
        };
        Ok(Accounts {
            signer,
            hasher: Arc::new(Hasher::new(a.argon2_memory_kib, a.argon2_iterations)?),
            by_ip: Limiter::per_minute(a.auth_ip_rate),
            by_email: Limiter::per_minute(a.auth_account_rate),
            signup: a.auth_signup,
            access_ttl: a.access_token_ttl,
            refresh_ttl: a.refresh_token_ttl,
        })
    }

    /// Checks at start-up that the settings are usable and that the tokens this server
    /// signs pass its own verifier (same algorithm, key pair, issuer and audience).
    pub fn check_config(cfg: &ServeArgs, auth: &Authenticator) -> Result<(), String> {
        let accounts = Accounts::from_config(cfg)?;
        let Some(signer) = &accounts.signer else {
            return Ok(());
        };
        let now = Utc::now().timestamp();
        let probe = signer
            .sign(&Uuid::nil().to_string(), None, now, now + 60)
            .map_err(|e| e.to_string())?;
        auth.authenticate(&probe).map(|_| ()).map_err(|e| {
            format!("access tokens signed with the configured key do not verify ({e}); check the JWT key pair")
        })
    }

    fn signer(&self) -> Result<&JwtSigner, AccountError> {
        self.signer.as_ref().ok_or(AccountError::NotConfigured)
    }

    /// Counts a sign-in or sign-up attempt against the IP and the email address.
    fn limit(&self, ip: &str, email: &str) -> Result<(), AccountError> {
        let ip = self.by_ip.check(ip);
        let email = self.by_email.check(email);
        match (ip, email) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(a), Err(b)) => Err(AccountError::RateLimited(a.max(b))),
            (Err(w), _) | (_, Err(w)) => Err(AccountError::RateLimited(w)),
        }
    }

    /// Creates a user. Service keys get the user (or a conflict) and may set a role;
    /// everyone else gets the same empty answer whether or not the email was taken.
    pub async fn signup(
        &self,
        state: &AppState,
        service: bool,
        ip: &str,
        req: SignupRequest,
    ) -> Result<Option<User>, AccountError> {
        self.signer()?;
        if !service {
            if self.signup == SignupMode::Closed {
                return Err(AccountError::Forbidden(
                    "sign-up is closed: a service key creates users".into(),
                ));
            }
            if req.role.is_some() {
                return Err(AccountError::Forbidden("only a service key can set a role".into()));
            }
        }
        let email = normalise_email(&req.email)?;
        if !service {
            self.limit(ip, &email)?;
        }
        password::check_policy(&req.password, &email)?;
        let profile = req.profile.unwrap_or_else(|| Value::Object(Default::default()));
        if !profile.is_object() {
            return Err(AccountError::BadRequest("profile must be a JSON object".into()));
        }
        if let Some(role) = &req.role {
            check_role(role)?;
        }
        // Hashing happens before the uniqueness check, so both outcomes cost the same.
        let hash = self.hasher.hash(&req.password).await?;
        match users::insert_user(&state.pool, &email, &hash, req.role.as_deref(), &profile).await {
            Ok(user) if service => Ok(Some(user)),
            Err(StoreError::Conflict) if service => Err(AccountError::Conflict),
            // Created or taken: the same answer, so sign-up does not reveal registered addresses.
            Ok(_) | Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Signs in with email and password and starts a new session.
    pub async fn login(
        &self,
        state: &AppState,
        ip: &str,
        email: &str,
        password: &str,
    ) -> Result<Session, AccountError> {
        self.signer()?;
        // A malformed address cannot exist; answer as for an unknown one.
        let email = normalise_email(email).unwrap_or_default();
        self.limit(ip, &email)?;
        let found = if email.is_empty() {
            None
        } else {
            users::user_by_email(&state.pool, &email).await?
        };
        let ok = self
            .hasher
            .verify(password, found.as_ref().map(|(_, h)| h.as_str()))
            .await?;
        let user = match found {
            Some((user, _)) if ok => user,
            _ => return Err(AccountError::InvalidCredentials),
        };
        if user.disabled {
            return Err(AccountError::Disabled);
        }
        self.start_session(&state.pool, user, None).await
    }

    /// Signs a new access token and stores a new refresh token (in `family`, or a new one).
    async fn start_session(&self, pool: &PgPool, user: User, family: Option<Uuid>) -> Result<Session, AccountError> {
        let refresh = new_refresh_token();
        let expires = Utc::now() + self.refresh_ttl;
        users::insert_refresh(
            pool,
            &hash_key(&refresh),
            family.unwrap_or_else(Uuid::new_v4),
            user.id,
            expires,
        )
        .await?;
        self.session(user, refresh)
    }

    fn session(&self, user: User, refresh_token: String) -> Result<Session, AccountError> {
        let now = Utc::now().timestamp();
        let ttl = self.access_ttl.as_secs().max(1);
        let exp = now + ttl as i64;
        let access_token = self
            .signer()?
            .sign(&user.id.to_string(), user.role.as_deref(), now, exp)
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        Ok(Session {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            expires_at: exp,
            refresh_token,
            user,
        })
    }

    /// Exchanges a refresh token for a new pair. A token used before ends its whole
    /// session: the legitimate holder and a thief cannot both continue.
    pub async fn refresh(&self, state: &AppState, token: &str) -> Result<Session, AccountError> {
        self.signer()?;
        let hash = hash_key(token);
        let mut tx = state.pool.begin().await.map_err(StoreError::Db)?;
        let Some(row) = users::lock_refresh(&mut tx, &hash).await? else {
            return Err(AccountError::InvalidRefresh);
        };
        if row.revoked {
            return Err(AccountError::InvalidRefresh);
        }
        if row.used {
            users::revoke_family(&mut *tx, row.family).await?;
            tx.commit().await.map_err(StoreError::Db)?;
            tracing::warn!(user = %row.user_id, family = %row.family, "refresh token reused; session revoked");
            return Err(AccountError::InvalidRefresh);
        }
        if row.expires_at <= Utc::now() {
            return Err(AccountError::InvalidRefresh);
        }
        let user = match users::get_user(&mut *tx, row.user_id).await {
            Ok(u) if !u.disabled => u,
            Ok(_) | Err(StoreError::NotFound) => return Err(AccountError::InvalidRefresh),
            Err(e) => return Err(e.into()),
        };
        users::mark_refresh_used(&mut *tx, &hash).await?;
        let next = new_refresh_token();
        users::insert_refresh(
            &mut *tx,
            &hash_key(&next),
            row.family,
            user.id,
            Utc::now() + self.refresh_ttl,
        )
        .await?;
        tx.commit().await.map_err(StoreError::Db)?;
        self.session(user, next)
    }

    /// Ends the session a refresh token belongs to (unknown tokens are ignored).
    pub async fn logout(&self, state: &AppState, token: &str) -> Result<(), AccountError> {
        let mut tx = state.pool.begin().await.map_err(StoreError::Db)?;
        if let Some(row) = users::lock_refresh(&mut tx, &hash_key(token)).await? {
            users::revoke_family(&mut *tx, row.family).await?;
        }
        tx.commit().await.map_err(StoreError::Db)?;
        Ok(())
    }

    /// Ends every session of the user and closes their sockets on every server.
    pub async fn logout_everywhere(&self, state: &AppState, user: Uuid) -> Result<(), AccountError> {
        users::revoke_user_sessions(&state.pool, user).await?;
        revoke::end_sockets(state, user).await;
        Ok(())
    }

    /// Changes the password after checking the current one; ends every session and
    /// returns a new one for the caller.
    pub async fn change_password(
        &self,
        state: &AppState,
        ip: &str,
        user: Uuid,
        current: &str,
        new: &str,
    ) -> Result<Session, AccountError> {
        self.signer()?;
        let Some((user, hash)) = users::user_with_hash(&state.pool, user).await? else {
            return Err(AccountError::NotFound("no account for this token".into()));
        };
        self.limit(ip, &user.email)?;
        if !self.hasher.verify(current, Some(&hash)).await? {
            return Err(AccountError::InvalidCredentials);
        }
        password::check_policy(new, &user.email)?;
        let hash = self.hasher.hash(new).await?;
        let mut tx = state.pool.begin().await.map_err(StoreError::Db)?;
        users::set_password(&mut *tx, user.id, &hash).await?;
        users::revoke_user_sessions(&mut *tx, user.id).await?;
        tx.commit().await.map_err(StoreError::Db)?;
        self.start_session(&state.pool, user, None).await
    }
}

/// Body of `POST /v1/auth/signup` and `POST /v1/auth/users`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Email address (normalised before use).
    pub email: String,
    /// Password (policy-checked, then hashed).
    pub password: String,
    /// Optional profile object.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub profile: Option<Value>,
    /// Role: service keys only.
    #[serde(default)]
    pub role: Option<String>,
}

/// Checks a role name: what `role:<name>` rules can name.
pub fn check_role(role: &str) -> Result<(), AccountError> {
    let ok = !role.is_empty()
        && role.len() <= 64
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::BadRequest(
            "role must be 1-64 characters of A-Z a-z 0-9 _ - . :".into(),
        ))
    }
}

fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{REFRESH_PREFIX}{}", hex::encode(bytes))
}

/// The account id of a user identity's `sub`.
fn account_id(sub: Option<&str>) -> Result<Uuid, AccountError> {
    sub.and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| AccountError::NotFound("this credential does not belong to a user account".into()))
}
