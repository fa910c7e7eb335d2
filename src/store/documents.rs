//! Document rows: insert, read, lock, update, delete.

use super::StoreError;
use crate::protocol::DocumentJson;
use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use sqlx::PgExecutor;
use uuid::Uuid;

/// A stored document; it reaches clients as `protocol::DocumentJson`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Document {
    /// Document id.
    pub id: Uuid,
    /// Collection name.
    pub collection: String,
    /// The JSON object.
    pub data: Value,
    /// The creator's `sub`, if any.
    pub owner: Option<String>,
    /// Grows by one per write.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last write time.
    pub updated_at: DateTime<Utc>,
}

impl Document {
    /// The wire form, shared with realtime events.
    pub fn json(&self) -> DocumentJson<'_> {
        DocumentJson {
            id: self.id,
            collection: &self.collection,
            data: Some(&self.data),
            owner: self.owner.as_deref(),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

impl Serialize for Document {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json().serialize(s)
    }
}

const COLUMNS: &str = "id, collection, data, owner, version, created_at, updated_at";

/// Inserts a document; an existing id is a conflict.
pub async fn insert_document(
    db: impl PgExecutor<'_>,
    collection: &str,
    id: Uuid,
    data: &Value,
    owner: Option<&str>,
) -> Result<Document, StoreError> {
    sqlx::query_as::<_, Document>(&format!(
        "INSERT INTO documents (id, collection, data, owner) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(collection)
    .bind(data)
    .bind(owner)
    .fetch_one(db)
    .await
    .map_err(StoreError::classify)
}

/// Inserts many documents with one statement; returns them in input order.
pub async fn insert_documents(
    db: impl PgExecutor<'_>,
    collection: &str,
    rows: &[(Uuid, Value, Option<String>)],
) -> Result<Vec<Document>, StoreError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let data: Vec<&Value> = rows.iter().map(|r| &r.1).collect();
    let owners: Vec<Option<&str>> = rows.iter().map(|r| r.2.as_deref()).collect();
    let mut docs = sqlx::query_as::<_, Document>(&format!(
        "INSERT INTO documents (id, collection, data, owner)
         SELECT i, $2, d, o FROM unnest($1::uuid[], $3::jsonb[], $4::text[]) WITH ORDINALITY AS t(i, d, o, n)
         ORDER BY n
         RETURNING {COLUMNS}"
    ))
    .bind(&ids)
    .bind(collection)
    .bind(&data)
    .bind(&owners)
    .fetch_all(db)
    .await
    .map_err(StoreError::classify)?;
    // RETURNING order is not guaranteed; restore the input order.
    let pos: std::collections::HashMap<Uuid, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    docs.sort_by_key(|d| pos.get(&d.id).copied().unwrap_or(usize::MAX));
    Ok(docs)
}

/// A document to insert (one request of a group commit).
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// Collection name.
    pub collection: String,
    /// Document id.
    pub id: Uuid,
    /// The JSON object.
    pub data: Value,
    /// Owner.
    pub owner: Option<String>,
}

/// Inserts documents of any collections with one statement, skipping (not
/// failing on) those whose id exists; returns the inserted ones, in no order.
/// Rows are inserted in input order, so of two with one id the first wins.
pub async fn insert_documents_skipping_existing(
    db: impl PgExecutor<'_>,
    rows: &[NewDocument],
) -> Result<Vec<Document>, StoreError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let colls: Vec<&str> = rows.iter().map(|r| r.collection.as_str()).collect();
    let data: Vec<&Value> = rows.iter().map(|r| &r.data).collect();
    let owners: Vec<Option<&str>> = rows.iter().map(|r| r.owner.as_deref()).collect();
    Ok(sqlx::query_as::<_, Document>(&format!(
        "INSERT INTO documents (id, collection, data, owner)
         SELECT i, c, d, o FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::text[])
             WITH ORDINALITY AS t(i, c, d, o, n)
         ORDER BY n
         ON CONFLICT DO NOTHING
         RETURNING {COLUMNS}"
    ))
    .bind(&ids)
    .bind(&colls)
    .bind(&data)
    .bind(&owners)
    .fetch_all(db)
    .await?)
}

/// Reads one document.
pub async fn get_document(db: impl PgExecutor<'_>, collection: &str, id: Uuid) -> Result<Document, StoreError> {
    sqlx::query_as::<_, Document>(&format!(
        "SELECT {COLUMNS} FROM documents WHERE collection = $1 AND id = $2"
    ))
    .bind(collection)
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Reads one document and locks it for the rest of the transaction.
pub async fn lock_document(db: impl PgExecutor<'_>, collection: &str, id: Uuid) -> Result<Document, StoreError> {
    sqlx::query_as::<_, Document>(&format!(
        "SELECT {COLUMNS} FROM documents WHERE collection = $1 AND id = $2 FOR UPDATE"
    ))
    .bind(collection)
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Replaces a document's data; the trigger bumps version and updated_at.
pub async fn update_document(
    db: impl PgExecutor<'_>,
    collection: &str,
    id: Uuid,
    data: &Value,
) -> Result<Document, StoreError> {
    sqlx::query_as::<_, Document>(&format!(
        "UPDATE documents SET data = $3 WHERE collection = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(collection)
    .bind(id)
    .bind(data)
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Deletes a document.
pub async fn delete_document(db: impl PgExecutor<'_>, collection: &str, id: Uuid) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM documents WHERE collection = $1 AND id = $2")
        .bind(collection)
        .bind(id)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Applies an RFC 7396 JSON merge patch to `target`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (k, v) in patch {
            if v.is_null() {
                map.remove(k);
            } else {
                merge_patch(map.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::merge_patch;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc7396_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (json!({"a":"b","b":"c"}), json!({"a":null}), json!({"b":"c"})),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!({}), json!({"a":{"bb":{"ccc":null}}}), json!({"a":{"bb":{}}})),
        ];
        for (mut target, patch, want) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, want);
        }
    }
}
