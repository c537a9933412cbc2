//! The loops every service process runs: workers (claim, heartbeat, scan, write), the reaper
//! (expired leases back to the queue), and in `serve` the scheduler (due targets queued).
//! Store calls block (both backends are synchronous), so each runs on a blocking thread.

use crate::notify::{self, Finished, StoreDeliveries};
use crate::scan;
use crate::seal::Sealer;
use middlebrick_core::Allowlist;
use middlebrick_store::service::{Claimed, ServiceStore};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Milliseconds since the Unix epoch, the store's clock.
pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

/// Runs `f` on the store from async code.
pub async fn db<T: Send + 'static>(
    store: &Arc<ServiceStore>,
    f: impl FnOnce(&ServiceStore) -> middlebrick_store::Result<T> + Send + 'static,
) -> Result<T, String> {
    let s = store.clone();
    tokio::task::spawn_blocking(move || f(&s))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub id: String,
    pub lease: Duration,
    pub poll: Duration,
    /// How long a stopping worker lets its scan finish before giving the job back.
    pub grace: Duration,
    pub allow: Allowlist,
    pub allow_active: bool,
    pub sealer: Sealer,
}

/// Claims and runs jobs until `stop`; then finishes (or, after the grace period, gives back)
/// the scan in hand.
pub async fn worker(store: Arc<ServiceStore>, cfg: WorkerConfig, stop: CancellationToken) {
    let lease_ms = cfg.lease.as_millis() as i64;
    while !stop.is_cancelled() {
        let id = cfg.id.clone();
        let asked = std::time::Instant::now();
        let claimed = match db(&store, move |s| s.claim(&id, lease_ms, now_ms())).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("claim failed: {e}");
                None
            }
        };
        match claimed {
            Some(c) => {
                let claim_ms = asked.elapsed().as_secs_f64() * 1000.0;
                tracing::info!(job = %c.job.id, claim_ms = format!("{claim_ms:.2}"), "claimed");
                run_job(&store, &cfg, c, &stop).await
            }
            None => {
                tokio::select! {
                    () = stop.cancelled() => {}
                    () = tokio::time::sleep(cfg.poll) => {}
                }
            }
        }
    }
}

async fn run_job(
    store: &Arc<ServiceStore>,
    cfg: &WorkerConfig,
    c: Claimed,
    stop: &CancellationToken,
) {
    let job_id = c.job.id.clone();
    tracing::info!(job = %job_id, target = %c.target.id, attempt = c.job.attempts, "scan started");
    let lease_ms = cfg.lease.as_millis() as i64;
    let scan_cancel = CancellationToken::new();
    let lost = CancellationToken::new();
    let beat = {
        let (store, id, worker) = (store.clone(), job_id.clone(), cfg.id.clone());
        let (scan_cancel, lost) = (scan_cancel.clone(), lost.clone());
        let every = cfg.lease / 3;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let (id, worker) = (id.clone(), worker.clone());
                match db(&store, move |s| {
                    s.heartbeat(&id, &worker, lease_ms, now_ms())
                })
                .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        // The reaper gave the job to the queue: stop, write nothing.
                        lost.cancel();
                        scan_cancel.cancel();
                        return;
                    }
                    Err(e) => tracing::warn!("heartbeat failed: {e}"),
                }
            }
        })
    };
    let grace = {
        let (stop, scan_cancel, grace) = (stop.clone(), scan_cancel.clone(), cfg.grace);
        tokio::spawn(async move {
            stop.cancelled().await;
            tokio::time::sleep(grace).await;
            scan_cancel.cancel();
        })
    };
    let result = prepare(cfg, &c).map(|conf| scan::run_scan(conf, scan_cancel.clone()));
    let result = match result {
        Ok(fut) => fut.await,
        Err(e) => Err(e),
    };
    beat.abort();
    grace.abort();
    let (id, worker) = (job_id.clone(), cfg.id.clone());
    let mut finished = None;
    let written = if lost.is_cancelled() {
        Ok(false)
    } else if scan_cancel.is_cancelled() {
        // Stopped by SIGTERM after the grace period: the next worker runs it again.
        db(store, move |s| s.release(&id, &worker)).await
    } else {
        match result {
            Ok((report, redactor)) => {
                let done = scan::completion(&report);
                finished = Some(Finished::Completed(Box::new(report), redactor));
                db(store, move |s| s.complete(&id, &worker, &done, now_ms())).await
            }
            Err(e) => {
                finished = Some(Finished::Failed(e.clone()));
                db(store, move |s| s.fail(&id, &worker, &e, now_ms())).await
            }
        }
    };
    match written {
        Ok(true) => {
            tracing::info!(job = %job_id, "scan finished");
            // Only the process that wrote the result alerts, so a re-run job alerts once.
            if let Some(f) = finished {
                let deliveries = StoreDeliveries {
                    store: store.clone(),
                    sealer: cfg.sealer.clone(),
                };
                match notify::scan_finished(&deliveries, &c.target, &job_id, f).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(job = %job_id, deliveries = n, "alerts queued"),
                    Err(e) => tracing::warn!(job = %job_id, "queueing alerts failed: {e}"),
                }
            }
        }
        Ok(false) => tracing::warn!(job = %job_id, "lease lost: another worker runs this scan"),
        Err(e) => tracing::warn!(job = %job_id, "writing the result failed: {e}"),
    }
}

/// The engine configuration for a claimed job, resolved by core from the target's scan
/// request, within this process's allowlist and modes.
fn prepare(cfg: &WorkerConfig, c: &Claimed) -> Result<middlebrick_engine::ScanConfig, String> {
    let headers = match &c.sealed_headers {
        Some(s) => cfg.sealer.open(s)?,
        None => Vec::new(),
    };
    let request = scan::request_of(&c.target, &headers)?;
    scan::resolve(&request, &cfg.allow, cfg.allow_active)
}

/// Returns expired leases to the queue every `every`.
pub async fn reaper(store: Arc<ServiceStore>, every: Duration, stop: CancellationToken) {
    while !stop.is_cancelled() {
        match db(&store, |s| s.reap(now_ms())).await {
            Ok(r) if r.requeued + r.dead > 0 => {
                tracing::info!(
                    requeued = r.requeued,
                    dead = r.dead,
                    "expired leases reaped"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("reaper: {e}"),
        }
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Queues a scan of every target whose schedule is due, once a second.
pub async fn scheduler(store: Arc<ServiceStore>, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let queued = db(&store, |s| {
            let now = now_ms();
            s.enqueue_due(now, |t| {
                let (k, v) = (t.schedule_kind.as_deref()?, t.schedule.as_deref()?);
                crate::schedule::next_after(k, v, now).ok()
            })
        })
        .await;
        match queued {
            Ok(ids) if !ids.is_empty() => {
                tracing::info!(count = ids.len(), "scheduled scans queued")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("scheduler: {e}"),
        }
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
