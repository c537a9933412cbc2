//! SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.
//!
//! Rules come from the caller's check catalogue, in its order, so `ruleIndex` is the index of
//! the rule in that same list (nuclei shipped an off-by-one here that no test caught). A
//! finding whose check is missing from the catalogue still gets a rule, appended and built
//! from the finding, so every result's `ruleIndex` resolves.
//!
//! An API has no source lines, so every result carries a logical location (`GET /path`). When
//! the caller names the spec file, results also point at the line of the operation in it,
//! found by a textual search: good enough for a reviewer to land near the right place, and no
//! YAML parser in this crate. GitHub only shows results that have such a physical location.
//!
//! Without a local spec file (fetched over HTTP, or crawled) there is no file to point into,
//! so the artifact is the endpoint itself: the operation's path relative to the uriBaseId
//! `TARGET`, which `originalUriBaseIds` resolves to the scanned base URL. That keeps every
//! result uploadable, stable across runs (no line numbers that move) and honest (no made-up
//! file). API-wide findings point at the base (`./`).

use crate::common::{self, refs, sorted_findings};
use crate::{RenderOptions, RuleInfo};
use middlebrick_model::{CheckId, Confidence, DiagnosticLevel, Finding, Method, Report, Severity};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
const INFORMATION_URI: &str = "https://github.com/middlebrick/middlebrick";
/// The uriBaseId of endpoint locations (see the module docs).
pub const TARGET_BASE_ID: &str = "TARGET";
/// The key of our fingerprint in `partialFingerprints`; bump `/v1` if `Finding::id` changes
/// meaning, so code scanning does not match old alerts with new ones.
pub const FINGERPRINT_KEY: &str = "middlebrickFindingId/v1";

pub fn render(report: &Report, opts: &RenderOptions) -> String {
    let rules = rule_list(report, &opts.rules);
    let index: HashMap<CheckId, usize> = rules.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let spec = opts.spec_file.as_deref().map(SpecFile::load);
    let results: Vec<Value> = sorted_findings(report)
        .into_iter()
        .map(|f| result(f, index[&f.check], spec.as_ref()))
        .collect();
    let doc = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": report.tool.name,
                "version": report.tool.version,
                "semanticVersion": report.tool.version,
                "informationUri": INFORMATION_URI,
                "rules": rules.iter().map(rule).collect::<Vec<_>>(),
            }},
            "invocations": [invocation(report)],
            "originalUriBaseIds": base_ids(report, spec.is_some()),
            "results": results,
            "properties": {
                "target": report.target,
                "mode": report.mode.as_str(),
                "score": report.score,
                "grade": report.grade.as_str(),
                "partialCoverage": report.coverage.partial,
            },
        }],
    });
    let mut out = serde_json::to_string_pretty(&doc).expect("a JSON value always serialises");
    out.push('\n');
    out
}

