//! User accounts and refresh-token sessions.

use super::StoreError;
use crate::protocol::micros;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

/// A user as shown to clients (never the password hash).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    /// User id; the `sub` of the user's access tokens.
    pub id: Uuid,
    /// Normalised email address.
    pub email: String,
    /// Role set by a service key, if any.
    #[schema(required)]
    pub role: Option<String>,
    /// Free-form profile object owned by the user.
    #[schema(value_type = Object)]
    pub profile: Value,
    /// Whether a service key disabled the account.
    pub disabled: bool,
    /// Creation time.
    #[serde(serialize_with = "micros")]
    pub created_at: DateTime<Utc>,
    /// Last change of email, profile, role or status.
    #[serde(serialize_with = "micros")]
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, email, role, profile, disabled_at IS NOT NULL AS disabled, created_at, updated_at";

/// Inserts a user; an existing email is a conflict.
pub async fn insert_user(
    db: impl PgExecutor<'_>,
    email: &str,
    password_hash: &str,
    role: Option<&str>,
    profile: &Value,
) -> Result<User, StoreError> {
    sqlx::query_as(&format!(
        "INSERT INTO users (id, email, password_hash, role, profile) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(email)
    .bind(password_hash)
    .bind(role)
    .bind(profile)
    .fetch_one(db)
    .await
    .map_err(StoreError::classify)
}

/// A user and their password hash, by normalised email.
pub async fn user_by_email(db: impl PgExecutor<'_>, email: &str) -> Result<Option<(User, String)>, StoreError> {
    let row: Option<UserWithHash> =
        sqlx::query_as(&format!("SELECT {COLUMNS}, password_hash FROM users WHERE email = $1"))
            .bind(email)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|r| (r.user, r.password_hash)))
}

/// A user and their password hash, by id.
pub async fn user_with_hash(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<(User, String)>, StoreError> {
    let row: Option<UserWithHash> =
        sqlx::query_as(&format!("SELECT {COLUMNS}, password_hash FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|r| (r.user, r.password_hash)))
}

#[derive(sqlx::FromRow)]
struct UserWithHash {
    #[sqlx(flatten)]
    user: User,
    password_hash: String,
}

/// A user by id.
pub async fn get_user(db: impl PgExecutor<'_>, id: Uuid) -> Result<User, StoreError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(StoreError::NotFound)
}

/// A user's profile, locked for the rest of the transaction.
pub async fn lock_profile(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<Value, StoreError> {
    sqlx::query_scalar("SELECT profile FROM users WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Replaces a user's profile.
pub async fn set_profile(db: impl PgExecutor<'_>, id: Uuid, profile: &Value) -> Result<User, StoreError> {
    sqlx::query_as(&format!(
        "UPDATE users SET profile = $2, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(profile)
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Replaces a user's password hash.
pub async fn set_password(db: impl PgExecutor<'_>, id: Uuid, hash: &str) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Sets the role (Some(None) clears it) and/or the disabled flag.
pub async fn admin_update(
    db: impl PgExecutor<'_>,
    id: Uuid,
    role: Option<Option<&str>>,
    disabled: Option<bool>,
) -> Result<User, StoreError> {
    sqlx::query_as(&format!(
        "UPDATE users SET
            role = CASE WHEN $2 THEN $3 ELSE role END,
            disabled_at = CASE WHEN $4 IS NULL THEN disabled_at
                               WHEN $4 THEN coalesce(disabled_at, now()) ELSE NULL END,
            updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(role.is_some())
    .bind(role.flatten())
    .bind(disabled)
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Deletes a user (their sessions cascade) and leaves a tombstone so that servers
/// keep refusing their unexpired access tokens. Old tombstones are pruned here.
pub async fn delete_user(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    sqlx::query("INSERT INTO deleted_users (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET deleted_at = now()")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM deleted_users WHERE deleted_at < now() - interval '24 hours'")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ids whose access tokens must be refused: disabled users and recent tombstones.
pub async fn denied_users(db: impl PgExecutor<'_>) -> Result<Vec<Uuid>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM users WHERE disabled_at IS NOT NULL
         UNION ALL
         SELECT id FROM deleted_users WHERE deleted_at > now() - interval '24 hours'",
    )
    .fetch_all(db)
    .await?)
}

/// Users ordered by email, optionally those whose email contains `search`, after `after`.
pub async fn list_users(
    db: impl PgExecutor<'_>,
    search: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<User>, StoreError> {
    // Escape LIKE wildcards so the search is a plain substring match.
    let pattern = search.map(|s| {
        let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    });
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users
         WHERE ($1::text IS NULL OR email LIKE $1) AND ($2::text IS NULL OR email > $2)
         ORDER BY email LIMIT $3"
    ))
    .bind(pattern)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Stores a refresh token's hash in a session family.
pub async fn insert_refresh(
    db: impl PgExecutor<'_>,
    hash: &str,
    family: Uuid,
    user: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO refresh_tokens (hash, family, user_id, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash)
        .bind(family)
        .bind(user)
        .bind(expires_at)
        .execute(db)
        .await?;
    Ok(())
}

/// A stored refresh token, locked for the rest of the transaction.
#[derive(Debug, sqlx::FromRow)]
pub struct RefreshRow {
    /// Session family.
    pub family: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Set once it was exchanged for a new one.
    pub used: bool,
    /// Set when its session ended.
    pub revoked: bool,
}

/// Finds and locks a refresh token by hash.
pub async fn lock_refresh(tx: &mut Transaction<'_, Postgres>, hash: &str) -> Result<Option<RefreshRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT family, user_id, expires_at, used_at IS NOT NULL AS used, revoked_at IS NOT NULL AS revoked
         FROM refresh_tokens WHERE hash = $1 FOR UPDATE",
    )
    .bind(hash)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Marks a refresh token exchanged.
pub async fn mark_refresh_used(db: impl PgExecutor<'_>, hash: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE refresh_tokens SET used_at = now() WHERE hash = $1")
        .bind(hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends a session: every token of the family is revoked.
pub async fn revoke_family(db: impl PgExecutor<'_>, family: Uuid) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("UPDATE refresh_tokens SET revoked_at = now() WHERE family = $1 AND revoked_at IS NULL")
            .bind(family)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// Ends every session of a user.
pub async fn revoke_user_sessions(db: impl PgExecutor<'_>, user: Uuid) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// Deletes refresh-token rows that can no longer be used or detect reuse (expired).
pub async fn prune_refresh(db: impl PgExecutor<'_>) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < now()")
        .execute(db)
        .await?
        .rows_affected())
}
