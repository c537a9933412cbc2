//! `middlebrick diff OLD NEW` (report files or history ids): findings matched by fingerprint (`id`), which holds
//! across runs and deployments (docs/report-format.md), so a moved port or a new date is no
//! change and a fixed flaw is one.
//!
//! A finding missing from the new report is "fixed" only when the new scan ran its check on
//! that operation, reached the operation and ran to the end (`Report::not_retested`); otherwise
//! it is "not re-tested", with why. A `--checks` scan never fixes what it did not look at.

use crate::args::DiffArgs;
use crate::exit;
use anyhow::{anyhow, bail, Result};
use middlebrick_model::{Finding, Report, Severity};
use std::collections::HashSet;

pub struct Diff<'a> {
    pub new: Vec<&'a Finding>,
    pub fixed: Vec<&'a Finding>,
    /// Old findings absent from the new report whose check did not test them again, with why.
    pub not_retested: Vec<(&'a Finding, String)>,
    pub unchanged: Vec<&'a Finding>,
    /// Why the two reports may not be comparable (different targets, modes, sources).
    pub warnings: Vec<String>,
}

/// Differences between two scans' set-ups that make "new" and "fixed" mean less.
fn warnings(old: &Report, new: &Report) -> Vec<String> {
    let mut w = Vec::new();
    let mut differ = |what: &str, a: &str, b: &str| {
        if a != b {
            w.push(format!("the two scans have different {what}: {a} and {b}"));
        }
    };
    differ("targets", &old.target, &new.target);
    differ("modes", old.mode.as_str(), new.mode.as_str());
    differ(
        "operation sources",
        &old.coverage.source,
        &new.coverage.source,
    );
    let selection = |r: &Report| {
        let c = &r.coverage.checks;
        let chosen = c
            .iter()
            .filter(|c| c.reason.as_deref() != Some("not selected"))
            .count();
        if chosen == c.len() {
            format!("all {} checks", c.len())
        } else {
            format!("{chosen} of {} checks selected", c.len())
        }
    };
    if !old.coverage.checks.is_empty() && !new.coverage.checks.is_empty() {
        differ("check selections", &selection(old), &selection(new));
    }
    let ids = |r: &Report| {
        let mut v = r.identities.clone();
        v.sort();
        v.join(", ")
    };
    let (a, b) = (ids(old), ids(new));
    differ("signed-in identities", &a, &b);
    w
}

pub fn compare<'a>(old: &'a Report, new: &'a Report) -> Diff<'a> {
    let old_ids: HashSet<&str> = old.findings.iter().map(|f| f.id.as_str()).collect();
    let new_ids: HashSet<&str> = new.findings.iter().map(|f| f.id.as_str()).collect();
    let gone: Vec<(&'a Finding, Option<String>)> = old
        .findings
        .iter()
        .filter(|f| !new_ids.contains(f.id.as_str()))
        .map(|f| (f, new.not_retested(f.check, operation(f).as_deref())))
        .collect();
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
            gone.iter()
                .filter(|(_, why)| why.is_none())
                .map(|(f, _)| *f)
                .collect(),
        ),
        not_retested: sort(
            gone.iter()
                .filter(|(_, why)| why.is_some())
                .map(|(f, _)| *f)
                .collect(),
        )
        .into_iter()
        .map(|f| {
            (
                f,
                new.not_retested(f.check, operation(f).as_deref())
                    .unwrap_or_default(),
            )
        })
        .collect(),
        unchanged: sort(
            new.findings
                .iter()
                .filter(|f| old_ids.contains(f.id.as_str()))
                .collect(),
        ),
        warnings: warnings(old, new),
    }
}

/// The operation a finding is on, as coverage records name it; none for API-wide findings.
fn operation(f: &Finding) -> Option<String> {
    f.method.is_some().then(|| f.location())
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
        "not_retested_findings": d.not_retested.iter().map(|(f, why)| {
            let mut b = brief(f);
            b["why"] = serde_json::json!(why);
            b
        }).collect::<Vec<_>>(),
        "warnings": d.warnings,
        "unchanged_findings": list(&d.unchanged),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

pub fn terminal(d: &Diff, old: &Report, new: &Report) -> String {
    let mut out = format!(
        "score {} ({}) -> {} ({}): {} new, {} fixed, {} not re-tested, {} unchanged\n",
        old.score,
        old.grade.as_str(),
        new.score,
        new.grade.as_str(),
        d.new.len(),
        d.fixed.len(),
        d.not_retested.len(),
        d.unchanged.len()
    );
    let line = |f: &Finding| {
        let param = f
            .parameter
            .as_deref()
            .map(|p| format!(" [{p}]"))
            .unwrap_or_default();
        format!(
            "  {:<8} {:<30} {}{param}  {}  ({})\n",
            f.severity.as_str(),
            f.check.as_str(),
            f.location(),
            f.title,
            f.id
        )
    };
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
            out.push_str(&line(f));
        }
    }
    if !d.not_retested.is_empty() {
        out.push_str("\nnot re-tested (absent from the new report, but not looked for there):\n");
        for (f, why) in &d.not_retested {
            out.push_str(&line(f));
            out.push_str(&format!("           {why}\n"));
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
