//! The dashboard: server-rendered pages, each a function from plain structs to a `String`.
//!
//! No front-end build, no script, no font, no CDN: inline CSS and, for trends, a few lines of
//! inline SVG. Everything a target or a finding chose (names, URLs, titles, errors) reaches the
//! page through `maud`, which escapes every interpolation unless the code says `PreEscaped`;
//! the only `PreEscaped` here are our own CSS and numbers. The pages carry a
//! Content-Security-Policy that allows no script at all (the router should also send
//! [`CONTENT_SECURITY_POLICY`] as a header), so a missed escape still cannot run code.
//!
//! Pages: the targets table (`targets`), a scan with its report and the diff against the
//! previous scan (`scan`), and alert deliveries (`deliveries`). Links follow [`Site`].

mod deliveries;
mod scan;
mod targets;

pub use deliveries::{deliveries_page, webhook_label, DeliveryRow};
pub use scan::{diff_page, report_html, scan_page, DiffPage, ScanPage};
pub use targets::{sparkline, targets_page, TargetRow};

use maud::{html, Markup, PreEscaped, DOCTYPE};
use middlebrick_model::Grade;
use percent_encoding::{utf8_percent_encode, AsciiSet};
use serde::{Deserialize, Serialize};

/// Scripts none, styles inline only, images only inline SVG/data, frames only our own report
/// (`srcdoc`), forms back to us, never framed by another site. The router sends it as a
/// header; pages carry [`META_CONTENT_SECURITY_POLICY`] too.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src data:; frame-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'self'";

/// The policy in the page's `<meta>`: the header's without `frame-ancestors`, which browsers
/// ignore in a `<meta>` element and report on the console when they find it there.
pub const META_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
     style-src 'unsafe-inline'; img-src data:; frame-src 'self'; form-action 'self'; \
     base-uri 'none'";

/// Where the dashboard is mounted and how its pages link to each other. The router serves:
/// `{base}/` targets, `{base}/scans/{id}` a scan, `{base}/scans/{id}/diff` its diff,
/// `{base}/deliveries` alert deliveries. Ids are percent-encoded into paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The mount path without a trailing slash: `/dashboard`, or empty for the root.
    pub base: String,
}

impl Default for Site {
    fn default() -> Self {
        Site {
            base: "/dashboard".into(),
        }
    }
}

/// Every byte but ASCII letters, digits, `-`, `_` and `.` is encoded in an id path segment.
const SEGMENT: &AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

fn seg(id: &str) -> String {
    utf8_percent_encode(id, SEGMENT).to_string()
}

impl Site {
    pub fn targets(&self) -> String {
        format!("{}/", self.base)
    }

    pub fn scan(&self, id: &str) -> String {
        format!("{}/scans/{}", self.base, seg(id))
    }

    pub fn diff(&self, id: &str) -> String {
        format!("{}/scans/{}/diff", self.base, seg(id))
    }

    pub fn deliveries(&self) -> String {
        format!("{}/deliveries", self.base)
    }
}

/// A scan's state, as the service's queue names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanStatus {
    Queued,
    Processing,
    Completed,
    Failed,
    /// Retried until the queue gave up (dead-letter).
    Dead,
}

impl ScanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Queued => "queued",
            ScanStatus::Processing => "processing",
            ScanStatus::Completed => "completed",
            ScanStatus::Failed => "failed",
            ScanStatus::Dead => "dead",
        }
    }
}

/// One scan as the tables show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanInfo {
    pub id: String,
    pub status: ScanStatus,
    /// When it finished, or was queued when it has not; shown as given (RFC 3339 UTC).
    pub at: String,
}

const CSS: &str = "
:root{--fg:#1b1f24;--bg:#fff;--muted:#59636e;--line:#d1d9e0;--code:#f6f8fa;--ok:#1a7f37;
--bad:#d1242f;--warn:#9a6700}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;
--line:#3d444d;--code:#151b23;--ok:#3fb950;--bad:#ff7b72;--warn:#d29922}}
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:var(--fg);
background:var(--bg);max-width:1200px;margin:0 auto;padding:16px 24px}
nav{display:flex;gap:18px;align-items:baseline;border-bottom:1px solid var(--line);
padding-bottom:8px;margin-bottom:16px}nav .brand{font-weight:700}
a{color:inherit}.muted{color:var(--muted)}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border-bottom:1px solid var(--line);padding:6px 10px;text-align:left;vertical-align:middle}
td.n{text-align:right}
.grade{display:inline-block;width:1.8em;text-align:center;border-radius:6px;color:#fff;
font-weight:700}
.grade-A{background:#1a7f37}.grade-B{background:#4c8d2b}.grade-C{background:#9a6700}
.grade-D{background:#bc4c00}.grade-F{background:#a40e26}.grade-none{background:#8c959f}
.status{font-size:.85em;border:1px solid var(--line);border-radius:10px;padding:0 8px}
.status-completed,.status-delivered{color:var(--ok)}
.status-failed,.status-dead{color:var(--bad);font-weight:600}
.status-queued,.status-processing,.status-pending{color:var(--warn)}
.spark{vertical-align:middle}.spark-up{color:var(--ok)}.spark-down{color:var(--bad)}
.spark-flat{color:var(--muted)}
.sev{font-size:.85em;font-weight:600}
.sev-critical,.sev-high{color:var(--bad)}.sev-medium{color:var(--warn)}
.warn{border-left:4px solid var(--warn);padding:6px 12px}
.error{border-left:4px solid var(--bad);padding:6px 12px;white-space:pre-wrap}
iframe.report{width:100%;height:80vh;border:1px solid var(--line);border-radius:8px}
code{background:var(--code);padding:0 3px}
";

/// The page around `body`: head with the policy and styles, the navigation, then `body`.
fn page(site: &Site, title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="Content-Security-Policy" content=(META_CONTENT_SECURITY_POLICY);
                meta name="referrer" content="no-referrer";
                title { (title) " · middlebrick" }
                style { (PreEscaped(CSS)) }
            }
            body {
                nav {
                    span.brand { "middlebrick" }
                    a href=(site.targets()) { "Targets" }
                    a href=(site.deliveries()) { "Alert deliveries" }
                }
                main { (body) }
            }
        }
    }
    .into_string()
}

