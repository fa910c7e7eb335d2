//! Document routes: CRUD, list with filters and keyset pagination, batch.

use super::{ApiError, Caller, JsonBody};
use crate::access::{forbid, owner_scope};
use crate::auth::{CollectionRules, Identity, Op};
use crate::matcher::{Cursor, Filter, Sort};
use crate::state::AppState;
use crate::store::{self, Document, ListQuery};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgConnection;
use std::sync::Arc;
use uuid::Uuid;

/// Most operations in one batch.
const MAX_BATCH: usize = 1000;

/// Rules of a collection, creating it on first write when the caller may.
async fn rules_for(
    state: &AppState,
    name: &str,
    who: &Identity,
    create: bool,
) -> Result<Arc<CollectionRules>, ApiError> {
    Ok(state.access.collection(name, who, create).await?)
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::BadRequest(format!("invalid document id {id:?}: expected a UUID")))
}

/// Checks an operation on an existing document. A document the caller may not
/// read is reported as missing, so its existence does not leak.
fn check_doc(rules: &CollectionRules, op: Op, who: &Identity, doc: &Document) -> Result<(), ApiError> {
    if !rules.read.allows(who, doc.owner.as_deref()) {
        if !rules.read.admits(who) {
            return Err(forbid(&rules.read, "read").into());
        }
        return Err(ApiError::NotFound("document not found".into()));
    }
    let rule = rules.rule(op);
    if !rule.allows(who, doc.owner.as_deref()) {
        return Err(forbid(rule, if op == Op::Delete { "delete" } else { "update" }).into());
    }
    Ok(())
}

fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .unwrap_or("")
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"');
    s.parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::BadRequest("If-Match must be a document version (integer)".into()))
}

fn check_version(doc: &Document, expected: Option<i64>) -> Result<(), ApiError> {
    match expected {
        Some(e) if e != doc.version => Err(ApiError::Precondition {
            current: doc.version,
            expected: e,
        }),
        _ => Ok(()),
    }
}

