//! Stored room access rules, in order.

use super::StoreError;
use serde::{Deserialize, Serialize};
use sqlx::{PgExecutor, PgPool};

/// One stored room rule.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RoomRuleRow {
    /// Room name pattern (`*`, `{sub}`).
    pub pattern: String,
    /// Who may join.
    #[sqlx(rename = "join_rule")]
    pub join: String,
    /// Who may broadcast.
    #[sqlx(rename = "broadcast_rule")]
    pub broadcast: String,
}

/// The room rules in order.
pub async fn load_room_rules(db: impl PgExecutor<'_>) -> Result<Vec<RoomRuleRow>, StoreError> {
    Ok(
        sqlx::query_as("SELECT pattern, join_rule, broadcast_rule FROM room_rules ORDER BY position")
            .fetch_all(db)
            .await?,
    )
}

/// Replaces all room rules.
pub async fn put_room_rules(pool: &PgPool, rules: &[RoomRuleRow]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM room_rules").execute(&mut *tx).await?;
    for (i, r) in rules.iter().enumerate() {
        sqlx::query("INSERT INTO room_rules (position, pattern, join_rule, broadcast_rule) VALUES ($1, $2, $3, $4)")
            .bind(i as i32)
            .bind(&r.pattern)
            .bind(&r.join)
            .bind(&r.broadcast)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}
