//! A small fixed report for the golden tests of every format: three findings on three checks
//! (one of them API-wide), one diagnostic, and the three-rule catalogue.

use crate::{RenderOptions, RuleInfo};
use middlebrick_model::{
    fingerprint, BodyRecord, CheckId, Confidence, Coverage, Diagnostic, Evidence, Exchange,
    Finding, Grade, Method, Mode, Owasp, Report, RequestRecord, ResponseRecord, Severity,
    SpecVersion, ToolInfo, REPORT_SCHEMA_VERSION,
};

pub fn exchange(method: Method, url: &str, status: u16, body: &str) -> Exchange {
    Exchange {
        identity: "anonymous".into(),
        request: RequestRecord {
            method,
            url: url.into(),
            headers: vec![("accept".into(), "application/json".into())],
            body: None,
        },
        response: Some(ResponseRecord {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: BodyRecord {
                text: body.into(),
                size: body.len() as u64,
                truncated: false,
            },
            graphql_field: None,
        }),
        redirects: vec![],
        error: None,
        elapsed_ms: 12,
    }
}

#[allow(clippy::too_many_arguments)]
fn finding(
    check: CheckId,
    title: &str,
    severity: Severity,
    confidence: Confidence,
    cwe: u32,
    owasp: Owasp,
    op: Option<(Method, &str)>,
    parameter: Option<&str>,
    description: &str,
    evidence: Evidence,
) -> Finding {
    Finding {
        id: fingerprint(
            check,
            op.map(|o| o.0),
            op.map(|o| o.1),
            parameter.unwrap_or(""),
        ),
        check,
        title: title.into(),
        severity,
        confidence,
        cwe: vec![cwe],
        owasp: vec![owasp],
        method: op.map(|o| o.0),
        path: op.map(|o| o.1.to_string()),
        graphql_operation: None,
        parameter: parameter.map(str::to_string),
        description: description.into(),
        evidence,
        remediation: format!("Fix {}.", check.as_str()),
    }
}

pub fn report() -> Report {
    let base = "https://api.example.test";
    let auth = Evidence::new(vec![exchange(
        Method::Get,
        &format!("{base}/users/1"),
        200,
        r#"{"id":1,"email":"a@example.test"}"#,
    )])
    .note("an anonymous request got the user object");
    let verbose = Evidence::new(vec![exchange(
        Method::Post,
        &format!("{base}/users"),
        500,
        "Traceback (most recent call last):\n  File \"app.py\", line 3",
    )]);
    let headers = Evidence::new(vec![exchange(Method::Get, &format!("{base}/"), 200, "{}")]);
    Report {
        schema_version: REPORT_SCHEMA_VERSION.into(),
        tool: ToolInfo {
            name: "middlebrick".into(),
            version: "0.1.0".into(),
        },
        target: base.into(),
        mode: Mode::Safe,
        started_at: "2026-01-02T03:04:05Z".into(),
        duration_ms: 12_345,
        requests_sent: 412,
        score: 72,
        grade: Grade::C,
        coverage: Coverage {
            spec: SpecVersion::OpenApi30,
            source: "openapi.yaml".into(),
            operations: 3,
            operations_reached: 3,
            partial: false,
            base_path: String::new(),
            unreached: Vec::new(),
            ..Coverage::new(SpecVersion::OpenApi30, "", 0)
        },
        identities: vec!["anonymous".into(), "alice".into()],
        findings: vec![
            finding(
                CheckId::TransportSecurityHeaders,
                "Missing security headers",
                Severity::Low,
                Confidence::Firm,
                693,
                Owasp::Api8,
                None,
                Some("strict-transport-security"),
                "No Strict-Transport-Security header on any answer.",
                headers,
            ),
            finding(
                CheckId::InfoVerboseError,
                "Verbose error",
                Severity::Medium,
                Confidence::Firm,
                209,
                Owasp::Api8,
                Some((Method::Post, "/users")),
                Some("name"),
                "A malformed name produced a stack trace.",
                verbose,
            ),
            finding(
                CheckId::AuthMissingAuthentication,
                "Missing authentication",
                Severity::Critical,
                Confidence::Confirmed,
                306,
                Owasp::Api2,
                Some((Method::Get, "/users/{id}")),
                None,
                "The operation answered an anonymous request with data.",
                auth,
            ),
        ],
        diagnostics: vec![Diagnostic::warning(
            "spec.broken-operation",
            "the operation's schema has an unresolvable $ref",
        )
        .on("DELETE /users/{id}")
        .hint("fix the $ref in openapi.yaml")],
        incomplete: false,
        stack: None,
    }
}

pub fn rules() -> Vec<RuleInfo> {
    let rule = |id: CheckId, title: &str, severity, cwe, owasp| RuleInfo {
        id,
        title: title.into(),
        severity,
        cwe: vec![cwe],
        owasp: vec![owasp],
        description: format!("What {} looks for.", id.as_str()),
        remediation: format!("Fix {}.", id.as_str()),
    };
    vec![
        rule(
            CheckId::AuthMissingAuthentication,
            "Missing authentication",
            Severity::Critical,
            306,
            Owasp::Api2,
        ),
        rule(
            CheckId::InfoVerboseError,
            "Verbose error",
            Severity::Medium,
            209,
            Owasp::Api8,
        ),
        rule(
            CheckId::TransportSecurityHeaders,
            "Missing security headers",
            Severity::Low,
            693,
            Owasp::Api8,
        ),
    ]
}

pub fn options() -> RenderOptions {
    RenderOptions {
        rules: rules(),
        ..RenderOptions::default()
    }
}

/// [`report`] with coverage records: the three checks ran, a state-changing one was skipped by
/// the mode, identity `bob` failed to sign in, and `DELETE /users/{id}` was never sent.
pub fn report_with_coverage() -> Report {
    use middlebrick_model::{CheckRun, IdentityRun, NotReached, UnreachedReason};
    let mut r = report();
    let c = &mut r.coverage;
    for (id, op) in [
        (CheckId::AuthMissingAuthentication, "GET /users/{id}"),
        (CheckId::InfoVerboseError, "POST /users"),
    ] {
        let mut run = CheckRun::ran(id);
        run.operations.push(op.into());
        c.checks.push(run);
    }
    let mut api = CheckRun::ran(CheckId::TransportSecurityHeaders);
    api.api_wide = true;
    c.checks.push(api);
    c.checks.push(CheckRun::skipped(
        CheckId::AuthzBolaWrite,
        "needs a mode above safe",
    ));
    c.operations_reached = 2;
    c.unreached = vec!["DELETE /users/{id}".into()];
    c.not_reached = vec![NotReached {
        operation: "DELETE /users/{id}".into(),
        reason: UnreachedReason::NotSent,
    }];
    c.identities = vec![
        IdentityRun {
            name: "alice".into(),
            signed_in: true,
            reason: None,
        },
        IdentityRun {
            name: "bob".into(),
            signed_in: false,
            reason: Some("the sign-in answered 401".into()),
        },
    ];
    r
}
