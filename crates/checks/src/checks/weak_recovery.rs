//! `auth.weak-recovery`: a password reset that hands out its code, accepts a short code
//! without throttling guesses, or accepts a code twice.
//!
//! Active mode only, and only ever on an account the scan registered for the purpose
//! (`Probe::own_account`): a reset request for a real user would message them and a confirm
//! would change their password. The reset request (`authflow::is_reset_request`) is paired
//! with the reset confirmation (`authflow::is_reset_confirm`) that shares the longest path
//! prefix with it. Where an operation takes an e-mail rather than a username, the account's
//! address is read from its own profile (`ownership::self_read`, as the account), else taken as
//! the engine registers it: `<username>@example.com`.
//!
//! - (a) on the request operation: its answer carries a value (under a code- or token-like key,
//!   or in a link's `token=`/`code=` query parameter) that the confirmation accepts with a new
//!   password, and the account then signs in with that password.
//! - (c) on the confirmation, after (a): the same code accepted a second time with another
//!   password, which then signs in.
//! - (b) on the confirmation: the code is short (digits only, at most 6, as seen in (a) or
//!   declared by the spec's `pattern` or an integer `maximum`), a fresh reset is requested and
//!   ten wrong codes of the same shape get no 429, `Retry-After` or 423; confirmed when the
//!   right code still works afterwards (no lockout), firm when the code was never seen.
//!
//! Budget: at most 20 requests (one e-mail lookup, two reset requests, up to two confirmations
//! and two sign-ins to prove a code, one reuse and its sign-in, ten wrong codes, the right code
//! after them), plus the registration and sign-in of the scan-owned account: within 30.

use crate::authflow::{
    body_properties, code_property, is_changing_password_name, is_email_property, is_password_name,
    is_plain_failure, is_possible_failure, is_throttled, operations_with, signed_in,
    username_property, AuthRole,
};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::ownership::{nonce, self_read};
use crate::probe::{Overrides, OwnAccount, ProbeError};
use crate::session::mask;
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, CredentialUse, Evidence, Exchange, Finding, Inventory, Mode,
    Operation, Owasp, ParamLocation, Remediation, Schema, SchemaType, Severity, Tech, ANONYMOUS,
};
use serde_json::Value;

#[derive(Debug)]
pub struct WeakRecovery;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthWeakRecovery,
    title: "Weak password recovery",
    description: "On an account the scan registered, requests a password reset and fires when \
        the answer carries the code (proven by using it), when a short code can be guessed \
        without throttling (ten wrong codes, then the right one still works), or when a code \
        works twice.",
    cwe: &[640],
    owasp: &[Owasp::Api2],
    severity: Severity::High,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Send the reset code only out of band (to the account's verified e-mail), never \
            in the API's answer, and answer every reset request the same way whether or not the \
            account exists. Make the code long and random (at least 128 bits, e.g. 32 URL-safe \
            bytes), store only its hash, let it expire within 15 to 60 minutes, mark it used on \
            first success, and limit wrong attempts per account (429 with `Retry-After`, then \
            invalidate the code). Apply the registration password policy to the new password and \
            end the account's other sessions after a reset.",
        variants: &[
            (
                Tech::Flask,
                "make the code with `secrets.token_urlsafe(32)` or an itsdangerous \
                `URLSafeTimedSerializer(app.secret_key, salt=\"pw-reset\")` token checked with \
                `loads(token, max_age=900)`; store `hashlib.sha256(code).hexdigest()`, delete the \
                row on use, and count failures per username in a table (Flask-Limiter keyed on \
                the username for the confirm route).",
            ),
            (
                Tech::FastApi,
                "make the code with `secrets.token_urlsafe(32)`, store its SHA-256 with an \
                `expires_at`, compare with `secrets.compare_digest`, `DELETE ... RETURNING` it on \
                use so it works once, and guard the confirm route with a dependency that counts \
                failures per username and raises `HTTPException(429, headers={\"Retry-After\": \
                ...})`.",
            ),
        ],
    },
};

const BURST: usize = 10;

#[async_trait]
impl Check for WeakRecovery {
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
        judge(ctx).await.unwrap_or_default()
    }
}

