//! `/v1/auth`: the accounts REST API. Handlers only extract and call `Accounts`.

use super::revoke::{prune_loop, users_changed};
use super::{account_id, check_role, AccountError, Accounts, SignupRequest};
use crate::auth::Identity;
use crate::http::{ApiError, Caller, JsonBody};
use crate::state::AppState;
use crate::store::{users, StoreError};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use uuid::Uuid;

/// Largest accepted body on these routes (credentials and a profile).
pub const BODY_LIMIT: usize = 64 * 1024;

type Service = Extension<Option<Arc<Accounts>>>;

/// The `/v1/auth` routes, to be merged into the main router.
pub fn router(state: &AppState) -> Router<AppState> {
    // Start-up already refused bad settings (`Accounts::check_config`); this only
    // repeats the construction, so a failure here leaves the routes answering 503.
    let accounts = match Accounts::from_config(&state.config) {
        Ok(a) => Some(Arc::new(a)),
        Err(e) => {
            tracing::error!(error = %e, "accounts disabled");
            None
        }
    };
    if let (Some(a), Ok(rt)) = (&accounts, tokio::runtime::Handle::try_current()) {
        let hasher = a.hasher.clone();
        rt.spawn(async move { hasher.warm_up().await });
        rt.spawn(prune_loop(state.pool.clone(), state.shutdown.clone()));
    }
    Router::new()
        .route("/v1/auth/signup", post(signup))
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/logout-all", post(logout_all))
        .route("/v1/auth/me", get(me).patch(patch_me))
        .route("/v1/auth/password", post(change_password))
        .route("/v1/auth/users", get(list_users).post(create_user))
        .route(
            "/v1/auth/users/{id}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(Extension(accounts))
}

fn service(ext: &Service) -> Result<&Accounts, ApiError> {
    ext.0.as_deref().ok_or_else(|| AccountError::NotConfigured.into())
}

/// The client's IP address, the key of per-IP limits (no proxy headers are trusted).
pub struct ClientIp(String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_default();
        Ok(ClientIp(ip))
    }
}

/// The caller's identity when a credential is presented; an invalid one is an error.
fn optional_identity(state: &AppState, headers: &HeaderMap) -> Result<Option<Identity>, ApiError> {
    Ok(state.access.identify(headers, None)?)
}

fn require_service(who: &Identity) -> Result<(), ApiError> {
    if who.is_service() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("this route requires a service key".into()))
    }
}

