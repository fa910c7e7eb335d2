//! Schemas of the bodies that handlers build with `json!` (the typed bodies derive
//! `ToSchema` where they are defined). `tests/it/openapi.rs` validates real
//! responses against them, so a drift between a handler and its schema fails a test.

use crate::auth::Rule;
use crate::hub::ConnInfo;
use crate::protocol::{DocumentJson, MemberView};
use crate::store::{CollectionInfo, KeyInfo, RoomRuleRow, User};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;
use uuid::Uuid;

/// Every error: `{"error":{"code","message"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation; may change between versions.
    pub message: String,
}

/// Error codes of the REST API (the last six come from realtime refusals on `/realtime/sse`).
#[derive(Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed request.
    InvalidRequest,
    /// 400: a filter, sort or cursor could not be parsed.
    InvalidFilter,
    /// 401: missing, malformed, expired or revoked credential.
    Unauthorized,
    /// 403: not allowed.
    Forbidden,
    /// 404: no such document, collection, user or route.
    NotFound,
    /// 405: the route exists with other methods.
    MethodNotAllowed,
    /// 409: already exists.
    Conflict,
    /// 412: `If-Match` differs from the current version.
    PreconditionFailed,
    /// 413: body over the limit.
    PayloadTooLarge,
    /// 415: body without `Content-Type: application/json`.
    UnsupportedMediaType,
    /// 422: well-formed but not acceptable.
    Unprocessable,
    /// 429: too many requests; see `Retry-After`.
    RateLimited,
    /// 503: database or broker unreachable, too many connections, no signing key.
    Unavailable,
    /// 500: server error (logged).
    Internal,
    /// SSE: bad subscription message.
    InvalidMessage,
    /// SSE: bad JSON in `filters`.
    InvalidJson,
    /// SSE: unknown message type.
    UnknownType,
    /// SSE: the token expired.
    TokenExpired,
    /// SSE: the resume cursor is older than the retention.
    CursorExpired,
    /// SSE: too many subscriptions.
    LimitExceeded,
}

impl ErrorCode {
    /// Every code, for the schema's completeness test.
    pub const ALL: [ErrorCode; 20] = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidFilter,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::PreconditionFailed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Unprocessable,
        ErrorCode::RateLimited,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
        ErrorCode::InvalidMessage,
        ErrorCode::InvalidJson,
        ErrorCode::UnknownType,
        ErrorCode::TokenExpired,
        ErrorCode::CursorExpired,
        ErrorCode::LimitExceeded,
    ];
}

/// `Rule` serialises as its text form, so its schema is a string of that grammar.
impl utoipa::PartialSchema for Rule {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .pattern(Some(
                r"^(public|authenticated|owner|service|role:[A-Za-z0-9_.:-]{1,64})$",
            ))
            .description(Some(
                "public, authenticated, owner, service or role:<name> (owner is not a room rule)",
            ))
            .into()
    }
}

impl ToSchema for Rule {}

/// `GET /healthz`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// `GET /readyz` (200 and 503 alike).
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    /// Why the server is not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The message broker.
    pub broker: BrokerState,
}

/// The broker as `/readyz` reports it.
#[derive(Serialize, ToSchema)]
pub struct BrokerState {
    /// `local`, `postgres`, `redis` or `nats`.
    pub engine: String,
    /// Whether it is reachable.
    pub up: bool,
}

/// `GET /v1/collections`.
#[derive(Serialize, ToSchema)]
pub struct CollectionList {
    /// Every collection.
    pub collections: Vec<CollectionInfo>,
}

/// One page of `GET …/documents`.
#[derive(Serialize, ToSchema)]
pub struct DocumentPage {
    /// The documents in order.
    pub documents: Vec<DocumentJson<'static>>,
    /// Cursor for `after`, null on the last page.
    #[schema(required)]
    pub next: Option<String>,
}

/// `POST …/batch` on success.
#[derive(Serialize, ToSchema)]
pub struct BatchResults {
    /// One result per operation, in order.
    pub results: Vec<BatchResult>,
}

/// A batch operation's result: the document, or a deletion.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchResult {
    /// create, update, replace.
    Document(DocumentJson<'static>),
    /// delete.
    Deleted(Deleted),
}

/// A deleted document in batch results.
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    /// Document id.
    pub id: Uuid,
    /// Always true.
    pub deleted: bool,
}

/// `GET /v1/rooms`.
#[derive(Serialize, ToSchema)]
pub struct RoomList {
    /// Rooms with members on this server.
    pub rooms: Vec<RoomCount>,
}

/// A room and its member count.
#[derive(Serialize, ToSchema)]
pub struct RoomCount {
    /// Room name.
    pub room: String,
    /// Sockets in it.
    pub members: u64,
}

