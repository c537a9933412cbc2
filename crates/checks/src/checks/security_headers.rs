//! `transport.security-headers`: response headers that protect clients, judged once per scan
//! over the answers the scan received anyway (no extra requests):
//! - `X-Content-Type-Options: nosniff` missing, so a browser may sniff a JSON answer as HTML;
//! - `Strict-Transport-Security` missing on HTTPS answers;
//! - `Server` / `X-Powered-By` (and similar) disclosing a product version.
//!
//! One finding per problem for the whole API, with the share of answers concerned, never one
//! per endpoint.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Operation, Owasp, Remediation, Severity,
    Tech,
};
use regex::Regex;
use std::sync::OnceLock;

#[derive(Debug)]
pub struct SecurityHeaders;

static META: CheckMeta = CheckMeta {
    id: CheckId::TransportSecurityHeaders,
    title: "Protective response headers missing or revealing",
    description: "Looks at the answers the scan received: X-Content-Type-Options missing, HSTS \
        missing on HTTPS, and Server or X-Powered-By headers that disclose product versions. \
        Reported once per scan.",
    cwe: &[693, 200],
    owasp: &[Owasp::Api8],
    severity: Severity::Low,
    kind: CheckKind::Passive,
    remediation: Remediation {
        generic: "Send `X-Content-Type-Options: nosniff` on every answer, \
            `Strict-Transport-Security: max-age=31536000; includeSubDomains` on every HTTPS answer, \
            and no version numbers in `Server` or `X-Powered-By`; or set them once at the reverse \
            proxy in front of the app.",
        variants: &[
            (Tech::Flask, "set the headers in an `@app.after_request` hook, and serve through gunicorn \
                or another production server rather than the Werkzeug development server, whose \
                `Server` header names the Werkzeug and Python versions."),
            (Tech::FastApi, "add the headers in a middleware (`@app.middleware(\"http\")`), start uvicorn \
                with `--no-server-header`, and do not add `X-Powered-By`."),
        ],
    },
};

/// Headers whose value is a product banner.
const BANNER_HEADERS: &[&str] = &[
    "server",
    "x-powered-by",
    "x-aspnet-version",
    "x-aspnetmvc-version",
    "x-generator",
];

fn version_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\d+\.\d+").expect("version pattern compiles"))
}

#[async_trait]
impl Check for SecurityHeaders {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn scope(&self) -> Scope {
        Scope::Api
    }

    fn plan(&self, _op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        Vec::new()
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let observed: Vec<Exchange> = ctx
            .probe
            .observed()
            .into_iter()
            .filter(|e| e.response.is_some())
            .collect();
        let mut outcome = Outcome::none();
        if observed.is_empty() {
            return outcome;
        }
        let total = observed.len();
        let no_nosniff: Vec<&Exchange> = observed
            .iter()
            .filter(|e| {
                !e.response
                    .as_ref()
                    .and_then(|r| r.header("x-content-type-options"))
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("nosniff"))
            })
            .collect();
        if !no_nosniff.is_empty() {
            outcome.findings.push(finding(
                "x-content-type-options",
                format!(
                    "{} of {} answers observed lack `X-Content-Type-Options: nosniff`, so a browser \
                     may interpret an API answer as another content type (for example render JSON \
                     that echoes input as HTML).",
                    no_nosniff.len(),
                    total
                ),
                &no_nosniff,
            ));
        }

        let https: Vec<&Exchange> = observed
            .iter()
            .filter(|e| e.request.url.starts_with("https://"))
            .collect();
        let no_hsts: Vec<&Exchange> = https
            .iter()
            .copied()
            .filter(|e| {
                e.response
                    .as_ref()
                    .expect("filtered")
                    .header("strict-transport-security")
                    .is_none()
            })
            .collect();
        if !no_hsts.is_empty() {
            outcome.findings.push(finding(
                "strict-transport-security",
                format!(
                    "{} of {} HTTPS answers observed lack `Strict-Transport-Security`, so a client \
                     that once reaches the API over plain HTTP can be downgraded.",
                    no_hsts.len(),
                    https.len()
                ),
                &no_hsts,
            ));
        }

        for header in BANNER_HEADERS {
            let disclosing: Vec<&Exchange> = observed
                .iter()
                .filter(|e| {
                    e.response
                        .as_ref()
                        .and_then(|r| r.header(header))
                        .is_some_and(|v| version_re().is_match(v))
                })
                .collect();
            if let Some(first) = disclosing.first() {
                let value = first
                    .response
                    .as_ref()
                    .and_then(|r| r.header(header))
                    .unwrap_or("");
                outcome.findings.push(finding(
                    header,
                    format!(
                        "The `{header}` header discloses product versions (`{value}`) on {} of {} \
                         answers observed, which tells an attacker which known vulnerabilities to try.",
                        disclosing.len(),
                        total
                    ),
                    &disclosing,
                ));
            }
        }
        outcome
    }
}

fn finding(
    header: &str,
    description: String,
    examples: &[&Exchange],
) -> middlebrick_model::Finding {
    let exchanges = examples.iter().take(2).map(|e| (*e).clone()).collect();
    META.finding(
        None,
        header,
        Severity::Low,
        Confidence::Confirmed,
        description,
        Evidence::new(exchanges),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{exchange_for, FakeProbe};
    use crate::similarity::response;
    use middlebrick_model::{Inventory, Method, RequestSpec, SpecVersion};

    fn observed(headers: &[(&str, &str)]) -> Exchange {
        let mut r = response(200, "application/json", "{}");
        for (k, v) in headers {
            r.headers.push((k.to_string(), v.to_string()));
        }
        exchange_for(&RequestSpec::new(Method::Get, "/a"), Some(r))
    }

    async fn run(exchanges: Vec<Exchange>) -> Outcome {
        let mut probe = FakeProbe::new();
        probe.observed = exchanges;
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        SecurityHeaders
            .run(&RunCtx {
                probe: &probe,
                inventory: &inv,
                op: None,
            })
            .await
    }

    #[tokio::test]
    async fn missing_nosniff_and_versioned_server_are_reported_once_each() {
        let ex = observed(&[("server", "Werkzeug/3.0.1 Python/3.11.7")]);
        let out = run(vec![ex.clone(), ex.clone(), ex]).await;
        let params: Vec<_> = out
            .findings
            .iter()
            .map(|f| f.parameter.clone().unwrap())
            .collect();
        assert_eq!(params, vec!["x-content-type-options", "server"]);
        assert!(out
            .findings
            .iter()
            .all(|f| f.method.is_none() && f.path.is_none()));
        assert!(out.findings[0].description.starts_with("3 of 3"));
    }

    #[tokio::test]
    async fn hardened_answers_are_silent() {
        let ex = observed(&[
            ("x-content-type-options", "nosniff"),
            ("server", "gunicorn"),
        ]);
        assert!(run(vec![ex]).await.findings.is_empty());
        assert!(run(vec![]).await.findings.is_empty());
    }
}
