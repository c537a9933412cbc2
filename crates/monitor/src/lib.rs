//! `middlebrick serve` and `middlebrick worker`: middlebrick as a monitoring service.
//!
//! `serve` is one process that answers the HTTP API ([`api`]), queues scheduled scans and runs
//! scans itself (in-process workers), on SQLite by default; with `--database postgres://…`
//! any number of `worker` processes on other machines claim scans from the same queue. Every
//! process also runs the reaper, which returns the scans of vanished workers to the queue.
//! The database (all of it: SQL, migrations, the queue's locking) is the store crate's
//! (`middlebrick_store::service`); this crate is the HTTP glue and the loops around it, with
//! the alerting and pages: alert rules over scan outcomes (`alerts`), HMAC-signed webhooks with
//! retried deliveries (`webhooks`) and the server-rendered dashboard (`dashboard`), which take
//! plain structs and small traits so they are tested without storage or routing.

pub mod alerts;
pub mod api;
pub mod dashboard;
mod diff;
pub mod notify;
pub mod queue;
pub mod scan;
pub mod schedule;
pub mod seal;
pub mod webhooks;

#[cfg(test)]
mod fixture;

use middlebrick_core::Allowlist;
use middlebrick_store::service::ServiceStore;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("{0}")]
    Store(#[from] middlebrick_store::StoreError),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Key(String),
}

/// What `serve` and `worker` share.
#[derive(Debug, Clone)]
pub struct Options {
    /// `sqlite://PATH` or `postgres://…`.
    pub database: String,
    /// Hosts beyond loopback and private addresses that scans may reach.
    pub allow: Allowlist,
    /// Whether targets may scan in `active` mode (`disposable` is never run by the service).
    pub allow_active: bool,
    /// Where the key that seals contract scans' headers lives when
    /// `MIDDLEBRICK_SERVICE_KEY` is not set.
    pub key_file: Option<PathBuf>,
    /// Scans this process runs at once.
    pub workers: usize,
    pub lease: Duration,
    pub poll: Duration,
    pub grace: Duration,
    /// Checks that scans made by `POST /api/scan` run (every check when empty).
    pub contract_checks: Vec<String>,
    /// The shortest schedule interval (seconds) `serve` accepts for a target.
    pub min_interval: u64,
}

/// How often a process looks for webhook deliveries that are due.
const DELIVERY_EVERY: Duration = Duration::from_secs(2);

/// `sqlite://<data dir>/middlebrick/service.sqlite3`.
pub fn default_database() -> Option<String> {
    middlebrick_store::default_path().and_then(|p| {
        p.parent()
            .map(|d| format!("sqlite://{}", d.join("service.sqlite3").display()))
    })
}

/// `<data dir>/middlebrick/service.key`.
pub fn default_key_file() -> Option<PathBuf> {
    middlebrick_store::default_path().and_then(|p| p.parent().map(|d| d.join("service.key")))
}

fn open(database: &str) -> Result<Arc<ServiceStore>, MonitorError> {
    let database = database.to_string();
    // The PostgreSQL client runs its own runtime: open it off the async threads.
    std::thread::spawn(move || ServiceStore::open(&database))
        .join()
        .map_err(|_| MonitorError::Key("opening the database panicked".into()))?
        .map(Arc::new)
        .map_err(MonitorError::from)
}

fn worker_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &middlebrick_store::service::random_id()[..6]
    )
}

fn spawn_workers(
    store: &Arc<ServiceStore>,
    opts: &Options,
    sealer: seal::Sealer,
    stop: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![tokio::spawn(queue::reaper(
        store.clone(),
        opts.lease / 2,
        stop.clone(),
    ))];
    // Webhook deliveries: sent by every process that can open the signing secrets.
    if sealer.has_key() {
        let deliveries = notify::StoreDeliveries {
            store: store.clone(),
            sealer: sealer.clone(),
        };
        tasks.push(tokio::spawn(notify::deliverer(
            deliveries,
            DELIVERY_EVERY,
            stop.clone(),
        )));
    }
    let base = worker_id();
    for n in 0..opts.workers {
        let cfg = queue::WorkerConfig {
            id: format!("{base}-{n}"),
            lease: opts.lease,
            poll: opts.poll,
            grace: opts.grace,
            allow: opts.allow.clone(),
            allow_active: opts.allow_active,
            sealer: sealer.clone(),
        };
        tasks.push(tokio::spawn(queue::worker(
            store.clone(),
            cfg,
            stop.clone(),
        )));
    }
    tasks
}

/// Serves the API on `listen` until `stop`, with the scheduler, the reaper and
/// `opts.workers` in-process workers. `ready` gets the bound address.
pub async fn serve(
    listen: SocketAddr,
    opts: Options,
    stop: CancellationToken,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), MonitorError> {
    let store = open(&opts.database)?;
    let sealer = seal::Sealer::load(opts.key_file.as_deref(), true).map_err(MonitorError::Key)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| MonitorError::Listen {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(listen);
    let mut tasks = spawn_workers(&store, &opts, sealer.clone(), &stop);
    tasks.push(tokio::spawn(queue::scheduler(store.clone(), stop.clone())));
    let app = api::router(api::AppState {
        store: store.clone(),
        allow: opts.allow.clone(),
        allow_active: opts.allow_active,
        contract_checks: opts.contract_checks.clone(),
        sealer,
        min_interval: opts.min_interval,
    });
    ready(addr);
    let shutdown = stop.clone();
    // The peer address decides who may see the dashboard without a key (`api::pages`).
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    stop.cancel();
    for t in tasks {
        let _ = t.await;
    }
    served.map_err(|source| MonitorError::Listen { addr, source })
}

/// A fleet worker: claims and runs scans (and reaps expired leases) until `stop`.
pub async fn work(opts: Options, stop: CancellationToken) -> Result<(), MonitorError> {
    let store = open(&opts.database)?;
    let sealer = seal::Sealer::load(opts.key_file.as_deref(), false).map_err(MonitorError::Key)?;
    for t in spawn_workers(&store, &opts, sealer, &stop) {
        let _ = t.await;
    }
    Ok(())
}

/// Creates an API key: 32 random bytes shown once as `mb_` and 64 hex characters; the
/// database keeps its SHA-256 only.
pub fn create_key(
    database: &str,
    label: &str,
    scans_per_hour: i64,
) -> Result<(String, String), MonitorError> {
    let store = ServiceStore::open(database)?;
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| MonitorError::Key(e.to_string()))?;
    let secret = format!(
        "mb_{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    );
    let key = store.create_key(&secret, label, scans_per_hour, queue::now_ms())?;
    Ok((key.id, secret))
}

/// Cancels `stop` on SIGTERM or Ctrl-C.
pub fn stop_on_signals(stop: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            if let Ok(mut term) = signal(SignalKind::terminate()) {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            } else {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("stopping: no new scans are claimed");
        stop.cancel();
    });
}
