//! `POST /v1/explain`: would a change reach a subscription, and if not, what
//! refused it. The decision comes from `hub::explain`, which calls the same
//! code that decides real deliveries.

use super::admin::require_service;
use super::{ApiError, Caller, JsonBody};
use crate::access::{check_collection, described_identity};
use crate::auth::Identity;
use crate::hub::{explain, matches_states, SideCheck};
use crate::matcher::Filter;
use crate::state::AppState;
use crate::store::{self, Change};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The subscriber to explain for.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainIdentity {
    kind: String,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

/// `POST /v1/explain` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    collection: String,
    id: uuid::Uuid,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    filters: Option<Value>,
    identity: ExplainIdentity,
    #[serde(default)]
    seq: Option<i64>,
}

/// One reason a change is not delivered.
fn reason(code: &str, message: String) -> Value {
    json!({"code": code, "message": message})
}

fn describe(who: &Identity) -> String {
    match who {
        Identity::User { sub, role: Some(r), .. } => format!("user {sub:?} (role {r:?})"),
        Identity::User { sub, .. } => format!("user {sub:?}"),
        Identity::Public { .. } => "a public key".into(),
        Identity::Service { .. } => "a service key".into(),
    }
}

/// Explains delivery of a document's latest change (or the change `seq`).
pub async fn explain_delivery(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(req): JsonBody<ExplainRequest>,
) -> Result<Json<Value>, ApiError> {
    require_service(&caller)?;
    check_collection(&req.collection)?;
    let i = &req.identity;
    let who = described_identity(&i.kind, i.sub.as_deref(), i.role.as_deref(), i64::MAX)?;
    let filter = match &req.filters {
        Some(v) => Filter::from_json(v)?,
        None => Filter::default(),
    };
    // Each top-level key is also parsed alone, so the answer can say which condition failed.
    let parts: Vec<(String, Filter)> = match &req.filters {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    Filter::from_json(&Value::Object(Map::from_iter([(k.clone(), v.clone())])))?,
                ))
            })
            .collect::<Result<_, crate::matcher::FilterError>>()?,
        _ => Vec::new(),
    };
    let pruned = store::pruned_through(&state.pool).await?;
    if let Some(seq) = req.seq {
        if seq <= pruned {
            let msg = format!("change {seq} is no longer retained (changes up to {pruned} were pruned); a subscription resuming there gets cursor_expired");
            return Ok(Json(json!({
                "delivered": false, "seq": seq, "event": null,
                "reasons": [reason("cursor_expired", msg)],
            })));
        }
    }
    let change = match req.seq {
        Some(seq) => store::change_at(&state.pool, seq).await?,
        None => store::latest_change(&state.pool, &req.collection, req.id).await?,
    };
    let Some(change) = change else {
        let msg = match req.seq {
            Some(seq) => format!("no change numbered {seq}"),
            None => format!("no retained change of document {} in {:?}", req.id, req.collection),
        };
        return Err(ApiError::NotFound(msg));
    };
    let mut reasons = Vec::new();
    if change.doc_id != req.id {
        reasons.push(reason(
            "document_mismatch",
            format!("change {} is of document {}, not {}", change.seq, change.doc_id, req.id),
        ));
    }
    if change.collection != req.collection {
        reasons.push(reason(
            "collection_mismatch",
            format!(
                "change {} is in collection {:?}; the subscription watches {:?}",
                change.seq, change.collection, req.collection
            ),
        ));
    }
    // The rules the hub would use: the cached ones (service-only when unknown, as in dispatch).
    let rules = state
        .hub
        .rules(&change.collection)
        .unwrap_or_else(|| std::sync::Arc::new(crate::auth::CollectionRules::service_only()));
    let e = explain(&change, &rules, &filter, &who);
    if reasons.is_empty() && e.delivered.is_none() {
        if !e.subscribe {
            reasons.push(reason(
                "read_rule",
                format!(
                    "read rule {:?} refuses {} for the whole collection: the subscription itself is refused",
                    rules.read.to_string(),
                    describe(&who)
                ),
            ));
        }
        for (side, check, owner) in [
            ("old", &e.old, change.old_owner.as_deref()),
            ("new", &e.new, change.owner.as_deref()),
        ] {
            let Some(c) = check else { continue };
            if e.subscribe && !c.read {
                reasons.push(reason(
                    "read_rule",
                    format!(
                        "read rule {:?} refuses {} for the {side} state (owner {})",
                        rules.read.to_string(),
                        describe(&who),
                        owner.map_or("none".to_owned(), |o| format!("{o:?}"))
                    ),
                ));
            }
            if !c.filter {
                let failed: Vec<&str> = parts
                    .iter()
                    .filter(|(_, f)| {
                        let (old, new) = matches_states(&change, f);
                        (if side == "old" { old } else { new }) == Some(false)
                    })
                    .map(|(k, _)| k.as_str())
                    .collect();
                reasons.push(reason(
                    "filter",
                    format!(
                        "the filter does not match the {side} state (failed: {})",
                        failed.join(", ")
                    ),
                ));
            }
        }
    }
    let delivered = reasons.is_empty() && e.delivered.is_some();
    Ok(Json(json!({
        "delivered": delivered,
        "event": if delivered { e.delivered } else { None },
        "seq": change.seq,
        "op": change.op.as_str(),
        "collection": change.collection,
        "id": change.doc_id,
        "identity": who.view(),
        "read_rule": rules.read,
        "checks": {"subscribe": e.subscribe, "old": side_json(&change, &e.old, &parts, true), "new": side_json(&change, &e.new, &parts, false)},
        "reasons": reasons,
    })))
}

fn side_json(change: &Change, check: &Option<SideCheck>, parts: &[(String, Filter)], old: bool) -> Value {
    let Some(c) = check else { return Value::Null };
    let conditions: Vec<Value> = parts
        .iter()
        .map(|(k, f)| {
            let (o, n) = matches_states(change, f);
            json!({"key": k, "matches": if old { o } else { n }})
        })
        .collect();
    json!({"read": c.read, "filter": c.filter, "conditions": conditions})
}
