//! `auth.weak-password-policy`: registration accepts a short or common password (CWE-521).
//!
//! Active mode only, on the operation [`crate::authflow::is_registration`] recognises when it is
//! the one the engine registers through ([`crate::Probe::registration_operation`]). Every account
//! it creates is new, random and the scan's own. First a control: a registration with a strong
//! random password must succeed, which proves the operation works with the body the engine builds.
//! Then a 4-character password that has every character class (only its length is wrong), and a
//! common one (`password`, then `12345678` if that was refused). A weak password counts as accepted
//! when its registration gets the control's own 2xx status and is not an error envelope the control
//! was not. Each accepted one is then signed in with; a 2xx there makes the finding confirmed (firm
//! without it: the account may await e-mail verification).
//!
//! Budget per registration operation: at most 6 requests (control, short, two common, two
//! sign-ins), 5 in the usual case.

use crate::authflow::{is_registration, signed_in};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::ownership::nonce;
use crate::probe::{Probe, ProbeError};
use crate::similarity::is_error_envelope;
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Operation, Owasp, Remediation,
    Severity, Tech, ANONYMOUS,
};

#[derive(Debug)]
pub struct WeakPasswordPolicy;

/// Common passwords tried in order; the second only when the first is refused (a policy that
/// demands a digit refuses `password` and may still take `12345678`).
const COMMON: &[&str] = &["password", "12345678"];

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthWeakPasswordPolicy,
    title: "Registration accepts weak passwords",
    description: "In active mode, registers scan-owned accounts: a control with a strong password \
        that must succeed, then a 4-character password and a common one (`password`, \
        `12345678`). Fires when a weak one is accepted like the control; confirmed when the new \
        account then signs in with it.",
    cwe: &[521],
    owasp: &[Owasp::Api2],
    severity: Severity::Medium,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Enforce a password policy on the server wherever a password is set \
            (registration, change, reset): at least 8 characters (NIST SP 800-63B; 12+ is \
            better), no maximum below 64, and refuse passwords found in a list of common or \
            breached passwords (and the username itself). Prefer length and a blocklist to \
            character-class rules.",
        variants: &[
            (
                Tech::Flask,
                "validate in the registration, change and reset views before hashing: \
                `if len(pw) < 8 or pw.lower() in COMMON_PASSWORDS or pw == username: \
                abort(400, \"password too weak\")`, with the list loaded once at start-up (or use \
                `zxcvbn` and require a score of 3); Flask-Security's `SECURITY_PASSWORD_LENGTH_MIN` \
                and `SECURITY_PASSWORD_CHECK_BREACHED` do the same.",
            ),
            (
                Tech::FastApi,
                "declare the field as `password: str = Field(min_length=8, max_length=128)` in \
                the registration model and add a `@field_validator(\"password\")` that raises \
                `ValueError` for common passwords and the username, so FastAPI answers 422; reuse \
                the same model for password change and reset.",
            ),
        ],
    },
};

#[async_trait]
impl Check for WeakPasswordPolicy {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        if !is_registration(op) {
            return Vec::new();
        }
        vec![
            Planned {
                method: Method::Post,
                identity: ANONYMOUS,
                purpose: "register with a strong password (control), a short and a common one",
            },
            Planned {
                method: Method::Post,
                identity: ANONYMOUS,
                purpose: "sign in with an accepted weak password",
            },
        ]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        let is_engines = ctx
            .probe
            .registration_operation()
            .is_some_and(|(m, p)| m == op.method && p == op.path);
        if !is_engines {
            return Outcome::none();
        }
        judge(ctx.probe, op).await.unwrap_or_default()
    }
}

/// A 4-character password with a lower-case letter, an upper-case letter, a digit and a symbol.
fn short_password() -> String {
    let n = nonce();
    let digit = n.chars().find(|c| c.is_ascii_digit()).unwrap_or('7');
    let letter = n.chars().find(|c| c.is_ascii_lowercase()).unwrap_or('k');
    format!("{letter}Q{digit}!")
}

