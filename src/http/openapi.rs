//! The OpenAPI document, kept in step with the router by a test.

use axum::Json;
use serde_json::{json, Value};

/// Every documented route as (method, path).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/collections"),
    ("get", "/v1/collections/{collection}"),
    ("put", "/v1/collections/{collection}"),
    ("delete", "/v1/collections/{collection}"),
    ("get", "/v1/collections/{collection}/documents"),
    ("post", "/v1/collections/{collection}/documents"),
    ("get", "/v1/collections/{collection}/documents/{id}"),
    ("patch", "/v1/collections/{collection}/documents/{id}"),
    ("put", "/v1/collections/{collection}/documents/{id}"),
    ("delete", "/v1/collections/{collection}/documents/{id}"),
    ("post", "/v1/collections/{collection}/batch"),
    ("get", "/v1/rooms"),
    ("post", "/v1/rooms/{room}/broadcast"),
    ("post", "/v1/users/{sub}/messages"),
    ("post", "/v1/broadcast"),
    ("get", "/v1/room-rules"),
    ("put", "/v1/room-rules"),
    ("get", "/v1/rooms/{room}/members"),
    ("get", "/v1/connections"),
    ("delete", "/v1/connections/{id}"),
    ("get", "/v1/keys"),
    ("post", "/v1/keys"),
    ("delete", "/v1/keys/{id}"),
    ("post", "/v1/explain"),
    ("get", "/v1/console/stats"),
    ("get", "/console"),
    ("get", "/console/{asset}"),
    ("get", "/realtime"),
    ("get", "/realtime/sse"),
    ("post", "/v1/auth/signup"),
    ("post", "/v1/auth/login"),
    ("post", "/v1/auth/refresh"),
    ("post", "/v1/auth/logout"),
    ("post", "/v1/auth/logout-all"),
    ("get", "/v1/auth/me"),
    ("patch", "/v1/auth/me"),
    ("post", "/v1/auth/password"),
    ("get", "/v1/auth/users"),
    ("post", "/v1/auth/users"),
    ("get", "/v1/auth/users/{id}"),
    ("patch", "/v1/auth/users/{id}"),
    ("delete", "/v1/auth/users/{id}"),
];

fn summary(method: &str, path: &str) -> &'static str {
    match (method, path) {
        ("get", "/healthz") => "Liveness",
        ("get", "/readyz") => "Readiness (database reachable)",
        ("get", "/metrics") => "Prometheus metrics",
        ("get", "/v1/openapi.json") => "This document",
        ("get", "/v1/collections") => "List collections (service key)",
        ("get", "/v1/collections/{collection}") => "Get a collection (service key)",
        ("put", "/v1/collections/{collection}") => "Create or configure a collection (service key)",
        ("delete", "/v1/collections/{collection}") => "Delete a collection (service key)",
        ("get", "/v1/collections/{collection}/documents") => "List documents (filters, sort, limit, after)",
        ("post", "/v1/collections/{collection}/documents") => "Create a document",
        ("get", "/v1/collections/{collection}/documents/{id}") => "Get a document",
        ("patch", "/v1/collections/{collection}/documents/{id}") => "Merge-patch a document (If-Match)",
        ("put", "/v1/collections/{collection}/documents/{id}") => "Replace a document (If-Match)",
        ("delete", "/v1/collections/{collection}/documents/{id}") => "Delete a document (If-Match)",
        ("post", "/v1/collections/{collection}/batch") => "Apply operations in one transaction",
        ("get", "/v1/rooms") => "List rooms (service key)",
        ("post", "/v1/rooms/{room}/broadcast") => "Broadcast to a room (service key)",
        ("post", "/v1/users/{sub}/messages") => "Message every socket of a user (service key)",
        ("post", "/v1/broadcast") => "Message every socket (service key)",
        ("get", "/v1/room-rules") => "Get room rules (service key)",
        ("put", "/v1/room-rules") => "Replace room rules (service key)",
        ("get", "/v1/rooms/{room}/members") => "Room members with presence (service key)",
        ("get", "/v1/connections") => "Connections with subscriptions and rooms (service key)",
        ("delete", "/v1/connections/{id}") => "Disconnect one connection, close code 4002 (service key)",
        ("get", "/v1/keys") => "List API keys (service key)",
        ("post", "/v1/keys") => "Create an API key; the secret is returned once (service key)",
        ("delete", "/v1/keys/{id}") => "Revoke an API key and close its connections (service key)",
        ("post", "/v1/explain") => "Explain whether a change reaches a subscription (service key)",
        ("get", "/v1/console/stats") => "Figures for the console's charts (service key)",
        ("get", "/console") => "The web console (HTML)",
        ("get", "/console/{asset}") => "The web console's assets",
        ("get", "/realtime") => "WebSocket upgrade (docs/PROTOCOL.md)",
        ("get", "/realtime/sse") => "Server-sent events (docs/PROTOCOL.md)",
        ("post", "/v1/auth/signup") => "Sign up (202 for everyone; 201 with the user for a service key)",
        ("post", "/v1/auth/login") => "Sign in with email and password",
        ("post", "/v1/auth/refresh") => "Rotate a refresh token into a new session",
        ("post", "/v1/auth/logout") => "End the session of a refresh token",
        ("post", "/v1/auth/logout-all") => "End every session of the calling user",
        ("get", "/v1/auth/me") => "The calling user",
        ("patch", "/v1/auth/me") => "Merge-patch the calling user's profile",
        ("post", "/v1/auth/password") => "Change the password (ends every other session)",
        ("get", "/v1/auth/users") => "List and search users (service key)",
        ("post", "/v1/auth/users") => "Create a user (service key)",
        ("get", "/v1/auth/users/{id}") => "Get a user (service key)",
        ("patch", "/v1/auth/users/{id}") => "Set a user's role or disable them (service key)",
        ("delete", "/v1/auth/users/{id}") => "Delete a user (service key)",
        _ => "",
    }
}

/// Builds the OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path) in ROUTES {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = json!({
            "summary": summary(method, path),
            "parameters": params,
            "responses": {"default": {"description": "JSON body; errors are {\"error\":{\"code\",\"message\"}} (docs/API.md)"}}
        });
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Eddy", "version": env!("CARGO_PKG_VERSION")},
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}
        }},
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": paths
    })
}

/// Serves the OpenAPI document.
pub async fn openapi() -> Json<Value> {
    Json(document())
}
