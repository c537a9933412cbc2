//! `middlebrick mcp`: glue between the command line and `middlebrick_mcp`. A tool call's
//! arguments are resolved exactly as the same `scan` flags would be, so the config file format
//! stays the binary's alone.

use crate::args::{Cli, Command, McpArgs};
use crate::{config, exit, history};
use clap::Parser;
use middlebrick_mcp::types::ScanApiInput;
use middlebrick_mcp::{Allowlist, Options, Resolve};
use middlebrick_store::Store;
use std::sync::Arc;

fn resolve(input: &ScanApiInput) -> Result<middlebrick_engine::ScanConfig, String> {
    let mut argv = vec![
        "middlebrick".to_string(),
        "scan".into(),
        input.url.clone(),
        "--no-history".into(),
    ];
    if let Some(s) = &input.spec {
        argv.extend(["--spec".into(), s.clone()]);
    }
    if let Some(c) = &input.config {
        argv.extend(["--config".into(), c.clone()]);
    }
    if let Some(m) = input.mode {
        argv.extend(["--mode".into(), m.as_str().into()]);
    }
    if let Some(list) = input.checks.as_ref().filter(|l| !l.is_empty()) {
        argv.extend(["--checks".into(), list.join(",")]);
    }
    // No --callback-* flag is ever added here (nor read from a config file): a scan started
    // through MCP binds at most the default loopback listener of injection.ssrf.
    let args = match Cli::try_parse_from(argv)
        .map_err(|e| e.to_string())?
        .command
    {
        Command::Scan(a) => a,
        _ => return Err("internal: not a scan".into()),
    };
    let file = match &args.config {
        Some(path) => config::read_file(path).map_err(|e| format!("{e:#}"))?,
        None => config::FileConfig::default(),
    };
    config::resolve(&args, file).map_err(|e| format!("{e:#}"))
}

pub fn run(args: &McpArgs, log_redactor: Arc<middlebrick_model::Redactor>) -> i32 {
    let store = if args.no_history {
        Store::open_in_memory().map_err(anyhow::Error::from)
    } else {
        history::open(&args.history)
    };
    let store = match store {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return exit::USAGE;
        }
    };
    let opts = Options {
        allow: Allowlist {
            hosts: args.allow_hosts.clone(),
        },
        allow_active: args.allow_active,
        allow_disposable: args.allow_disposable,
        log_redactor: middlebrick_mcp::LogRedactor(log_redactor),
    };
    let resolver: Resolve = Arc::new(resolve);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::SCAN_FAILED;
        }
    };
    match runtime.block_on(middlebrick_mcp::serve_stdio(store, opts, resolver)) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::SCAN_FAILED
        }
    }
}