fn new_username() -> String {
    format!("mbpw{}", nonce())
}

/// True when `ex` was accepted the way the control was.
fn accepted(control: &Exchange, ex: &Exchange) -> bool {
    match (&control.response, &ex.response) {
        (Some(c), Some(r)) => {
            r.is_success()
                && r.status == c.status
                && (!is_error_envelope(r) || is_error_envelope(c))
        }
        _ => false,
    }
}

/// An accepted weak password: what kind, the password, the registration, the sign-in.
struct Weak {
    kind: &'static str,
    password: String,
    registered: Exchange,
    signed_in: Option<Exchange>,
}

/// Registers a new account with `password`; `Some` when it was accepted like the control.
async fn try_weak(
    probe: &dyn Probe,
    control: &Exchange,
    kind: &'static str,
    password: &str,
) -> Result<Option<Weak>, ProbeError> {
    let user = new_username();
    let registered = probe.register_attempt(&user, password).await?;
    if !accepted(control, &registered) {
        return Ok(None);
    }
    let signed_in = match probe.sign_in_attempt(None, &user, password, &[]).await {
        Ok(ex) if signed_in(&ex, None) => Some(ex),
        Ok(_) | Err(ProbeError::Refused(_)) => None,
        Err(e) => return Err(e),
    };
    Ok(Some(Weak {
        kind,
        password: password.to_string(),
        registered,
        signed_in,
    }))
}

async fn judge(probe: &dyn Probe, op: &Operation) -> Result<Outcome, ProbeError> {
    let strong = format!("Mb-{}-Str0ng!pw", nonce());
    let control = probe.register_attempt(&new_username(), &strong).await?;
    if !control.response.as_ref().is_some_and(|r| r.is_success()) {
        return Ok(Outcome::none());
    }
    let mut weak = Vec::new();
    weak.extend(try_weak(probe, &control, "short (4 characters)", &short_password()).await?);
    for password in COMMON {
        if let Some(w) = try_weak(probe, &control, "common", password).await? {
            weak.push(w);
            break;
        }
    }
    if weak.is_empty() {
        return Ok(Outcome::none());
    }
    Ok(Outcome::finding(finding(op, control, weak)))
}