/// The reset request and the confirmation sharing the longest path prefix with it.
fn pair(inv: &Inventory) -> Option<(&Operation, &Operation)> {
    let request = *operations_with(inv, AuthRole::ResetRequest).first()?;
    let common = |o: &Operation| {
        o.path
            .bytes()
            .zip(request.path.bytes())
            .take_while(|(a, b)| a == b)
            .count()
    };
    let confirm = operations_with(inv, AuthRole::ResetConfirm)
        .into_iter()
        .max_by_key(|o| common(o))?;
    Some((request, confirm))
}

/// The account as the scan knows it: identity, username, e-mail.
struct Account {
    own: OwnAccount,
    email: String,
}

impl Account {
    /// What `op` takes to name the account: the e-mail when its account property is one.
    fn name_for(&self, op: &Operation) -> Option<(String, String)> {
        let prop = username_property(op)?;
        let value = if is_email_property(op, &prop) {
            self.email.clone()
        } else {
            self.own.username.clone()
        };
        Some((prop, value))
    }
}

/// The account's e-mail: from its own profile, else the engine's `<username>@example.com`.
async fn email_of(ctx: &RunCtx<'_>, own: &OwnAccount) -> Result<String, ProbeError> {
    if let Some(op) = self_read(ctx.inventory) {
        let ex = ctx.probe.baseline(op, &own.identity).await?;
        let found = ex.success_json().and_then(|j| find_email(&j));
        if let Some(email) = found {
            return Ok(email);
        }
    }
    Ok(format!("{}@example.com", own.username))
}

fn find_email(v: &Value) -> Option<String> {
    let map = v.as_object()?;
    map.iter()
        .find_map(|(k, v)| {
            let s = v.as_str()?;
            (k.to_ascii_lowercase().contains("mail") && s.contains('@')).then(|| s.to_string())
        })
        .or_else(|| map.values().find_map(find_email))
}

/// Values in a reset answer that may be the code: strings or numbers under a code- or
/// token-like key, and `token=`/`code=` query parameters of links.
fn code_candidates(v: &Value, exclude: &[&str], out: &mut Vec<Value>, budget: &mut usize) {
    if *budget == 0 || out.len() >= 3 {
        return;
    }
    *budget -= 1;
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let n = crate::authflow::norm(k);
                let codeish = !n.contains("status")
                    && !n.contains("error")
                    && !n.contains("http")
                    && (n.contains("code")
                        || n.contains("token")
                        || n.contains("otp")
                        || n.ends_with("pin")
                        || n.ends_with("key")
                        || n == "nonce"
                        || n == "secret");
                let text = match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                };
                if let Some(t) = text {
                    let plausible = (4..=512).contains(&t.len())
                        && !t.contains(char::is_whitespace)
                        && !exclude.contains(&t.as_str());
                    if codeish && plausible && !t.contains("://") {
                        out.push(v.clone());
                    } else if t.contains("://") {
                        out.extend(link_code(&t).map(Value::String));
                    }
                    continue;
                }
                code_candidates(v, exclude, out, budget);
            }
        }
        Value::Array(items) => items
            .iter()
            .take(20)
            .for_each(|i| code_candidates(i, exclude, out, budget)),
        _ => {}
    }
}

/// The value of a `token`/`code`/`key` query parameter of a link.
fn link_code(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next()?;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        let n = crate::authflow::norm(k);
        ((n.contains("token") || n.contains("code") || n == "key") && v.len() >= 4)
            .then(|| v.to_string())
    })
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn new_password() -> String {
    format!("Mb-Reset-{}-7q!", nonce())
}

async fn request_reset(
    ctx: &RunCtx<'_>,
    op: &Operation,
    account: &Account,
) -> Result<Option<Exchange>, ProbeError> {
    let Some((prop, value)) = account.name_for(op) else {
        return Ok(None);
    };
    let mut req = ctx.probe.request(
        op,
        ANONYMOUS,
        &Overrides::body_field(vec![prop], Value::String(value)),
    );
    req.credentials = CredentialUse::None;
    Ok(Some(ctx.probe.send(req).await?))
}