fn object(data: Value) -> Result<Value, ApiError> {
    use crate::protocol::{json_depth, MAX_JSON_DEPTH};
    if !data.is_object() {
        return Err(ApiError::Unprocessable("data must be a JSON object".into()));
    }
    if json_depth(&data) > MAX_JSON_DEPTH {
        return Err(ApiError::Unprocessable(format!(
            "data is nested deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    if has_nul(&data) {
        // PostgreSQL's jsonb cannot store U+0000; refuse it here rather than fail in the database.
        return Err(ApiError::BadRequest(
            "data contains the character U+0000 (\\u0000), which cannot be stored".into(),
        ));
    }
    Ok(data)
}

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// `POST …/documents` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateBody {
    #[schema(value_type = Object)]
    data: Value,
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    owner: Option<String>,
}

/// `PATCH`/`PUT` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct WriteBody {
    #[schema(value_type = Object)]
    data: Value,
    /// Only to refuse it: the owner is set on create.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    owner: Option<Value>,
}

/// `owner` is chosen on create only. Sent on an update it is refused, never ignored: 403 for
/// non-service callers as on create, 422 for a service key.
fn refuse_owner(who: &Identity, owner: &Option<Value>) -> Result<(), ApiError> {
    match (owner, who.is_service()) {
        (None, _) => Ok(()),
        (Some(_), false) => Err(ApiError::Forbidden("only a service key may set owner".into())),
        (Some(_), true) => Err(ApiError::Unprocessable(
            "owner can only be set when a document is created".into(),
        )),
    }
}

fn create_owner(who: &Identity, requested: Option<String>) -> Result<Option<String>, ApiError> {
    match (who, requested) {
        (Identity::Service { .. }, owner) => Ok(owner),
        (_, Some(_)) => Err(ApiError::Forbidden("only a service key may set owner".into())),
        (who, None) => Ok(who.sub().map(str::to_owned)),
    }
}

/// Creates a document.
pub async fn create(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    Caller(who): Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<impl IntoResponse, ApiError> {
    let rules = rules_for(&state, &collection, &who, true).await?;
    if !rules.create.admits(&who) {
        return Err(forbid(&rules.create, "create").into());
    }
    let owner = create_owner(&who, body.owner)?;
    let data = object(body.data)?;
    let id = body.id.unwrap_or_else(Uuid::new_v4);
    let new = store::NewDocument {
        collection,
        id,
        data,
        owner,
    };
    let doc = state.creates.create(new).await.map_err(|e| match e {
        store::StoreError::Conflict => ApiError::Conflict(format!("document {id} already exists")),
        e => e.into(),
    })?;
    Ok((StatusCode::CREATED, Json(doc)))
}

/// Reads a document.
pub async fn get(
    State(state): State<AppState>,
    Path((collection, id)): Path<(String, String)>,
    Caller(who): Caller,
) -> Result<Json<Document>, ApiError> {
    let rules = rules_for(&state, &collection, &who, false).await?;
    let id = parse_id(&id)?;
    if !rules.read.admits(&who) {
        return Err(forbid(&rules.read, "read").into());
    }
    let doc = store::get_document(&state.pool, &collection, id)
        .await
        .map_err(not_found)?;
    if !rules.read.allows(&who, doc.owner.as_deref()) {
        return Err(ApiError::NotFound("document not found".into()));
    }
    Ok(Json(doc))
}

fn not_found(e: store::StoreError) -> ApiError {
    match e {
        store::StoreError::NotFound => ApiError::NotFound("document not found".into()),
        e => e.into(),
    }
}

/// Applies a merge patch (or a replacement) inside a transaction.
#[allow(clippy::too_many_arguments)]
async fn write(
    tx: &mut PgConnection,
    rules: &CollectionRules,
    who: &Identity,
    collection: &str,
    id: Uuid,
    data: Value,
    merge: bool,
    expected: Option<i64>,
) -> Result<Document, ApiError> {
    let data = object(data)?;
    let doc = store::lock_document(&mut *tx, collection, id)
        .await
        .map_err(not_found)?;
    check_doc(rules, Op::Update, who, &doc)?;
    check_version(&doc, expected)?;
    let new = if merge {
        let mut d = doc.data.clone();
        store::merge_patch(&mut d, &data);
        d
    } else {
        data
    };
    store::update_document(tx, collection, id, &new)
        .await
        .map_err(not_found)
}

async fn write_one(
    state: AppState,
    collection: String,
    id: String,
    who: Identity,
    headers: HeaderMap,
    data: Value,
    merge: bool,
) -> Result<Json<Document>, ApiError> {
    let rules = rules_for(&state, &collection, &who, false).await?;
    let id = parse_id(&id)?;
    let expected = if_match(&headers)?;
    let mut tx = state.begin_write().await?;
    let doc = write(&mut tx, &rules, &who, &collection, id, data, merge, expected).await?;
    tx.commit().await?;
    Ok(Json(doc))
}

/// Merges a patch into a document.
pub async fn patch(
    State(state): State<AppState>,
    Path((collection, id)): Path<(String, String)>,
    Caller(who): Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<WriteBody>,
) -> Result<Json<Document>, ApiError> {
    refuse_owner(&who, &body.owner)?;
    write_one(state, collection, id, who, headers, body.data, true).await
}

/// Replaces a document's data.
pub async fn replace(
    State(state): State<AppState>,
    Path((collection, id)): Path<(String, String)>,
    Caller(who): Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<WriteBody>,
) -> Result<Json<Document>, ApiError> {
    refuse_owner(&who, &body.owner)?;
    write_one(state, collection, id, who, headers, body.data, false).await
}

async fn remove(
    tx: &mut PgConnection,
    rules: &CollectionRules,
    who: &Identity,
    collection: &str,
    id: Uuid,
    expected: Option<i64>,
) -> Result<(), ApiError> {
    let doc = store::lock_document(&mut *tx, collection, id)
        .await
        .map_err(not_found)?;
    check_doc(rules, Op::Delete, who, &doc)?;
    check_version(&doc, expected)?;
    store::delete_document(tx, collection, id).await.map_err(not_found)
}

/// Deletes a document.
pub async fn delete(
    State(state): State<AppState>,
    Path((collection, id)): Path<(String, String)>,
    Caller(who): Caller,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let rules = rules_for(&state, &collection, &who, false).await?;
    let id = parse_id(&id)?;
    let expected = if_match(&headers)?;
    let mut tx = state.begin_write().await?;
    remove(&mut tx, &rules, &who, &collection, id, expected).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Parsed list parameters.
pub struct ListParams {
    /// Filter.
    pub filter: Filter,
    /// Order.
    pub sort: Sort,
    /// Page size.
    pub limit: i64,
    /// Cursor.
    pub after: Option<Cursor>,
}

/// Splits a query string into filter, sort, limit and cursor.
pub fn list_params(query: Option<&str>) -> Result<ListParams, ApiError> {
    let mut pairs = Vec::new();
    let (mut sort, mut limit, mut after) = (None, None, None);
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "sort" => sort = Some(v.into_owned()),
            "limit" => limit = Some(v.into_owned()),
            "after" => after = Some(v.into_owned()),
            _ => pairs.push((k.into_owned(), v.into_owned())),
        }
    }
    let limit = match limit {
        None => 100,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return Err(ApiError::BadRequest(format!("invalid limit {l:?}: expected 1 to 1000"))),
        },
    };
    let filter = Filter::parse_query(&pairs)?;
    let sort = Sort::parse(sort.as_deref())?;
    let after = after.map(|a| Cursor::parse(&a, &sort)).transpose()?;
    Ok(ListParams {
        filter,
        sort,
        limit,
        after,
    })
}

