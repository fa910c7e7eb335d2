//! `AccountError` and its single mapping to `ApiError`.

use crate::auth::AuthError;
use crate::store::StoreError;
use std::time::Duration;

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