fn grade_badge(grade: Option<Grade>) -> Markup {
    match grade {
        Some(g) => {
            html! { span class={ "grade grade-" (g.as_str()) } title="grade" { (g.as_str()) } }
        }
        None => html! { span.grade.grade-none title="not graded yet" { "–" } },
    }
}

fn status_badge(status: &str) -> Markup {
    html! { span class={ "status status-" (status) } { (status) } }
}

#[cfg(test)]
pub(crate) mod testing {
    /// Every `href` and `src` of a page, for tests that check no link leaves the site.
    pub fn links(page: &str) -> Vec<String> {
        let mut out = Vec::new();
        for attr in ["href=\"", "src=\""] {
            let mut rest = page;
            while let Some(i) = rest.find(attr) {
                rest = &rest[i + attr.len()..];
                let end = rest.find('"').unwrap_or(rest.len());
                out.push(rest[..end].to_string());
            }
        }
        out
    }

    /// The hostile strings tests put in every field a target or finding controls.
    pub const XSS: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

    /// Asserts a page carries none of [`XSS`] unescaped and no script or external reference.
    pub fn assert_inert(page: &str) {
        let lower = page.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "a script tag got through");
        assert!(!lower.contains("<img"), "an injected tag got through");
        // `onerror=` may appear as text or inside a quoted attribute value, never as an
        // attribute of a tag.
        for (i, _) in lower.match_indices("onerror=") {
            let before = &lower[..i];
            let (lt, gt) = (before.rfind('<'), before.rfind('>'));
            if lt > gt {
                let quotes = before[lt.unwrap_or(0)..].matches('"').count();
                assert!(quotes % 2 == 1, "an injected attribute got through");
            }
        }
        for l in links(page) {
            assert!(
                l.starts_with('/') || l.starts_with('#'),
                "link {l:?} leaves the site"
            );
        }
        assert!(page.contains("Content-Security-Policy"));
        assert!(page.contains("default-src &#39;none&#39;") || page.contains("default-src 'none'"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meta_policy_is_the_header_policy_without_frame_ancestors() {
        assert!(!META_CONTENT_SECURITY_POLICY.contains("frame-ancestors"));
        assert_eq!(
            format!("{META_CONTENT_SECURITY_POLICY}; frame-ancestors 'self'"),
            CONTENT_SECURITY_POLICY
        );
    }

    #[test]
    fn site_links_encode_ids_into_one_segment() {
        let site = Site::default();
        assert_eq!(site.targets(), "/dashboard/");
        assert_eq!(site.scan("s-1_a.b"), "/dashboard/scans/s-1_a.b");
        assert_eq!(site.diff("../x y"), "/dashboard/scans/..%2Fx%20y/diff");
        let root = Site {
            base: String::new(),
        };
        assert_eq!(root.deliveries(), "/deliveries");
    }

    #[test]
    fn the_layout_escapes_the_title_and_forbids_scripts() {
        let out = page(&Site::default(), testing::XSS, html! { p { "body" } });
        assert!(out.starts_with("<!DOCTYPE html>"));
        assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        testing::assert_inert(&out);
        assert!(out.contains("<a href=\"/dashboard/deliveries\">Alert deliveries</a>"));
    }

    #[test]
    fn the_inertness_check_catches_raw_markup() {
        let escaped = page(&Site::default(), "t", html! { p { (testing::XSS) } });
        testing::assert_inert(&escaped);
        let raw = page(
            &Site::default(),
            "t",
            html! { p { (PreEscaped(testing::XSS)) } },
        );
        assert!(std::panic::catch_unwind(|| testing::assert_inert(&raw)).is_err());
        let attr = page(
            &Site::default(),
            "t",
            html! { (PreEscaped("<p title=x onerror=alert(1)>")) },
        );
        assert!(std::panic::catch_unwind(|| testing::assert_inert(&attr)).is_err());
        let offsite = page(
            &Site::default(),
            "t",
            html! { a href="https://evil.test/" { "x" } },
        );
        assert!(std::panic::catch_unwind(|| testing::assert_inert(&offsite)).is_err());
    }

    #[test]
    fn statuses_serialise_as_the_queue_names_them() {
        assert_eq!(
            serde_json::to_string(&ScanStatus::Dead).unwrap(),
            "\"dead\""
        );
        let s: ScanStatus = serde_json::from_str("\"processing\"").unwrap();
        assert_eq!(s.as_str(), "processing");
    }
}
