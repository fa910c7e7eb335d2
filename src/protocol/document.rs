//! The JSON shape of a document, shared by REST responses and realtime events
//! so the two can never drift apart.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

/// A document as clients see it (REST bodies, event `document`, snapshots).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Document)]
pub struct DocumentJson<'a> {
    /// Document id.
    pub id: Uuid,
    /// Collection name.
    #[schema(value_type = String)]
    pub collection: &'a str,
    /// The JSON object; null in a redacted `leave` event.
    #[schema(value_type = Option<Object>, required)]
    pub data: Option<&'a Value>,
    /// The creator's `sub`, if any.
    #[schema(value_type = Option<String>, required)]
    pub owner: Option<&'a str>,
    /// Grows by one per write.
    pub version: i64,
    /// Creation time.
    #[serde(serialize_with = "micros")]
    pub created_at: DateTime<Utc>,
    /// Last write time.
    #[serde(serialize_with = "micros")]
    pub updated_at: DateTime<Utc>,
}

/// Serialises timestamps as RFC 3339 UTC with exactly six fractional digits.
pub fn micros<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
}
