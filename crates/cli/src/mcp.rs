//! `middlebrick mcp`: glue between the command line and `middlebrick_mcp`. A tool call is
//! resolved by `middlebrick_core` exactly as the same `scan` flags would be.

use crate::args::McpArgs;
use crate::{exit, history};
use middlebrick_mcp::{Allowlist, Options};
use middlebrick_store::Store;
use std::sync::Arc;

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
    match runtime.block_on(middlebrick_mcp::serve_stdio(store, opts)) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::SCAN_FAILED
        }
    }
}
