//! The audit rules, one function each, and their metadata. Every finding names the operation
//! (or none, for the API-wide ones) and says what the description declares; the fingerprint's
//! discriminator is the scheme, server or nothing, never a list that shifts as the spec grows.

use crate::walk::{unbounded_inputs, Unbounded};
use crate::AuditRule;
use middlebrick_model::{
    fingerprint, CheckId, Confidence, Evidence, Finding, Inventory, Method, Operation, Owasp,
    ParamLocation, SecuritySchemeKind, Severity,
};
use std::collections::HashSet;

pub static RULES: &[AuditRule] = &[
    AuditRule {
        id: CheckId::AuditNoSecurity,
        title: "Operation declares no security",
        severity: Severity::Medium,
        cwe: &[306],
        owasp: &[Owasp::Api2],
        description: "The operation has no security requirement, neither its own nor a global one, so the description says anyone may call it. A write operation explicitly marked public (`security: []`) is reported at low severity.",
        remediation: "Declare the security requirement every caller must meet (a global `security` with per-operation overrides), and mark deliberately public operations with `security: []` so the intent is visible and reviewed.",
    },
    AuditRule {
        id: CheckId::AuditUnusedScheme,
        title: "Security scheme declared but unused",
        severity: Severity::Low,
        cwe: &[1059],
        owasp: &[Owasp::Api9],
        description: "A security scheme is declared in the components but no operation requires it: either operations that should use it do not say so, or the scheme is stale documentation.",
        remediation: "Reference the scheme from the operations it protects (or from the global `security`), or remove it so the description matches what the API enforces.",
    },
    AuditRule {
        id: CheckId::AuditCredentialInQuery,
        title: "Credential in the query string",
        severity: Severity::Medium,
        cwe: &[598],
        owasp: &[Owasp::Api2],
        description: "An API key scheme, or a query parameter named like a secret (token, api_key, password, secret), puts a credential in the URL, where proxies, server logs, browser history and Referer headers keep it.",
        remediation: "Send credentials in a header (`Authorization`, or an API key header) or the request body, never in the query string; rotate keys that have been sent in URLs.",
    },
    AuditRule {
        id: CheckId::AuditPlainHttpServer,
        title: "Server over plain HTTP",
        severity: Severity::Medium,
        cwe: &[319],
        owasp: &[Owasp::Api8],
        description: "A server URL uses `http://` on a host that is not loopback: clients following the description send credentials and data unencrypted.",
        remediation: "Serve the API over HTTPS only, list only `https://` servers in the description, and redirect or refuse plain HTTP with HSTS.",
    },
    AuditRule {
        id: CheckId::AuditUnboundedArray,
        title: "Input array without maxItems",
        severity: Severity::Low,
        cwe: &[770],
        owasp: &[Owasp::Api4],
        description: "The operation accepts an array (in a parameter or the request body) with no `maxItems`, so the description allows a client to send arbitrarily many elements in one request.",
        remediation: "Give every input array a `maxItems` the API enforces (validation in the framework's request model), and reject larger requests with 400 or 413.",
    },
    AuditRule {
        id: CheckId::AuditUnboundedString,
        title: "Input string without maxLength",
        severity: Severity::Info,
        cwe: &[770],
        owasp: &[Owasp::Api4],
        description: "The operation accepts strings with no `maxLength`, `enum`, `pattern` or bounded `format`, so the description allows arbitrarily long values.",
        remediation: "Give input strings a `maxLength` the API enforces (for example pydantic `constr(max_length=…)` or a Marshmallow `Length` validator), and cap request bodies at the server.",
    },
    AuditRule {
        id: CheckId::AuditNoRateLimitResponse,
        title: "No rate-limit response declared",
        severity: Severity::Low,
        cwe: &[770],
        owasp: &[Owasp::Api4],
        description: "No `429 Too Many Requests` response is declared: the description gives no sign that the API limits request rates, and clients do not know to back off.",
        remediation: "Rate-limit the API (per client and per credential), answer 429 with `Retry-After`, and declare that response in the description.",
    },
    AuditRule {
        id: CheckId::AuditSeveralVersions,
        title: "Several API versions in one description",
        severity: Severity::Low,
        cwe: &[1059],
        owasp: &[Owasp::Api9],
        description: "The servers, or the paths, name more than one API version (`/v1` and `/v2`): older versions stay published and probably deployed, each needing the fixes and reviews the current one gets.",
        remediation: "Publish one description per live version, retire old versions on a schedule (410 Gone, then removal), and keep an inventory of which versions are deployed where.",
    },
];

