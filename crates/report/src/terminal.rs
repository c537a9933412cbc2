//! The human summary printed at the end of a scan.
//!
//! Text that came from the target (bodies, headers, even titles built from them) is stripped
//! of control characters before printing: a hostile API must not be able to drive the
//! reader's terminal with escape sequences. Colour codes are only ever ours, and only when the
//! caller asked for colour.

use crate::common::{self, counts_line, coverage_line, refs, sorted_findings};
use crate::RenderOptions;
use middlebrick_model::Coverage;
use middlebrick_model::{
    BodyRecord, DiagnosticLevel, Evidence, Exchange, Finding, Report, Severity,
};
use std::fmt::Write as _;

const INDENT: &str = "            ";
const MAX_HEADERS: usize = 6;
const BODY_LINES: usize = 12;
const BODY_CHARS: usize = 1_000;

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    fn severity(&self, s: Severity) -> String {
        // Pad before painting, so escape codes do not upset the column.
        let badge = format!("{:<8}", s.as_str().to_ascii_uppercase());
        let code = match s {
            Severity::Critical => "1;97;41",
            Severity::High => "1;31",
            Severity::Medium => "33",
            Severity::Low => "34",
            Severity::Info => "2",
        };
        self.paint(code, &badge)
    }
}

/// Replaces control characters (ESC above all) with U+FFFD; keeps newlines and tabs.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// A one-line form of a possibly multi-line text.
fn one_line(s: &str) -> String {
    clean(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

pub fn render(report: &Report, opts: &RenderOptions) -> String {
    let st = Style { color: opts.color };
    let mut out = String::new();
    header(&mut out, report, &st);
    if report.findings.is_empty() {
        out.push_str("\nNo findings.\n");
    } else {
        let _ = writeln!(out, "\n{}", st.bold("Findings"));
        for (i, f) in sorted_findings(report).into_iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            finding(&mut out, f, opts.verbose, &st);
        }
    }
    diagnostics(&mut out, report, &st);
    not_tested(&mut out, &report.coverage, opts.verbose, &st);
    let _ = writeln!(out, "\n{}", st.bold(&counts_line(report)));
    let _ = writeln!(out, "{}", tested_line(&report.coverage, &st));
    out
}

fn header(out: &mut String, report: &Report, st: &Style) {
    let _ = writeln!(
        out,
        "{} {} scan of {}",
        st.bold(&clean(&report.tool.name)),
        clean(&report.tool.version),
        st.bold(&clean(&report.target))
    );
    let row = |out: &mut String, k: &str, v: &str| {
        let _ = writeln!(out, "  {:<12}{v}", format!("{k}:"));
    };
    row(out, "mode", report.mode.as_str());
    row(
        out,
        "duration",
        &format!(
            "{}, {} requests sent",
            common::duration(report.duration_ms),
            report.requests_sent
        ),
    );
    row(out, "tested", &tested_line(&report.coverage, st));
    row(out, "score", &common::grade_line(report));
    let coverage = coverage_line(&report.coverage);
    let coverage = if report.coverage.partial {
        st.paint("33", &clean(&coverage))
    } else {
        clean(&coverage)
    };
    row(out, "coverage", &coverage);
    if !report.identities.is_empty() {
        row(out, "identities", &clean(&report.identities.join(", ")));
    }
    if report.incomplete {
        row(
            out,
            "note",
            &st.paint("33", "the scan stopped early; results are incomplete"),
        );
    }
}

/// The coverage headline, in yellow when a configured identity failed or the scan stopped.
fn tested_line(c: &Coverage, st: &Style) -> String {
    let line = clean(&c.headline());
    if c.failed_identities().next().is_some() || c.stopped.is_some() {
        st.paint("33", &line)
    } else {
        line
    }
}

/// Operations listed per reason before "and N more" (all of them with `--verbose`).
const UNREACHED_SHOWN: usize = 8;

/// What the scan did not test: checks skipped (grouped by why), operations not reached
/// (grouped by why), identities that did not sign in.
fn not_tested(out: &mut String, c: &Coverage, verbose: bool, st: &Style) {
    let skipped = common::skipped_by_reason(c);
    let unreached = common::unreached_by_reason(c);
    let failed: Vec<_> = c.failed_identities().collect();
    if skipped.is_empty() && unreached.is_empty() && failed.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", st.bold("Not tested"));
    for i in failed {
        let _ = writeln!(
            out,
            "  identity {} did not sign in: {}",
            one_line(&i.name),
            one_line(i.reason.as_deref().unwrap_or("unknown"))
        );
    }
    for (why, ids) in skipped {
        let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
        let _ = writeln!(
            out,
            "  {} check{} skipped ({}): {}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            one_line(why),
            ids.join(", ")
        );
    }
    for (why, ops) in unreached {
        let shown = if verbose { ops.len() } else { UNREACHED_SHOWN };
        let mut list = ops
            .iter()
            .take(shown)
            .map(|o| one_line(o))
            .collect::<Vec<_>>()
            .join(", ");
        if ops.len() > shown {
            let _ = write!(list, " and {} more (--verbose)", ops.len() - shown);
        }
        let _ = writeln!(
            out,
            "  {} operation{} not reached ({why}): {list}",
            ops.len(),
            if ops.len() == 1 { "" } else { "s" },
        );
    }
}

fn finding(out: &mut String, f: &Finding, verbose: bool, st: &Style) {
    let _ = writeln!(
        out,
        "  {}  {}  {}",
        st.severity(f.severity),
        st.bold(f.check.as_str()),
        one_line(&f.title)
    );
    let mut location = one_line(&f.location());
    if let Some(p) = &f.parameter {
        let _ = write!(location, " [{}]", one_line(p));
    }
    let mut meta = format!("{location} | confidence: {}", f.confidence);
    let r = refs(&f.cwe, &f.owasp);
    if !r.is_empty() {
        let _ = write!(meta, " | {r}");
    }
    let _ = writeln!(out, "{INDENT}{}", st.dim(&meta));
    // Descriptions are Markdown: their lines (a list of leaks, say) stay lines.
    for line in f.description.lines().filter(|l| !l.trim().is_empty()) {
        let _ = writeln!(out, "{INDENT}{}", one_line(line));
    }
    if verbose {
        evidence(out, &f.evidence, st);
        if !f.remediation.trim().is_empty() {
            let _ = writeln!(out, "{INDENT}{}", st.bold("Remediation:"));
            block(out, &f.remediation, "  ");
        }
    }
}

fn evidence(out: &mut String, ev: &Evidence, st: &Style) {
    if !ev.exchanges.is_empty() || !ev.notes.is_empty() {
        let _ = writeln!(out, "{INDENT}{}", st.bold("Evidence:"));
    }
    for ex in &ev.exchanges {
        exchange(out, ex);
    }
    for note in &ev.notes {
        let _ = writeln!(out, "{INDENT}  note: {}", one_line(note));
    }
    if !ev.curl.is_empty() {
        let _ = writeln!(out, "{INDENT}{}", st.bold("Reproduce:"));
        for c in &ev.curl {
            block(out, c, "  ");
        }
    }
}

fn exchange(out: &mut String, ex: &Exchange) {
    let req = &ex.request;
    let _ = writeln!(
        out,
        "{INDENT}  > {} {}  (as {})",
        req.method,
        one_line(&req.url),
        one_line(&ex.identity)
    );
    headers(out, "  > ", &req.headers);
    if let Some(b) = &req.body {
        body(out, "  > ", b);
    }
    for hop in &ex.redirects {
        let _ = writeln!(out, "{INDENT}  redirected via {}", one_line(hop));
    }
    match (&ex.response, &ex.error) {
        (Some(resp), _) => {
            let _ = writeln!(out, "{INDENT}  < {}  ({}ms)", resp.status, ex.elapsed_ms);
            headers(out, "  < ", &resp.headers);
            body(out, "  < ", &resp.body);
        }
        (None, Some(err)) => {
            let _ = writeln!(out, "{INDENT}  ! no response: {}", one_line(err));
        }
        (None, None) => {
            let _ = writeln!(out, "{INDENT}  ! no response");
        }
    }
}

fn headers(out: &mut String, prefix: &str, headers: &[(String, String)]) {
    for (k, v) in headers.iter().take(MAX_HEADERS) {
        let _ = writeln!(out, "{INDENT}{prefix}{}: {}", one_line(k), one_line(v));
    }
    if headers.len() > MAX_HEADERS {
        let _ = writeln!(
            out,
            "{INDENT}{prefix}({} more headers)",
            headers.len() - MAX_HEADERS
        );
    }
}

fn body(out: &mut String, prefix: &str, b: &BodyRecord) {
    if b.text.is_empty() {
        return;
    }
    let (text, cut) = common::excerpt(b, BODY_LINES, BODY_CHARS);
    for line in text.lines() {
        let _ = writeln!(out, "{INDENT}{prefix}| {}", clean(line));
    }
    if cut {
        let _ = writeln!(out, "{INDENT}{prefix}{}", common::cut_marker(b, &text));
    }
}

fn block(out: &mut String, text: &str, extra: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "{INDENT}{extra}{}", clean(line));
    }
}

