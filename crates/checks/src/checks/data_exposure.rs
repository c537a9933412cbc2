//! `authz.data-exposure`: answers that carry what no client should receive: password hashes or
//! plaintext passwords, API keys and private keys, card numbers.
//!
//! Values are recognised by their format, not by a keyword: a hash must have the structure of
//! its scheme (bcrypt `$2b$12$` + 53 characters, `$argon2id$v=19$…`, `scrypt:`/`pbkdf2:` with
//! parameters, unsalted hex digests of 32/40/64 characters under a password-like key), keys the
//! published shapes of their issuers (AWS `AKIA…`, Stripe `sk_live_…`, GitHub `ghp_…`, Slack
//! `xox…-`), card numbers must pass the Luhn check under a card-like key. Sign-in answers are
//! left out (tokens are their purpose). The scheme of an exposed hash is named, and plaintext
//! or weak schemes (unsalted MD5/SHA-1/SHA-256) raise the severity. Fields the spec does not
//! document are named as context.
//!
//! Passive: it reads the answers the warm-up received as each identity; no extra requests.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::probe::ProbeError;
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Method, Operation, Owasp, Remediation, Severity,
    Tech, ANONYMOUS,
};
use regex::Regex;
use serde_json::Value;
use std::sync::OnceLock;

#[derive(Debug)]
pub struct DataExposure;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthzDataExposure,
    title: "Answers expose password hashes, secrets or card numbers",
    description: "Reads the answers each identity received and looks for values whose format \
        identifies them: password hashes (naming the scheme) or plaintext passwords, API keys \
        (AWS, Stripe, GitHub, Slack), private keys, Luhn-valid card numbers. Names fields the \
        spec does not document.",
    cwe: &[213, 200],
    owasp: &[Owasp::Api3],
    severity: Severity::High,
    kind: CheckKind::Passive,
    remediation: Remediation {
        generic: "Serialise answers through an explicit allowlist of fields per endpoint (a \
            response model), never the database row or ORM object. Password hashes, secrets and \
            full card numbers never leave the server; store passwords with a slow salted scheme \
            (argon2id, scrypt or bcrypt) and never in plaintext or as a bare digest.",
        variants: &[
            (
                Tech::Flask,
                "build answers with a schema (marshmallow `Schema(only=…)`, or a \
                `to_public_dict()` that lists fields) instead of `jsonify(dict(row))`.",
            ),
            (
                Tech::FastApi,
                "declare `response_model=UserOut` on the route with a Pydantic model \
                that has no `password_hash`; FastAPI filters the answer through it.",
            ),
            (
                Tech::Psycopg,
                "select the columns the answer needs (`SELECT id, username, email`), \
                never `SELECT *` into an answer.",
            ),
            (
                Tech::Asyncpg,
                "select the columns the answer needs; `dict(record)` of a `SELECT *` \
                carries every column.",
            ),
            (
                Tech::SqlAlchemy,
                "load only public columns (`load_only(User.id, User.username)`) or map \
                through a response model.",
            ),
        ],
    },
};

#[derive(Debug, Clone, PartialEq)]
struct Exposure {
    field: String,
    what: String,
    severity: Severity,
}

#[async_trait]
impl Check for DataExposure {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        if op.method != Method::Get {
            return Vec::new();
        }
        vec![Planned {
            method: Method::Get,
            identity: "*",
            purpose: "reads the warm-up answers (no extra request)",
        }]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        judge(ctx, op).await.unwrap_or_default()
    }
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let mut who: Vec<String> = ctx.probe.identities().into_iter().map(|i| i.name).collect();
    who.push(ANONYMOUS.into());
    for name in who {
        let ex = ctx.probe.baseline(op, &name).await?;
        let Some(json) = ex.success_json() else {
            continue;
        };
        let mut found = Vec::new();
        scan(&json, &mut found, 20_000);
        if found.is_empty() {
            continue;
        }
        found.dedup_by(|a, b| a.field == b.field && a.what == b.what);
        let severity = found
            .iter()
            .map(|e| e.severity)
            .max()
            .unwrap_or(Severity::High);
        let lines: Vec<String> = found
            .iter()
            .take(8)
            .map(|e| format!("`{}`: {}", e.field, e.what))
            .collect();
        let mut description = format!(
            "The answer to `{}` (as `{name}`, HTTP {}) carries:\n- {}",
            op.key(),
            ex.status().unwrap_or(0),
            lines.join("\n- ")
        );
        let undocumented = undocumented_fields(op, &json);
        if !undocumented.is_empty() {
            description.push_str(&format!(
                "\nFields the spec does not document: {}.",
                undocumented.join(", ")
            ));
        }
        let discriminator = found.first().map(|e| e.field.clone()).unwrap_or_default();
        return Ok(Outcome::finding(META.finding(
            Some(op),
            &discriminator,
            severity,
            Confidence::Confirmed,
            description,
            Evidence::new(vec![ex]),
        )));
    }
    Ok(Outcome::none())
}