/// The schema of the confirmation's code property.
fn code_schema(op: &Operation) -> Option<std::sync::Arc<Schema>> {
    let name = code_property(op)?;
    body_properties(op)
        .into_iter()
        .find(|(k, _)| *k == name)
        .map(|(_, s)| s)
}

async fn confirm(
    ctx: &RunCtx<'_>,
    op: &Operation,
    account: &Account,
    code: &str,
    password: &str,
) -> Result<Exchange, ProbeError> {
    let mut ov = Overrides::none();
    let numeric = code_schema(op).is_some_and(|s| s.is_numeric());
    let code_value = match code.parse::<u64>() {
        Ok(n) if numeric => Value::from(n),
        _ => Value::String(code.to_string()),
    };
    match code_property(op) {
        Some(p) => ov.body.push((vec![p], Some(code_value))),
        None => {
            if let Some(p) = op.params_in(ParamLocation::Path).next() {
                ov.params
                    .push((ParamLocation::Path, p.name.clone(), Some(code_value)));
            }
        }
    }
    for (k, _) in body_properties(op) {
        if is_password_name(&k) || is_changing_password_name(&k) {
            ov.body
                .push((vec![k], Some(Value::String(password.into()))));
        }
    }
    if let Some((prop, value)) = account.name_for(op) {
        ov.body.push((vec![prop], Some(Value::String(value))));
    }
    let mut req = ctx.probe.request(op, ANONYMOUS, &ov);
    req.credentials = CredentialUse::None;
    // The password it sets is the scan-owned account's: kept out of the report.
    Ok(mask(ctx.probe.send(req).await?, password))
}

fn ok(ex: &Exchange) -> bool {
    ex.is_success()
}

/// Signs the account in with `password` through the identities' sign-in operation.
async fn signs_in(
    ctx: &RunCtx<'_>,
    account: &Account,
    password: &str,
) -> Result<Option<Exchange>, ProbeError> {
    let sign_in = ctx.probe.sign_in_operation().and_then(|(m, p)| {
        ctx.inventory
            .operations
            .iter()
            .find(|o| o.method == m && o.path == p)
    });
    let name = sign_in
        .and_then(|op| account.name_for(op))
        .map_or_else(|| account.own.username.clone(), |(_, v)| v);
    let ex = ctx
        .probe
        .sign_in_attempt(None, &name, password, &[])
        .await?;
    let ex = mask(ex, password);
    Ok(signed_in(&ex, None).then_some(ex))
}

/// How many digits a short numeric code has, from a code seen or the spec.
fn short_code(seen: Option<&str>, schema: Option<&Schema>) -> Option<usize> {
    if let Some(code) = seen {
        return (code.len() <= 6 && code.chars().all(|c| c.is_ascii_digit())).then_some(code.len());
    }
    let s = schema?;
    if s.effective_type() == Some(SchemaType::Integer) {
        return s
            .maximum
            .filter(|m| *m >= 999.0 && *m <= 999_999.0)
            .map(|m| (m as u64).to_string().len());
    }
    let pattern = s.pattern.as_deref()?;
    let re = regex::Regex::new(r"^\^?(?:\\d|\[0-9\])\{(\d+)(?:,(\d+))?\}\$?$").ok()?;
    let caps = re.captures(pattern)?;
    let len: usize = caps.get(2).or(caps.get(1))?.as_str().parse().ok()?;
    (len <= 6).then_some(len)
}

/// A wrong code of `len` digits that is none of `known`.
fn wrong_code(len: usize, i: usize, known: &[String]) -> String {
    let seed = u64::from_str_radix(&nonce(), 16).unwrap_or(7) + i as u64 * 7919;
    let modulus = 10u64.pow(len as u32);
    (0..modulus)
        .map(|k| format!("{:0len$}", (seed + k) % modulus))
        .find(|c| !known.contains(c))
        .unwrap_or_default()
}

/// The operations and the account one run works with.
struct Flow<'a> {
    request: &'a Operation,
    confirm: &'a Operation,
    account: Account,
}

impl Flow<'_> {
    /// Code candidates in a reset answer (the account's own name and e-mail left out).
    fn codes_in(&self, ex: &Exchange) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(json) = ex.response.as_ref().and_then(|r| r.json()) {
            let exclude = [
                self.account.own.username.as_str(),
                self.account.email.as_str(),
            ];
            code_candidates(&json, &exclude, &mut out, &mut 2_000);
        }
        out.iter().map(text_of).collect()
    }
}

