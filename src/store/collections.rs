//! Collections and their access rules.

use super::StoreError;
use crate::auth::CollectionRules;
use crate::protocol::micros;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor};

/// A collection with its rules and document count.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Collection)]
pub struct CollectionInfo {
    /// Name.
    pub name: String,
    /// Access rules.
    pub rules: CollectionRules,
    /// Number of documents.
    pub documents: i64,
    /// Creation time.
    #[serde(serialize_with = "micros")]
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    name: String,
    rules: Json<CollectionRules>,
    documents: i64,
    created_at: DateTime<Utc>,
}

impl From<Row> for CollectionInfo {
    fn from(r: Row) -> Self {
        CollectionInfo {
            name: r.name,
            rules: r.rules.0,
            documents: r.documents,
            created_at: r.created_at,
        }
    }
}

const SELECT: &str = "SELECT c.name, c.rules, c.created_at,
    (SELECT count(*) FROM documents d WHERE d.collection = c.name) AS documents FROM collections c";

/// Every collection's rules, for the in-memory cache.
pub async fn load_collections(db: impl PgExecutor<'_>) -> Result<Vec<(String, CollectionRules)>, StoreError> {
    let rows: Vec<(String, Json<CollectionRules>)> = sqlx::query_as("SELECT name, rules FROM collections")
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|(n, r)| (n, r.0)).collect())
}

/// Lists collections with counts.
pub async fn list_collections(db: impl PgExecutor<'_>) -> Result<Vec<CollectionInfo>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} ORDER BY c.name"))
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One collection with its count.
pub async fn get_collection(db: impl PgExecutor<'_>, name: &str) -> Result<CollectionInfo, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE c.name = $1"))
        .bind(name)
        .fetch_optional(db)
        .await?;
    row.map(Into::into).ok_or(StoreError::NotFound)
}

/// Creates or updates a collection's rules. With `only_create`, an existing
/// collection is left as it is and its rules are returned.
pub async fn put_collection(
    db: impl PgExecutor<'_>,
    name: &str,
    rules: &CollectionRules,
    only_create: bool,
) -> Result<CollectionRules, StoreError> {
    let sql = if only_create {
        "INSERT INTO collections (name, rules) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET rules = collections.rules RETURNING rules"
    } else {
        "INSERT INTO collections (name, rules) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET rules = EXCLUDED.rules RETURNING rules"
    };
    let rules: Json<CollectionRules> = sqlx::query_scalar(sql)
        .bind(name)
        .bind(Json(rules))
        .fetch_one(db)
        .await?;
    Ok(rules.0)
}

/// Deletes a collection; each of its documents is recorded as a deletion first.
/// Run it in a transaction: the caller commits.
pub async fn delete_collection(conn: &mut PgConnection, name: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM documents WHERE collection = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM collections WHERE name = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// One collection's rules, if it exists.
pub async fn collection_rules(db: impl PgExecutor<'_>, name: &str) -> Result<Option<CollectionRules>, StoreError> {
    let row: Option<Json<CollectionRules>> = sqlx::query_scalar("SELECT rules FROM collections WHERE name = $1")
        .bind(name)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.0))
}
