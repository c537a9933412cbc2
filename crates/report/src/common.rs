//! What several formats compute the same way: finding order, counts, family tables, coverage
//! wording, body excerpts and XML/HTML escaping. Kept in one place so the terminal, Markdown
//! and HTML views of one report never disagree.

use crate::RuleInfo;
use middlebrick_model::{
    BodyRecord, CheckId, Coverage, Finding, Report, Severity, SpecVersion, UnreachedReason,
};
use std::collections::BTreeMap;

/// The sentence every human-facing format uses for a crawl-only scan.
pub const PARTIAL_COVERAGE: &str =
    "coverage is partial: no OpenAPI description; operations were found by crawling";

/// Findings in reading order: most severe first, then by location (API-wide before operations,
/// then path, then method, then GraphQL operation), then check and discriminator so the order is total and stable.
pub fn sorted_findings(report: &Report) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = report.findings.iter().collect();
    v.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.path.cmp(&b.path))
            .then_with(|| a.method.cmp(&b.method))
            .then_with(|| a.graphql_operation.cmp(&b.graphql_operation))
            .then_with(|| a.check.cmp(&b.check))
            .then_with(|| a.parameter.cmp(&b.parameter))
            .then_with(|| a.id.cmp(&b.id))
    });
    v
}

/// Counts per severity, indexed like [`Severity::ALL`] (critical first).
pub type Counts = [usize; 5];

pub fn severity_index(s: Severity) -> usize {
    Severity::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

pub fn counts<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Counts {
    let mut c = [0; 5];
    for f in findings {
        c[severity_index(f.severity)] += 1;
    }
    c
}

/// `3 findings: 1 critical, 2 medium`, `1 finding: 1 high`, `0 findings`.
pub fn counts_line(report: &Report) -> String {
    let c = counts(&report.findings);
    let n = report.findings.len();
    let noun = if n == 1 { "finding" } else { "findings" };
    let parts: Vec<String> = Severity::ALL
        .iter()
        .zip(c)
        .filter(|(_, k)| *k > 0)
        .map(|(s, k)| format!("{k} {s}"))
        .collect();
    if parts.is_empty() {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}: {}", parts.join(", "))
    }
}

/// Counts by check family (`auth`, `info`, …), alphabetically. Families of catalogue rules
/// without findings are listed with zeros, so a table shows what was checked and passed.
pub fn family_counts(report: &Report, rules: &[RuleInfo]) -> Vec<(&'static str, Counts)> {
    let mut map: BTreeMap<&'static str, Counts> = BTreeMap::new();
    for r in rules {
        map.entry(r.id.family()).or_default();
    }
    for f in &report.findings {
        map.entry(f.check.family()).or_default()[severity_index(f.severity)] += 1;
    }
    map.into_iter().collect()
}

pub fn spec_label(v: SpecVersion) -> &'static str {
    match v {
        SpecVersion::Swagger2 => "Swagger 2.0",
        SpecVersion::OpenApi30 => "OpenAPI 3.0",
        SpecVersion::OpenApi31 => "OpenAPI 3.1",
        SpecVersion::Crawled => "crawl",
    }
}

/// One line about coverage; starts with [`PARTIAL_COVERAGE`] when the scan had no spec.
pub fn coverage_line(c: &Coverage) -> String {
    let reached = format!(
        "{} of {} operations reached",
        c.operations_reached, c.operations
    );
    if c.partial {
        format!("{PARTIAL_COVERAGE} ({reached})")
    } else {
        format!("{} from {}: {reached}", spec_label(c.spec), c.source)
    }
}

/// The score and grade with what they cover beside them: a grade over a scan that tested
/// little must never read as a bare "A" (`docs/scoring.md`).
pub fn grade_line(report: &Report) -> String {
    let over = grade_covers(report)
        .map(|c| format!(", {c}"))
        .unwrap_or_default();
    format!(
        "{}/100, grade {}{over}",
        report.score,
        report.grade.as_str()
    )
}

/// `over 12 of 31 checks and 16 of 42 operations`; none for a report without check records
/// (`audit`, or a report older than 1.2).
pub fn grade_covers(report: &Report) -> Option<String> {
    let c = &report.coverage;
    let t = c.tally();
    (t.checks > 0).then(|| {
        format!(
            "over {} of {} checks and {} of {} operations",
            t.checks_ran, t.checks, c.operations_reached, c.operations
        )
    })
}

