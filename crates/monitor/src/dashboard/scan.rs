//! A scan's page (its state and the HTML report, as the CLI writes it) and its diff against
//! the previous scan of the same target.
//!
//! The report is embedded as the renderer made it, in a sandboxed `<iframe srcdoc>`: its styles
//! and ids stay its own, the sandbox gives it no script, no same-origin access and no top-level
//! navigation, and `srcdoc` is an attribute, so the whole document is escaped like any other
//! value (a report full of a hostile API's answers cannot close the frame early).

use super::{grade_badge, page, status_badge, ScanInfo, ScanStatus, Site};
use crate::alerts::{Changes, FindingBrief, Grading};
use crate::webhooks::display_url;
use maud::{html, Markup};
use middlebrick_model::{Redactor, Report};
use middlebrick_report::{render, Format, RenderOptions, RuleInfo};

/// What the scan page shows besides the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPage {
    pub target_id: String,
    pub target_name: String,
    pub target_url: String,
    pub scan: ScanInfo,
    /// RFC 3339, as the service recorded them.
    pub created_at: String,
    pub completed_at: Option<String>,
    pub grading: Option<Grading>,
    /// True when the target has an earlier completed scan, so a diff exists.
    pub has_previous: bool,
    /// Why the scan failed (already redacted by the service).
    pub error: Option<String>,
    /// Where the service serves this report in other formats (JSON, SARIF, …), if it does.
    pub formats_href: Option<String>,
}

/// The HTML report for the scan page: the same renderer, redaction and catalogue as
/// `middlebrick scan --format html`.
pub fn report_html(report: &Report, rules: Vec<RuleInfo>, redactor: &Redactor) -> String {
    let opts = RenderOptions {
        rules,
        ..RenderOptions::default()
    };
    render(report, Format::Html, &opts, redactor)
}

/// The scan page; `report` is [`report_html`]'s output when the scan completed.
pub fn scan_page(site: &Site, scan: &ScanPage, report: Option<&str>) -> String {
    let body = html! {
        h1 { "Scan of " (scan.target_name) }
        p.muted { (display_url(&scan.target_url)) }
        p {
            (status_badge(scan.scan.status.as_str()))
            " queued " (scan.created_at)
            @if let Some(done) = &scan.completed_at { " · finished " (done) }
            @if let Some(g) = scan.grading { " · " (grade_badge(Some(g.grade))) " " (g.score) "/100" }
        }
        @if let Some(e) = &scan.error { p.error { (e) } }
        p {
            @if scan.has_previous && scan.scan.status == ScanStatus::Completed {
                a href=(site.diff(&scan.scan.id)) { "Changes since the previous scan" }
            }
            @if let Some(href) = &scan.formats_href {
                " · " a href=(href) { "Report in other formats" }
            }
        }
        @match report {
            Some(doc) => iframe.report title="scan report" sandbox="" srcdoc=(doc) {},
            None => p.muted { "No report: the scan has not completed." },
        }
    };
    page(site, &format!("Scan {}", scan.scan.id), body)
}

/// What the diff page shows: the two scans and the diff's verdicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffPage {
    pub target_name: String,
    pub scan_id: String,
    pub previous_scan_id: String,
    pub before: Grading,
    pub after: Grading,
    pub changes: Changes,
}

fn findings(list: &[FindingBrief], why: Option<&[String]>) -> Markup {
    html! {
        table {
            thead { tr {
                th { "Severity" } th { "Check" } th { "Title" } th { "Where" } th { "Fingerprint" }
                @if why.is_some() { th { "Why not re-tested" } }
            } }
            tbody {
                @for (i, f) in list.iter().enumerate() {
                    tr {
                        td { span class={ "sev sev-" (f.severity.as_str()) } { (f.severity.as_str()) } }
                        td { code { (f.check.as_str()) } }
                        td { (f.title) }
                        td {
                            (f.location)
                            @if let Some(p) = &f.parameter { " [" (p) "]" }
                        }
                        td { code { (f.id) } }
                        @if let Some(w) = why { td { (w.get(i).map(String::as_str).unwrap_or("")) } }
                    }
                }
            }
        }
    }
}

fn section(title: &str, hint: &str, list: &[FindingBrief], why: Option<&[String]>) -> Markup {
    html! {
        h2 { (title) " (" (list.len()) ")" }
        @if list.is_empty() {
            p.muted { "None." }
        } @else {
            p.muted { (hint) }
            (findings(list, why))
        }
    }
}

