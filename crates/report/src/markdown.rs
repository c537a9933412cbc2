//! Markdown for pull-request comments and CI job summaries (GitHub-flavoured).
//!
//! Everything from the report is escaped: a title or body could otherwise open a table cell,
//! a link or an HTML tag in the reviewer's page. Details sit in `<details>` blocks so the
//! comment stays short, and stop being added near GitHub's 65,536-character comment limit;
//! the tables above them always list every finding.

use crate::common::{
    self, counts_line, coverage_line, family_counts, refs, sorted_findings, xml_escape,
};
use crate::RenderOptions;
use middlebrick_model::{Exchange, Finding, Report, Severity};
use std::fmt::Write as _;

/// Past this size no more `<details>` blocks are written (GitHub rejects comments > 65,536).
const DETAILS_BUDGET: usize = 60_000;
const MAX_EXCHANGES: usize = 3;
const BODY_LINES: usize = 10;
const BODY_CHARS: usize = 600;

pub fn render(report: &Report, opts: &RenderOptions) -> String {
    let mut out = String::new();
    summary(&mut out, report);
    families(&mut out, report, opts);
    if !report.findings.is_empty() {
        findings_table(&mut out, report);
        details(&mut out, report);
    }
    not_tested(&mut out, &report.coverage);
    diagnostics(&mut out, report);
    out
}

/// Escapes inline text (one line) so it renders literally, in a paragraph or a table cell.
fn md(s: &str) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(one_line.len());
    for c in one_line.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Keeps Markdown prose (emphasis, code spans) as written, on one line, while neutralising what
/// could open markup in the reviewer's page: raw HTML, links and images. Inside code spans
/// nothing is escaped, since a backslash there would show.
fn prose(s: &str) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(one_line.len());
    let mut fence: Option<usize> = None;
    let mut chars = one_line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '`' {
            let mut run = 1;
            while chars.peek() == Some(&'`') {
                chars.next();
                run += 1;
            }
            fence = match fence {
                None => Some(run),
                Some(open) if open == run => None,
                other => other,
            };
            out.push_str(&"`".repeat(run));
            continue;
        }
        if fence.is_none() && matches!(c, '\\' | '<' | '>' | '[' | ']' | '!' | '&' | '|' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A fenced code block whose fence is longer than any backtick run inside it.
fn fenced(out: &mut String, lang: &str, text: &str) {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(out, "{fence}{lang}\n{}\n{fence}\n", text.trim_end());
}

fn summary(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "## {}: grade {} ({}/100){}\n",
        md(&report.tool.name),
        report.grade.as_str(),
        report.score,
        common::grade_covers(report)
            .map(|c| format!(" {c}"))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "**Tested** {}  ", md(&report.coverage.headline()));
    let _ = writeln!(
        out,
        "**Target** {} · **Mode** {} · **Duration** {} · **Requests** {}  ",
        md(&report.target),
        report.mode,
        common::duration(report.duration_ms),
        report.requests_sent
    );
    let _ = writeln!(
        out,
        "**Coverage** {}\n",
        md(&coverage_line(&report.coverage))
    );
    if report.coverage.partial {
        let _ = writeln!(out, "> [!WARNING]\n> {}.\n", md(common::PARTIAL_COVERAGE));
    }
    let failed: Vec<&str> = report
        .coverage
        .failed_identities()
        .map(|i| i.name.as_str())
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> Identity {} did not sign in: the checks that need it did not run.\n",
            md(&failed.join(", "))
        );
    }
    if report.incomplete {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> The scan stopped early; results are incomplete.\n"
        );
    }
    let _ = writeln!(out, "**{}**\n", counts_line(report));
}

fn families(out: &mut String, report: &Report, opts: &RenderOptions) {
    let rows = family_counts(report, &opts.rules);
    if rows.is_empty() {
        return;
    }
    out.push_str("| Family | Critical | High | Medium | Low | Info |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (family, c) in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            md(family),
            c[0],
            c[1],
            c[2],
            c[3],
            c[4]
        );
    }
    out.push('\n');
}

fn location(f: &Finding) -> String {
    let mut loc = f.location();
    if let Some(p) = &f.parameter {
        loc = format!("{loc} [{p}]");
    }
    loc
}

fn findings_table(out: &mut String, report: &Report) {
    out.push_str("### Findings\n\n| Severity | Check | Location | Title |\n");
    out.push_str("| --- | --- | --- | --- |\n");
    for f in sorted_findings(report) {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} |",
            badge(f.severity),
            f.check,
            md(&location(f)),
            md(&f.title)
        );
    }
    out.push('\n');
}

fn badge(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "🟥 critical",
        Severity::High => "🟧 high",
        Severity::Medium => "🟨 medium",
        Severity::Low => "🟦 low",
        Severity::Info => "⬜ info",
    }
}