/// The catalogue without duplicate ids (first wins), then rules for checks that have findings
/// but are not in the catalogue.
fn rule_list(report: &Report, catalogue: &[RuleInfo]) -> Vec<RuleInfo> {
    let mut rules: Vec<RuleInfo> = Vec::new();
    for r in catalogue {
        if !rules.iter().any(|x| x.id == r.id) {
            rules.push(r.clone());
        }
    }
    for f in sorted_findings(report) {
        if !rules.iter().any(|x| x.id == f.check) {
            rules.push(RuleInfo {
                id: f.check,
                title: f.title.clone(),
                severity: f.severity,
                cwe: f.cwe.clone(),
                owasp: f.owasp.clone(),
                description: f.title.clone(),
                remediation: f.remediation.clone(),
            });
        }
    }
    rules
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity`: a CVSS-like score as a string; it maps >= 9.0 to critical,
/// >= 7.0 high, >= 4.0 medium, > 0 low.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// `auth.missing-authentication` -> `MissingAuthentication`: SARIF wants a readable identifier.
fn rule_name(id: CheckId) -> String {
    let name = id.as_str().split_once('.').map_or(id.as_str(), |(_, n)| n);
    name.split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|h| h.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn rule(r: &RuleInfo) -> Value {
    let mut tags = vec!["security".to_string()];
    tags.extend(r.cwe.iter().map(|c| format!("external/cwe/cwe-{c}")));
    tags.extend(r.owasp.iter().map(|o| o.code().to_string()));
    let mut markdown = format!("**Remediation.** {}", r.remediation);
    let cwe_links: Vec<String> = r
        .cwe
        .iter()
        .map(|c| format!("[CWE-{c}](https://cwe.mitre.org/data/definitions/{c}.html)"))
        .chain(
            r.owasp
                .iter()
                .map(|o| format!("OWASP {} {}", o.code(), o.title())),
        )
        .collect();
    if !cwe_links.is_empty() {
        markdown.push_str("\n\nReferences: ");
        markdown.push_str(&cwe_links.join(", "));
    }
    json!({
        "id": r.id.as_str(),
        "name": rule_name(r.id),
        "shortDescription": { "text": r.title },
        "fullDescription": { "text": non_empty(&r.description, &r.title) },
        "help": { "text": non_empty(&r.remediation, &r.title), "markdown": markdown },
        "defaultConfiguration": { "level": level(r.severity) },
        "properties": {
            "tags": tags,
            "security-severity": security_severity(r.severity),
        },
    })
}

/// SARIF messages must not be empty; fall back rather than emit an invalid document.
fn non_empty<'a>(s: &'a str, fallback: &'a str) -> &'a str {
    if s.trim().is_empty() {
        fallback
    } else {
        s
    }
}

fn confidence(c: Confidence) -> &'static str {
    match c {
        Confidence::Tentative => "tentative",
        Confidence::Firm => "firm",
        Confidence::Confirmed => "confirmed",
    }
}

fn result(f: &Finding, rule_index: usize, spec: Option<&SpecFile>) -> Value {
    let location = f.location();
    let mut loc = json!({
        "logicalLocations": [{
            "fullyQualifiedName": location,
            "kind": if f.path.is_some() { "function" } else { "module" },
        }],
    });
    loc["physicalLocation"] = match spec {
        Some(spec) => spec.physical_location(f.method, f.path.as_deref()),
        None => endpoint_location(f.path.as_deref()),
    };
    let mut text = format!("{} on {location}", f.title);
    if let Some(p) = &f.parameter {
        text.push_str(&format!(" ({p})"));
    }
    if !f.description.trim().is_empty() {
        text.push_str(": ");
        text.push_str(f.description.trim());
    }
    let mut properties = json!({
        "severity": f.severity.as_str(),
        "confidence": confidence(f.confidence),
        "cwe": f.cwe.iter().map(|c| format!("CWE-{c}")).collect::<Vec<_>>(),
        "owasp": f.owasp.iter().map(|o| o.code()).collect::<Vec<_>>(),
        "references": refs(&f.cwe, &f.owasp),
    });
    if let Some(p) = &f.parameter {
        properties["parameter"] = json!(p);
    }
    if let Some(g) = &f.graphql_operation {
        properties["graphql_operation"] = json!(g);
    }
    if let Some(curl) = f.evidence.curl.first() {
        properties["reproduction"] = json!(curl);
    }
    json!({
        "ruleId": f.check.as_str(),
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": { "text": text },
        "partialFingerprints": { FINGERPRINT_KEY: f.id },
        "locations": [loc],
        "properties": properties,
    })
}

/// The scan ran; diagnostics become tool notifications, shown apart from results.
fn invocation(report: &Report) -> Value {
    let mut notes: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(op) = &d.operation {
                text = format!("{op}: {text}");
            }
            if let Some(h) = &d.hint {
                text = format!("{text} (hint: {h})");
            }
            json!({
                "level": match d.level {
                    DiagnosticLevel::Error => "error",
                    DiagnosticLevel::Warning => "warning",
                    DiagnosticLevel::Info => "note",
                },
                "message": { "text": non_empty(&text, &d.code) },
                "descriptor": { "id": d.code },
            })
        })
        .collect();
    notes.extend(coverage_notes(&report.coverage));
    let c = &report.coverage;
    let t = c.tally();
    // Successful means the scan tested what it was asked to: it ran to the end, every
    // identity it was given signed in, and most operations it sent to answered.
    let successful =
        !report.incomplete && c.failed_identities().next().is_none() && !c.mostly_unreached();
    json!({
        "executionSuccessful": successful,
        "toolExecutionNotifications": notes,
        "properties": {
            "incomplete": report.incomplete,
            "coverage": c.headline(),
            "checks": t.checks,
            "checksRan": t.checks_ran,
            "operations": c.operations,
            "operationsReached": c.operations_reached,
        },
    })
}

/// The coverage headline as a note, then one note per reason checks were skipped and per
/// reason operations were not reached.
fn coverage_notes(c: &middlebrick_model::Coverage) -> Vec<Value> {
    let note = |level: &str, id: &str, text: String| json!({ "level": level, "message": { "text": text }, "descriptor": { "id": id } });
    let mut out = vec![note("note", "coverage", c.headline())];
    for (why, ids) in common::skipped_by_reason(c) {
        let ids: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
        out.push(note(
            "note",
            "coverage.check-skipped",
            format!("skipped ({why}): {}", ids.join(", ")),
        ));
    }
    for (why, ops) in common::unreached_by_reason(c) {
        out.push(note(
            "warning",
            "coverage.operation-not-reached",
            format!("not reached ({why}): {}", ops.join(", ")),
        ));
    }
    out
}

/// The spec file as named by the caller, and its text when it could be read.
struct SpecFile {
    uri: String,
    relative: bool,
    text: Option<String>,
}

impl SpecFile {
    fn load(path: &Path) -> SpecFile {
        let shown = path.to_string_lossy().replace('\\', "/");
        let relative = path.is_relative();
        let shown = shown.trim_start_matches("./").to_string();
        let uri = if relative {
            uri_escape(&shown)
        } else if shown.starts_with('/') {
            format!("file://{}", uri_escape(&shown))
        } else {
            // A Windows drive path: `C:/x` becomes `file:///C:/x`.
            format!("file:///{}", uri_escape(&shown))
        };
        SpecFile {
            uri,
            relative,
            text: std::fs::read_to_string(path).ok(),
        }
    }

    fn physical_location(&self, method: Option<Method>, path: Option<&str>) -> Value {
        let line = self
            .text
            .as_deref()
            .map_or(1, |t| operation_line(t, method, path));
        let mut artifact = json!({ "uri": self.uri });
        if self.relative {
            artifact["uriBaseId"] = json!("%SRCROOT%");
        }
        json!({ "artifactLocation": artifact, "region": { "startLine": line } })
    }
}

