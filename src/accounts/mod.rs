//! User accounts: sign-up, sign-in, sessions of rotating refresh tokens, short-lived
//! access JWTs that every rule and the realtime protocol accept as they are, and the
//! service-key administration of users.
//!
//! SQL lives in `store::users`; HTTP in `routes`. See SECURITY.md for the design.

mod limit;
mod password;
mod routes;

pub use password::{normalise_email, MIN_PASSWORD_CHARS};
pub use routes::router;

use crate::app::AppState;
use crate::auth::{hash_key, AuthError, Authenticator, JwtSigner};
use crate::config::{ServeArgs, SignupMode};
use crate::hub::Hub;
use crate::store::{self, users, StoreError, User};
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

/// Why an accounts operation failed; mapped to HTTP in `routes`.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// No signing key is configured.
    #[error("accounts need a signing key: set EDDY_JWT_SECRET (HS256) or EDDY_JWT_PRIVATE_KEY_FILE (RS256/ES256)")]
    NotConfigured,
    /// Unknown email or wrong password (one answer for both).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The account is disabled (only said after a correct password).
    #[error("account disabled")]
    Disabled,
    /// Refresh token unknown, expired, revoked or reused.
    #[error("invalid or expired refresh token")]
    InvalidRefresh,
    /// The email address is malformed.
    #[error("{0}")]
    InvalidEmail(String),
    /// The new password breaks the policy.
    #[error("{0}")]
    WeakPassword(String),
    /// Other invalid input.
    #[error("{0}")]
    BadRequest(String),
    /// Not allowed for this caller.
    #[error("{0}")]
    Forbidden(String),
    /// The token is not a user access token, or the user no longer exists.
    #[error("{0}")]
    NotFound(String),
    /// The email is registered already (only told to service keys).
    #[error("a user with this email already exists")]
    Conflict,
    /// Too many attempts; retry after this long.
    #[error("too many attempts")]
    RateLimited(Duration),
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Unexpected failure (hashing, signing).
    #[error("{0}")]
    Internal(String),
}

/// What a successful sign-in, refresh or password change returns.
#[derive(Debug, Serialize)]
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
        end_sockets(state, user).await;
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
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Email address (normalised before use).
    pub email: String,
    /// Password (policy-checked, then hashed).
    pub password: String,
    /// Optional profile object.
    #[serde(default)]
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

/// Closes a user's sockets here at once and tells the other servers to do the same.
async fn end_sockets(state: &AppState, user: Uuid) {
    let sub = user.to_string();
    state.hub.close_users(|s| s == sub, "signed out everywhere");
    if let Err(e) = store::notify_config(&state.pool, &format!("sessions:{user}")).await {
        tracing::warn!(error = %e, "notify other servers of a sign-out");
    }
}

/// Re-reads the denied users and tells the other servers to (after disable or delete).
async fn users_changed(state: &AppState) {
    reload(&state.pool, &state.hub, &state.auth, "users").await;
    if let Err(e) = store::notify_config(&state.pool, "users").await {
        tracing::warn!(error = %e, "notify other servers of a user change");
    }
}

/// Handles the accounts reload hints: `users` (and `all`) re-reads the disabled and
/// deleted users and closes their sockets; `sessions:<id>` closes one user's sockets.
pub async fn reload(pool: &PgPool, hub: &Hub, auth: &Authenticator, what: &str) {
    if let Some(id) = what.strip_prefix("sessions:") {
        hub.close_users(|s| s == id, "signed out everywhere");
        return;
    }
    if what != "all" && what != "users" {
        return;
    }
    match users::denied_users(pool).await {
        Ok(ids) => {
            auth.set_denied(ids.into_iter().map(|id| id.to_string()).collect());
            hub.close_users(|s| auth.is_denied(s), "account disabled or deleted");
        }
        Err(e) => tracing::warn!(error = %e, "reload denied users"),
    }
}

/// How often expired refresh tokens are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes expired refresh tokens periodically until shutdown. Used tokens are kept
/// until they expire: they are what reveals a reuse.
async fn prune_loop(pool: PgPool, shutdown: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
        match users::prune_refresh(&pool).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "pruned expired refresh tokens"),
            Err(e) => tracing::warn!(error = %e, "pruning refresh tokens failed"),
        }
    }
}

/// The account id of a user identity's `sub`.
fn account_id(sub: Option<&str>) -> Result<Uuid, AccountError> {
    sub.and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| AccountError::NotFound("this credential does not belong to a user account".into()))
}

impl From<AccountError> for crate::http::ApiError {
    fn from(e: AccountError) -> Self {
        use crate::http::ApiError;
        match e {
            AccountError::NotConfigured => ApiError::Unavailable(e.to_string()),
            AccountError::InvalidCredentials => ApiError::Unauthorized(AuthError::InvalidCredentials),
            AccountError::InvalidRefresh => ApiError::Unauthorized(AuthError::BadToken(
                "refresh token is invalid, expired or revoked".into(),
            )),
            AccountError::Disabled => ApiError::Forbidden(e.to_string()),
            AccountError::InvalidEmail(m) | AccountError::WeakPassword(m) => ApiError::Unprocessable(m),
            AccountError::BadRequest(m) => ApiError::BadRequest(m),
            AccountError::Forbidden(m) => ApiError::Forbidden(m),
            AccountError::NotFound(m) => ApiError::NotFound(m),
            AccountError::Conflict => ApiError::Conflict(e.to_string()),
            AccountError::RateLimited(wait) => ApiError::RateLimited {
                retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            },
            AccountError::Store(s) => s.into(),
            AccountError::Internal(m) => ApiError::Internal(m),
        }
    }
}