fn details(out: &mut String, report: &Report) {
    let sorted = sorted_findings(report);
    for (i, f) in sorted.iter().enumerate() {
        if out.len() > DETAILS_BUDGET {
            let _ = writeln!(
                out,
                "_Details of {} more findings are left out to keep this comment short; \
                 see the JSON or HTML report._\n",
                sorted.len() - i
            );
            return;
        }
        detail(out, f);
    }
}

fn detail(out: &mut String, f: &Finding) {
    let _ = writeln!(
        out,
        "<details>\n<summary><b>{}</b> <code>{}</code> {} on {}</summary>\n",
        f.severity,
        f.check,
        xml_escape(&f.title),
        xml_escape(&location(f))
    );
    let _ = writeln!(out, "{}\n", prose(&f.description));
    let mut meta = format!("Confidence: {}", f.confidence);
    let r = refs(&f.cwe, &f.owasp);
    if !r.is_empty() {
        let _ = write!(meta, " · {r}");
    }
    let _ = writeln!(out, "{meta} · finding `{}`\n", f.id);
    for note in &f.evidence.notes {
        let _ = writeln!(out, "- {}", md(note));
    }
    if !f.evidence.notes.is_empty() {
        out.push('\n');
    }
    for ex in f.evidence.exchanges.iter().take(MAX_EXCHANGES) {
        exchange(out, ex);
    }
    if !f.evidence.curl.is_empty() {
        out.push_str("Reproduce:\n\n");
        fenced(out, "sh", &f.evidence.curl.join("\n"));
    }
    if !f.remediation.trim().is_empty() {
        // Our own text from the catalogue, written in Markdown: kept as written.
        let _ = writeln!(out, "**Remediation.**\n\n{}\n", f.remediation.trim_end());
    }
    out.push_str("</details>\n\n");
}

fn exchange(out: &mut String, ex: &Exchange) {
    let outcome = match (&ex.response, &ex.error) {
        (Some(r), _) => r.status.to_string(),
        (None, Some(e)) => format!("no response ({e})"),
        (None, None) => "no response".to_string(),
    };
    let _ = writeln!(
        out,
        "{} {} as {} → {}\n",
        ex.request.method,
        md(&ex.request.url),
        md(&ex.identity),
        md(&outcome)
    );
    if let Some(resp) = ex.response.as_ref().filter(|r| !r.body.text.is_empty()) {
        let (text, cut) = common::excerpt(&resp.body, BODY_LINES, BODY_CHARS);
        let mut shown = text.clone();
        if cut {
            shown = format!("{shown}\n{}", common::cut_marker(&resp.body, &text));
        }
        fenced(out, "", &shown);
    }
}

/// Checks skipped and operations not reached, folded: the headline above gives the counts.
fn not_tested(out: &mut String, c: &middlebrick_model::Coverage) {
    let skipped = common::skipped_by_reason(c);
    let unreached = common::unreached_by_reason(c);
    let failed: Vec<_> = c.failed_identities().collect();
    if skipped.is_empty() && unreached.is_empty() && failed.is_empty() {
        return;
    }
    let n_checks: usize = skipped.iter().map(|(_, v)| v.len()).sum();
    let n_ops: usize = unreached.iter().map(|(_, v)| v.len()).sum();
    let _ = writeln!(
        out,
        "<details>\n<summary>Not tested: {n_checks} check{} skipped, {n_ops} operation{} not reached</summary>\n",
        if n_checks == 1 { "" } else { "s" },
        if n_ops == 1 { "" } else { "s" },
    );
    for i in failed {
        let _ = writeln!(
            out,
            "- Identity {} did not sign in: {}",
            md(&i.name),
            md(i.reason.as_deref().unwrap_or("unknown"))
        );
    }
    for (why, ids) in skipped {
        let ids: Vec<String> = ids.iter().map(|id| format!("`{id}`")).collect();
        let _ = writeln!(out, "- Skipped, {}: {}", md(why), ids.join(", "));
    }
    for (why, ops) in unreached {
        let ops: Vec<String> = ops.iter().map(|o| md(o)).collect();
        let _ = writeln!(out, "- Not reached, {}: {}", md(why), ops.join(", "));
    }
    out.push_str("\n</details>\n\n");
}

fn diagnostics(out: &mut String, report: &Report) {
    let n = report.diagnostics.len();
    if n == 0 {
        return;
    }
    let count = |level| {
        report
            .diagnostics
            .iter()
            .filter(|d| d.level == level)
            .count()
    };
    use middlebrick_model::DiagnosticLevel::{Error, Info, Warning};
    let parts: Vec<String> = [(Error, "error"), (Warning, "warning"), (Info, "info")]
        .into_iter()
        .filter_map(|(l, name)| {
            let k = count(l);
            (k > 0).then(|| format!("{k} {name}"))
        })
        .collect();
    let _ = writeln!(
        out,
        "_{n} {} ({}); see the full report._",
        if n == 1 { "diagnostic" } else { "diagnostics" },
        parts.join(", ")
    );
}

#[cfg(test)]
mod tests;
