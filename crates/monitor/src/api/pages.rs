//! The dashboard's routes: the pure page functions of `crate::dashboard` fed from the store.
//!
//! Who may look: the dashboard is read-only but shows every finding, so it answers only
//! (a) a client on this machine (a loopback peer address) that also names this machine in
//! `Host` — a page elsewhere that rebinds its own name to 127.0.0.1 sends its own name and
//! is refused — or (b) any client that sends a valid API key in `x-api-key` (a reverse proxy
//! that authenticates users and adds the header). No cookie, no login form, nothing for a
//! cross-site request to ride on. See `docs/api.md`.

use super::{rfc3339, ApiError, ApiResult, AppState};
use crate::alerts::{Changes, Grading};
use crate::dashboard::{
    deliveries_page, diff_page, report_html, scan_page, targets_page, webhook_label, DeliveryRow,
    DiffPage, ScanInfo, ScanPage, ScanStatus, Site, TargetRow, CONTENT_SECURITY_POLICY,
};
use crate::notify;
use crate::queue::db;
use crate::webhooks::RetryPolicy;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use middlebrick_model::{Grade, Redactor, Report};
use middlebrick_store::service::{Job, JobFilter, JobStatus};
use std::net::{IpAddr, SocketAddr};

/// Scores shown in a target's trend.
const TREND: i64 = 20;

/// Whether a request may see the dashboard without a key: from a loopback address, naming a
/// loopback host (`127.0.0.1`, `[::1]`, `localhost`, any port).
pub fn local_viewer(peer: Option<IpAddr>, host: Option<&str>) -> bool {
    let Some(peer) = peer else { return false };
    let peer_local = match peer {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback()),
    };
    let Some(host) = host else { return false };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let host_local = name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    peer_local && host_local
}

/// A request allowed to see the dashboard.
#[derive(Debug)]
pub struct Viewer;

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Viewer> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        if local_viewer(peer, host) {
            return Ok(Viewer);
        }
        if parts.headers.contains_key("x-api-key") {
            return super::Caller::from_request_parts(parts, state)
                .await
                .map(|_| Viewer);
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the dashboard answers this machine (http://127.0.0.1:PORT/dashboard/) or a \
             request with an API key in x-api-key",
        ))
    }
}

fn html(body: String) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    (headers, body).into_response()
}

fn status(s: JobStatus) -> ScanStatus {
    match s {
        JobStatus::Queued => ScanStatus::Queued,
        JobStatus::Processing => ScanStatus::Processing,
        JobStatus::Completed => ScanStatus::Completed,
        JobStatus::Failed => ScanStatus::Failed,
        JobStatus::Dead => ScanStatus::Dead,
    }
}

fn info(j: &Job) -> ScanInfo {
    ScanInfo {
        id: j.id.clone(),
        status: status(j.status),
        at: rfc3339(j.completed_at.unwrap_or(j.created_at)),
    }
}

fn grading(j: &Job) -> Option<Grading> {
    let score = u8::try_from(j.score?).ok()?;
    Some(Grading {
        score,
        grade: Grade::from_score(score),
    })
}

pub async fn redirect() -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, Site::default().targets())],
    )
        .into_response()
}

pub async fn targets(State(st): State<AppState>, _: Viewer) -> ApiResult<Response> {
    let rows = db(&st.store, |s| {
        let mut rows = Vec::new();
        for t in s.targets()? {
            let done = s
                .jobs(&JobFilter {
                    status: Some(JobStatus::Completed),
                    target_id: Some(t.id.clone()),
                    limit: TREND,
                    offset: 0,
                })?
                .0;
            let last = s
                .jobs(&JobFilter {
                    target_id: Some(t.id.clone()),
                    limit: 1,
                    ..JobFilter::default()
                })?
                .0;
            let scores: Vec<u8> = done
                .iter()
                .rev()
                .filter_map(|j| grading(j).map(|g| g.score))
                .collect();
            rows.push(TargetRow {
                grade: done.first().and_then(grading).map(|g| g.grade),
                scores,
                last_scan: last.first().map(info),
                id: t.id,
                name: t.name,
                url: t.url,
            });
        }
        Ok(rows)
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(html(targets_page(&Site::default(), &rows)))
}

async fn report_of(st: &AppState, id: &str) -> ApiResult<Option<Report>> {
    let id = id.to_string();
    let text = db(&st.store, move |s| s.job_report(&id))
        .await
        .map_err(ApiError::internal)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| ApiError::internal(e.to_string())))
        .transpose()
}