/// Checks that did not run, grouped by why, in first-seen (catalogue) order.
pub fn skipped_by_reason(c: &Coverage) -> Vec<(&str, Vec<CheckId>)> {
    let mut groups: Vec<(&str, Vec<CheckId>)> = Vec::new();
    for (run, why) in c.skipped_checks() {
        match groups.iter_mut().find(|(w, _)| *w == why) {
            Some((_, ids)) => ids.push(run.check),
            None => groups.push((why, vec![run.check])),
        }
    }
    groups
}

/// Unreached operations grouped by why; reports before 1.2 have no reasons, and their
/// operations are listed under "not reached".
pub fn unreached_by_reason(c: &Coverage) -> Vec<(&'static str, Vec<&str>)> {
    if c.not_reached.is_empty() {
        let ops: Vec<&str> = c.unreached.iter().map(String::as_str).collect();
        return if ops.is_empty() {
            Vec::new()
        } else {
            vec![("not reached", ops)]
        };
    }
    [
        UnreachedReason::NotFound,
        UnreachedReason::NoAnswer,
        UnreachedReason::NotSent,
    ]
    .into_iter()
    .filter_map(|r| {
        let ops: Vec<&str> = c
            .not_reached
            .iter()
            .filter(|n| n.reason == r)
            .map(|n| n.operation.as_str())
            .collect();
        (!ops.is_empty()).then_some((r.as_str(), ops))
    })
    .collect()
}

/// The sentence with its first letter upper-cased, to start a paragraph.
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|h| h.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// `850ms`, `12.3s`, `2m 05s`.
pub fn duration(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        let s = ms / 1000;
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

/// `CWE-306, API2:2023`, or empty when the finding names neither.
pub fn refs(cwe: &[u32], owasp: &[middlebrick_model::Owasp]) -> String {
    cwe.iter()
        .map(|c| format!("CWE-{c}"))
        .chain(owasp.iter().map(|o| o.code().to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first `max_lines` lines and at most `max_chars` characters of a body, and whether
/// anything was left out (here or when the body was recorded or capped).
pub fn excerpt(body: &BodyRecord, max_lines: usize, max_chars: usize) -> (String, bool) {
    let mut out = String::new();
    let mut cut = false;
    for (i, line) in body.text.lines().enumerate() {
        if i == max_lines {
            cut = true;
            break;
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
    }
    if out.chars().count() > max_chars {
        out = out.chars().take(max_chars).collect();
        cut = true;
    }
    (out, cut || body.truncated)
}

/// Says how much of a body is shown when not all of it is.
pub fn cut_marker(body: &BodyRecord, shown: &str) -> String {
    format!(
        "[... truncated: {} of {} bytes shown]",
        shown.len(),
        body.size.max(body.text.len() as u64)
    )
}

/// Escapes text for XML and HTML content and attribute values. Characters XML 1.0 forbids
/// (most C0 controls, which a binary response body may hold) become U+FFFD, so the document
/// stays well-formed whatever the target answered.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn findings_sort_by_severity_then_location() {
        let report = fixture::report();
        let order: Vec<String> = sorted_findings(&report)
            .iter()
            .map(|f| format!("{} {}", f.severity, f.location()))
            .collect();
        assert_eq!(
            order,
            [
                "critical GET /users/{id}",
                "medium POST /users",
                "low (API-wide)"
            ]
        );
    }

    #[test]
    fn counts_line_names_only_present_severities() {
        let mut report = fixture::report();
        assert_eq!(
            counts_line(&report),
            "3 findings: 1 critical, 1 medium, 1 low"
        );
        report.findings.truncate(1);
        assert_eq!(counts_line(&report), "1 finding: 1 low");
        report.findings.clear();
        assert_eq!(counts_line(&report), "0 findings");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(12_345), "12.3s");
        assert_eq!(duration(125_000), "2m 05s");
    }

    #[test]
    fn xml_escape_covers_markup_and_forbidden_controls() {
        assert_eq!(
            xml_escape("<&\"'>\u{0}\n"),
            "&lt;&amp;&quot;&#39;&gt;\u{FFFD}\n"
        );
    }

    #[test]
    fn excerpts_cut_by_lines_and_chars() {
        let body = BodyRecord {
            text: "a\nb\nc".into(),
            size: 5,
            truncated: false,
        };
        assert_eq!(excerpt(&body, 2, 100), ("a\nb".to_string(), true));
        assert_eq!(excerpt(&body, 5, 100), ("a\nb\nc".to_string(), false));
        assert_eq!(excerpt(&body, 5, 2), ("a\n".to_string(), true));
    }
}
