//! The seeds' public contract, field for field, so their GitHub Action and MCP client work
//! against this service: `POST /api/scan`, `GET /api/scans/{id}`, `GET /api/scans`.
//! The scan covers the API at `apiUrl` (as `middlebrick scan` would); `method` is recorded
//! and echoed.

use super::{rfc3339, ApiError, ApiResult, AppState, Caller};
use crate::queue::{db, now_ms};
use crate::scan;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use middlebrick_store::service::{Job, JobFilter, JobStatus, Target};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanRequest {
    api_url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

pub async fn create(
    State(st): State<AppState>,
    Caller(key): Caller,
    body: Result<Json<ScanRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Json(req) = body.map_err(|e| ApiError::bad(e.body_text()))?;
    let method = req.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(ApiError::bad(format!(
            "method {method}: one of {}",
            METHODS.join(", ")
        )));
    }
    let headers: Vec<(String, String)> = req.headers.into_iter().collect();
    check_allowed(&st, &req.api_url, &headers)?;
    let sealed = if headers.is_empty() {
        None
    } else {
        Some(st.sealer.seal(&headers).map_err(ApiError::internal)?)
    };
    let url = req.api_url.clone();
    let key_id = key.id.clone();
    let checks = st.contract_checks.clone();
    let id = db(&st.store, move |s| {
        let now = now_ms();
        let t = s.contract_target(&url, &checks, &key_id, now)?;
        s.enqueue(
            &t.id,
            "contract",
            &method,
            sealed.as_deref(),
            Some((&key_id, key.scans_per_hour)),
            now,
        )
    })
    .await
    .map_err(ApiError::internal)?;
    match id {
        Some(id) => Ok((StatusCode::ACCEPTED, Json(json!({ "scanId": id })))),
        None => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "this API key has created its allowance of scans for the last hour",
        )),
    }
}

/// Refuses, before anything is stored, a URL outside the service's allowlist.
pub(crate) fn check_allowed(
    st: &AppState,
    url: &str,
    headers: &[(String, String)],
) -> ApiResult<()> {
    let probe = Target {
        id: String::new(),
        name: String::new(),
        url: url.to_string(),
        spec: None,
        config_json: "{}".into(),
        mode: "safe".into(),
        checks: Vec::new(),
        schedule_kind: None,
        schedule: None,
        next_run_at: None,
        max_concurrent: 1,
        origin: String::new(),
        created_at: 0,
        updated_at: 0,
    };
    let request = scan::request_of(&probe, headers).map_err(ApiError::bad)?;
    let cfg = scan::unresolved(&request).map_err(ApiError::bad)?;
    st.allow
        .check(&cfg)
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "target_not_allowed", e))
}

/// The contract's four statuses: a dead job (its workers kept disappearing) is `failed`.
fn status(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Dead => "failed",
        other => other.as_str(),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ContractFinding {
    id: String,
    severity: String,
    category: String,
    title: String,
    description: String,
    remediation: String,
}

fn summary(j: &Job) -> Value {
    let categories: Value = j
        .categories_json
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(Value::Null);
    json!({
        "id": j.id,
        "status": status(j.status),
        "apiUrl": j.target_url,
        "method": j.method,
        "createdAt": rfc3339(j.created_at),
        "completedAt": j.completed_at.map(rfc3339),
        "overall": j.score,
        "letterGrade": j.grade,
        "categories": categories,
        "errorMessage": j.error,
    })
}

pub async fn get(
    State(st): State<AppState>,
    _: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let found = db(&st.store, move |s| {
        let Some(j) = s.job(&id)? else {
            return Ok(None);
        };
        let f = s.job_findings(&j.id)?;
        Ok(Some((j, f)))
    })
    .await
    .map_err(ApiError::internal)?;
    let (job, findings) = found.ok_or_else(|| ApiError::not_found("scan"))?;
    let mut v = summary(&job);
    let findings: Vec<ContractFinding> = findings
        .into_iter()
        .map(|f| ContractFinding {
            id: f.fingerprint,
            severity: f.severity,
            category: f.category,
            title: f.title,
            description: format!("{} ({})", f.description, f.location),
            remediation: f.remediation,
        })
        .collect();
    v["findings"] = serde_json::to_value(findings).unwrap_or_default();
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    status: Option<String>,
}

pub async fn list(
    State(st): State<AppState>,
    _: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            JobStatus::parse(s)
                .ok_or_else(|| ApiError::bad("status: queued, processing, completed or failed"))?,
        ),
    };
    let filter = JobFilter {
        status,
        target_id: None,
        limit: q.limit.unwrap_or(20).clamp(1, 100),
        offset: q.offset.unwrap_or(0).max(0),
    };
    let (limit, offset) = (filter.limit, filter.offset);
    let (jobs, total) = db(&st.store, move |s| s.jobs(&filter))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "scans": jobs.iter().map(summary).collect::<Vec<_>>(),
        "total": total,
        "limit": limit,
        "offset": offset,
    })))
}