fn meta(id: CheckId) -> &'static AuditRule {
    crate::rule(id).expect("every audit rule has metadata")
}

fn finding(
    id: CheckId,
    op: Option<&Operation>,
    discriminator: &str,
    description: String,
) -> Finding {
    finding_at(
        id,
        op.map(|o| (o.method, o.path.as_str())),
        discriminator,
        description,
    )
}

fn finding_at(
    id: CheckId,
    at: Option<(Method, &str)>,
    discriminator: &str,
    description: String,
) -> Finding {
    let m = meta(id);
    let (method, path) = match at {
        Some((method, path)) => (Some(method), Some(path.to_string())),
        None => (None, None),
    };
    Finding {
        id: fingerprint(id, method, path.as_deref(), discriminator),
        check: id,
        title: m.title.to_string(),
        severity: m.severity,
        confidence: Confidence::Firm,
        cwe: m.cwe.to_vec(),
        owasp: m.owasp.to_vec(),
        method,
        path,
        graphql_operation: None,
        parameter: (!discriminator.is_empty()).then(|| discriminator.to_string()),
        description,
        evidence: Evidence::default(),
        remediation: m.remediation.to_string(),
    }
}

fn is_write(m: Method) -> bool {
    matches!(
        m,
        Method::Post | Method::Put | Method::Patch | Method::Delete
    )
}

pub fn no_security(inv: &Inventory, out: &mut Vec<Finding>) {
    for op in &inv.operations {
        if op.security.is_none() {
            out.push(finding(
                CheckId::AuditNoSecurity,
                Some(op),
                "",
                format!(
                    "{} has no security requirement and the description declares none globally.",
                    op.key()
                ),
            ));
        } else if op.declares_public() && is_write(op.method) {
            let mut f = finding(
                CheckId::AuditNoSecurity,
                Some(op),
                "",
                format!(
                    "{} changes state and is explicitly marked public (`security: []`).",
                    op.key()
                ),
            );
            f.severity = Severity::Low;
            out.push(f);
        }
    }
}

pub fn unused_scheme(inv: &Inventory, out: &mut Vec<Finding>) {
    let used: HashSet<&str> = inv
        .operations
        .iter()
        .flat_map(|o| o.security.iter().flatten())
        .flat_map(|r| r.schemes.iter().map(|(name, _)| name.as_str()))
        .collect();
    for name in inv.security_schemes.keys() {
        if !used.contains(name.as_str()) {
            out.push(finding(
                CheckId::AuditUnusedScheme,
                None,
                name,
                format!("The security scheme `{name}` is declared but no operation requires it."),
            ));
        }
    }
}

/// Query parameter names that carry a credential, compared without case, `-` or `_`.
const SECRET_NAMES: &[&str] = &[
    "apikey",
    "key",
    "token",
    "accesstoken",
    "authtoken",
    "idtoken",
    "refreshtoken",
    "password",
    "passwd",
    "secret",
    "clientsecret",
    "sessionid",
    "session",
    "jwt",
    "bearer",
];

fn looks_secret(name: &str) -> bool {
    let n: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_NAMES.contains(&n.as_str())
}

pub fn credential_in_query(inv: &Inventory, out: &mut Vec<Finding>) {
    for scheme in inv.security_schemes.values() {
        if let SecuritySchemeKind::ApiKey {
            name,
            location: ParamLocation::Query,
        } = &scheme.kind
        {
            out.push(finding(
                CheckId::AuditCredentialInQuery,
                None,
                name,
                format!(
                    "The security scheme `{}` sends its API key in the query parameter `{name}`.",
                    scheme.name
                ),
            ));
        }
    }
    for op in &inv.operations {
        for p in op
            .params_in(ParamLocation::Query)
            .filter(|p| looks_secret(&p.name))
        {
            out.push(finding(
                CheckId::AuditCredentialInQuery,
                Some(op),
                &p.name,
                format!(
                    "{} takes the credential-like query parameter `{}`.",
                    op.key(),
                    p.name
                ),
            ));
        }
    }
}

/// The host of an absolute URL, lower-cased, without port or brackets.
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

fn is_loopback(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h.starts_with("127.")
        || h == "::1"
        || h.is_empty()
}

