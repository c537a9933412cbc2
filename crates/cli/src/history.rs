//! `middlebrick history`, and the scan command's use of the history: a `running` row before
//! the scan, the outcome after it, `--compare-last`. The SQL is in `middlebrick_store`.

use crate::args::{HistoryArgs, HistoryCommand, HistoryPath, HistoryShowArgs};
use crate::{catalogue, exit, output};
use anyhow::{anyhow, bail, Context, Result};
use middlebrick_core::record;
use middlebrick_engine::ScanConfig;
use middlebrick_model::{Redactor, Report};
use middlebrick_report::{render, Format, RenderOptions};
use middlebrick_store::{Filter, ScanId, Status, Store};

pub fn open(h: &HistoryPath) -> Result<Store> {
    Ok(record::open_history(h.path.as_deref())?)
}

/// A scan being recorded (`middlebrick_core::record::Recording`), with the CLI's messages.
pub struct Recording(record::Recording);

impl Recording {
    pub fn start(h: &HistoryPath, cfg: &ScanConfig) -> Result<Recording> {
        Ok(Recording(record::Recording::start(open(h)?, cfg)?))
    }

    pub fn id(&self) -> ScanId {
        self.0.id
    }

    pub fn finish(&mut self, report: &Report, redactor: &Redactor, cancelled: bool) {
        if let Err(e) = self.0.finish(report, redactor, cancelled) {
            eprintln!("warning: the scan was not recorded in the history: {e}");
        }
    }

    pub fn fail(&self, error: &str) {
        let _ = self.0.fail(error);
    }

    /// `--compare-last`: the diff against the previous scan of the target, on stderr.
    pub fn compare_last(&self, report: &Report) {
        match self.0.previous(&report.target) {
            Ok(Some((prev, old))) => {
                let d = middlebrick_core::diff::compare(&old, report);
                for w in &d.warnings {
                    eprintln!("compare-last: warning: {w}");
                }
                eprint!(
                    "compare-last: since scan {prev}: {}",
                    middlebrick_core::diff::terminal(&d, &old, report)
                );
            }
            Ok(None) => eprintln!(
                "compare-last: no earlier scan of {} recorded",
                report.target
            ),
            Err(middlebrick_core::CoreError::NoReport(prev)) => {
                eprintln!("compare-last: scan {prev} has no report")
            }
            Err(e) => eprintln!("compare-last: {e}"),
        }
    }
}

pub fn run(args: &HistoryArgs) -> i32 {
    let result = match &args.command {
        Some(HistoryCommand::Show(s)) => show(s),
        None => list(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::USAGE
        }
    }
}

fn list(args: &HistoryArgs) -> Result<i32> {
    let store = open(&args.history)?;
    let rows = store
        .list(&Filter {
            target: args.target.clone(),
            limit: args.limit,
            offset: 0,
        })
        .map_err(|e| anyhow!(e))?;
    match args.format.as_str() {
        "json" => {
            output::stdout(&(serde_json::to_string_pretty(&rows)? + "\n"))?;
        }
        "terminal" | "text" => {
            if rows.is_empty() {
                eprintln!("no scans recorded");
                return Ok(exit::OK);
            }
            let mut text = format!(
                "{:>5}  {:<20}  {:<9}  {:>8}  {:<11}  TARGET\n",
                "SCAN", "STARTED (UTC)", "SCORE", "FINDINGS", "STATUS"
            );
            for r in &rows {
                let score = match (r.score, &r.grade) {
                    (Some(s), Some(g)) => format!("{s:>3} {g}"),
                    _ => "-".to_string(),
                };
                text.push_str(&format!(
                    "{:>5}  {:<20}  {score:<9}  {:>8}  {:<11}  {}\n",
                    r.id,
                    readable_time(&r.started_at),
                    r.finding_count.map_or("-".to_string(), |n| n.to_string()),
                    r.status.label(),
                    r.target
                ));
            }
            output::stdout(&text)?;
        }
        other => bail!("unknown format `{other}` for `history` (terminal or json)"),
    }
    Ok(exit::OK)
}

fn show(args: &HistoryShowArgs) -> Result<i32> {
    let format: Format = args.format.parse().map_err(|e| anyhow!("{e}"))?;
    let store = open(&args.history)?;
    let summary = store.get(args.id).map_err(|e| anyhow!(e))?;
    let Some(report) = store.report(args.id).map_err(|e| anyhow!(e))? else {
        bail!(
            "scan {} recorded no report ({}{})",
            args.id,
            summary.status.label(),
            summary
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    };
    if summary.status != Status::Complete {
        eprintln!(
            "note: scan {} is {}; its findings are those found before it stopped",
            args.id,
            summary.status.label()
        );
    }
    let opts = RenderOptions {
        color: output::stdout_color(),
        verbose: args.verbose,
        spec_file: None,
        rules: catalogue::rules(),
    };
    output::stdout(&render(&report, format, &opts, &Redactor::new()))?;
    Ok(exit::OK)
}

/// `2026-12-07T05:24:01.123Z` as `2026-12-07 05:24:01`; anything else as it is.
fn readable_time(rfc3339: &str) -> String {
    let t = rfc3339.trim_end_matches('Z');
    let t = t.split('.').next().unwrap_or(t);
    match t.split_once('T') {
        Some((d, h)) if d.len() == 10 && h.len() == 8 => format!("{d} {h}"),
        _ => rfc3339.to_string(),
    }
}

/// A `diff` operand: a report file when one exists at that path, else a history id.
pub fn load_report(operand: &str, h: &HistoryPath) -> Result<Report> {
    let p = std::path::Path::new(operand);
    if p.exists() {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("reading the report {}", p.display()))?;
        return serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a middlebrick JSON report (scan --format json)",
                p.display()
            )
        });
    }
    let Ok(id) = operand.parse::<ScanId>() else {
        bail!("{operand} is neither a report file nor a history id");
    };
    Ok(record::load(&open(h)?, id)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_read_as_date_and_clock() {
        assert_eq!(
            super::readable_time("2026-12-07T05:24:01.123456Z"),
            "2026-12-07 05:24:01"
        );
        assert_eq!(
            super::readable_time("2026-12-07T05:24:01Z"),
            "2026-12-07 05:24:01"
        );
        assert_eq!(super::readable_time("yesterday"), "yesterday");
    }
}