async fn judge(ctx: &RunCtx<'_>) -> Result<Outcome, ProbeError> {
    if ctx.probe.mode() < Mode::Active {
        return Ok(Outcome::none());
    }
    let Some((request, confirm_op)) = pair(ctx.inventory) else {
        return Ok(Outcome::none());
    };
    let own = match ctx.probe.own_account().await {
        Ok(own) => own,
        Err(ProbeError::Refused(_)) => return Ok(Outcome::none()),
        Err(e) => return Err(e),
    };
    let takes_email = [request, confirm_op]
        .iter()
        .any(|op| username_property(op).is_some_and(|p| is_email_property(op, &p)));
    let email = if takes_email {
        email_of(ctx, &own).await?
    } else {
        format!("{}@example.com", own.username)
    };
    let flow = Flow {
        request,
        confirm: confirm_op,
        account: Account { own, email },
    };
    let mut outcome = Outcome::none();
    let mut known = Vec::new();
    let proven = leak_and_reuse(ctx, &flow, &mut outcome, &mut known).await?;
    let schema = code_schema(confirm_op);
    if let Some(len) = short_code(proven.as_deref(), schema.as_deref()) {
        outcome
            .findings
            .extend(guess(ctx, &flow, len, proven.is_some(), known).await?);
    }
    Ok(outcome)
}

/// (a) and (c): the code in the reset answer, used, then used again. The proven code.
async fn leak_and_reuse(
    ctx: &RunCtx<'_>,
    flow: &Flow<'_>,
    outcome: &mut Outcome,
    known: &mut Vec<String>,
) -> Result<Option<String>, ProbeError> {
    let Some(asked) = request_reset(ctx, flow.request, &flow.account).await? else {
        return Ok(None);
    };
    if !ok(&asked) {
        return Ok(None);
    }
    for code in flow.codes_in(&asked).into_iter().take(2) {
        known.push(code.clone());
        let p1 = new_password();
        let used = confirm(ctx, flow.confirm, &flow.account, &code, &p1).await?;
        if !ok(&used) {
            continue;
        }
        let Some(login) = signs_in(ctx, &flow.account, &p1).await? else {
            continue;
        };
        outcome
            .findings
            .push(leaked(flow.request, flow.confirm, &asked, used, login));
        let p2 = new_password();
        let again = confirm(ctx, flow.confirm, &flow.account, &code, &p2).await?;
        if ok(&again) {
            if let Some(login) = signs_in(ctx, &flow.account, &p2).await? {
                outcome.findings.push(reused(flow.confirm, again, login));
            }
        }
        return Ok(Some(code));
    }
    Ok(None)
}

/// (b): ten wrong codes of `len` digits for a fresh reset, then the right one when the
/// answer carries it (`seen`).
async fn guess(
    ctx: &RunCtx<'_>,
    flow: &Flow<'_>,
    len: usize,
    seen: bool,
    mut known: Vec<String>,
) -> Result<Option<Finding>, ProbeError> {
    let Some(fresh) = request_reset(ctx, flow.request, &flow.account).await? else {
        return Ok(None);
    };
    if !ok(&fresh) {
        return Ok(None);
    }
    let live = seen
        .then(|| flow.codes_in(&fresh).into_iter().find(|c| c.len() == len))
        .flatten();
    known.extend(live.iter().cloned());
    let mut wrong = Vec::with_capacity(BURST);
    for i in 0..BURST {
        let code = wrong_code(len, i, &known);
        let ex = confirm(ctx, flow.confirm, &flow.account, &code, &new_password()).await?;
        let refused = ex.status().is_some_and(is_possible_failure)
            && !is_throttled(&ex)
            && ex.status() != Some(423);
        if !refused {
            return Ok(None);
        }
        wrong.push(ex);
    }
    let statuses: std::collections::BTreeSet<u16> =
        wrong.iter().filter_map(|e| e.status()).collect();
    let right = match &live {
        Some(code) => {
            let ex = confirm(ctx, flow.confirm, &flow.account, code, &new_password()).await?;
            if !ok(&ex) {
                return Ok(None);
            }
            Some(ex)
        }
        // The code was never seen: only one consistent plain refusal (not a 422 for a
        // malformed body) is read as "wrong code".
        None if statuses.len() == 1 && statuses.iter().all(|s| is_plain_failure(*s)) => None,
        None => return Ok(None),
    };
    Ok(Some(guessable(flow.confirm, len, &fresh, wrong, right)))
}

