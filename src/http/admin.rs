//! Service-key routes: collections, room rules, rooms and server publish.

use super::{ApiError, Caller, JsonBody};
use crate::access::check_collection;
use crate::auth::{CollectionRules, Identity, Rule};
use crate::broker::BusMsg;
use crate::protocol::{encode, now_ms, valid_name, Sender, ServerMsg};
use crate::state::AppState;
use crate::store::{self, ReloadHint, RoomRuleRow};
use axum::extract::ws::Utf8Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn require_service(who: &Identity) -> Result<(), ApiError> {
    if who.is_service() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("this route requires a service key".into()))
    }
}

/// Lists collections with document counts.
pub async fn list_collections(State(state): State<AppState>, Caller(who): Caller) -> Result<Json<Value>, ApiError> {
    require_service(&who)?;
    Ok(Json(
        json!({"collections": store::list_collections(&state.pool).await?}),
    ))
}

/// One collection.
pub async fn get_collection(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> Result<Json<Value>, ApiError> {
    require_service(&who)?;
    check_collection(&name)?;
    let c = store::get_collection(&state.pool, &name).await.map_err(|e| match e {
        store::StoreError::NotFound => ApiError::NotFound(format!("collection {name:?} does not exist")),
        e => e.into(),
    })?;
    Ok(Json(json!(c)))
}

/// `PUT /v1/collections/{c}` body.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutCollection {
    #[serde(default)]
    rules: PartialRules,
}

/// Rules given in a request; missing ones take the defaults.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartialRules {
    #[serde(default)]
    read: Option<Rule>,
    #[serde(default)]
    create: Option<Rule>,
    #[serde(default)]
    update: Option<Rule>,
    #[serde(default)]
    delete: Option<Rule>,
}

/// Creates a collection or sets its rules.
pub async fn put_collection(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
    JsonBody(body): JsonBody<PutCollection>,
) -> Result<Json<Value>, ApiError> {
    require_service(&who)?;
    check_collection(&name)?;
    let d = state.access.default_rules();
    let p = body.rules;
    let rules = CollectionRules {
        read: p.read.unwrap_or_else(|| d.read.clone()),
        create: p.create.unwrap_or_else(|| d.create.clone()),
        update: p.update.unwrap_or_else(|| d.update.clone()),
        delete: p.delete.unwrap_or_else(|| d.delete.clone()),
    };
    state.access.put_collection(&name, rules).await?;
    Ok(Json(json!(store::get_collection(&state.pool, &name).await?)))
}

/// Deletes a collection and its documents.
pub async fn delete_collection(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Caller(who): Caller,
) -> Result<StatusCode, ApiError> {
    require_service(&who)?;
    check_collection(&name)?;
    let mut tx = state.begin_write().await?;
    store::delete_collection(&mut tx, &name).await.map_err(|e| match e {
        store::StoreError::NotFound => ApiError::NotFound(format!("collection {name:?} does not exist")),
        e => e.into(),
    })?;
    tx.commit().await?;
    // The rules stay cached until the reload this hint causes, so the feed can
    // still deliver the deletions it was just woken for.
    store::notify_config(&state.pool, ReloadHint::Collections).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists rooms with member counts (this process's sockets).
pub async fn list_rooms(State(state): State<AppState>, Caller(who): Caller) -> Result<Json<Value>, ApiError> {
    require_service(&who)?;
    let rooms: Vec<Value> = state
        .hub
        .room_list()
        .into_iter()
        .map(|(room, members)| json!({"room": room, "members": members}))
        .collect();
    Ok(Json(json!({ "rooms": rooms })))
}

/// Body of the publish routes.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Publish {
    event: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    message: Value,
}

fn check_event(event: &str) -> Result<(), ApiError> {
    if valid_name(event, 64, b"") {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "invalid event name {event:?}: 1-64 characters of A-Z a-z 0-9 _ . : -"
        )))
    }
}

fn message_frame(p: &Publish) -> String {
    encode(
        &ServerMsg::Message {
            event: &p.event,
            message: &p.message,
            ts: now_ms(),
        },
        None,
    )
}

/// Broadcasts to a room from the server.
pub async fn room_broadcast(
    State(state): State<AppState>,
    Path(room): Path<String>,
    Caller(who): Caller,
    JsonBody(p): JsonBody<Publish>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_service(&who)?;
    check_event(&p.event)?;
    if !valid_name(&room, 128, b"@") {
        return Err(ApiError::BadRequest(format!("invalid room name {room:?}")));
    }
    let frame = encode(
        &ServerMsg::Broadcast {
            room: &room,
            event: &p.event,
            message: &p.message,
            from: Sender::Server { server: true },
            ts: now_ms(),
        },
        None,
    );
    state.broker.check()?;
    let delivered = state.hub.broadcast(&room, &Utf8Bytes::from(frame.clone()), None);
    state
        .broker
        .publish(BusMsg::Room {
            room,
            frame,
            skip: None,
        })
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "delivered": delivered }))))
}

/// Sends a message to every socket of one user.
pub async fn user_message(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    Caller(who): Caller,
    JsonBody(p): JsonBody<Publish>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_service(&who)?;
    check_event(&p.event)?;
    let frame = message_frame(&p);
    state.broker.check()?;
    let delivered = state.hub.send_to_user(&sub, &Utf8Bytes::from(frame.clone()));
    state.broker.publish(BusMsg::User { sub, frame }).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "delivered": delivered }))))
}

/// Sends a message to every socket.
pub async fn broadcast_all(
    State(state): State<AppState>,
    Caller(who): Caller,
    JsonBody(p): JsonBody<Publish>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_service(&who)?;
    check_event(&p.event)?;
    let frame = message_frame(&p);
    state.broker.check()?;
    let delivered = state.hub.send_to_all(&Utf8Bytes::from(frame.clone()));
    state.broker.publish(BusMsg::All { frame }).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "delivered": delivered }))))
}

/// The room rules in order.
pub async fn get_room_rules(State(state): State<AppState>, Caller(who): Caller) -> Result<Json<Value>, ApiError> {
    require_service(&who)?;
    Ok(Json(json!({"rules": store::load_room_rules(&state.pool).await?})))
}

/// `PUT /v1/room-rules` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PutRoomRules {
    rules: Vec<RoomRuleRow>,
}

/// Replaces the room rules.
pub async fn put_room_rules(
    State(state): State<AppState>,
    Caller(who): Caller,
    JsonBody(body): JsonBody<PutRoomRules>,
) -> Result<Json<Value>, ApiError> {
    require_service(&who)?;
    if body.rules.len() > 1000 {
        return Err(ApiError::Unprocessable("at most 1000 room rules".into()));
    }
    for (i, r) in body.rules.iter().enumerate() {
        let bad = |what: &str| ApiError::BadRequest(format!("rules[{i}]: {what}"));
        if r.pattern.is_empty() || r.pattern.len() > 256 {
            return Err(bad("pattern must be 1-256 characters"));
        }
        for rule in [&r.join, &r.broadcast] {
            match Rule::parse(rule) {
                Ok(Rule::Owner) => return Err(bad("owner is not a room rule")),
                Ok(_) => {}
                Err(e) => return Err(bad(&e.to_string())),
            }
        }
    }
    store::put_room_rules(&state.pool, &body.rules).await?;
    state.hub.set_room_rules(crate::feed::room_rules(body.rules.clone()));
    store::notify_config(&state.pool, ReloadHint::RoomRules).await?;
    Ok(Json(json!({ "rules": body.rules })))
}
