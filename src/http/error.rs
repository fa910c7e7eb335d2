//! `ApiError`: every REST failure, mapped once to a status and a JSON body.

use crate::access::AccessError;
use crate::auth::AuthError;
use crate::broker::BrokerError;
use crate::matcher::FilterError;
use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A REST error as the client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 invalid_request.
    #[error("{0}")]
    BadRequest(String),
    /// 400 invalid_filter.
    #[error("{0}")]
    InvalidFilter(#[from] FilterError),
    /// 401 unauthorized.
    #[error("{0}")]
    Unauthorized(#[from] AuthError),
    /// 403 forbidden.
    #[error("{0}")]
    Forbidden(String),
    /// 404 not_found.
    #[error("{0}")]
    NotFound(String),
    /// 409 conflict.
    #[error("{0}")]
    Conflict(String),
    /// 412 precondition_failed.
    #[error("version is {current}, If-Match asked for {expected}")]
    Precondition {
        /// The current version.
        current: i64,
        /// The version the client expected.
        expected: i64,
    },
    /// 413 payload_too_large.
    #[error("{0}")]
    TooLarge(String),
    /// 415 unsupported_media_type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422 unprocessable.
    #[error("{0}")]
    Unprocessable(String),
    /// 429 rate_limited, with `Retry-After`.
    #[error("too many attempts; retry in {retry_after} s")]
    RateLimited {
        /// Seconds until the next attempt is allowed.
        retry_after: u64,
    },
    /// 503 unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// 500 internal (details are logged, not returned).
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::InvalidFilter(_) => (StatusCode::BAD_REQUEST, "invalid_filter"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Precondition { .. } => (StatusCode::PRECONDITION_FAILED, "precondition_failed"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The `{"error":{…}}` response for a status, code and message.
    pub fn body(status: StatusCode, code: &str, message: &str) -> Response {
        (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("not found".into()),
            StoreError::Conflict => ApiError::Conflict("already exists".into()),
            StoreError::Db(e) => match e {
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                    ApiError::Unavailable("database unavailable".into())
                }
                // PostgreSQL text and jsonb cannot hold U+0000 (22P05 in jsonb, 22021 in text):
                // valid JSON from the client, refused by the database, so it is the client's 400.
                sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("22P05" | "22021")) => {
                    ApiError::BadRequest("strings may not contain the NUL character (\\u0000)".into())
                }
                other => ApiError::Internal(other.to_string()),
            },
        }
    }
}

impl From<BrokerError> for ApiError {
    fn from(e: BrokerError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Unauthorized(e) => ApiError::Unauthorized(e),
            AccessError::Forbidden(m) => ApiError::Forbidden(m),
            AccessError::NotFound(m) => ApiError::NotFound(m),
            AccessError::InvalidName(m) => ApiError::BadRequest(m),
            AccessError::Store(e) => e.into(),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Db(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let mut resp = ApiError::body(status, code, &self.to_string());
        if let ApiError::RateLimited { retry_after } = self {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, retry_after.max(1).into());
        }
        resp
    }
}