/// The publish routes' answer.
#[derive(Serialize, ToSchema)]
pub struct Delivered {
    /// Sockets the message was queued for on this server.
    pub delivered: u64,
}

/// `GET`/`PUT /v1/room-rules`.
#[derive(Serialize, ToSchema)]
pub struct RoomRules {
    /// The rules in order.
    pub rules: Vec<RoomRuleRow>,
}

/// `GET /v1/rooms/{room}/members`.
#[derive(Serialize, ToSchema)]
pub struct RoomMembers {
    /// Room name.
    pub room: String,
    /// Members with presence state.
    pub members: Vec<MemberView<'static>>,
}

/// An identity as shown to operators.
#[derive(Serialize, ToSchema)]
pub struct IdentityView {
    /// `service`, `public` or `user`.
    pub kind: String,
    /// The user id (users only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The role claim (users only; null without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// `GET /v1/connections`.
#[derive(Serialize, ToSchema)]
pub struct ConnectionList {
    /// Number of connections.
    pub total: u64,
    /// Counts by `websocket` / `sse`.
    pub by_transport: BTreeMap<String, u64>,
    /// Counts by identity kind.
    pub by_identity: BTreeMap<String, u64>,
    /// Every connection of this server.
    pub connections: Vec<ConnInfo>,
}

/// `GET /v1/keys`.
#[derive(Serialize, ToSchema)]
pub struct KeyList {
    /// Every key, newest first.
    pub keys: Vec<KeyInfo>,
}

/// `POST /v1/keys`: the key and, this once, its secret.
#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    /// The key as listed.
    #[serde(flatten)]
    pub info: KeyInfo,
    /// The secret; shown only in this answer.
    pub key: String,
}

/// `GET /v1/console/stats`.
#[derive(Serialize, ToSchema)]
pub struct ConsoleStats {
    /// Sample time, Unix milliseconds.
    pub ts: i64,
    /// Connections by transport.
    pub connections: BTreeMap<String, u64>,
    /// Live subscriptions.
    pub subscriptions: u64,
    /// Rooms with members.
    pub rooms: u64,
    /// Last seq numbered in the change log.
    pub log_head: i64,
    /// Last seq dispatched by this server.
    pub feed_head: i64,
    /// `log_head - feed_head`, at least 0.
    pub feed_lag: i64,
    /// Events delivered by this process.
    pub events_delivered_total: f64,
    /// Connections closed as slow consumers by this process.
    pub slow_consumers_closed_total: f64,
}

/// `POST /v1/explain`.
#[derive(Serialize, ToSchema)]
pub struct Explanation {
    /// Whether the change reaches the subscription.
    pub delivered: bool,
    /// `event`, `enter`, `leave` or `leave_redacted` when delivered.
    #[schema(required)]
    pub event: Option<String>,
    /// The change explained.
    pub seq: i64,
    /// `insert`, `update` or `delete` (absent for `cursor_expired`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// The change's collection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// The change's document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// The subscriber explained for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityView>,
    /// The collection's read rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_rule: Option<Rule>,
    /// The individual verdicts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
    /// Why it is not delivered (empty when delivered).
    pub reasons: Vec<Reason>,
}

/// Verdicts of `POST /v1/explain`.
#[derive(Serialize, ToSchema)]
pub struct Checks {
    /// Whether the identity may subscribe at all.
    pub subscribe: bool,
    /// The state before the change (null for creates).
    #[schema(required)]
    pub old: Option<SideCheck>,
    /// The state after the change (null for deletes).
    #[schema(required)]
    pub new: Option<SideCheck>,
}

/// Verdicts on one state of the document.
#[derive(Serialize, ToSchema)]
pub struct SideCheck {
    /// The read rule's verdict.
    pub read: bool,
    /// The whole filter's verdict.
    pub filter: bool,
    /// Each top-level filter key alone.
    pub conditions: Vec<Condition>,
}

/// One top-level filter key's verdict.
#[derive(Serialize, ToSchema)]
pub struct Condition {
    /// The filter key.
    pub key: String,
    /// Whether it matches (null when the state is absent).
    #[schema(required)]
    pub matches: Option<bool>,
}

/// One reason a change is not delivered.
#[derive(Serialize, ToSchema)]
pub struct Reason {
    /// `collection_mismatch`, `document_mismatch`, `cursor_expired`, `read_rule` or `filter`.
    pub code: String,
    /// Explanation.
    pub message: String,
}

/// Open sign-up's answer, the same whether or not the address was taken.
#[derive(Serialize, ToSchema)]
pub struct SignupAccepted {
    /// Always `accepted`.
    pub status: String,
}

/// `GET /v1/auth/users`.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    /// Users ordered by email.
    pub users: Vec<User>,
    /// The `after` of the next page, null on the last.
    #[schema(required)]
    pub next: Option<String>,
}