/// `%SRCROOT%` is left to the consumer (code scanning maps it to the checkout); `TARGET` is the
/// scanned base URL, with the trailing slash a base URI needs.
fn base_ids(report: &Report, spec_file: bool) -> Value {
    if spec_file {
        return json!({});
    }
    let mut base = report.target.clone();
    if !base.ends_with('/') {
        base.push('/');
    }
    json!({ TARGET_BASE_ID: { "uri": base, "description": { "text": "The API's base URL." } } })
}

/// The endpoint as the artifact: `users/%7Bid%7D` against `TARGET`; `./` for the API itself.
fn endpoint_location(path: Option<&str>) -> Value {
    let rel = path.map(|p| p.trim_start_matches('/')).unwrap_or("");
    let uri = if rel.is_empty() {
        "./".to_string()
    } else {
        uri_escape(rel)
    };
    json!({
        "artifactLocation": { "uri": uri, "uriBaseId": TARGET_BASE_ID },
        "region": { "startLine": 1 },
    })
}

/// Percent-encodes what may not appear in a URI path (spaces, `%`, non-ASCII, …).
fn uri_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The key a YAML or JSON line opens, with the line's indentation: `  /users/{id}:`,
/// `"/users/{id}": {`, `'/a': …`, `get:`.
fn line_key(line: &str) -> Option<(usize, &str)> {
    let t = line.trim_start();
    let indent = line.len() - t.len();
    let (key, rest) = match t.chars().next()? {
        q @ ('"' | '\'') => {
            let end = t[1..].find(q)? + 1;
            (&t[1..end], &t[end + 1..])
        }
        _ => {
            let end = t.find(':')?;
            (&t[..end], &t[end..])
        }
    };
    rest.trim_start()
        .starts_with(':')
        .then_some((indent, key.trim_end()))
}

/// The 1-based line of the operation in the spec text: the method key inside the path's
/// block when found, else the path key, else 1.
fn operation_line(text: &str, method: Option<Method>, path: Option<&str>) -> usize {
    let Some(path) = path else { return 1 };
    let lines: Vec<&str> = text.lines().collect();
    let Some((at, indent)) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| line_key(l).filter(|(_, k)| *k == path).map(|(d, _)| (i, d)))
    else {
        return 1;
    };
    let Some(method) = method else { return at + 1 };
    let method = method.as_str().to_ascii_lowercase();
    for (i, l) in lines.iter().enumerate().skip(at + 1) {
        if l.trim().is_empty() {
            continue;
        }
        let this_indent = l.len() - l.trim_start().len();
        if this_indent <= indent {
            break;
        }
        if line_key(l).is_some_and(|(_, k)| k == method) {
            return i + 1;
        }
    }
    at + 1
}

#[cfg(test)]
mod tests;