fn diagnostics(out: &mut String, report: &Report, st: &Style) {
    if report.diagnostics.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", st.bold("Diagnostics"));
    for d in &report.diagnostics {
        let (code, label) = match d.level {
            DiagnosticLevel::Error => ("31", "error  "),
            DiagnosticLevel::Warning => ("33", "warning"),
            DiagnosticLevel::Info => ("2", "info   "),
        };
        let mut msg = one_line(&d.message);
        if let Some(op) = &d.operation {
            msg = format!("{}: {msg}", one_line(op));
        }
        let _ = writeln!(
            out,
            "  {}  {}  {msg}",
            st.paint(code, label),
            one_line(&d.code)
        );
        if let Some(h) = &d.hint {
            let _ = writeln!(out, "           hint: {}", one_line(h));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    const GOLDEN: &str = "\
middlebrick 0.1.0 scan of https://api.example.test
  mode:       safe
  duration:   12.3s, 412 requests sent
  tested:     3 of 3 operations reached
  score:      72/100, grade C
  coverage:   OpenAPI 3.0 from openapi.yaml: 3 of 3 operations reached
  identities: anonymous, alice

Findings
  CRITICAL  auth.missing-authentication  Missing authentication
            GET /users/{id} | confidence: confirmed | CWE-306, API2:2023
            The operation answered an anonymous request with data.

  MEDIUM    info.verbose-error  Verbose error
            POST /users [name] | confidence: firm | CWE-209, API8:2023
            A malformed name produced a stack trace.

  LOW       transport.security-headers  Missing security headers
            (API-wide) [strict-transport-security] | confidence: firm | CWE-693, API8:2023
            No Strict-Transport-Security header on any answer.

Diagnostics
  warning  spec.broken-operation  DELETE /users/{id}: the operation's schema has an unresolvable $ref
           hint: fix the $ref in openapi.yaml

3 findings: 1 critical, 1 medium, 1 low
3 of 3 operations reached
";

    #[test]
    fn golden_summary_without_colour() {
        let out = render(&fixture::report(), &fixture::options());
        assert_eq!(out, GOLDEN);
        assert!(!out.contains('\x1b'), "no escape codes without colour");
    }

    #[test]
    fn coverage_is_read_first_and_what_was_not_tested_is_listed() {
        let out = render(&fixture::report_with_coverage(), &fixture::options());
        let head = "  tested:     3 of 4 checks ran; 2 of 3 operations reached; \
                    identity bob failed to sign in\n  \
                    score:      72/100, grade C, over 3 of 4 checks and 2 of 3 operations\n";
        assert!(out.contains(head), "{out}");
        for want in [
            "Not tested\n",
            "  identity bob did not sign in: the sign-in answered 401\n",
            "  1 check skipped (needs a mode above safe): authz.bola-write\n",
            "  1 operation not reached (not sent: no check that ran sends to it in this mode): \
             DELETE /users/{id}\n",
        ] {
            assert!(out.contains(want), "missing {want:?} in\n{out}");
        }
        assert!(out.ends_with(
            "3 of 4 checks ran; 2 of 3 operations reached; identity bob failed to sign in\n"
        ));
    }

    #[test]
    fn colour_only_when_asked() {
        let mut opts = fixture::options();
        opts.color = true;
        let out = render(&fixture::report(), &opts);
        assert!(out.contains("\x1b[1;97;41mCRITICAL\x1b[0m"));
        opts.verbose = true;
        opts.color = false;
        assert!(!render(&fixture::report(), &opts).contains('\x1b'));
    }

    #[test]
    fn verbose_shows_evidence_curl_and_remediation() {
        let mut opts = fixture::options();
        opts.verbose = true;
        let out = render(&fixture::report(), &opts);
        for want in [
            "  > GET https://api.example.test/users/1  (as anonymous)",
            "  > accept: application/json",
            "  < 200  (12ms)",
            "  < content-type: application/json",
            r#"  < | {"id":1,"email":"a@example.test"}"#,
            "  note: an anonymous request got the user object",
            "Reproduce:",
            "curl -sS -X GET -H 'accept: application/json' 'https://api.example.test/users/1'",
            "Remediation:",
            "Fix auth.missing-authentication.",
        ] {
            assert!(out.contains(want), "missing {want:?} in\n{out}");
        }
    }

    #[test]
    fn partial_coverage_is_said_plainly() {
        let mut report = fixture::report();
        report.coverage.partial = true;
        report.coverage.source = "crawl".into();
        let out = render(&report, &fixture::options());
        assert!(out.contains(
            "coverage is partial: no OpenAPI description; operations were found by crawling"
        ));
    }

    #[test]
    fn escape_sequences_from_the_target_are_neutralised() {
        let mut report = fixture::report();
        let resp = report.findings[2].evidence.exchanges[0]
            .response
            .as_mut()
            .unwrap();
        resp.body.text = "\x1b]0;pwned\x07\x1b[2J".into();
        let mut opts = fixture::options();
        opts.verbose = true;
        let out = render(&report, &opts);
        assert!(!out.contains('\x1b') && !out.contains('\x07'));
    }

    #[test]
    fn truncated_bodies_say_so() {
        let mut report = fixture::report();
        let body = &mut report.findings[2].evidence.exchanges[0]
            .response
            .as_mut()
            .unwrap()
            .body;
        body.size = 20_000;
        body.truncated = true;
        let mut opts = fixture::options();
        opts.verbose = true;
        let out = render(&report, &opts);
        assert!(
            out.contains("[... truncated: 33 of 20000 bytes shown]"),
            "{out}"
        );
    }
}
