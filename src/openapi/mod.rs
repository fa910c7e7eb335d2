//! The OpenAPI 3.1 document. Schemas are derived from the Rust types with
//! `utoipa`; the operations are the `OPERATIONS` table, so handlers stay free of
//! annotations. A unit test compares the table with every `.route(…)` in the
//! source, and `tests/it/openapi.rs` validates real responses against it.

pub mod schemas;
mod table;
pub mod ui;

use crate::state::AppState;
use axum::routing::get;
use axum::Router;

use axum::Json;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use utoipa::OpenApi;

pub use table::{Auth, Operation, Success, OPERATIONS};

/// Every component schema, by the types that produce the bodies.
#[derive(OpenApi)]
#[openapi(components(schemas(
    schemas::ErrorBody,
    schemas::ErrorDetail,
    schemas::ErrorCode,
    schemas::Health,
    schemas::Readiness,
    schemas::BrokerState,
    schemas::CollectionList,
    schemas::DocumentPage,
    schemas::BatchResults,
    schemas::BatchResult,
    schemas::Deleted,
    schemas::RoomList,
    schemas::RoomCount,
    schemas::Delivered,
    schemas::RoomRules,
    schemas::RoomMembers,
    schemas::IdentityView,
    schemas::ConnectionList,
    schemas::KeyList,
    schemas::CreatedKey,
    schemas::ConsoleStats,
    schemas::Explanation,
    schemas::Checks,
    schemas::SideCheck,
    schemas::Condition,
    schemas::Reason,
    schemas::SignupAccepted,
    schemas::UserPage,
    crate::auth::Rule,
    crate::auth::CollectionRules,
    crate::protocol::DocumentJson,
    crate::protocol::MemberView,
    crate::store::CollectionInfo,
    crate::store::KeyInfo,
    crate::store::RoomRuleRow,
    crate::store::User,
    crate::hub::ConnInfo,
    crate::hub::SubInfo,
    crate::accounts::Session,
    crate::accounts::SignupRequest,
    crate::accounts::routes::LoginRequest,
    crate::accounts::routes::RefreshRequest,
    crate::accounts::routes::PatchMe,
    crate::accounts::routes::PasswordChange,
    crate::accounts::routes::UserUpdate,
    crate::http::documents::CreateBody,
    crate::http::documents::WriteBody,
    crate::http::documents::BatchOp,
    crate::http::documents::BatchBody,
    crate::http::admin::PutCollection,
    crate::http::admin::PartialRules,
    crate::http::admin::Publish,
    crate::http::admin::PutRoomRules,
    crate::http::operator::NewKey,
    crate::http::explain::ExplainRequest,
    crate::http::explain::ExplainIdentity,
)))]
struct Components;

/// The error statuses every operation may answer, with why.
const ERROR_STATUSES: &[(u16, &str)] = &[
    (400, "Malformed request: bad JSON, field, name, id, filter or limit"),
    (401, "Missing, malformed, expired or revoked credential"),
    (403, "The identity may not do this"),
    (
        404,
        "No such document, collection, user, room, connection, key or change",
    ),
    (409, "Already exists"),
    (412, "`If-Match` differs from the current version"),
    (413, "Body over the configured limit"),
    (415, "Body without `Content-Type: application/json`"),
    (422, "Well-formed but not acceptable"),
    (429, "Too many requests; wait `Retry-After` seconds"),
    (500, "Server error (logged)"),
    (
        503,
        "Database or broker unreachable, too many connections, or no signing key",
    ),
];

/// The OpenAPI 3.1 document (built once).
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> Value {
    let components = serde_json::to_value(Components::openapi().components).unwrap_or(Value::Null);
    let schemas = components.get("schemas").cloned().unwrap_or_else(|| json!({}));
    let mut responses = Map::new();
    for (status, why) in ERROR_STATUSES {
        let mut r = json!({
            "description": why,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        });
        if *status == 429 {
            r["headers"] = json!({"Retry-After": {
                "description": "Whole seconds to wait, at least 1",
                "schema": {"type": "integer", "minimum": 1}
            }});
        }
        responses.insert(format!("E{status}"), r);
    }
    let mut paths = Map::new();
    for op in OPERATIONS {
        let entry = paths.entry(op.path.to_string()).or_insert_with(|| json!({}));
        entry[op.method] = table::operation_json(op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Eddy",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Realtime change feed and rooms over PostgreSQL. REST reference; the realtime protocol on \
                `/realtime` and `/realtime/sse` is in docs/PROTOCOL.md. Every error body is \
                `{\"error\":{\"code\",\"message\"}}`.",
            "license": {"name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0"}
        },
        "tags": table::TAGS.iter().map(|(name, d)| json!({"name": name, "description": d})).collect::<Vec<_>>(),
        "components": {
            "schemas": schemas,
            "responses": responses,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                    "description": "A user JWT (also an account access token) or an API key"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key",
                    "description": "An API key: `eddy_sk_…` (service) or `eddy_pk_…` (public)"},
                "tokenQuery": {"type": "apiKey", "in": "query", "name": "token",
                    "description": "A credential in the URL, accepted by `/realtime` and `/realtime/sse` only"}
            }
        },
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": paths
    })
}

/// Serves the OpenAPI document.
/// `/v1/openapi.json` and the `/docs` reference page.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/openapi.json", get(openapi))
        .merge(ui::routes())
}

pub async fn openapi() -> Json<Value> {
    Json(document().clone())
}

#[cfg(test)]
mod tests;