pub(crate) fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("pattern compiles"))
}

/// The slow, salted password-hash scheme a value has the exact structure of (bcrypt, argon2,
/// scrypt, PBKDF2, SHA-crypt).
pub(crate) fn hash_scheme(v: &str) -> Option<&'static str> {
    static BCRYPT: OnceLock<Regex> = OnceLock::new();
    static ARGON2: OnceLock<Regex> = OnceLock::new();
    static SCRYPT: OnceLock<Regex> = OnceLock::new();
    static PBKDF2: OnceLock<Regex> = OnceLock::new();
    static SHACRYPT: OnceLock<Regex> = OnceLock::new();
    if re(&BCRYPT, r"^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$").is_match(v) {
        Some("bcrypt")
    } else if re(&ARGON2, r"^\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$").is_match(v) {
        Some("argon2")
    } else if re(&SCRYPT, r"^(?:\$scrypt\$|scrypt:\d+:\d+:\d+\$|\$7\$)").is_match(v) {
        Some("scrypt")
    } else if re(
        &PBKDF2,
        r"^(?:pbkdf2[_:-]sha\d+[:$]\d+\$|\$pbkdf2(?:-sha\d+)?\$\d+\$)",
    )
    .is_match(v)
    {
        Some("PBKDF2")
    } else if re(
        &SHACRYPT,
        r"^\$[56]\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86}$",
    )
    .is_match(v)
    {
        Some("SHA-crypt")
    } else {
        None
    }
}

fn password_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "pwd",
        "pass_hash",
        "hashed_password",
        "password_hash",
        "passwordhash",
        "pw_hash",
    ]
    .iter()
    .any(|p| k == *p || k.ends_with(&format!("_{p}")))
}

fn card_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k.contains("card") || k == "pan" || k == "cc" || k.starts_with("cc_") || k.contains("credit")
}

fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

fn key_kind(v: &str) -> Option<&'static str> {
    static AWS: OnceLock<Regex> = OnceLock::new();
    static STRIPE: OnceLock<Regex> = OnceLock::new();
    static GITHUB: OnceLock<Regex> = OnceLock::new();
    static SLACK: OnceLock<Regex> = OnceLock::new();
    static PEM: OnceLock<Regex> = OnceLock::new();
    if re(&AWS, r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b").is_match(v) {
        Some("an AWS access key id")
    } else if re(&STRIPE, r"\b[sr]k_live_[0-9A-Za-z]{20,}\b").is_match(v) {
        Some("a Stripe live secret key")
    } else if re(&GITHUB, r"\bgh[pousr]_[A-Za-z0-9]{36,}\b").is_match(v) {
        Some("a GitHub token")
    } else if re(&SLACK, r"\bxox[abposr]-[A-Za-z0-9-]{10,}").is_match(v) {
        Some("a Slack token")
    } else if re(
        &PEM,
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----",
    )
    .is_match(v)
    {
        Some("a private key")
    } else {
        None
    }
}

