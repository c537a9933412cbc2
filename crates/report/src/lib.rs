//! Turns a [`Report`] into what people and tools read: a terminal summary, the JSON contract
//! (`docs/report-format.md`), SARIF for code scanning, Markdown for pull-request comments,
//! JUnit XML for CI test tabs, and a self-contained HTML page.
//!
//! Every format goes through one preparation step ([`prepare`]) that redacts secrets by value
//! and caps evidence bodies, on a clone of the report, so no writer can forget to: a secret
//! that reaches a renderer has already been replaced. The rendered text is passed through the
//! redactor once more as a last guard, for strings a future field might add.
//!
//! The crate sees the model only. The check catalogue (titles, CWE, remediation of checks that
//! found nothing) comes in through [`RenderOptions::rules`], so it does not depend on the
//! checks crate.

mod cmark;
mod common;
mod html;
mod json;
mod junit;
mod markdown;
mod redact;
mod sarif;
mod terminal;

use middlebrick_model::{CheckId, Owasp, Redactor, Report, Severity};
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;

pub use redact::{prepare, BODY_CAP};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Terminal,
    Json,
    Sarif,
    Markdown,
    Junit,
    Html,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Terminal,
        Format::Json,
        Format::Sarif,
        Format::Markdown,
        Format::Junit,
        Format::Html,
    ];

    /// The canonical name, as accepted by [`FromStr`] and shown by [`Display`](fmt::Display).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Terminal => "terminal",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Markdown => "markdown",
            Format::Junit => "junit",
            Format::Html => "html",
        }
    }

    /// The usual file extension for an output file in this format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Terminal => "txt",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Markdown => "md",
            Format::Junit => "xml",
            Format::Html => "html",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a format name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown report format `{}` (expected terminal, json, sarif, markdown, junit or html)",
            self.0
        )
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "terminal" | "text" => Ok(Format::Terminal),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            "markdown" | "md" => Ok(Format::Markdown),
            "junit" => Ok(Format::Junit),
            "html" => Ok(Format::Html),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

/// One entry of the check catalogue, as the caller knows it from the checks crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub id: CheckId,
    pub title: String,
    pub severity: Severity,
    pub cwe: Vec<u32>,
    pub owasp: Vec<Owasp>,
    pub description: String,
    pub remediation: String,
}

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// ANSI colour in the terminal format. The caller decides (stdout is a terminal and
    /// `NO_COLOR` is unset); this crate never looks at the environment.
    pub color: bool,
    /// Terminal format only: show evidence exchanges, curl reproductions and remediation.
    pub verbose: bool,
    /// The OpenAPI file the scan used, relative to the working directory (in CI, the checkout);
    /// SARIF results then point at the line of each operation's path key. Without it, results
    /// point at the endpoint relative to the target (see `sarif.rs`).
    pub spec_file: Option<PathBuf>,
    /// The check catalogue: SARIF rules, JUnit passing cases, Markdown/HTML family tables.
    pub rules: Vec<RuleInfo>,
}

/// Renders `report` in `format`, redacted and capped (see the crate docs).
pub fn render(
    report: &Report,
    format: Format,
    opts: &RenderOptions,
    redactor: &Redactor,
) -> String {
    let safe = prepare(report, redactor);
    let out = match format {
        Format::Terminal => terminal::render(&safe, opts),
        Format::Json => json::render(&safe),
        Format::Sarif => sarif::render(&safe, opts),
        Format::Markdown => markdown::render(&safe, opts),
        Format::Junit => junit::render(&safe, opts),
        Format::Html => html::render(&safe, opts),
    };
    redactor.redact(&out)
}

/// [`render`] into a writer, for files and stdout.
pub fn write(
    report: &Report,
    format: Format,
    opts: &RenderOptions,
    redactor: &Redactor,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    out.write_all(render(report, format, opts, redactor).as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod fixture;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_their_names_and_aliases() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
            assert_eq!(f.to_string(), f.as_str());
        }
        assert_eq!("text".parse::<Format>().unwrap(), Format::Terminal);
        assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
        assert_eq!("SARIF".parse::<Format>().unwrap(), Format::Sarif);
        let err = "pdf".parse::<Format>().unwrap_err();
        assert!(err.to_string().contains("`pdf`"));
    }

    const CANARY: &str = "mb-canary-7f3a9c2e51";
    const CANARY_SPACED: &str = "hunter2 hunter2";

    /// A report with the canary in a request header, a query string (percent-encoded), a
    /// response body, a curl line, a note, a description and a diagnostic.
    fn canary_report() -> Report {
        use middlebrick_model::{Diagnostic, Evidence, Method};
        let mut report = fixture::report();
        let mut ex = fixture::exchange(
            Method::Get,
            "https://api.example.test/users/1?password=hunter2%20hunter2",
            200,
            &format!("{{\"token\":\"{CANARY}\"}}"),
        );
        ex.request
            .headers
            .push(("authorization".into(), format!("Bearer {CANARY}")));
        let f = &mut report.findings[2];
        f.evidence = Evidence::new(vec![ex]).note(format!("alice's token {CANARY} worked"));
        f.description = format!("The token {CANARY} was echoed.");
        report.diagnostics.push(
            Diagnostic::error(
                "identity.sign-in-failed",
                format!("sign-in with {CANARY} failed"),
            )
            .hint(format!("check the password {CANARY_SPACED}")),
        );
        report
    }

    #[test]
    fn canary_secrets_appear_in_no_format() {
        let report = canary_report();
        let unredacted = serde_json::to_string(&report).unwrap();
        assert!(unredacted.contains(CANARY) && unredacted.contains("hunter2%20hunter2"));
        let redactor = Redactor::new();
        redactor.add(CANARY);
        redactor.add(CANARY_SPACED);
        // The shared preparation step alone removes them, before the final guard pass.
        let prepared = serde_json::to_string(&prepare(&report, &redactor)).unwrap();
        assert!(!prepared.contains(CANARY) && !prepared.contains("hunter2"));
        let mut opts = fixture::options();
        opts.verbose = true;
        opts.spec_file = Some(PathBuf::from("openapi.yaml"));
        for color in [false, true] {
            opts.color = color;
            for format in Format::ALL {
                let out = render(&report, format, &opts, &redactor);
                for leak in [CANARY, CANARY_SPACED, "hunter2%20hunter2", "hunter2"] {
                    assert!(!out.contains(leak), "{format} leaks {leak:?}:\n{out}");
                }
                assert!(
                    out.contains(middlebrick_model::REDACTED),
                    "{format} shows the redacted evidence"
                );
            }
        }
    }

    #[test]
    fn write_matches_render() {
        let report = fixture::report();
        let opts = fixture::options();
        let redactor = Redactor::new();
        let mut buf = Vec::new();
        write(&report, Format::Markdown, &opts, &redactor, &mut buf).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            render(&report, Format::Markdown, &opts, &redactor)
        );
    }
}