async fn signup(
    State(state): State<AppState>,
    ext: Service,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SignupRequest>,
) -> Result<Response, ApiError> {
    let is_service = optional_identity(&state, &headers)?.is_some_and(|i| i.is_service());
    match service(&ext)?.signup(&state, is_service, &ip, req).await? {
        Some(user) => Ok((StatusCode::CREATED, Json(user)).into_response()),
        None => Ok((StatusCode::ACCEPTED, Json(json!({"status": "accepted"}))).into_response()),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ext: Service,
    ClientIp(ip): ClientIp,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let session = service(&ext)?.login(&state, &ip, &req.email, &req.password).await?;
    Ok(Json(session).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    refresh_token: String,
}

async fn refresh(
    State(state): State<AppState>,
    ext: Service,
    JsonBody(req): JsonBody<RefreshRequest>,
) -> Result<Response, ApiError> {
    let session = service(&ext)?.refresh(&state, &req.refresh_token).await?;
    Ok(Json(session).into_response())
}

async fn logout(
    State(state): State<AppState>,
    ext: Service,
    JsonBody(req): JsonBody<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    service(&ext)?.logout(&state, &req.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn logout_all(State(state): State<AppState>, ext: Service, Caller(who): Caller) -> Result<StatusCode, ApiError> {
    let id = account_id(who.sub())?;
    service(&ext)?.logout_everywhere(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(state): State<AppState>, ext: Service, Caller(who): Caller) -> Result<Json<users::User>, ApiError> {
    service(&ext)?;
    let id = account_id(who.sub())?;
    Ok(Json(users::get_user(&state.pool, id).await.map_err(no_account)?))
}

fn no_account(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => AccountError::NotFound("no account for this token".into()).into(),
        other => other.into(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchMe {
    #[schema(value_type = Object)]
    profile: Value,
}

/// `PATCH /v1/auth/me`: a JSON merge patch (RFC 7396) of the profile; nothing else is writable.
async fn patch_me(
    State(state): State<AppState>,
    ext: Service,
    Caller(who): Caller,
    JsonBody(req): JsonBody<PatchMe>,
) -> Result<Json<users::User>, ApiError> {
    service(&ext)?;
    let id = account_id(who.sub())?;
    if !req.profile.is_object() {
        return Err(ApiError::BadRequest("profile must be a JSON object".into()));
    }
    let mut tx = state.pool.begin().await?;
    let mut profile = users::lock_profile(&mut tx, id).await.map_err(no_account)?;
    crate::store::merge_patch(&mut profile, &req.profile);
    let user = users::set_profile(&mut *tx, id, &profile).await.map_err(no_account)?;
    tx.commit().await?;
    Ok(Json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChange {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    ext: Service,
    ClientIp(ip): ClientIp,
    Caller(who): Caller,
    JsonBody(req): JsonBody<PasswordChange>,
) -> Result<Response, ApiError> {
    let id = account_id(who.sub())?;
    let session = service(&ext)?
        .change_password(&state, &ip, id, &req.current_password, &req.new_password)
        .await?;
    Ok(Json(session).into_response())
}

// --- administration (service key) --------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    search: Option<String>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

async fn list_users(
    State(state): State<AppState>,
    ext: Service,
    Caller(who): Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    service(&ext)?;
    require_service(&who)?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "invalid limit {limit}: expected 1 to 1000"
        )));
    }
    let search = q.search.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
    let mut rows = users::list_users(&state.pool, search.as_deref(), q.after.as_deref(), limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|u| u.email.clone())
    } else {
        None
    };
    Ok(Json(json!({"users": rows, "next": next})))
}

async fn create_user(
    State(state): State<AppState>,
    ext: Service,
    ClientIp(ip): ClientIp,
    Caller(who): Caller,
    JsonBody(req): JsonBody<SignupRequest>,
) -> Result<Response, ApiError> {
    require_service(&who)?;
    let user = service(&ext)?
        .signup(&state, true, &ip, req)
        .await?
        .ok_or_else(|| ApiError::Internal("service sign-up returned no user".into()))?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::BadRequest(format!("invalid user id {id:?}: expected a UUID")))
}

async fn get_user(
    State(state): State<AppState>,
    ext: Service,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<users::User>, ApiError> {
    service(&ext)?;
    require_service(&who)?;
    Ok(Json(users::get_user(&state.pool, parse_id(&id)?).await?))
}

/// Present-and-null (`"role": null`) is different from absent.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserUpdate {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    role: Option<Option<String>>,
    #[serde(default)]
    disabled: Option<bool>,
}

async fn update_user(
    State(state): State<AppState>,
    ext: Service,
    Caller(who): Caller,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<UserUpdate>,
) -> Result<Json<users::User>, ApiError> {
    service(&ext)?;
    require_service(&who)?;
    let id = parse_id(&id)?;
    if let Some(Some(role)) = &req.role {
        check_role(role)?;
    }
    let role = req.role.as_ref().map(|r| r.as_deref());
    let mut tx = state.pool.begin().await?;
    let user = users::admin_update(&mut *tx, id, role, req.disabled).await?;
    if req.disabled == Some(true) {
        users::revoke_user_sessions(&mut *tx, id).await?;
    }
    tx.commit().await?;
    if req.disabled.is_some() {
        users_changed(&state).await;
    }
    Ok(Json(user))
}

async fn delete_user(
    State(state): State<AppState>,
    ext: Service,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service(&ext)?;
    require_service(&who)?;
    let id = parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    users::delete_user(&mut tx, id).await?;
    tx.commit().await?;
    users_changed(&state).await;
    Ok(StatusCode::NO_CONTENT)
}
