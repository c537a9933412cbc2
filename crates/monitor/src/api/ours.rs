//! Our own endpoints: targets with their schedules, on-demand scans, scans, reports in every
//! renderer's format, and the diff of a scan against the previous scan of its target.

use super::contract::check_allowed;
use super::{ApiError, ApiResult, AppState, Caller};
use crate::queue::{db, now_ms};
use crate::{diff, scan::TargetConfig, schedule};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use middlebrick_core::scan::SpecInput;
use middlebrick_model::{Redactor, Report};
use middlebrick_report::{render, Format, RenderOptions};
use middlebrick_store::service::{JobFilter, JobStatus, NewTarget, Target};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetBody {
    name: Option<String>,
    url: String,
    spec: Option<SpecBody>,
    #[serde(default)]
    config: Option<TargetConfig>,
    mode: Option<String>,
    #[serde(default)]
    checks: Vec<String>,
    schedule: Option<ScheduleBody>,
    max_concurrent: Option<i64>,
}

/// A spec URL (`"http://…/openapi.json"`) or the description itself (`{"text": "…"}`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SpecBody {
    Url(String),
    Input(SpecInput),
}

impl SpecBody {
    /// The stored form: the URL as given, text as `{"text": "…"}` ([`crate::scan::spec_input`]).
    fn stored(self) -> String {
        match self {
            SpecBody::Url(u) => u,
            SpecBody::Input(SpecInput::Url(u)) => u,
            SpecBody::Input(text) => serde_json::to_string(&text).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    interval: Option<u64>,
    cron: Option<String>,
}

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn new_target(st: &AppState, b: TargetBody, key: &str) -> ApiResult<NewTarget> {
    let config = b.config.unwrap_or_default();
    let config_json = serde_json::to_string(&config).map_err(|e| ApiError::bad(e.to_string()))?;
    TargetConfig::parse(&config_json).map_err(ApiError::bad)?;
    let schedule = match b.schedule {
        None => None,
        Some(ScheduleBody {
            interval: Some(i),
            cron: None,
        }) => Some(("interval".to_string(), i.to_string())),
        Some(ScheduleBody {
            interval: None,
            cron: Some(c),
        }) => Some(("cron".to_string(), c)),
        Some(_) => return Err(ApiError::bad("schedule: give either interval or cron")),
    };
    if let Some((k, v)) = &schedule {
        schedule::validate(k, v, st.min_interval).map_err(ApiError::bad)?;
    }
    let next_run_at = match &schedule {
        Some((k, v)) => Some(schedule::next_after(k, v, now_ms()).map_err(ApiError::bad)?),
        None => None,
    };
    let t = NewTarget {
        name: b.name.unwrap_or_else(|| b.url.clone()),
        url: b.url,
        spec: b.spec.map(SpecBody::stored),
        config_json,
        mode: b.mode.unwrap_or_else(|| "safe".into()),
        checks: b.checks,
        schedule,
        next_run_at,
        max_concurrent: b.max_concurrent.unwrap_or(1).clamp(1, 64),
        origin: "api".into(),
        created_by: Some(key.to_string()),
    };
    // The whole request is checked now (mode, checks, spec, the allowlist for the target and
    // a spec URL), through core's resolution, with the environment references left unread.
    let request = crate::scan::request_of(&as_target(&t), &[]).map_err(ApiError::bad)?;
    let cfg = crate::scan::unresolved(&request).map_err(ApiError::bad)?;
    crate::scan::mode_allowed(cfg.mode, st.allow_active)
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "mode_not_allowed", e))?;
    st.allow
        .check(&cfg)
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "target_not_allowed", e))?;
    check_allowed(st, &t.url, &[])?;
    Ok(t)
}

fn as_target(t: &NewTarget) -> Target {
    Target {
        id: String::new(),
        name: t.name.clone(),
        url: t.url.clone(),
        spec: t.spec.clone(),
        config_json: t.config_json.clone(),
        mode: t.mode.clone(),
        checks: t.checks.clone(),
        schedule_kind: None,
        schedule: None,
        next_run_at: None,
        max_concurrent: t.max_concurrent,
        origin: t.origin.clone(),
        created_at: 0,
        updated_at: 0,
    }
}

fn target_json(t: &Target) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or_default();
    // Only `env:` references can be stored, so the config is safe to return.
    v["config"] = serde_json::from_str(&t.config_json).unwrap_or(Value::Null);
    v
}

pub async fn create_target(
    State(st): State<AppState>,
    Caller(key): Caller,
    body: Body<TargetBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Json(b) = body.map_err(|e| ApiError::bad(e.body_text()))?;
    let t = new_target(&st, b, &key.id)?;
    let created = db(&st.store, move |s| s.create_target(&t, now_ms()))
        .await
        .map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(target_json(&created))))
}

pub async fn update_target(
    State(st): State<AppState>,
    Caller(key): Caller,
    Path(id): Path<String>,
    body: Body<TargetBody>,
) -> ApiResult<Json<Value>> {
    let Json(b) = body.map_err(|e| ApiError::bad(e.body_text()))?;
    let t = new_target(&st, b, &key.id)?;
    let got = db(&st.store, move |s| {
        Ok(if s.update_target(&id, &t, now_ms())? {
            s.target(&id)?
        } else {
            None
        })
    })
    .await
    .map_err(ApiError::internal)?;
    got.map(|t| Json(target_json(&t)))
        .ok_or_else(|| ApiError::not_found("target"))
}