fn leaked(
    request: &Operation,
    confirm_op: &Operation,
    asked: &Exchange,
    used: Exchange,
    login: Exchange,
) -> Finding {
    let description = format!(
        "The answer to `{}` (HTTP {}) carries the reset code itself: the scan used the value from \
         it with `{}` to set a new password (HTTP {}) and signed in with that password (HTTP {}). \
         Anyone can request a reset for any account and take it over without access to its \
         e-mail. (Proven on an account the scan registered.)",
        request.key(),
        asked.status().unwrap_or(0),
        confirm_op.key(),
        used.status().unwrap_or(0),
        login.status().unwrap_or(0),
    );
    let evidence = Evidence::new(vec![asked.clone(), used, login])
        .note("first: the reset request and its answer; second: the confirmation with the code from it; third: the sign-in with the new password");
    META.finding(
        Some(request),
        "code-in-answer",
        Severity::Critical,
        Confidence::Confirmed,
        description,
        evidence,
    )
}

fn reused(confirm_op: &Operation, again: Exchange, login: Exchange) -> Finding {
    let description = format!(
        "`{}` accepted a reset code that had already been used (HTTP {}) and the password it set \
         works (sign-in HTTP {}): a code stays valid after use, so anyone who sees an old code \
         (a forwarded e-mail, a log, browser history) can reset the password again.",
        confirm_op.key(),
        again.status().unwrap_or(0),
        login.status().unwrap_or(0),
    );
    let evidence = Evidence::new(vec![again, login])
        .note("first: the second confirmation with the used code; second: the sign-in with the password it set");
    META.finding(
        Some(confirm_op),
        "code-reuse",
        Severity::Medium,
        Confidence::Confirmed,
        description,
        evidence,
    )
}