fn classify(key: &str, v: &str) -> Option<(String, Severity)> {
    if let Some(scheme) = hash_scheme(v) {
        return Some((format!("a {scheme} password hash"), Severity::High));
    }
    if password_key(key) && !v.is_empty() {
        let hex = v.len() >= 32 && v.chars().all(|c| c.is_ascii_hexdigit());
        return Some(match (hex, v.len()) {
            (true, 32) => (
                "an unsalted MD5-length hex digest (weak password storage)".into(),
                Severity::Critical,
            ),
            (true, 40) => (
                "an unsalted SHA-1-length hex digest (weak password storage)".into(),
                Severity::Critical,
            ),
            (true, 64) => (
                "an unsalted SHA-256-length hex digest (weak password storage)".into(),
                Severity::Critical,
            ),
            _ if v.contains('$') || v.contains(':') => (
                "a password hash of an unrecognised scheme".into(),
                Severity::High,
            ),
            _ => ("a password in plaintext".into(), Severity::Critical),
        });
    }
    if let Some(kind) = key_kind(v) {
        return Some((kind.to_string(), Severity::High));
    }
    let digits: String = v.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if card_key(key)
        && (13..=19).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && luhn(&digits)
    {
        return Some(("a full card number (Luhn-valid)".into(), Severity::High));
    }
    None
}

fn scan(v: &Value, out: &mut Vec<Exposure>, budget: usize) {
    let mut budget = budget;
    crate::json_walk::walk(v, "", 200, &mut budget, &mut |path, value, key| {
        let Value::String(s) = value else {
            return true;
        };
        let found = match key {
            Some((k, _)) => classify(k, s),
            None => key_kind(s).map(|kind| (kind.to_string(), Severity::High)),
        };
        match found {
            Some((what, severity)) => {
                out.push(Exposure {
                    field: path.to_string(),
                    what,
                    severity,
                });
                false
            }
            None => true,
        }
    });
}

/// Top-level (or first item's) fields the documented success schema does not list.
fn undocumented_fields(op: &Operation, json: &Value) -> Vec<String> {
    let Some(schema) = op.success_schema() else {
        return Vec::new();
    };
    let (props, object) = match json {
        Value::Array(items) => (
            schema.items.as_ref().map(|i| &i.properties),
            items.first().and_then(Value::as_object),
        ),
        Value::Object(o) => (Some(&schema.properties), Some(o)),
        _ => (None, None),
    };
    match (props, object) {
        (Some(p), Some(o)) if !p.is_empty() => {
            o.keys().filter(|k| !p.contains_key(*k)).cloned().collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, SpecVersion};

    async fn run(body: &str) -> Outcome {
        let p = FakeProbe::new()
            .identity("alice", &["alice"])
            .on(|_| true, response(200, "application/json", body));
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        let op = Operation::new(Method::Get, "/api/users/me");
        DataExposure
            .run(&RunCtx {
                probe: &p,
                inventory: &inv,
                op: Some(&op),
            })
            .await
    }

    #[tokio::test]
    async fn hashes_are_named_by_scheme() {
        let bcrypt = format!("$2b$12${}", "a".repeat(53));
        let out = run(&format!(
            r#"{{"id":1,"username":"alice","password_hash":"{bcrypt}"}}"#
        ))
        .await;
        assert!(
            out.findings[0].description.contains("bcrypt"),
            "{}",
            out.findings[0].description
        );
        let out = run(r#"{"id":1,"password_hash":"scrypt:32768:8:1$salt$abcdef"}"#).await;
        assert!(out.findings[0].description.contains("scrypt"));
        let out = run(r#"{"id":1,"password":"5f4dcc3b5aa765d61d8327deb882cf99"}"#).await;
        assert_eq!(out.findings[0].severity, Severity::Critical);
        let out = run(r#"{"id":1,"password":"hunter2"}"#).await;
        assert!(out.findings[0].description.contains("plaintext"));
    }

    #[tokio::test]
    async fn keys_and_cards_by_format() {
        let out = run(
            r#"{"integration":{"aws":"AKIAIOSFODNN7EXAMPLE"},"card_number":"4111 1111 1111 1111"}"#,
        )
        .await;
        let d = &out.findings[0].description;
        assert!(d.contains("AWS") && d.contains("card"), "{d}");
    }

    #[tokio::test]
    async fn ordinary_profiles_are_silent() {
        for body in [
            r#"{"id":1,"username":"alice","email":"a@example.test","role":"customer"}"#,
            r#"{"id":1,"card_last4":"1111","order_ref":"4111111111111112","note":"password reset sent"}"#,
            r#"{"token_type":"bearer","expires_in":3600}"#,
        ] {
            assert!(run(body).await.findings.is_empty(), "{body}");
        }
    }

    #[test]
    fn luhn_holds() {
        assert!(luhn("4111111111111111"));
        assert!(!luhn("4111111111111112"));
    }
}
