//! JUnit XML, for the test tabs of CI systems (GitLab, Jenkins, Azure DevOps, …).
//!
//! One `<testsuite>` per check family, one failing `<testcase>` per check and operation with
//! findings (several findings on one operation, say two parameters, share a case, because CI
//! tools show a single failure per case), and one passing case per catalogue check that found
//! nothing. The report does not list operations that passed a check, so a check with findings
//! on some operations gets no passing cases for the others.
//!
//! Written by hand rather than with an XML crate: the document is small and flat, and every
//! piece of text goes through [`xml_escape`], which also drops the control characters XML 1.0
//! forbids (a binary body would otherwise make the file unparsable).

use crate::common::{self, family_counts, refs, sorted_findings, xml_escape};
use crate::RenderOptions;
use middlebrick_model::{CheckId, Finding, Report};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const BODY_LINES: usize = 3;
const BODY_CHARS: usize = 300;

/// The name of the passing case of a check that found nothing.
const ALL_OPERATIONS: &str = "(all operations)";

enum Case<'a> {
    Failed {
        check: CheckId,
        location: String,
        findings: Vec<&'a Finding>,
    },
    Passed {
        check: CheckId,
    },
    /// A catalogue check the scan did not run (the coverage record says why).
    Skipped {
        check: CheckId,
        reason: String,
    },
}

pub fn render(report: &Report, opts: &RenderOptions) -> String {
    let suites = suites(report, opts);
    let tests: usize = suites.values().map(Vec::len).sum();
    let failures = suites
        .values()
        .flatten()
        .filter(|c| matches!(c, Case::Failed { .. }))
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // Read first by whoever opens the file: what the scan tested.
    let _ = writeln!(
        out,
        "<!-- {}: {} -->",
        xml_escape(&report.tool.name),
        xml_escape(&report.coverage.headline()).replace("--", "- -")
    );
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{}\">",
        xml_escape(&report.tool.name),
        seconds(report.duration_ms)
    );
    for (family, cases) in &suites {
        suite(&mut out, family, cases);
    }
    out.push_str("</testsuites>\n");
    out
}

/// Cases grouped by family (alphabetical); failures in reading order, then passing checks.
fn suites<'a>(report: &'a Report, opts: &RenderOptions) -> BTreeMap<&'static str, Vec<Case<'a>>> {
    let mut suites: BTreeMap<&'static str, Vec<Case<'a>>> = family_counts(report, &opts.rules)
        .into_iter()
        .map(|(family, _)| (family, Vec::new()))
        .collect();
    let mut findings = sorted_findings(report);
    // Group by check and location, keeping the most severe finding of a case first.
    findings.sort_by(|a, b| {
        (a.check, a.path.as_deref(), a.method, &a.graphql_operation)
            .cmp(&(b.check, b.path.as_deref(), b.method, &b.graphql_operation))
            .then_with(|| b.severity.cmp(&a.severity))
    });
    for f in findings {
        let cases = suites.entry(f.check.family()).or_default();
        let location = f.location();
        match cases.last_mut() {
            Some(Case::Failed {
                check,
                location: l,
                findings,
            }) if *check == f.check && *l == location => findings.push(f),
            _ => cases.push(Case::Failed {
                check: f.check,
                location,
                findings: vec![f],
            }),
        }
    }
    let mut seen = Vec::new();
    for rule in &opts.rules {
        if seen.contains(&rule.id) || report.findings.iter().any(|f| f.check == rule.id) {
            continue;
        }
        seen.push(rule.id);
        let skipped = report
            .coverage
            .checks
            .iter()
            .find(|c| c.check == rule.id && !c.ran);
        suites
            .entry(rule.id.family())
            .or_default()
            .push(match skipped {
                Some(c) => Case::Skipped {
                    check: rule.id,
                    reason: c.reason.clone().unwrap_or_else(|| "not run".into()),
                },
                None => Case::Passed { check: rule.id },
            });
    }
    suites
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn suite(out: &mut String, family: &str, cases: &[Case<'_>]) {
    let failures = cases
        .iter()
        .filter(|c| matches!(c, Case::Failed { .. }))
        .count();
    let skipped = cases
        .iter()
        .filter(|c| matches!(c, Case::Skipped { .. }))
        .count();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        xml_escape(family),
        cases.len()
    );
    for case in cases {
        match case {
            Case::Passed { check } => {
                let _ = writeln!(
                    out,
                    "    <testcase classname=\"{check}\" name=\"{ALL_OPERATIONS}\"/>"
                );
            }
            Case::Skipped { check, reason } => {
                let _ = writeln!(
                    out,
                    "    <testcase classname=\"{check}\" name=\"{ALL_OPERATIONS}\">\
                     <skipped message=\"{}\"/></testcase>",
                    xml_escape(reason)
                );
            }
            Case::Failed {
                check,
                location,
                findings,
            } => failed_case(out, *check, location, findings),
        }
    }
    out.push_str("  </testsuite>\n");
}

fn failed_case(out: &mut String, check: CheckId, location: &str, findings: &[&Finding]) {
    let first = findings[0];
    let mut message = format!("{}: {}", first.severity, first.title);
    if findings.len() > 1 {
        let _ = write!(message, " (and {} more)", findings.len() - 1);
    }
    let body: Vec<String> = findings.iter().map(|f| failure_text(f)).collect();
    let _ = writeln!(
        out,
        "    <testcase classname=\"{check}\" name=\"{}\">\n      \
         <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
        xml_escape(location),
        xml_escape(&message),
        first.severity,
        xml_escape(&body.join("\n\n"))
    );
}

/// What a CI reader needs to act on one finding: what, where, the evidence in brief, how to
/// reproduce and what to change.
fn failure_text(f: &Finding) -> String {
    let mut t = format!("[{}] {}", f.severity, f.title);
    if let Some(p) = &f.parameter {
        let _ = write!(t, " [{p}]");
    }
    let _ = write!(t, " (confidence: {}", f.confidence);
    let r = refs(&f.cwe, &f.owasp);
    if !r.is_empty() {
        let _ = write!(t, "; {r}");
    }
    let _ = writeln!(t, ")\n{}", f.description.trim());
    for ex in &f.evidence.exchanges {
        let outcome = match (&ex.response, &ex.error) {
            (Some(r), _) => r.status.to_string(),
            (None, Some(e)) => format!("no response ({e})"),
            (None, None) => "no response".into(),
        };
        let _ = writeln!(
            t,
            "Evidence: {} {} as {} -> {outcome}",
            ex.request.method, ex.request.url, ex.identity
        );
        if let Some(resp) = ex.response.as_ref().filter(|r| !r.body.text.is_empty()) {
            let (text, cut) = common::excerpt(&resp.body, BODY_LINES, BODY_CHARS);
            for line in text.lines() {
                let _ = writeln!(t, "  | {line}");
            }
            if cut {
                let _ = writeln!(t, "  {}", common::cut_marker(&resp.body, &text));
            }
        }
    }
    for note in &f.evidence.notes {
        let _ = writeln!(t, "Note: {note}");
    }
    for curl in &f.evidence.curl {
        let _ = writeln!(t, "Reproduce: {curl}");
    }
    if !f.remediation.trim().is_empty() {
        let _ = writeln!(t, "Remediation: {}", f.remediation.trim());
    }
    let _ = write!(t, "Finding id: {}", f.id);
    t
}

#[cfg(test)]
mod tests;
