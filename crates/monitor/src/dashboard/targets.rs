//! The first page: every target with its grade, its score trend and its last scan.

use super::{grade_badge, page, status_badge, ScanInfo, Site};
use crate::webhooks::display_url;
use maud::{html, Markup};
use middlebrick_model::Grade;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// One target as the table shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRow {
    pub id: String,
    pub name: String,
    /// Shown without user-info, query or fragment.
    pub url: String,
    /// The grade of the last completed scan.
    pub grade: Option<Grade>,
    /// Scores of the last completed scans, oldest first (the service sends up to 20 or so).
    pub scores: Vec<u8>,
    pub last_scan: Option<ScanInfo>,
}

const W: f64 = 120.0;
const H: f64 = 28.0;
const PAD: f64 = 3.0;

/// A score trend as inline SVG: a line through `scores` (0–100, oldest first) with the last
/// point marked, coloured by the direction of the last change; a dash when there is none.
pub fn sparkline(scores: &[u8]) -> Markup {
    if scores.is_empty() {
        return html! { span.muted title="no completed scan yet" { "–" } };
    }
    let y = |s: u8| PAD + (H - 2.0 * PAD) * (1.0 - f64::from(s.min(100)) / 100.0);
    let step = if scores.len() > 1 {
        (W - 2.0 * PAD) / (scores.len() - 1) as f64
    } else {
        0.0
    };
    let mut points = String::new();
    for (i, s) in scores.iter().enumerate() {
        let _ = write!(points, "{:.1},{:.1} ", PAD + step * i as f64, y(*s));
    }
    let last = *scores.last().unwrap_or(&0);
    let direction = match scores.len().checked_sub(2).map(|i| scores[i]) {
        Some(prev) if last > prev => "up",
        Some(prev) if last < prev => "down",
        _ => "flat",
    };
    let label = format!(
        "score trend over {} scan{}: {}",
        scores.len(),
        if scores.len() == 1 { "" } else { "s" },
        scores
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (cx, cy) = (PAD + step * (scores.len() - 1) as f64, y(last));
    html! {
        svg class={ "spark spark-" (direction) } width="120" height="28" viewBox="0 0 120 28"
            role="img" aria-label=(label) {
            title { (label) }
            polyline fill="none" stroke="currentColor" stroke-width="2"
                stroke-linejoin="round" points=(points.trim_end()) {}
            circle cx=(format!("{cx:.1}")) cy=(format!("{cy:.1}")) r="2.5" fill="currentColor" {}
        }
    }
}

/// The change since the scan before the last, as `+9` / `−4`, or nothing.
fn drift(scores: &[u8]) -> Option<String> {
    let [.., a, b] = scores else { return None };
    let d = i16::from(*b) - i16::from(*a);
    match d {
        0 => None,
        d if d > 0 => Some(format!("+{d}")),
        d => Some(format!("−{}", -d)),
    }
}

fn row(site: &Site, t: &TargetRow) -> Markup {
    html! {
        tr {
            td {
                strong { (t.name) }
                br;
                span.muted { (display_url(&t.url)) }
            }
            td { (grade_badge(t.grade)) " " (t.scores.last().map(u8::to_string).unwrap_or_default()) }
            td {
                (sparkline(&t.scores))
                @if let Some(d) = drift(&t.scores) { " " span.muted { (d) } }
            }
            td {
                @match &t.last_scan {
                    Some(s) => {
                        a href=(site.scan(&s.id)) { (s.at) } " " (status_badge(s.status.as_str()))
                    }
                    None => span.muted { "never scanned" },
                }
            }
        }
    }
}

/// The targets page.
pub fn targets_page(site: &Site, targets: &[TargetRow]) -> String {
    let body = html! {
        h1 { "Targets" }
        @if targets.is_empty() {
            p.muted { "No targets yet. Add one through the API (" code { "POST /api/v1/targets" } ")." }
        } @else {
            table {
                thead { tr { th { "Target" } th { "Grade" } th { "Trend" } th { "Last scan" } } }
                tbody { @for t in targets { (row(site, t)) } }
            }
        }
    };
    page(site, "Targets", body)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_inert, XSS};
    use super::super::ScanStatus;
    use super::*;

    fn target(name: &str, scores: Vec<u8>) -> TargetRow {
        TargetRow {
            id: "t1".into(),
            name: name.into(),
            url: "http://bob:pw@127.0.0.1:8000/api?key=k1".into(),
            grade: scores.last().map(|s| Grade::from_score(*s)),
            scores,
            last_scan: Some(ScanInfo {
                id: "s 7".into(),
                status: ScanStatus::Completed,
                at: "2026-12-01T10:00:00Z".into(),
            }),
        }
    }

    #[test]
    fn the_table_shows_name_url_grade_trend_and_last_scan() {
        let page = targets_page(&Site::default(), &[target("shop", vec![70, 62, 91])]);
        assert!(page.contains("<strong>shop</strong>"));
        assert!(page.contains("http://127.0.0.1:8000/api"));
        assert!(
            !page.contains("pw@") && !page.contains("key=k1"),
            "credentials hidden"
        );
        assert!(page.contains("<span class=\"grade grade-A\" title=\"grade\">A</span> 91"));
        assert!(page.contains("class=\"spark spark-up\""));
        assert!(page.contains("score trend over 3 scans: 70, 62, 91"));
        assert!(page.contains("+29"));
        assert!(page.contains("href=\"/dashboard/scans/s%207\">2026-12-01T10:00:00Z</a>"));
        assert!(page.contains("status-completed"));
        assert_inert(&page);
    }

    #[test]
    fn hostile_names_and_urls_are_escaped() {
        let mut t = target(XSS, vec![50]);
        t.url = format!("http://127.0.0.1/{XSS}");
        t.last_scan.as_mut().unwrap().at = XSS.into();
        t.last_scan.as_mut().unwrap().id = XSS.into();
        let page = targets_page(&Site::default(), &[t]);
        assert_inert(&page);
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img"));
    }

    #[test]
    fn no_targets_and_never_scanned_targets_say_so() {
        let empty = targets_page(&Site::default(), &[]);
        assert!(empty.contains("No targets yet"));
        assert_inert(&empty);
        let mut t = target("new", vec![]);
        t.last_scan = None;
        let page = targets_page(&Site::default(), &[t]);
        assert!(page.contains("never scanned"));
        assert!(page.contains("grade-none"));
        assert!(page.contains("no completed scan yet"));
        assert!(!page.contains("<svg"));
    }

    #[test]
    fn sparklines_scale_scores_into_the_box_and_mark_the_direction() {
        let down = sparkline(&[100, 0]).into_string();
        assert!(down.contains("points=\"3.0,3.0 117.0,25.0\""), "{down}");
        assert!(down.contains("spark-down"));
        assert!(down.contains("cx=\"117.0\" cy=\"25.0\""));
        assert!(
            down.contains("</circle></svg>"),
            "closed elements, not void tags"
        );
        let one = sparkline(&[50]).into_string();
        assert!(one.contains("points=\"3.0,14.0\"") && one.contains("spark-flat"));
        assert_eq!(drift(&[80, 76]).as_deref(), Some("−4"));
        assert_eq!(drift(&[80, 80]), None);
        assert_eq!(drift(&[80]), None);
    }
}
