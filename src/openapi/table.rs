//! Every route of the router as an operation: credential, body, answers, query.

use serde_json::{json, Value};

/// Which credential an operation takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Auth {
    /// None is read.
    None,
    /// None, or a service key for more (sign-up).
    Optional,
    /// Any credential; the collection's rules decide.
    Any,
    /// A service key.
    Service,
    /// A user access token.
    User,
    /// Any credential, in a header or `?token=` (realtime).
    Realtime,
}

/// A successful answer.
#[derive(Clone, Copy, Debug)]
pub enum Success {
    /// Status, component schema, description.
    Json(u16, &'static str, &'static str),
    /// Status without a body, description.
    Empty(u16, &'static str),
    /// 200 with a body of this content type, description.
    Body(&'static str, &'static str),
    /// 200 `text/event-stream`.
    Stream,
    /// 101 WebSocket.
    Upgrade,
}

/// A query parameter.
#[derive(Clone, Copy, Debug)]
pub struct Query {
    /// Name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Its JSON schema, as text.
    pub schema: &'static str,
    /// Whether it must be present.
    pub required: bool,
}

/// One method on one path.
#[derive(Clone, Copy, Debug)]
pub struct Operation {
    /// Lower-case HTTP method.
    pub method: &'static str,
    /// Path template as the router has it.
    pub path: &'static str,
    /// Group in the reference.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Credential.
    pub auth: Auth,
    /// Request body schema (JSON), if any.
    pub body: Option<&'static str>,
    /// Successful answers.
    pub success: &'static [Success],
    /// Error statuses (bodies are `ErrorBody`).
    pub errors: &'static [u16],
    /// Query parameters.
    pub query: &'static [Query],
}

/// Tags and their descriptions, in reference order.
pub const TAGS: &[(&str, &str)] = &[
    (
        "documents",
        "Documents of a collection; access rules per collection (docs/API.md#documents)",
    ),
    ("collections", "Collections and their rules (service key)"),
    ("rooms", "Rooms, presence and server publish (service key)"),
    ("auth", "User accounts: sign-up, sign-in, sessions, administration"),
    (
        "operator",
        "Connections, keys, explain and figures for operators (service key)",
    ),
    ("realtime", "WebSocket and SSE endpoints (docs/PROTOCOL.md)"),
    (
        "ops",
        "Health, readiness, metrics, this document, the console and the reference page",
    ),
];

const READ: &[u16] = &[400, 401, 403, 404, 429, 500, 503];
const WRITE: &[u16] = &[400, 401, 403, 404, 409, 412, 413, 415, 422, 429, 500, 503];
const SERVICE: &[u16] = &[400, 401, 403, 404, 429, 500, 503];
const SERVICE_BODY: &[u16] = &[400, 401, 403, 404, 413, 415, 422, 429, 500, 503];
const ACCOUNT: &[u16] = &[400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503];

const LIMIT: Query = Query {
    name: "limit",
    description: "Page size, 1–1000 (default 100)",
    schema: r#"{"type":"integer","minimum":1,"maximum":1000}"#,
    required: false,
};
const DOC: Success = Success::Json(200, "Document", "The document");
const NO_CONTENT: Success = Success::Empty(204, "Done");

macro_rules! op {
    ($m:literal $p:literal, $tag:literal, $auth:ident, $summary:literal, $body:expr, [$($ok:expr),*], $err:expr $(, [$($q:expr),*])?) => {
        Operation {
            method: $m, path: $p, tag: $tag, summary: $summary, auth: Auth::$auth, body: $body,
            success: &[$($ok),*], errors: $err, query: &[$($($q),*)?],
        }
    };
}

/// Every route of the router (`http::routes`, `accounts::routes`, `ws`, `sse`, console, docs).
pub const OPERATIONS: &[Operation] = &[
    op!("get" "/healthz", "ops", None, "Liveness", None, [Success::Json(200, "Health", "The process answers")], &[]),
    op!("get" "/readyz", "ops", None, "Readiness: the database and broker answer", None,
        [Success::Json(200, "Readiness", "Ready"), Success::Json(503, "Readiness", "Not ready, with the reason")], &[]),
    op!("get" "/metrics", "ops", Service, "Prometheus metrics (404 when --metrics-listen serves them elsewhere)", None,
        [Success::Body("text/plain", "Prometheus text exposition")], &[401, 403, 404]),
    op!("get" "/v1/openapi.json", "ops", None, "This document", None,
        [Success::Body("application/json", "OpenAPI 3.1")], &[429]),
    op!("get" "/console", "ops", None, "The web console (HTML)", None, [Success::Body("text/html", "Page")], &[]),
    op!("get" "/console/", "ops", None, "The web console (HTML)", None, [Success::Body("text/html", "Page")], &[]),
    op!("get" "/console/{asset}", "ops", None, "A console script or style sheet", None,
        [Success::Body("text/javascript", "Script or style sheet")], &[404]),
    op!("get" "/docs", "ops", None, "This reference as a page (Swagger UI, embedded)", None,
        [Success::Body("text/html", "Page")], &[]),
    op!("get" "/docs/{asset}", "ops", None, "A script or style sheet of the reference page", None,
        [Success::Body("text/javascript", "Script or style sheet")], &[404]),
    op!("get" "/v1/collections", "collections", Service, "List collections with document counts", None,
        [Success::Json(200, "CollectionList", "Every collection")], SERVICE),
    op!("get" "/v1/collections/{collection}", "collections", Service, "Get a collection", None,
        [Success::Json(200, "Collection", "The collection")], SERVICE),
    op!("put" "/v1/collections/{collection}", "collections", Service, "Create a collection or set its rules (missing rules take the defaults)",
        Some("PutCollection"), [Success::Json(200, "Collection", "The collection")], SERVICE_BODY),
    op!("delete" "/v1/collections/{collection}", "collections", Service, "Delete a collection and its documents (each a change)",
        None, [NO_CONTENT], SERVICE),
    op!("get" "/v1/collections/{collection}/documents", "documents", Any, "List documents: filters, sort, keyset pages", None,
        [Success::Json(200, "DocumentPage", "One page")], READ, [
        Query { name: "filters", description: "Any other parameter is a filter (docs/FILTERS.md), e.g. `status=open`, `views__gte=10`",
            schema: r#"{"type":"object","additionalProperties":{"type":"string"}}"#, required: false },
        Query { name: "sort", description: "Comma list of fields, `-` for descending (default `$created_at`)",
            schema: r#"{"type":"string"}"#, required: false },
        LIMIT,
        Query { name: "after", description: "The `next` cursor of the previous page", schema: r#"{"type":"string"}"#, required: false }]),
    op!("post" "/v1/collections/{collection}/documents", "documents", Any, "Create a document", Some("CreateBody"),
        [Success::Json(201, "Document", "The new document")], WRITE),
    op!("get" "/v1/collections/{collection}/documents/{id}", "documents", Any, "Get a document", None, [DOC], READ),
    op!("patch" "/v1/collections/{collection}/documents/{id}", "documents", Any, "Merge-patch a document's data (RFC 7396; If-Match)",
        Some("WriteBody"), [DOC], WRITE),
    op!("put" "/v1/collections/{collection}/documents/{id}", "documents", Any, "Replace a document's data (If-Match)",
        Some("WriteBody"), [DOC], WRITE),
    op!("delete" "/v1/collections/{collection}/documents/{id}", "documents", Any, "Delete a document (If-Match)", None,
        [NO_CONTENT], WRITE),
    op!("post" "/v1/collections/{collection}/batch", "documents", Any, "Apply up to 1,000 operations in one transaction",
        Some("BatchBody"), [Success::Json(200, "BatchResults", "One result per operation")], WRITE),
    op!("get" "/v1/rooms", "rooms", Service, "Rooms with members on this server", None,
        [Success::Json(200, "RoomList", "Rooms")], SERVICE),
    op!("get" "/v1/rooms/{room}/members", "rooms", Service, "A room's members with presence (this server)", None,
        [Success::Json(200, "RoomMembers", "Members")], SERVICE),
    op!("post" "/v1/rooms/{room}/broadcast", "rooms", Service, "Broadcast to a room", Some("Publish"),
        [Success::Json(202, "Delivered", "Queued")], SERVICE_BODY),
    op!("post" "/v1/users/{sub}/messages", "rooms", Service, "Message every socket of a user", Some("Publish"),
        [Success::Json(202, "Delivered", "Queued")], SERVICE_BODY),
    op!("post" "/v1/broadcast", "rooms", Service, "Message every socket", Some("Publish"),
        [Success::Json(202, "Delivered", "Queued")], SERVICE_BODY),
    op!("get" "/v1/room-rules", "rooms", Service, "The room rules in order", None,
        [Success::Json(200, "RoomRules", "Rules")], SERVICE),
    op!("put" "/v1/room-rules", "rooms", Service, "Replace the room rules", Some("PutRoomRules"),
        [Success::Json(200, "RoomRules", "Rules")], SERVICE_BODY),
    op!("get" "/v1/connections", "operator", Service, "Connections of this server with subscriptions and rooms", None,
        [Success::Json(200, "ConnectionList", "Connections")], SERVICE),
    op!("delete" "/v1/connections/{id}", "operator", Service, "Disconnect one connection (close code 4002)", None,
        [NO_CONTENT], SERVICE),
    op!("get" "/v1/keys", "operator", Service, "List API keys (never the secrets)", None,
        [Success::Json(200, "KeyList", "Keys, newest first")], SERVICE),
    op!("post" "/v1/keys", "operator", Service, "Create an API key; the secret is returned once", Some("NewKey"),
        [Success::Json(201, "CreatedKey", "The key and its secret")], SERVICE_BODY),
    op!("delete" "/v1/keys/{id}", "operator", Service, "Revoke an API key and close its connections", None,
        [NO_CONTENT], SERVICE),
    op!("post" "/v1/explain", "operator", Service, "Explain whether a change reaches a subscription", Some("ExplainRequest"),
        [Success::Json(200, "Explanation", "Verdicts and reasons")], SERVICE_BODY),
    op!("get" "/v1/console/stats", "operator", Service, "Figures for the console's charts", None,
        [Success::Json(200, "ConsoleStats", "A sample")], SERVICE),
    op!("get" "/realtime", "realtime", Realtime, "WebSocket upgrade (docs/PROTOCOL.md)", None, [Success::Upgrade],
        &[400, 401, 403, 426, 503], [Query { name: "token", description: "Credential (or send an `auth` message)",
            schema: r#"{"type":"string"}"#, required: false }]),
    op!("get" "/realtime/sse", "realtime", Realtime, "Server-sent events of one subscription (docs/PROTOCOL.md)", None,
        [Success::Stream], &[400, 401, 403, 404, 429, 500, 503], [
        Query { name: "collection", description: "Collection to watch", schema: r#"{"type":"string"}"#, required: true },
        Query { name: "filters", description: "Filter in its JSON form", schema: r#"{"type":"string"}"#, required: false },
        Query { name: "since", description: "Resume after this seq (or `Last-Event-ID`)", schema: r#"{"type":"integer"}"#, required: false },
        Query { name: "snapshot", description: "`true`: send the current documents first", schema: r#"{"type":"boolean"}"#, required: false },
        LIMIT,
        Query { name: "sort", description: "Snapshot order", schema: r#"{"type":"string"}"#, required: false },
        Query { name: "token", description: "Credential", schema: r#"{"type":"string"}"#, required: false }]),
    op!("post" "/v1/auth/signup", "auth", Optional, "Sign up (202 for everyone; 201 with the user for a service key)",
        Some("SignupRequest"), [Success::Json(202, "SignupAccepted", "Accepted"), Success::Json(201, "User", "Created (service key)")], ACCOUNT),
    op!("post" "/v1/auth/login", "auth", None, "Sign in with email and password", Some("LoginRequest"),
        [Success::Json(200, "Session", "A new session")], ACCOUNT),
    op!("post" "/v1/auth/refresh", "auth", None, "Rotate a refresh token into a new session", Some("RefreshRequest"),
        [Success::Json(200, "Session", "The next session token")], ACCOUNT),
    op!("post" "/v1/auth/logout", "auth", None, "End the session of a refresh token", Some("RefreshRequest"),
        [NO_CONTENT], ACCOUNT),
    op!("post" "/v1/auth/logout-all", "auth", User, "End every session of the calling user", None, [NO_CONTENT], ACCOUNT),
    op!("get" "/v1/auth/me", "auth", User, "The calling user", None, [Success::Json(200, "User", "The user")], ACCOUNT),
    op!("patch" "/v1/auth/me", "auth", User, "Merge-patch the calling user's profile", Some("PatchMe"),
        [Success::Json(200, "User", "The user")], ACCOUNT),
    op!("post" "/v1/auth/password", "auth", User, "Change the password (ends every other session)", Some("PasswordChange"),
        [Success::Json(200, "Session", "A new session")], ACCOUNT),
    op!("get" "/v1/auth/users", "auth", Service, "List and search users, ordered by email", None,
        [Success::Json(200, "UserPage", "One page")], ACCOUNT, [
        Query { name: "search", description: "Case-insensitive substring of the email", schema: r#"{"type":"string"}"#, required: false },
        Query { name: "after", description: "The `next` of the previous page", schema: r#"{"type":"string"}"#, required: false },
        LIMIT]),
    op!("post" "/v1/auth/users", "auth", Service, "Create a user", Some("SignupRequest"),
        [Success::Json(201, "User", "The user")], ACCOUNT),
    op!("get" "/v1/auth/users/{id}", "auth", Service, "Get a user", None, [Success::Json(200, "User", "The user")], ACCOUNT),
    op!("patch" "/v1/auth/users/{id}", "auth", Service, "Set a user's role or disable them", Some("UserUpdate"),
        [Success::Json(200, "User", "The user")], ACCOUNT),
    op!("delete" "/v1/auth/users/{id}", "auth", Service, "Delete a user", None, [NO_CONTENT], ACCOUNT),
];

fn path_param(path: &str, name: &str) -> Value {
    let schema = match name {
        "collection" => json!({"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"}),
        "id" if path.starts_with("/v1/connections") => json!({"type": "string"}),
        "id" => json!({"type": "string", "format": "uuid"}),
        _ => json!({"type": "string", "minLength": 1}),
    };
    json!({"name": name, "in": "path", "required": true, "schema": schema})
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The operation object of one table entry.
pub fn operation_json(op: &Operation) -> Value {
    let mut params: Vec<Value> = op
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| path_param(op.path, name))
        .collect();
    for q in op.query {
        let schema: Value = serde_json::from_str(q.schema).unwrap_or(Value::Null);
        let mut p = json!({"name": q.name, "in": "query", "required": q.required,
            "description": q.description, "schema": schema});
        if q.name == "filters" && op.path.ends_with("/documents") {
            p["style"] = json!("form");
            p["explode"] = json!(true);
        }
        params.push(p);
    }
    if matches!(op.method, "patch" | "put" | "delete") && op.path.ends_with("/documents/{id}") {
        params.push(json!({"name": "If-Match", "in": "header", "required": false,
            "description": "Expected current version; 412 when it differs",
            "schema": {"type": "string", "pattern": "^\"?[0-9]+\"?$"}}));
    }
    let mut responses = serde_json::Map::new();
    for s in op.success {
        let (status, r) = match *s {
            Success::Json(st, schema, d) => (
                st,
                json!({"description": d, "content": {"application/json": {"schema": schema_ref(schema)}}}),
            ),
            Success::Empty(st, d) => (st, json!({"description": d})),
            Success::Body(ty, d) => (200, json!({"description": d, "content": {ty: {"schema": {}}}})),
            Success::Stream => (
                200,
                json!({"description": "`text/event-stream`: event, snapshot, error and system events (docs/PROTOCOL.md)",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}}}),
            ),
            Success::Upgrade => (101, json!({"description": "Switching to the WebSocket protocol"})),
        };
        responses.insert(status.to_string(), r);
    }
    for e in op.errors {
        let r = if *e == 426 {
            json!({"description": "Not a WebSocket upgrade request",
                "content": {"application/json": {"schema": schema_ref("ErrorBody")}}})
        } else {
            json!({"$ref": format!("#/components/responses/E{e}")})
        };
        responses.insert(e.to_string(), r);
    }
    responses.insert(
        "default".into(),
        json!({"description": "Any other error", "content": {"application/json": {"schema": schema_ref("ErrorBody")}}}),
    );
    let mut o = json!({
        "tags": [op.tag],
        "summary": op.summary,
        "operationId": operation_id(op),
        "parameters": params,
        "responses": responses,
    });
    match op.auth {
        Auth::None => o["security"] = json!([]),
        Auth::Optional => o["security"] = json!([{}, {"bearer": []}, {"apiKey": []}]),
        Auth::Realtime => o["security"] = json!([{"bearer": []}, {"apiKey": []}, {"tokenQuery": []}]),
        Auth::Service => o["description"] = json!("Requires a service key (403 for any other credential)."),
        Auth::User => {
            o["description"] = json!("Requires a user access token (404 for a credential without an account).")
        }
        Auth::Any => {}
    }
    if let Some(body) = op.body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema_ref(body)}}});
    }
    o
}

/// `get_v1_collections_collection_documents`-style ids: unique, stable, readable.
fn operation_id(op: &Operation) -> String {
    let mut id = op.method.to_string();
    for part in op.path.split(['/', '{', '}', '.', '-']).filter(|p| !p.is_empty()) {
        id.push('_');
        id.push_str(part);
    }
    if op.path.ends_with('/') {
        id.push_str("_index");
    }
    id
}