fn guessable(
    confirm_op: &Operation,
    len: usize,
    fresh: &Exchange,
    wrong: Vec<Exchange>,
    right: Option<Exchange>,
) -> Finding {
    let space = 10u64.pow(len as u32);
    let statuses: Vec<String> = wrong
        .iter()
        .map(|e| e.status().unwrap_or(0).to_string())
        .collect();
    let (severity, confidence, proof) = match &right {
        Some(r) => (
            Severity::High,
            Confidence::Confirmed,
            format!(
                " The right code still worked after them (HTTP {}): nothing locked the code or \
                 the account.",
                r.status().unwrap_or(0)
            ),
        ),
        None => (
            Severity::Medium,
            Confidence::Firm,
            " The spec declares the code this short; the right code was never seen, so the \
             refusals are read as wrong-code answers."
                .to_string(),
        ),
    };
    let description = format!(
        "Reset codes for `{}` are {len} digits ({space} possibilities), and {BURST} wrong codes in \
         a row for one account got no throttling (HTTP {}; no 429, no Retry-After).{proof} An \
         attacker who requests a reset for any account can try every code.",
        confirm_op.key(),
        statuses.join(", "),
    );
    let mut exchanges = vec![fresh.clone()];
    let last = wrong.last().cloned();
    exchanges.extend(wrong.into_iter().take(2));
    exchanges.extend(last);
    exchanges.extend(right);
    let evidence = Evidence::new(exchanges).note(
        "first: the reset request; then the first two and the last wrong codes; last, when the \
         code was known, the right code after the burst",
    );
    META.finding(
        Some(confirm_op),
        "short-code-unthrottled",
        severity,
        confidence,
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
    use middlebrick_model::{Method, RequestBody, RequestSpec, SpecVersion};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    const JSON: &str = "application/json";

    fn inventory(pattern: Option<&str>) -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations.push(op_with(
            Method::Post,
            "/auth/password-reset",
            JSON,
            &["username"],
        ));
        let mut confirm = op_with(
            Method::Post,
            "/auth/password-reset/confirm",
            JSON,
            &["username", "code", "new_password"],
        );
        if let Some(p) = pattern {
            let body = confirm.request_body.as_mut().unwrap();
            let schema = Arc::make_mut(body.content.get_index_mut(0).unwrap().1);
            let mut code = Schema::of_type(SchemaType::String);
            code.pattern = Some(p.to_string());
            schema.properties.insert("code".into(), Arc::new(code));
        }
        inv.operations.push(confirm);
        inv.operations
            .push(Operation::new(Method::Get, "/users/me"));
        inv
    }

    fn field(r: &RequestSpec, k: &str) -> Option<String> {
        match &r.body {
            Some(RequestBody::Json(v)) => v.get(k).map(text_of),
            _ => None,
        }
    }

    #[derive(Clone, Copy)]
    struct Server {
        leak: bool,
        single_use: bool,
        throttle: bool,
    }

    /// A reset flow with 4-digit codes: `leak` puts the code in the answer, `single_use`
    /// deletes it on use, `throttle` answers 429 after 5 wrong codes.
    fn probe(s: Server) -> FakeProbe {
        let codes: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let passwords: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let failures = Arc::new(Mutex::new(0));
        let counter = Arc::new(Mutex::new(4000));
        let mut p = FakeProbe::new()
            .on(
                |r: &RequestSpec| r.path == "/fake-register",
                response(201, JSON, r#"{"id":9}"#),
            )
            .on(
                |r: &RequestSpec| r.path == "/users/me" && r.identity == "own-1",
                response(
                    200,
                    JSON,
                    r#"{"id":9,"username":"mb-own-1","email":"own1@mail.test"}"#,
                ),
            )
            .on_dynamic(move |r: &RequestSpec| {
                let user = field(r, "username").unwrap_or_default();
                match r.path.as_str() {
                    "/auth/password-reset" => {
                        let mut n = counter.lock().unwrap();
                        *n += 1;
                        let code = format!("{n:04}");
                        codes.lock().unwrap().insert(user, code.clone());
                        Some(if s.leak {
                            response(
                                200,
                                JSON,
                                &format!(r#"{{"detail":"sent","reset_code":"{code}"}}"#),
                            )
                        } else {
                            response(
                                202,
                                JSON,
                                r#"{"detail":"If the account exists, a link was sent."}"#,
                            )
                        })
                    }
                    "/auth/password-reset/confirm" => {
                        if s.throttle && *failures.lock().unwrap() >= 5 {
                            return Some(response(429, JSON, r#"{"detail":"slow down"}"#));
                        }
                        let code = field(r, "code").unwrap_or_default();
                        let mut codes = codes.lock().unwrap();
                        if codes.get(&user) != Some(&code) {
                            *failures.lock().unwrap() += 1;
                            return Some(response(
                                400,
                                JSON,
                                r#"{"detail":"Invalid or expired code"}"#,
                            ));
                        }
                        if s.single_use {
                            codes.remove(&user);
                        }
                        let pw = field(r, "new_password").unwrap_or_default();
                        passwords.lock().unwrap().insert(user, pw);
                        Some(response(200, JSON, r#"{"detail":"Password changed"}"#))
                    }
                    "/fake-login" => {
                        let pw = field(r, "password").unwrap_or_default();
                        let ok = passwords.lock().unwrap().get(&user) == Some(&pw);
                        Some(response(
                            if ok { 200 } else { 401 },
                            JSON,
                            r#"{"access_token":"tok-0123456789"}"#,
                        ))
                    }
                    _ => None,
                }
            });
        p.mode = Mode::Active;
        p
    }

    async fn run(p: &FakeProbe, pattern: Option<&str>) -> Outcome {
        let inv = inventory(pattern);
        WeakRecovery
            .run(&RunCtx {
                probe: p,
                inventory: &inv,
                op: None,
            })
            .await
    }

    fn params(out: &Outcome) -> Vec<(String, String)> {
        out.findings
            .iter()
            .map(|f| (f.location(), f.parameter.clone().unwrap_or_default()))
            .collect()
    }

    #[tokio::test]
    async fn leaked_reusable_unthrottled_codes_are_three_findings() {
        let vulnerable = Server {
            leak: true,
            single_use: false,
            throttle: false,
        };
        let p = probe(vulnerable);
        let out = run(&p, None).await;
        assert_eq!(
            params(&out),
            vec![
                ("POST /auth/password-reset".into(), "code-in-answer".into()),
                (
                    "POST /auth/password-reset/confirm".into(),
                    "code-reuse".into()
                ),
                (
                    "POST /auth/password-reset/confirm".into(),
                    "short-code-unthrottled".into()
                ),
            ],
            "{out:?}"
        );
        assert!(out
            .findings
            .iter()
            .all(|f| f.confidence == Confidence::Confirmed));
        assert!(p.sent_count() <= 30, "{}", p.sent_count());
        let text = serde_json::to_string(&out.findings).unwrap();
        assert!(
            !text.contains("Mb-Reset-"),
            "a password the check set is in the report"
        );
        // every reset names the scan's own account, never anyone else
        let sent = p.sent.lock().unwrap();
        assert!(sent
            .iter()
            .filter(|r| r.path.starts_with("/auth/password-reset"))
            .all(|r| field(r, "username").as_deref() == Some("mb-own-1")));
    }

    #[tokio::test]
    async fn single_use_throttled_codes_leave_only_the_leak() {
        let p = probe(Server {
            leak: true,
            single_use: true,
            throttle: true,
        });
        let out = run(&p, None).await;
        assert_eq!(
            params(&out),
            vec![("POST /auth/password-reset".into(), "code-in-answer".into())],
            "{out:?}"
        );
    }

    #[tokio::test]
    async fn a_secure_reset_is_silent() {
        let p = probe(Server {
            leak: false,
            single_use: true,
            throttle: true,
        });
        assert!(run(&p, None).await.findings.is_empty());
        // a declared 4-digit code that is throttled is silent too
        assert!(run(
            &probe(Server {
                leak: false,
                single_use: true,
                throttle: true
            }),
            Some(r"^\d{4}$")
        )
        .await
        .findings
        .is_empty());
    }

    #[tokio::test]
    async fn a_declared_short_code_without_throttling_is_firm() {
        let p = probe(Server {
            leak: false,
            single_use: true,
            throttle: false,
        });
        let out = run(&p, Some(r"^\d{4}$")).await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        assert_eq!(out.findings[0].confidence, Confidence::Firm);
    }

    #[tokio::test]
    async fn nothing_is_sent_outside_active_mode() {
        let mut p = probe(Server {
            leak: true,
            single_use: false,
            throttle: false,
        });
        p.mode = Mode::Safe;
        assert!(run(&p, None).await.findings.is_empty());
        assert_eq!(p.sent_count(), 0);
    }

    #[test]
    fn short_codes_come_from_what_was_seen_or_the_spec() {
        assert_eq!(short_code(Some("0420"), None), Some(4));
        assert_eq!(short_code(Some("a1b2"), None), None);
        assert_eq!(short_code(Some("1234567"), None), None);
        let mut s = Schema::of_type(SchemaType::String);
        s.pattern = Some(r"^[0-9]{4,6}$".into());
        assert_eq!(short_code(None, Some(&s)), Some(6));
        s.pattern = Some(r"^[A-Za-z0-9_-]{43}$".into());
        assert_eq!(short_code(None, Some(&s)), None);
        let mut i = Schema::of_type(SchemaType::Integer);
        i.maximum = Some(9999.0);
        assert_eq!(short_code(None, Some(&i)), Some(4));
        let wrong = wrong_code(4, 0, &["0000".into()]);
        assert_eq!(wrong.len(), 4);
    }

    #[test]
    fn codes_are_found_under_code_keys_and_in_links() {
        let mut out = Vec::new();
        let v = serde_json::json!({"detail":"sent","status_code":200,"data":{"reset_token":"abcd1234"},
            "link":"https://x.test/reset?token=zz99yy88"});
        code_candidates(&v, &[], &mut out, &mut 100);
        let texts: Vec<String> = out.iter().map(text_of).collect();
        assert_eq!(texts, vec!["abcd1234", "zz99yy88"]);
    }
}