pub async fn list_targets(State(st): State<AppState>, _: Caller) -> ApiResult<Json<Value>> {
    let ts = db(&st.store, |s| s.targets())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({"targets": ts.iter().map(target_json).collect::<Vec<_>>()}),
    ))
}

pub async fn get_target(
    State(st): State<AppState>,
    _: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    db(&st.store, move |s| s.target(&id))
        .await
        .map_err(ApiError::internal)?
        .map(|t| Json(target_json(&t)))
        .ok_or_else(|| ApiError::not_found("target"))
}

pub async fn delete_target(
    State(st): State<AppState>,
    _: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let gone = db(&st.store, move |s| s.delete_target(&id, now_ms()))
        .await
        .map_err(ApiError::internal)?;
    if gone {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("target"))
    }
}

/// Queues a scan of the target now (counted against the key's hourly allowance).
pub async fn trigger(
    State(st): State<AppState>,
    Caller(key): Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let queued = db(&st.store, move |s| {
        if s.target(&id)?.is_none() {
            return Ok(Err(ApiError::not_found("target")));
        }
        let job = s.enqueue(
            &id,
            "manual",
            "GET",
            None,
            Some((&key.id, key.scans_per_hour)),
            now_ms(),
        )?;
        Ok(job.ok_or_else(|| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "this API key has created its allowance of scans for the last hour",
            )
        }))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok((StatusCode::ACCEPTED, Json(json!({"scan_id": queued}))))
}

#[derive(Debug, Deserialize)]
pub struct ScansQuery {
    target: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn list_scans(
    State(st): State<AppState>,
    _: Caller,
    Query(q): Query<ScansQuery>,
) -> ApiResult<Json<Value>> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
            ApiError::bad("status: queued, processing, completed, failed or dead")
        })?),
    };
    let f = JobFilter {
        status,
        target_id: q.target,
        limit: q.limit.unwrap_or(20).clamp(1, 500),
        offset: q.offset.unwrap_or(0).max(0),
    };
    let (jobs, total) = db(&st.store, move |s| s.jobs(&f))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({"scans": jobs, "total": total})))
}

pub async fn get_scan(
    State(st): State<AppState>,
    _: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let found = db(&st.store, move |s| {
        Ok(match s.job(&id)? {
            Some(j) => {
                let f = s.job_findings(&j.id)?;
                Some((j, f))
            }
            None => None,
        })
    })
    .await
    .map_err(ApiError::internal)?;
    let (job, findings) = found.ok_or_else(|| ApiError::not_found("scan"))?;
    let mut v = serde_json::to_value(&job).unwrap_or_default();
    v["findings"] = serde_json::to_value(findings).unwrap_or_default();
    Ok(Json(v))
}

async fn stored_report(st: &AppState, id: String) -> ApiResult<Report> {
    let text = db(&st.store, move |s| s.job_report(&id))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_report",
                "this scan has no report (not completed)",
            )
        })?;
    serde_json::from_str(&text).map_err(|e| ApiError::internal(e.to_string()))
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    format: Option<String>,
}

pub async fn report(
    State(st): State<AppState>,
    _: Caller,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let format: Format = q
        .format
        .as_deref()
        .unwrap_or("json")
        .parse()
        .map_err(|e: middlebrick_report::UnknownFormat| ApiError::bad(e.to_string()))?;
    let report = stored_report(&st, id).await?;
    let opts = RenderOptions {
        color: false,
        verbose: false,
        spec_file: None,
        rules: middlebrick_core::catalogue::rules(),
    };
    // The stored report was redacted when it was written; a fresh redactor adds nothing.
    let body = render(&report, format, &opts, &Redactor::new());
    let ctype = match format {
        Format::Json | Format::Sarif => "application/json",
        Format::Html => "text/html; charset=utf-8",
        Format::Junit => "application/xml",
        Format::Markdown => "text/markdown; charset=utf-8",
        Format::Terminal => "text/plain; charset=utf-8",
    };
    Ok(([(header::CONTENT_TYPE, ctype)], body).into_response())
}

pub async fn diff(
    State(st): State<AppState>,
    _: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = id.clone();
    let previous = db(&st.store, move |s| {
        if s.job(&key)?.is_none() {
            return Ok(Err(ApiError::not_found("scan")));
        }
        Ok(Ok(s.previous_completed(&key)?))
    })
    .await
    .map_err(ApiError::internal)??;
    let new = stored_report(&st, id.clone()).await?;
    let Some(prev_id) = previous else {
        return Ok(Json(
            json!({"scan": id, "previous": null, "new": diff::all(&new)}),
        ));
    };
    let old = stored_report(&st, prev_id.clone()).await?;
    let mut v = diff::compare(&old, &new);
    v["scan"] = json!(id);
    v["previous"] = json!(prev_id);
    Ok(Json(v))
}
