//! SQL of the PostgreSQL broker: notifications and stored large messages.

use sqlx::PgPool;

/// Sends payloads as notifications on `channel`, in order, in one statement.
pub async fn notify_many(pool: &PgPool, channel: &str, payloads: &[&str]) -> Result<(), sqlx::Error> {
    if payloads.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t(p, i) ORDER BY i")
        .bind(channel)
        .bind(payloads)
        .execute(pool)
        .await?;
    Ok(())
}

/// Stores a payload too large for NOTIFY and notifies `#<id>`, in one transaction.
pub async fn notify_stored(pool: &PgPool, channel: &str, payload: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH m AS (INSERT INTO bus_messages (payload) VALUES ($2) RETURNING id)
         SELECT pg_notify($1, '#' || id) FROM m",
    )
    .bind(channel)
    .bind(payload)
    .execute(pool)
    .await?;
    Ok(())
}

/// A stored message by id.
pub async fn bus_message(pool: &PgPool, id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT payload FROM bus_messages WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Deletes stored messages older than a minute.
pub async fn prune_bus_messages(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM bus_messages WHERE created_at < now() - interval '1 minute'")
        .execute(pool)
        .await?;
    Ok(r.rows_affected())
}