pub async fn scan(
    State(st): State<AppState>,
    _: Viewer,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let key = id.clone();
    let found = db(&st.store, move |s| {
        let Some(j) = s.job(&key)? else {
            return Ok(None);
        };
        let name = s.target(&j.target_id)?.map(|t| t.name);
        let previous = s.previous_completed(&j.id)?;
        Ok(Some((j, name, previous)))
    })
    .await
    .map_err(ApiError::internal)?;
    let (job, name, previous) = found.ok_or_else(|| ApiError::not_found("scan"))?;
    let report = match job.status {
        JobStatus::Completed => report_of(&st, &id).await?,
        _ => None,
    };
    // The stored report was redacted when written; the same renderer as `scan --format html`.
    let doc = report
        .as_ref()
        .map(|r| report_html(r, middlebrick_core::catalogue::rules(), &Redactor::new()));
    let page = ScanPage {
        target_id: job.target_id.clone(),
        target_name: name.unwrap_or_else(|| job.target_url.clone()),
        target_url: job.target_url.clone(),
        scan: info(&job),
        created_at: rfc3339(job.created_at),
        completed_at: job.completed_at.map(rfc3339),
        grading: grading(&job),
        has_previous: previous.is_some(),
        error: job.error.clone(),
        formats_href: None,
    };
    Ok(html(scan_page(&Site::default(), &page, doc.as_deref())))
}

pub async fn diff(
    State(st): State<AppState>,
    _: Viewer,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let key = id.clone();
    let found = db(&st.store, move |s| {
        let Some(j) = s.job(&key)? else {
            return Ok(None);
        };
        let name = s.target(&j.target_id)?.map(|t| t.name);
        Ok(Some((j, name, s.previous_completed(&key)?)))
    })
    .await
    .map_err(ApiError::internal)?;
    let (job, name, previous) = found.ok_or_else(|| ApiError::not_found("scan"))?;
    let prev_id = previous.ok_or_else(|| ApiError::not_found("previous completed scan"))?;
    let (Some(new), Some(old)) = (report_of(&st, &id).await?, report_of(&st, &prev_id).await?)
    else {
        return Err(ApiError::not_found("report"));
    };
    let d = middlebrick_core::diff::compare(&old, &new);
    let page = DiffPage {
        target_name: name.unwrap_or(job.target_url),
        scan_id: id,
        previous_scan_id: prev_id,
        before: Grading::of(&old),
        after: Grading::of(&new),
        changes: Changes::from_diff(&d),
    };
    Ok(html(diff_page(&Site::default(), &page)))
}

pub async fn deliveries(State(st): State<AppState>, _: Viewer) -> ApiResult<Response> {
    let rows = db(&st.store, |s| s.recent_deliveries(100))
        .await
        .map_err(ApiError::internal)?;
    let max_attempts = RetryPolicy::default().max_attempts;
    let rows: Vec<DeliveryRow> = rows
        .iter()
        .filter_map(|(d, url, target)| {
            Some(DeliveryRow {
                delivery: notify::delivery(d)?,
                webhook: url::Url::parse(url).map(|u| webhook_label(&u)).ok()?,
                target_name: target.clone(),
                max_attempts,
            })
        })
        .collect();
    Ok(html(deliveries_page(&Site::default(), &rows)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_naming_a_loopback_host_see_the_dashboard_without_a_key() {
        let lo: Option<IpAddr> = Some("127.0.0.1".parse().unwrap());
        let lo6: Option<IpAddr> = Some("::1".parse().unwrap());
        let lan: Option<IpAddr> = Some("10.0.0.7".parse().unwrap());
        assert!(local_viewer(lo, Some("127.0.0.1:7474")));
        assert!(local_viewer(lo, Some("localhost:7474")));
        assert!(local_viewer(lo6, Some("[::1]:7474")));
        assert!(local_viewer(lo, Some("localhost")));
        // Another machine, whatever it names.
        assert!(!local_viewer(lan, Some("127.0.0.1:7474")));
        // DNS rebinding: a loopback connection naming someone else's host.
        assert!(!local_viewer(lo, Some("evil.example:7474")));
        assert!(!local_viewer(lo, Some("127.0.0.1.evil.example")));
        assert!(!local_viewer(lo, None));
        assert!(!local_viewer(None, Some("127.0.0.1:7474")));
    }
}
