//! Webhooks through the API: create (the signing secret generated here, answered once and
//! stored sealed under the service key), list, delete; and the deliveries made to them.
//!
//! A webhook's URL is answered by its origin only: a chat service's incoming webhook carries
//! its key in the path, and every API key of the service may list webhooks.

use super::{ApiError, ApiResult, AppState, Caller};
use crate::alerts::AlertRules;
use crate::dashboard::webhook_label;
use crate::notify;
use crate::queue::{db, now_ms};
use crate::webhooks::{validate_url, PayloadFormat, Secret};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use middlebrick_store::service::{NewWebhook, WebhookRecord};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    url: String,
    /// Only this target's scans; every target's when absent.
    target_id: Option<String>,
    #[serde(default)]
    rules: Option<Value>,
    #[serde(default)]
    format: Option<String>,
}

fn webhook_json(w: &WebhookRecord) -> Value {
    let rules: Value = serde_json::from_str(&w.rules_json).unwrap_or(Value::Null);
    json!({
        "id": w.id,
        "target_id": w.target_id,
        "url": url::Url::parse(&w.url).map(|u| webhook_label(&u)).unwrap_or_default(),
        "format": w.format,
        "rules": rules,
        "created_at": w.created_at,
    })
}

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

pub async fn create(
    State(st): State<AppState>,
    Caller(key): Caller,
    body: Body<WebhookBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Json(b) = body.map_err(|e| ApiError::bad(e.body_text()))?;
    let url = validate_url(&b.url).map_err(|e| ApiError::bad(e.to_string()))?;
    let rules: AlertRules = match b.rules {
        None => AlertRules::default(),
        Some(v) => serde_json::from_value(v).map_err(|e| ApiError::bad(format!("rules: {e}")))?,
    };
    let format: PayloadFormat = match b.format.as_deref() {
        None => PayloadFormat::Json,
        Some(f) => {
            serde_json::from_value(json!(f)).map_err(|_| ApiError::bad("format: json or slack"))?
        }
    };
    let secret = Secret::generate().map_err(|e| ApiError::internal(e.to_string()))?;
    let sealed = st.sealer.seal_text(&secret).map_err(ApiError::internal)?;
    let w = NewWebhook {
        target_id: b.target_id,
        url: url.to_string(),
        secret_sealed: sealed,
        rules_json: serde_json::to_string(&rules).map_err(|e| ApiError::internal(e.to_string()))?,
        format: notify::format_name(format).to_string(),
        created_by: Some(key.id),
    };
    let created = db(&st.store, move |s| {
        if let Some(t) = &w.target_id {
            if s.target(t)?.is_none() {
                return Ok(Err(ApiError::not_found("target")));
            }
        }
        Ok(Ok(s.create_webhook(&w, now_ms())?))
    })
    .await
    .map_err(ApiError::internal)??;
    let mut v = webhook_json(&created);
    // Shown this once: the database holds it sealed and no answer carries it again.
    v["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(v)))
}

pub async fn list(State(st): State<AppState>, _: Caller) -> ApiResult<Json<Value>> {
    let hooks = db(&st.store, |s| s.webhooks())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({"webhooks": hooks.iter().map(webhook_json).collect::<Vec<_>>()}),
    ))
}

pub async fn delete(
    State(st): State<AppState>,
    _: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let gone = db(&st.store, move |s| s.delete_webhook(&id, now_ms()))
        .await
        .map_err(ApiError::internal)?;
    if gone {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook"))
    }
}

#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    limit: Option<i64>,
}

/// The newest deliveries: state, attempts, last answer, next attempt, and the body sent.
pub async fn deliveries(
    State(st): State<AppState>,
    _: Caller,
    Query(q): Query<DeliveriesQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let rows = db(&st.store, move |s| s.recent_deliveries(limit))
        .await
        .map_err(ApiError::internal)?;
    let list: Vec<Value> = rows
        .iter()
        .map(|(d, url, target)| {
            let mut v = serde_json::to_value(d).unwrap_or_default();
            v["webhook_url"] = json!(url::Url::parse(url)
                .map(|u| webhook_label(&u))
                .unwrap_or_default());
            v["target_name"] = json!(target);
            v
        })
        .collect();
    Ok(Json(json!({"deliveries": list})))
}