/// Lists documents with filters and keyset pagination.
pub async fn list(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    Caller(who): Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let rules = rules_for(&state, &collection, &who, false).await?;
    let p = list_params(query.as_deref())?;
    let q = ListQuery {
        collection: &collection,
        filter: &p.filter,
        sort: &p.sort,
        after: p.after.as_ref(),
        owner: owner_scope(&rules, &who)?,
        limit: p.limit,
    };
    let page = store::list_documents(&state.pool, &q).await?;
    Ok(Json(
        json!({"documents": page.docs, "next": page.next.map(|c| c.encode())}),
    ))
}

/// One batch operation.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum BatchOp {
    /// Create a document.
    Create {
        /// Data.
        #[schema(value_type = Object)]
        data: Value,
        /// Optional id.
        #[serde(default)]
        id: Option<Uuid>,
        /// Owner (service key only).
        #[serde(default)]
        owner: Option<String>,
    },
    /// Merge-patch a document.
    Update {
        /// Document id.
        id: Uuid,
        /// Patch.
        #[schema(value_type = Object)]
        data: Value,
        /// Expected version.
        #[serde(default)]
        if_match: Option<i64>,
        /// Refused (see `refuse_owner`).
        #[serde(default)]
        #[schema(value_type = Option<String>)]
        owner: Option<Value>,
    },
    /// Replace a document's data.
    Replace {
        /// Document id.
        id: Uuid,
        /// New data.
        #[schema(value_type = Object)]
        data: Value,
        /// Expected version.
        #[serde(default)]
        if_match: Option<i64>,
        /// Refused (see `refuse_owner`).
        #[serde(default)]
        #[schema(value_type = Option<String>)]
        owner: Option<Value>,
    },
    /// Delete a document.
    Delete {
        /// Document id.
        id: Uuid,
        /// Expected version.
        #[serde(default)]
        if_match: Option<i64>,
    },
}

/// Batch body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct BatchBody {
    operations: Vec<BatchOp>,
}