/// The diff page: new, regressed, fixed and not re-tested findings, and the score drift.
pub fn diff_page(site: &Site, d: &DiffPage) -> String {
    let c = &d.changes;
    let (stale, why): (Vec<FindingBrief>, Vec<String>) = c.not_retested.iter().cloned().unzip();
    let delta = i16::from(d.after.score) - i16::from(d.before.score);
    let body = html! {
        h1 { "Changes: " (d.target_name) }
        p {
            a href=(site.scan(&d.previous_scan_id)) { "previous scan" }
            " " (grade_badge(Some(d.before.grade))) " " (d.before.score)
            " → "
            a href=(site.scan(&d.scan_id)) { "this scan" }
            " " (grade_badge(Some(d.after.grade))) " " (d.after.score)
            " (" @if delta > 0 { "+" } (delta) ")"
        }
        @for w in &c.warnings { p.warn { (w) } }
        (section("New", "Found now, not in the previous scan.", &c.new, None))
        (section("Regressed", "Fixed in an earlier scan, found again now.", &c.regressed, None))
        (section("Fixed", "Not found now, where this scan did look.", &c.fixed, None))
        (section(
            "Not re-tested",
            "Absent now, but this scan did not test them again: not called fixed.",
            &stale,
            Some(&why),
        ))
        p.muted { (c.unchanged) " finding" @if c.unchanged != 1 { "s" } " unchanged." }
    };
    page(site, &format!("Changes in scan {}", d.scan_id), body)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_inert, XSS};
    use super::*;
    use middlebrick_model::{CheckId, Grade, Severity};

    fn scan(status: ScanStatus) -> ScanPage {
        ScanPage {
            target_id: "t1".into(),
            target_name: "shop".into(),
            target_url: "http://127.0.0.1:8000/".into(),
            scan: ScanInfo {
                id: "s2".into(),
                status,
                at: "2026-12-01T10:05:00Z".into(),
            },
            created_at: "2026-12-01T10:00:00Z".into(),
            completed_at: Some("2026-12-01T10:05:00Z".into()),
            grading: Some(Grading {
                score: 72,
                grade: Grade::C,
            }),
            has_previous: true,
            error: None,
            formats_href: Some("/api/scans/s2/report".into()),
        }
    }

    #[test]
    fn the_report_is_embedded_escaped_in_a_sandboxed_frame() {
        let mut report = crate::fixture::report();
        report.findings[0].title = XSS.into();
        report.target = format!("http://127.0.0.1:8000/{XSS}");
        let doc = report_html(&report, Vec::new(), &Redactor::new());
        assert!(doc.contains("<!DOCTYPE html>"), "the renderer's own page");
        let page = scan_page(&Site::default(), &scan(ScanStatus::Completed), Some(&doc));
        assert_inert(&page);
        assert!(page.contains("<iframe class=\"report\" title=\"scan report\" sandbox=\"\" srcdoc=\"&lt;!DOCTYPE html&gt;"));
        // The hostile title is escaped twice: once by the report, once into the attribute.
        assert!(page.contains("&amp;lt;script&amp;gt;alert(1)"));
        assert!(page.contains("href=\"/dashboard/scans/s2/diff\""));
        assert!(page.contains("href=\"/api/scans/s2/report\""));
        assert!(page.contains("grade-C"));
    }

    #[test]
    fn the_report_keeps_its_redaction() {
        let mut report = crate::fixture::report();
        report.findings[0].description = "token tok-5e5e5e leaked".into();
        let redactor = Redactor::new();
        redactor.add("tok-5e5e5e");
        let doc = report_html(&report, Vec::new(), &redactor);
        let page = scan_page(&Site::default(), &scan(ScanStatus::Completed), Some(&doc));
        assert!(!page.contains("tok-5e5e5e"));
    }

    #[test]
    fn a_failed_scan_shows_its_error_and_no_report_or_diff() {
        let mut s = scan(ScanStatus::Failed);
        s.error = Some(format!("could not reach {XSS}"));
        s.grading = None;
        let page = scan_page(&Site::default(), &s, None);
        assert_inert(&page);
        assert!(page.contains("status-failed"));
        assert!(page.contains("<p class=\"error\">could not reach &lt;script&gt;"));
        assert!(page.contains("the scan has not completed"));
        assert!(!page.contains("/diff") && !page.contains("<iframe"));
    }

    fn brief(id: &str, title: &str, severity: Severity) -> FindingBrief {
        FindingBrief {
            id: id.into(),
            check: CheckId::AuthzBola,
            severity,
            title: title.into(),
            location: "GET /orders/{id}".into(),
            parameter: Some("id".into()),
        }
    }

    #[test]
    fn the_diff_lists_each_verdict_with_the_drift() {
        let d = DiffPage {
            target_name: "shop".into(),
            scan_id: "s2".into(),
            previous_scan_id: "s1".into(),
            before: Grading {
                score: 91,
                grade: Grade::A,
            },
            after: Grading {
                score: 72,
                grade: Grade::C,
            },
            changes: Changes {
                new: vec![brief("n1", "New one", Severity::High)],
                regressed: vec![brief("r1", "Back again", Severity::Critical)],
                fixed: vec![],
                not_retested: vec![(
                    brief("x1", "Stale one", Severity::Low),
                    "authz.bola did not run on GET /orders/{id}".into(),
                )],
                unchanged: 4,
                warnings: vec!["the two scans have different modes: safe and active".into()],
            },
        };
        let page = diff_page(&Site::default(), &d);
        assert_inert(&page);
        for want in [
            "<h2>New (1)</h2>",
            "<h2>Regressed (1)</h2>",
            "<h2>Fixed (0)</h2>",
            "<h2>Not re-tested (1)</h2>",
            "New one",
            "Back again",
            "<td>authz.bola did not run on GET /orders/{id}</td>",
            "4 findings unchanged.",
            "(-19)",
            "different modes",
            "href=\"/dashboard/scans/s1\"",
        ] {
            assert!(page.contains(want), "missing {want:?}");
        }
        // Fixed is empty, so its section says so rather than drawing an empty table.
        let fixed = &page[page.find("<h2>Fixed").unwrap()..page.find("<h2>Not re-tested").unwrap()];
        assert!(fixed.contains("None.") && !fixed.contains("<table"));
    }

    #[test]
    fn hostile_findings_in_the_diff_are_escaped() {
        let d = DiffPage {
            target_name: XSS.into(),
            scan_id: XSS.into(),
            previous_scan_id: "s1".into(),
            before: Grading {
                score: 50,
                grade: Grade::F,
            },
            after: Grading {
                score: 60,
                grade: Grade::D,
            },
            changes: Changes {
                new: vec![FindingBrief {
                    location: XSS.into(),
                    parameter: Some(XSS.into()),
                    ..brief(XSS, XSS, Severity::Medium)
                }],
                warnings: vec![XSS.into()],
                ..Changes::default()
            },
        };
        let page = diff_page(&Site::default(), &d);
        assert_inert(&page);
        assert!(page.contains("(+10)"));
    }
}
