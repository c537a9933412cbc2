//! `middlebrick serve`, `middlebrick worker`, `middlebrick key create`: glue between the
//! command line and `middlebrick_monitor`.

use crate::args::{KeyArgs, KeyCommand, ServeArgs, ServiceArgs, WorkerArgs};
use crate::exit;
use middlebrick_core::Allowlist;
use middlebrick_monitor::Options;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn database(given: &Option<String>) -> Result<String, String> {
    given
        .clone()
        .or_else(middlebrick_monitor::default_database)
        .ok_or_else(|| "no data directory here: pass --database".to_string())
}

fn options(a: &ServiceArgs) -> Result<Options, String> {
    Ok(Options {
        database: database(&a.database)?,
        allow: Allowlist {
            hosts: a.allow_hosts.clone(),
        },
        allow_active: a.allow_active,
        key_file: a
            .key_file
            .clone()
            .or_else(middlebrick_monitor::default_key_file),
        workers: a.jobs,
        lease: Duration::from_secs(a.lease.max(2)),
        poll: Duration::from_millis(500),
        grace: Duration::from_secs(a.grace),
        contract_checks: Vec::new(),
        min_interval: middlebrick_monitor::schedule::MIN_INTERVAL_SECS,
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn done(r: Result<(), String>) -> i32 {
    match r {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::SCAN_FAILED
        }
    }
}

pub fn serve(a: &ServeArgs) -> i32 {
    done((|| {
        let mut opts = options(&a.service)?;
        opts.contract_checks = a.contract_checks.clone();
        opts.min_interval = a.min_interval;
        let rt = runtime()?;
        rt.block_on(async {
            let stop = CancellationToken::new();
            middlebrick_monitor::stop_on_signals(stop.clone());
            middlebrick_monitor::serve(a.listen, opts, stop, |addr| {
                eprintln!("middlebrick serve: listening on http://{addr}");
            })
            .await
            .map_err(|e| e.to_string())
        })
    })())
}

pub fn worker(a: &WorkerArgs) -> i32 {
    done((|| {
        let opts = options(&a.service)?;
        let rt = runtime()?;
        rt.block_on(async {
            let stop = CancellationToken::new();
            middlebrick_monitor::stop_on_signals(stop.clone());
            eprintln!("middlebrick worker: running {} scan slot(s)", opts.workers);
            middlebrick_monitor::work(opts, stop)
                .await
                .map_err(|e| e.to_string())
        })
    })())
}

pub fn key(a: &KeyArgs) -> i32 {
    match &a.command {
        KeyCommand::Create {
            database: db,
            label,
            scans_per_hour,
        } => done((|| {
            let db = database(db)?;
            let (id, secret) = middlebrick_monitor::create_key(&db, label, *scans_per_hour)
                .map_err(|e| e.to_string())?;
            eprintln!("created key {id} ({label}); it is shown once and cannot be recovered");
            crate::output::stdout(&format!("{secret}\n")).map_err(|e| e.to_string())
        })()),
    }
}
