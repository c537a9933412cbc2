//! `middlebrick diff OLD NEW` (report files or history ids): findings matched by fingerprint (`id`), which holds
//! across runs and deployments (docs/report-format.md), so a moved port or a new date is no
//! change and a fixed flaw is one.

use crate::args::DiffArgs;
use crate::exit;
use anyhow::{anyhow, bail, Result};
use middlebrick_model::{Finding, Report, Severity};
use std::collections::HashSet;

pub struct Diff<'a> {
    pub new: Vec<&'a Finding>,
    pub fixed: Vec<&'a Finding>,
    pub unchanged: Vec<&'a Finding>,
}

pub fn compare<'a>(old: &'a Report, new: &'a Report) -> Diff<'a> {
    let old_ids: HashSet<&str> = old.findings.iter().map(|f| f.id.as_str()).collect();
    let new_ids: HashSet<&str> = new.findings.iter().map(|f| f.id.as_str()).collect();
    let sort = |mut v: Vec<&'a Finding>| {
        v.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.location().cmp(&b.location()))
                .then_with(|| a.id.cmp(&b.id))
        });
        v
    };
    Diff {
        new: sort(
            new.findings
                .iter()
                .filter(|f| !old_ids.contains(f.id.as_str()))
                .collect(),
        ),
        fixed: sort(
            old.findings
                .iter()
                .filter(|f| !new_ids.contains(f.id.as_str()))
                .collect(),
        ),
        unchanged: sort(
            new.findings
                .iter()
                .filter(|f| old_ids.contains(f.id.as_str()))
                .collect(),
        ),
    }
}

fn brief(f: &Finding) -> serde_json::Value {
    serde_json::json!({
        "id": f.id,
        "check": f.check,
        "severity": f.severity,
        "title": f.title,
        "method": f.method,
        "path": f.path,
        "parameter": f.parameter,
    })
}

fn json(d: &Diff, old: &Report, new: &Report) -> String {
    let list = |v: &[&Finding]| v.iter().map(|f| brief(f)).collect::<Vec<_>>();
    let doc = serde_json::json!({
        "old": { "started_at": old.started_at, "score": old.score, "grade": old.grade },
        "new": { "started_at": new.started_at, "score": new.score, "grade": new.grade },
        "new_findings": list(&d.new),
        "fixed_findings": list(&d.fixed),
        "unchanged_findings": list(&d.unchanged),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

pub fn terminal(d: &Diff, old: &Report, new: &Report) -> String {
    let mut out = format!(
        "score {} ({}) -> {} ({}): {} new, {} fixed, {} unchanged\n",
        old.score,
        old.grade.as_str(),
        new.score,
        new.grade.as_str(),
        d.new.len(),
        d.fixed.len(),
        d.unchanged.len()
    );
    for (label, list) in [
        ("new", &d.new),
        ("fixed", &d.fixed),
        ("unchanged", &d.unchanged),
    ] {
        if list.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{label}:\n"));
        for f in list.iter() {
            let param = f
                .parameter
                .as_deref()
                .map(|p| format!(" [{p}]"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {:<8} {:<30} {}{param}  {}  ({})\n",
                f.severity.as_str(),
                f.check.as_str(),
                f.location(),
                f.title,
                f.id
            ));
        }
    }
    out
}

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
    let text = match args.format.as_str() {
        "json" => json(&d, &old, &new),
        "terminal" | "text" => terminal(&d, &old, &new),
        other => bail!("unknown format `{other}` for `diff` (terminal or json)"),
    };
    print!("{text}");
    if let Some(t) = fail_on {
        let n = d.new.iter().filter(|f| f.severity >= t).count();
        if n > 0 {
            eprintln!("gate failed: {n} new finding(s) at or above {t}");
            return Ok(exit::GATE_FAILED);
        }
    }
    Ok(exit::OK)
}