fn finding(op: &Operation, control: Exchange, weak: Vec<Weak>) -> middlebrick_model::Finding {
    let confirmed = weak.iter().any(|w| w.signed_in.is_some());
    let list: Vec<String> = weak
        .iter()
        .map(|w| {
            format!(
                "a {} password `{}`{}",
                w.kind,
                w.password,
                if w.signed_in.is_some() {
                    " (the new account then signed in with it)"
                } else {
                    ""
                }
            )
        })
        .collect();
    let status = control.status().unwrap_or(0);
    let description = format!(
        "`{}` created accounts with {}, answering HTTP {status} exactly as it did for a strong \
         password. Accounts protected by such passwords fall to the first guesses of any \
         password-spraying or brute-force attempt.",
        op.key(),
        list.join(" and ")
    );
    let mut exchanges = vec![control];
    for w in weak {
        exchanges.push(w.registered);
        exchanges.extend(w.signed_in);
    }
    let evidence = Evidence::new(exchanges).note(
        "first: the control registration with a strong random password; then each weak \
         password's registration, followed by its sign-in when that succeeded",
    );
    META.finding(
        Some(op),
        "",
        Severity::Medium,
        if confirmed {
            Confidence::Confirmed
        } else {
            Confidence::Firm
        },
        description,
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authflow::tests::op_with;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, RequestBody, RequestSpec, SpecVersion};

    const JSON: &str = "application/json";

    fn register() -> Operation {
        op_with(
            Method::Post,
            "/fake-register",
            JSON,
            &["username", "password", "email"],
        )
    }

    async fn run(probe: &FakeProbe) -> Outcome {
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        let op = register();
        WeakPasswordPolicy
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: Some(&op),
            })
            .await
    }

    fn password(r: &RequestSpec) -> String {
        match &r.body {
            Some(RequestBody::Json(v)) => v["password"].as_str().unwrap_or("").to_string(),
            _ => String::new(),
        }
    }

    /// A registration applying `policy` to the password; sign-in succeeds for any account.
    fn api(policy: impl Fn(&str) -> bool + Send + Sync + 'static, sign_in: u16) -> FakeProbe {
        FakeProbe::new()
            .on(
                move |r| r.path == "/fake-login",
                response(sign_in, JSON, r#"{"access_token":"tok-0123456789"}"#),
            )
            .on_dynamic(move |r| {
                (r.path == "/fake-register").then(|| {
                    if policy(&password(r)) {
                        response(201, JSON, r#"{"id":5,"username":"x"}"#)
                    } else {
                        response(400, JSON, r#"{"error":"password too weak"}"#)
                    }
                })
            })
    }

    #[tokio::test]
    async fn any_password_accepted_fires_confirmed() {
        let probe = api(|_| true, 200);
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1);
        let f = &out.findings[0];
        assert_eq!(f.confidence, Confidence::Confirmed);
        assert!(f.description.contains("`password`"));
        assert!(probe.sent_count() <= 6);
        // control, short, common, and two sign-ins
        assert_eq!(f.evidence.exchanges.len(), 5);
    }

    #[tokio::test]
    async fn accepted_but_unable_to_sign_in_is_firm() {
        let probe = api(|_| true, 401);
        let out = run(&probe).await;
        assert_eq!(out.findings[0].confidence, Confidence::Firm);
    }

    #[tokio::test]
    async fn a_policy_of_length_and_a_blocklist_is_silent() {
        let probe = api(
            |pw| pw.len() >= 8 && !["password", "12345678"].contains(&pw),
            200,
        );
        assert!(run(&probe).await.findings.is_empty());
        // control, short, password, 12345678: no sign-in attempted
        assert_eq!(probe.sent_count(), 4);
    }

    #[tokio::test]
    async fn a_class_rule_without_a_blocklist_is_caught_by_the_second_common_password() {
        let probe = api(
            |pw| pw.len() >= 8 && pw.chars().any(|c| c.is_ascii_digit()),
            200,
        );
        let out = run(&probe).await;
        assert!(out.findings[0].description.contains("12345678"));
        assert!(!out.findings[0].description.contains("short"));
    }

    #[tokio::test]
    async fn a_broken_registration_is_silent() {
        let probe = api(|_| false, 200);
        assert!(run(&probe).await.findings.is_empty());
        assert_eq!(probe.sent_count(), 1);
        // A 200 that is an error envelope while the control got data is not an acceptance.
        let probe = FakeProbe::new().on_dynamic(|r| {
            (r.path == "/fake-register").then(|| {
                if password(r).len() >= 8 && password(r) != "password" && password(r) != "12345678"
                {
                    response(201, JSON, r#"{"id":5,"username":"x"}"#)
                } else {
                    response(201, JSON, r#"{"error":"weak password"}"#)
                }
            })
        });
        assert!(run(&probe).await.findings.is_empty());
    }

    #[tokio::test]
    async fn only_the_engines_registration_operation_is_judged() {
        let probe = api(|_| true, 200);
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        let other = op_with(Method::Post, "/signup", JSON, &["username", "password"]);
        let out = WeakPasswordPolicy
            .run(&RunCtx {
                probe: &probe,
                inventory: &inv,
                op: Some(&other),
            })
            .await;
        assert!(out.findings.is_empty());
        assert_eq!(probe.sent_count(), 0);
    }

    #[test]
    fn the_short_password_fails_only_on_length() {
        let pw = short_password();
        assert_eq!(pw.len(), 4);
        assert!(pw.chars().any(|c| c.is_ascii_lowercase()));
        assert!(pw.chars().any(|c| c.is_ascii_uppercase()));
        assert!(pw.chars().any(|c| c.is_ascii_digit()));
    }
}