fn at(i: usize, e: ApiError) -> ApiError {
    let msg = format!("operations[{i}]: {e}");
    match e {
        ApiError::BadRequest(_) => ApiError::BadRequest(msg),
        ApiError::Forbidden(_) => ApiError::Forbidden(msg),
        ApiError::NotFound(_) => ApiError::NotFound(msg),
        ApiError::Conflict(_) => ApiError::Conflict(msg),
        ApiError::Unprocessable(_) => ApiError::Unprocessable(msg),
        other => other,
    }
}

/// Inserts a run of consecutive creates and appends the documents to `results`.
async fn insert_run(
    tx: &mut PgConnection,
    collection: &str,
    run: &mut Vec<(Uuid, Value, Option<String>)>,
    start: usize,
    results: &mut Vec<Value>,
) -> Result<(), ApiError> {
    if run.is_empty() {
        return Ok(());
    }
    let end = start + run.len() - 1;
    let docs = store::insert_documents(tx, collection, run)
        .await
        .map_err(|e| match e {
            store::StoreError::Conflict => ApiError::Conflict(format!(
                "operations[{start}..={end}]: a document with one of these ids already exists"
            )),
            e => e.into(),
        })?;
    results.extend(docs.into_iter().map(|d| json!(d)));
    run.clear();
    Ok(())
}

/// Applies creates, updates and deletes in one transaction.
pub async fn batch(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    Caller(who): Caller,
    JsonBody(body): JsonBody<BatchBody>,
) -> Result<Json<Value>, ApiError> {
    if body.operations.len() > MAX_BATCH {
        return Err(ApiError::Unprocessable(format!(
            "at most {MAX_BATCH} operations per batch"
        )));
    }
    let creates = body.operations.iter().any(|o| matches!(o, BatchOp::Create { .. }));
    let rules = rules_for(&state, &collection, &who, creates).await?;
    let mut tx = state.begin_write().await?;
    let mut results = Vec::with_capacity(body.operations.len());
    // Consecutive creates go to the database as one multi-row INSERT.
    let mut run: Vec<(Uuid, Value, Option<String>)> = Vec::new();
    let mut run_start = 0;
    for (i, op) in body.operations.into_iter().enumerate() {
        if !matches!(op, BatchOp::Create { .. }) {
            insert_run(&mut tx, &collection, &mut run, run_start, &mut results).await?;
        }
        let r = match op {
            BatchOp::Create { data, id, owner } => {
                if !rules.create.admits(&who) {
                    return Err(at(i, forbid(&rules.create, "create").into()));
                }
                let owner = create_owner(&who, owner).map_err(|e| at(i, e))?;
                let data = object(data).map_err(|e| at(i, e))?;
                if run.is_empty() {
                    run_start = i;
                }
                run.push((id.unwrap_or_else(Uuid::new_v4), data, owner));
                continue;
            }
            BatchOp::Update {
                id,
                data,
                if_match,
                owner,
            } => {
                refuse_owner(&who, &owner).map_err(|e| at(i, e))?;
                json!(write(&mut tx, &rules, &who, &collection, id, data, true, if_match)
                    .await
                    .map_err(|e| at(i, e))?)
            }
            BatchOp::Replace {
                id,
                data,
                if_match,
                owner,
            } => {
                refuse_owner(&who, &owner).map_err(|e| at(i, e))?;
                json!(write(&mut tx, &rules, &who, &collection, id, data, false, if_match)
                    .await
                    .map_err(|e| at(i, e))?)
            }
            BatchOp::Delete { id, if_match } => {
                remove(&mut tx, &rules, &who, &collection, id, if_match)
                    .await
                    .map_err(|e| at(i, e))?;
                json!({"id": id, "deleted": true})
            }
        };
        results.push(r);
    }
    insert_run(&mut tx, &collection, &mut run, run_start, &mut results).await?;
    tx.commit().await?;
    Ok(Json(json!({ "results": results })))
}