pub fn plain_http_server(inv: &Inventory, out: &mut Vec<Finding>) {
    for server in &inv.servers {
        let lower = server.to_ascii_lowercase();
        if lower.starts_with("http://") && !is_loopback(host(&lower)) {
            out.push(finding(
                CheckId::AuditPlainHttpServer,
                None,
                server,
                format!("The server `{server}` is declared over plain HTTP."),
            ));
        }
    }
}

/// Field lists in descriptions stop here, so a huge operation gives a readable finding.
const LISTED: usize = 8;

fn listed(fields: &[String]) -> String {
    let mut s = fields
        .iter()
        .take(LISTED)
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if fields.len() > LISTED {
        s.push_str(&format!(" and {} more", fields.len() - LISTED));
    }
    s
}

/// One finding per operation and kind, listing the fields: one per field would bury a large
/// description's real problems under thousands of lines.
pub fn unbounded(inv: &Inventory, out: &mut Vec<Finding>) {
    for op in &inv.operations {
        let mut arrays = Vec::new();
        let mut strings = Vec::new();
        for u in unbounded_inputs(op) {
            match u {
                Unbounded::Array(a) if !arrays.contains(&a) => arrays.push(a),
                Unbounded::String(s) if !strings.contains(&s) => strings.push(s),
                _ => {}
            }
        }
        if !arrays.is_empty() {
            out.push(finding(
                CheckId::AuditUnboundedArray,
                Some(op),
                "",
                format!(
                    "{} accepts arrays without maxItems: {}.",
                    op.key(),
                    listed(&arrays)
                ),
            ));
        }
        if !strings.is_empty() {
            out.push(finding(
                CheckId::AuditUnboundedString,
                Some(op),
                "",
                format!(
                    "{} accepts strings without maxLength: {}.",
                    op.key(),
                    listed(&strings)
                ),
            ));
        }
    }
}

fn declares_429(op: &Operation) -> bool {
    op.responses.iter().any(|r| r.status == "429")
}

/// API-wide when no operation declares 429 (one finding, not one per operation); otherwise
/// the operations that lack it while others have it.
pub fn no_rate_limit_response(inv: &Inventory, out: &mut Vec<Finding>) {
    if inv.operations.is_empty() {
        return;
    }
    if !inv.operations.iter().any(declares_429) {
        out.push(finding(
            CheckId::AuditNoRateLimitResponse,
            None,
            "",
            format!(
                "None of the {} operations declares a 429 response.",
                inv.operations.len()
            ),
        ));
        return;
    }
    for op in inv.operations.iter().filter(|o| !declares_429(o)) {
        out.push(finding(
            CheckId::AuditNoRateLimitResponse,
            Some(op),
            "",
            format!(
                "{} declares no 429 response, while other operations do.",
                op.key()
            ),
        ));
    }
}

/// The version segments (`v1`, `v2`) of a URL or path, lower-cased.
fn versions_in(path: &str) -> Vec<String> {
    let after_host = path
        .split_once("://")
        .map_or(path, |(_, rest)| rest.find('/').map_or("", |i| &rest[i..]));
    after_host
        .split(['/', '?', '#'])
        .map(str::to_ascii_lowercase)
        .filter(|s| {
            s.strip_prefix('v')
                .is_some_and(|d| !d.is_empty() && d.split('.').all(|p| p.parse::<u32>().is_ok()))
        })
        .collect()
}

/// One finding when the servers, or the operation paths, name more than one version.
pub fn several_versions(inv: &Inventory, out: &mut Vec<Finding>) {
    let distinct = |all: Vec<String>| {
        let mut seen: Vec<String> = Vec::new();
        for v in all {
            if !seen.contains(&v) {
                seen.push(v);
            }
        }
        seen
    };
    let in_servers = distinct(inv.servers.iter().flat_map(|s| versions_in(s)).collect());
    let in_paths = distinct(
        inv.operations
            .iter()
            .filter_map(|o| versions_in(&o.path).into_iter().next())
            .collect(),
    );
    let (where_, found) = if in_servers.len() > 1 {
        ("servers", in_servers)
    } else if in_paths.len() > 1 {
        ("operation paths", in_paths)
    } else {
        return;
    };
    out.push(finding(
        CheckId::AuditSeveralVersions,
        None,
        "",
        format!(
            "The {where_} name {} API versions: {}.",
            found.len(),
            found
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ));
}
