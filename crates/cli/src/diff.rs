//! `middlebrick diff OLD NEW` (report files or history ids). What counts as new, fixed,
//! regressed or not re-tested is `middlebrick_core::diff`, shared with `--compare-last`, the
//! MCP server and the monitoring service.

use crate::args::DiffArgs;
use crate::exit;
use anyhow::{anyhow, bail, Result};
use middlebrick_core::diff::{compare, json, terminal};
use middlebrick_model::Severity;

pub fn run(args: &DiffArgs) -> i32 {
    match diff(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::USAGE
        }
    }
}

fn diff(args: &DiffArgs) -> Result<i32> {
    let fail_on: Option<Severity> = args
        .fail_on
        .as_deref()
        .map(|s| s.parse().map_err(|e: String| anyhow!(e)))
        .transpose()?;
    let old = crate::history::load_report(&args.old, &args.history)?;
    let new = crate::history::load_report(&args.new, &args.history)?;
    let d = compare(&old, &new);
    for w in &d.warnings {
        eprintln!("warning: {w}");
    }
    let text = match args.format.as_str() {
        "json" => json(&d, &old, &new),
        "terminal" | "text" => terminal(&d, &old, &new),
        other => bail!("unknown format `{other}` for `diff` (terminal or json)"),
    };
    crate::output::stdout(&text)?;
    if let Some(t) = fail_on {
        let n = d.new.iter().filter(|f| f.severity >= t).count();
        if n > 0 {
            eprintln!("gate failed: {n} new finding(s) at or above {t}");
            return Ok(exit::GATE_FAILED);
        }
    }
    Ok(exit::OK)
}
