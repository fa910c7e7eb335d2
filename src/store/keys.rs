//! Stored API keys (hashes only).

use super::StoreError;
use crate::auth::{hash_key, KeyKind};
use crate::protocol::micros;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgExecutor;
use uuid::Uuid;

/// A key as listed (never the secret).
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct KeyInfo {
    /// Key id.
    pub id: Uuid,
    /// Label.
    pub name: String,
    /// `service` or `public`.
    pub kind: String,
    /// First characters of the key, to recognise it.
    pub prefix: String,
    /// Creation time.
    #[serde(serialize_with = "micros")]
    pub created_at: DateTime<Utc>,
    /// Revocation time, if revoked.
    #[schema(required)]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Stores a key's hash and returns its id.
pub async fn create_key(db: impl PgExecutor<'_>, kind: KeyKind, name: &str, key: &str) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO api_keys (id, name, kind, hash, prefix) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(name)
        .bind(kind.as_str())
        .bind(hash_key(key))
        .bind(key.chars().take(12).collect::<String>())
        .execute(db)
        .await?;
    Ok(id)
}

/// Lists keys, newest first.
pub async fn list_keys(db: impl PgExecutor<'_>) -> Result<Vec<KeyInfo>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, name, kind, prefix, created_at, revoked_at FROM api_keys ORDER BY created_at DESC")
            .fetch_all(db)
            .await?,
    )
}

/// Marks a key revoked.
pub async fn revoke_key(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Active keys as (id, kind, hash).
pub async fn active_keys(db: impl PgExecutor<'_>) -> Result<Vec<(Uuid, KeyKind, String)>, StoreError> {
    let rows: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT id, kind, hash FROM api_keys WHERE revoked_at IS NULL")
            .fetch_all(db)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind, hash)| KeyKind::parse(&kind).map(|k| (id, k, hash)))
        .collect())
}
