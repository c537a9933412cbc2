//! What changed between two scans: findings matched by fingerprint (`id`), which holds across
//! runs and deployments (docs/report-format.md), so a moved port or a new date is no change
//! and a fixed flaw is one.
//!
//! A finding missing from the new report is "fixed" only when the new scan ran its check on
//! that operation, reached the operation and ran to the end (`Report::not_retested`);
//! otherwise it is "not re-tested", with why. A `--checks` scan never fixes what it did not
//! look at. A finding in both whose severity rose is "regressed"; so is a new finding that an
//! earlier scan had already reported and a later one fixed ([`Diff::reopened`]).

use middlebrick_model::{Finding, Report};
use std::collections::HashSet;

#[derive(Debug)]
pub struct Diff<'a> {
    pub new: Vec<&'a Finding>,
    pub fixed: Vec<&'a Finding>,
    /// In both reports with a higher severity now, or reported before, fixed, and back.
    pub regressed: Vec<&'a Finding>,
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

fn sorted(mut v: Vec<&Finding>) -> Vec<&Finding> {
    v.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.location().cmp(&b.location()))
            .then_with(|| a.id.cmp(&b.id))
    });
    v
}

/// The operation a finding is on, as coverage records name it; none for API-wide findings.
pub fn operation(f: &Finding) -> Option<String> {
    f.method.is_some().then(|| f.location())
}

pub fn compare<'a>(old: &'a Report, new: &'a Report) -> Diff<'a> {
    let new_ids: HashSet<&str> = new.findings.iter().map(|f| f.id.as_str()).collect();
    let before = |f: &Finding| old.findings.iter().find(|o| o.id == f.id);
    let mut fixed = Vec::new();
    let mut not_retested = Vec::new();
    for f in old
        .findings
        .iter()
        .filter(|f| !new_ids.contains(f.id.as_str()))
    {
        match new.not_retested(f.check, operation(f).as_deref()) {
            None => fixed.push(f),
            Some(why) => not_retested.push((f, why)),
        }
    }
    let order: Vec<&Finding> = sorted(not_retested.iter().map(|(f, _)| *f).collect());
    let not_retested = order
        .into_iter()
        .map(|f| {
            let why = not_retested
                .iter()
                .find(|(g, _)| g.id == f.id)
                .map(|(_, w)| w.clone())
                .unwrap_or_default();
            (f, why)
        })
        .collect();
    let (mut unchanged, mut regressed, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for f in &new.findings {
        match before(f) {
            None => added.push(f),
            Some(o) if f.severity > o.severity => regressed.push(f),
            Some(_) => unchanged.push(f),
        }
    }
    Diff {
        new: sorted(added),
        fixed: sorted(fixed),
        regressed: sorted(regressed),
        not_retested,
        unchanged: sorted(unchanged),
        warnings: warnings(old, new),
    }
}

impl<'a> Diff<'a> {
    /// Moves to `regressed` the new findings whose fingerprints an earlier scan reported (and
    /// a scan after it no longer did): what a service that keeps every scan of a target calls
    /// a regression rather than news.
    pub fn reopened(&mut self, reported_before: &HashSet<String>) {
        let (back, new): (Vec<&'a Finding>, Vec<&'a Finding>) = self
            .new
            .iter()
            .partition(|f| reported_before.contains(&f.id));
        self.new = new;
        self.regressed.extend(back);
        self.regressed = sorted(std::mem::take(&mut self.regressed));
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

/// The diff as `middlebrick diff --format json` writes it.
pub fn json(d: &Diff, old: &Report, new: &Report) -> String {
    let list = |v: &[&Finding]| v.iter().map(|f| brief(f)).collect::<Vec<_>>();
    let mut doc = serde_json::json!({
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
    if !d.regressed.is_empty() {
        doc["regressed_findings"] = serde_json::json!(list(&d.regressed));
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// The diff as text, for a terminal or a log.
pub fn terminal(d: &Diff, old: &Report, new: &Report) -> String {
    let regressed = if d.regressed.is_empty() {
        String::new()
    } else {
        format!(", {} regressed", d.regressed.len())
    };
    let mut out = format!(
        "score {} ({}) -> {} ({}): {} new, {} fixed{regressed}, {} not re-tested, {} unchanged\n",
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
        ("regressed", &d.regressed),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{finding, report};

    const BOLA: &str = "authz.bola";
    const VERBOSE: &str = "info.verbose-error";

    #[test]
    fn new_fixed_regressed_not_retested_and_unchanged_are_told_apart() {
        let ran: &[(&str, &[&str])] = &[(BOLA, &["GET /a", "GET /b"]), (VERBOSE, &["GET /a"])];
        let old = report(
            "http://h",
            ran,
            vec![
                finding("gone", BOLA, "high", Some(("GET", "/a"))),
                finding("kept", VERBOSE, "low", Some(("GET", "/a"))),
                finding("worse", BOLA, "medium", Some(("GET", "/b"))),
                finding("unlooked", VERBOSE, "low", Some(("GET", "/b"))),
            ],
            false,
        );
        let new = report(
            "http://h",
            ran,
            vec![
                finding("kept", VERBOSE, "low", Some(("GET", "/a"))),
                finding("worse", BOLA, "high", Some(("GET", "/b"))),
                finding("fresh", VERBOSE, "medium", Some(("GET", "/a"))),
            ],
            false,
        );
        let d = compare(&old, &new);
        let ids = |v: &[&Finding]| v.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&d.new), ["fresh"]);
        assert_eq!(ids(&d.fixed), ["gone"]);
        assert_eq!(ids(&d.regressed), ["worse"]);
        assert_eq!(ids(&d.unchanged), ["kept"]);
        assert_eq!(d.not_retested.len(), 1);
        assert_eq!(d.not_retested[0].0.id, "unlooked");
        assert!(d.not_retested[0].1.contains("did not run on GET /b"));
        assert!(d.warnings.is_empty());
        let text = terminal(&d, &old, &new);
        assert!(text.contains("1 new, 1 fixed, 1 regressed, 1 not re-tested, 1 unchanged"));
        let doc: serde_json::Value = serde_json::from_str(&json(&d, &old, &new)).unwrap();
        assert_eq!(doc["regressed_findings"][0]["id"], "worse");
    }

    #[test]
    fn an_incomplete_scan_fixes_nothing_and_a_reopened_finding_is_a_regression() {
        let ran: &[(&str, &[&str])] = &[(BOLA, &["GET /a"])];
        let old = report(
            "http://h",
            ran,
            vec![finding("gone", BOLA, "high", Some(("GET", "/a")))],
            false,
        );
        let new = report("http://other", ran, Vec::new(), true);
        let d = compare(&old, &new);
        assert!(d.fixed.is_empty());
        assert_eq!(d.not_retested[0].1, "the scan stopped early");
        assert!(d.warnings.iter().any(|w| w.contains("targets")));
        let back = report(
            "http://h",
            ran,
            vec![finding("gone", BOLA, "high", Some(("GET", "/a")))],
            false,
        );
        let mut d = compare(&new, &back);
        assert_eq!(d.new.len(), 1);
        d.reopened(&HashSet::from(["gone".to_string()]));
        assert!(d.new.is_empty());
        assert_eq!(d.regressed[0].id, "gone");
    }
}
