//! `auth.password-storage`: answers show that passwords are stored in plaintext or with a fast
//! hash (MD5, SHA-1, SHA-2 in one round, salted or not).
//!
//! Passive part: the GET answers the scan received (`Probe::observed`, and each identity's
//! baseline of the caller's own profile) are searched for a property named like a password or
//! password hash (`password`, `password_hash`, `hashed_password`…). Its value's format names the
//! scheme: bcrypt, argon2, scrypt, PBKDF2 and SHA-crypt are slow and salted, and their exposure
//! is `authz.data-exposure`'s business, so nothing is reported here; a salted single-round
//! digest (`sha256$salt$…`, `md5$salt$…`, MD5-crypt, `{SSHA}`) or a bare 32/40/64/128-digit hex
//! digest (the length of MD5/SHA-1/SHA-256/SHA-512) is a fast hash; a value with no hash format
//! is read as plaintext. Those are firm: a format is not a proof.
//!
//! Active part (active mode, when the API has a registration operation): the check registers an
//! account with a password it chose, signs it in, and compares every string of the
//! registration and sign-in answers and of the account's own profile reads with the password's
//! MD5, SHA-1, SHA-256 and SHA-512 digests (hex or base64) and, in GET answers, with the
//! password itself. A match proves unsalted fast hashing or plaintext storage: confirmed.
//!
//! Budget: passive, no request beyond the shared baselines of the profile reads; active, one
//! registration, one sign-in and up to four profile reads as the new account.

use crate::authflow::norm;
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::checks::data_exposure::{hash_scheme, re};
use crate::ownership::{is_self_path, nonce};
use crate::probe::{Overrides, ProbeError};
use crate::session::{mask, op_for_url};
use async_trait::async_trait;
use base64::Engine as _;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Finding, Inventory, Method, Mode,
    Operation, Owasp, Remediation, Severity, Tech,
};
use regex::Regex;
use serde_json::Value;
use std::sync::OnceLock;

#[derive(Debug)]
pub struct PasswordStorage;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthPasswordStorage,
    title: "Passwords stored in plaintext or with a fast hash",
    description: "Names the scheme of password hashes that answers expose and reports plaintext \
        or fast digests (MD5, SHA-1, SHA-2, salted or not); in active mode registers an account \
        with a known password and proves plaintext or unsalted fast hashing when the answers \
        carry the password or its bare digest.",
    cwe: &[256, 916],
    owasp: &[Owasp::Api2, Owasp::Api3],
    severity: Severity::High,
    kind: CheckKind::Passive,
    remediation: Remediation {
        generic: "Store passwords only with a slow, salted, memory-hard scheme: argon2id \
            (m=19 MiB, t=2, p=1 or stronger), scrypt or bcrypt (cost 12+); never plaintext, \
            never MD5/SHA-1/SHA-2 even with a salt. Rehash on the next successful sign-in: \
            verify the legacy hash, then store the new one. Never return the hash in any answer.",
        variants: &[
            (
                Tech::Flask,
                "hash with argon2-cffi (`PasswordHasher().hash(pw)`, \
                `verify` and `check_needs_rehash`) or `werkzeug.security.generate_password_hash(pw, \
                method=\"scrypt\")`; drop any `hashlib.md5`/`sha256` of passwords.",
            ),
            (
                Tech::FastApi,
                "use passlib's `CryptContext(schemes=[\"argon2\", \"bcrypt\"], \
                deprecated=\"auto\")` (or argon2-cffi directly) and `verify_and_update` to upgrade \
                legacy hashes at sign-in; keep the hash out of every `response_model`.",
            ),
            (
                Tech::Psycopg,
                "migrate the column to the new scheme's strings (they carry their own salt \
                and parameters) and select it only in the sign-in query.",
            ),
            (
                Tech::Asyncpg,
                "migrate the column to the new scheme's strings and select it only in the \
                sign-in query.",
            ),
        ],
    },
};

/// How a password is kept, as far as its format tells.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Storage {
    /// Slow and salted: not this check's to report.
    Strong(&'static str),
    FastSalted(&'static str),
    FastUnsalted(&'static str),
    Plaintext,
}

/// True for a property that holds a password or its hash (not `password_changed_at`).
fn password_key(k: &str) -> bool {
    let n = norm(k);
    matches!(
        n.as_str(),
        "password"
            | "passwd"
            | "pwd"
            | "pass"
            | "passphrase"
            | "userpassword"
            | "passhash"
            | "pwhash"
            | "hashedpassword"
            | "encryptedpassword"
            | "cryptedpassword"
    ) || (["password", "passwd"].iter().any(|p| n.contains(p))
        && ["hash", "digest", "crypt"].iter().any(|h| n.contains(h)))
}

/// The scheme a password value has the format of.
fn storage_of(v: &str) -> Option<Storage> {
    static MD5CRYPT: OnceLock<Regex> = OnceLock::new();
    static LEGACY: OnceLock<Regex> = OnceLock::new();
    static UNSALTED: OnceLock<Regex> = OnceLock::new();
    if let Some(scheme) = hash_scheme(v) {
        return Some(Storage::Strong(scheme));
    }
    if re(&MD5CRYPT, r"^\$1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}$").is_match(v) {
        return Some(Storage::FastSalted("MD5-crypt (1000 rounds of MD5)"));
    }
    if v.starts_with("{SSHA") {
        return Some(Storage::FastSalted("LDAP {SSHA} (one salted SHA-1)"));
    }
    if v.starts_with("{SHA}") || v.starts_with("{MD5}") {
        return Some(Storage::FastUnsalted("LDAP {SHA}/{MD5} (unsalted)"));
    }
    if let Some(c) = re(&UNSALTED, r"^unsalted_(md5|sha1)\$").captures(v) {
        return Some(Storage::FastUnsalted(if &c[1] == "md5" {
            "Django unsalted MD5"
        } else {
            "Django unsalted SHA-1"
        }));
    }
    if let Some(c) = re(
        &LEGACY,
        r"^(md5|sha1|sha224|sha256|sha384|sha512)\$[^$]+\$[0-9a-fA-F]{32,128}$",
    )
    .captures(v)
    {
        return Some(Storage::FastSalted(match &c[1] {
            "md5" => "salted MD5, one round (Django/Werkzeug legacy format)",
            "sha1" => "salted SHA-1, one round (Django/Werkzeug legacy format)",
            _ => "salted SHA-2, one round (Werkzeug legacy format)",
        }));
    }
    let hex = v.chars().all(|c| c.is_ascii_hexdigit());
    match (hex, v.len()) {
        (true, 32) => Some(Storage::FastUnsalted(
            "MD5 (32 hex digits, no salt in the value)",
        )),
        (true, 40) => Some(Storage::FastUnsalted(
            "SHA-1 (40 hex digits, no salt in the value)",
        )),
        (true, 64) => Some(Storage::FastUnsalted(
            "SHA-256 (64 hex digits, no salt in the value)",
        )),
        (true, 128) => Some(Storage::FastUnsalted(
            "SHA-512 (128 hex digits, no salt in the value)",
        )),
        _ if v.contains('$') || v.contains(':') || v.contains('{') => None,
        _ if masked(v) => None,
        _ => Some(Storage::Plaintext),
    }
}

/// A placeholder an API shows instead of a password (`********`, `[redacted]`).
fn masked(v: &str) -> bool {
    let first = v.chars().next();
    v.is_empty()
        || v.chars().all(|c| Some(c) == first && !c.is_alphanumeric())
        || matches!(
            v.to_ascii_lowercase()
                .trim_matches(['[', ']', '(', ')', '<', '>']),
            "redacted"
                | "hidden"
                | "filtered"
                | "secret"
                | "null"
                | "none"
                | "n/a"
                | "set"
                | "unset"
        )
        || (v.contains(char::is_whitespace) && v.len() > 24)
}

/// What the object around a password value says about it: parameters kept beside a bare
/// digest (`iterations`, `algorithm`) mean a scheme the format cannot tell, so nothing is
/// claimed; a `salt` beside it makes it salted; a plaintext claim needs an account record
/// (a username, e-mail or id beside it), not a settings or policy object.
fn in_context(st: Storage, map: &serde_json::Map<String, Value>) -> Option<Storage> {
    let keys: Vec<String> = map.keys().map(|k| norm(k)).collect();
    let has = |words: &[&str]| keys.iter().any(|k| words.iter().any(|w| k.contains(w)));
    match st {
        Storage::FastUnsalted(_) if has(&["iteration", "rounds", "cost", "algorithm", "kdf"]) => {
            None
        }
        Storage::FastUnsalted(_) if has(&["salt"]) => Some(Storage::FastSalted(
            "a bare hex digest with a separate salt",
        )),
        Storage::Plaintext => {
            let account = keys.iter().any(|k| {
                matches!(
                    k.as_str(),
                    "id" | "userid" | "username" | "email" | "login" | "user"
                )
            });
            account.then_some(Storage::Plaintext)
        }
        other => Some(other),
    }
}

/// One password-like value in an answer.
#[derive(Debug, Clone)]
struct Seen {
    op: Operation,
    field: String,
    storage: Storage,
    confirmed: bool,
    exchange: Exchange,
}

/// Password properties of a JSON answer with their storage, by field path.
fn password_fields(v: &Value) -> Vec<(String, Storage)> {
    let mut out = Vec::new();
    crate::json_walk::walk(v, "", 50, &mut 5_000, &mut |path, value, key| {
        let (Value::String(s), Some((k, map))) = (value, key) else {
            return true;
        };
        if !password_key(k) {
            return true;
        }
        if let Some(st) = storage_of(s).and_then(|st| in_context(st, map)) {
            out.push((path.to_string(), st));
        }
        false
    });
    out
}

/// The profile-like reads: the caller's own account first, then other reads without path
/// parameters that declare authentication.
fn profile_reads(inv: &Inventory, max: usize) -> Vec<&Operation> {
    let mut ops: Vec<&Operation> = inv
        .operations
        .iter()
        .filter(|o| o.method == Method::Get && !o.path.contains('{'))
        .filter(|o| is_self_path(&o.path) || o.declares_auth())
        .collect();
    ops.sort_by_key(|o| (!is_self_path(&o.path), o.path.len()));
    ops.truncate(max);
    ops
}

async fn passive(ctx: &RunCtx<'_>) -> Result<Vec<Seen>, ProbeError> {
    let mut answers: Vec<(Operation, Exchange)> = ctx
        .probe
        .observed()
        .into_iter()
        .filter(|ex| ex.request.method == Method::Get)
        .filter_map(|ex| {
            let op = op_for_url(ctx.inventory, Method::Get, &ex.request.url)?.clone();
            Some((op, ex))
        })
        .collect();
    for op in profile_reads(ctx.inventory, 4)
        .into_iter()
        .filter(|o| is_self_path(&o.path))
    {
        for identity in ctx.probe.identities() {
            answers.push((op.clone(), ctx.probe.baseline(op, &identity.name).await?));
        }
    }
    let mut out = Vec::new();
    for (op, ex) in answers {
        let Some(json) = ex.success_json() else {
            continue;
        };
        for (field, storage) in password_fields(&json) {
            if !matches!(storage, Storage::Strong(_)) {
                out.push(Seen {
                    op: op.clone(),
                    field,
                    storage,
                    confirmed: false,
                    exchange: ex.clone(),
                });
            }
        }
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The password's unsalted digests, as hex and base64, with the algorithm's name.
fn digests(password: &str) -> Vec<(String, &'static str)> {
    use md5::Digest as _;
    let p = password.as_bytes();
    let raw: Vec<(Vec<u8>, &'static str)> = vec![
        (md5::Md5::digest(p).to_vec(), "MD5"),
        (sha1::Sha1::digest(p).to_vec(), "SHA-1"),
        (sha2::Sha256::digest(p).to_vec(), "SHA-256"),
        (sha2::Sha512::digest(p).to_vec(), "SHA-512"),
    ];
    let mut out = Vec::new();
    for (bytes, name) in raw {
        out.push((hex(&bytes), name));
        out.push((
            base64::engine::general_purpose::STANDARD.encode(&bytes),
            name,
        ));
    }
    out
}

/// Every string leaf with its path.
fn strings(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    crate::json_walk::walk(v, "", 50, &mut 5_000, &mut |path, value, key| {
        if let (Value::String(s), None) = (value, key) {
            out.push((path.to_string(), s.clone()));
        }
        true
    });
    out
}

fn find_op(inv: &Inventory, at: Option<(Method, String)>) -> Option<Operation> {
    let (m, p) = at?;
    Some(
        inv.operations
            .iter()
            .find(|o| o.method == m && o.path == p)
            .cloned()
            .unwrap_or_else(|| Operation::new(m, p)),
    )
}

async fn active(ctx: &RunCtx<'_>) -> Result<Vec<Seen>, ProbeError> {
    let probe = ctx.probe;
    let Some(register_op) = find_op(ctx.inventory, probe.registration_operation()) else {
        return Ok(Vec::new());
    };
    let username = format!("mb-ps-{}", nonce());
    let password = format!("Mb-Store-{}-8k!", nonce());
    let reg = match probe.register_attempt(&username, &password).await {
        Ok(ex) if ex.response.as_ref().is_some_and(|r| r.is_success()) => ex,
        Ok(_) | Err(ProbeError::Refused(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let name = format!("mb-pwstore-{}", nonce());
    let mut answers: Vec<(Operation, Exchange)> = vec![(register_op, reg)];
    match probe.sign_in_account(&name, &username, &password).await {
        Ok(login) => {
            if let Some(op) = find_op(ctx.inventory, probe.sign_in_operation()) {
                answers.push((op, login));
            }
            for op in profile_reads(ctx.inventory, 4) {
                let ex = probe
                    .send(probe.request(op, &name, &Overrides::none()))
                    .await?;
                answers.push((op.clone(), ex));
            }
        }
        Err(ProbeError::Refused(_)) => {}
        Err(e) => return Err(e),
    }
    let known = digests(&password);
    let mut out = Vec::new();
    for (op, ex) in answers {
        let Some(json) = ex.success_json() else {
            continue;
        };
        for (field, value) in strings(&json) {
            let storage = if let Some((_, alg)) =
                known.iter().find(|(d, _)| d.eq_ignore_ascii_case(&value))
            {
                Storage::FastUnsalted(alg)
            } else if value == password && ex.request.method == Method::Get {
                Storage::Plaintext
            } else {
                continue;
            };
            out.push(Seen {
                op: op.clone(),
                field,
                storage,
                confirmed: true,
                exchange: mask(ex.clone(), &password),
            });
        }
    }
    Ok(out)
}

#[async_trait]
impl Check for PasswordStorage {
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
        let mut seen = passive(ctx).await.unwrap_or_default();
        if ctx.probe.mode() >= Mode::Active {
            // A proof replaces what the format alone suggested at the same place.
            for s in active(ctx).await.unwrap_or_default() {
                seen.retain(|p| !(p.op.key() == s.op.key() && p.field == s.field));
                seen.push(s);
            }
        }
        let mut outcome = Outcome::none();
        for s in seen {
            let place = (s.op.key(), s.field.clone());
            if outcome
                .findings
                .iter()
                .any(|f| (f.location(), f.parameter.clone().unwrap_or_default()) == place)
            {
                continue;
            }
            outcome.findings.push(finding(s));
        }
        outcome
    }
}

fn finding(s: Seen) -> Finding {
    let (what, severity, confidence) = match (&s.storage, s.confirmed) {
        (Storage::Plaintext, true) => (
            "the password itself, as registered: passwords are stored in plaintext".to_string(),
            Severity::High,
            Confidence::Confirmed,
        ),
        (Storage::FastUnsalted(alg), true) => (
            format!(
                "the bare {alg} digest of the password the scan registered the account with: \
                 passwords are stored as an unsalted fast hash, which precomputed tables and \
                 GPUs reverse in seconds"
            ),
            Severity::High,
            Confidence::Confirmed,
        ),
        (Storage::Plaintext, false) => (
            "a value with no hash format under a password property: it looks like the \
             password in plaintext"
                .to_string(),
            Severity::Medium,
            Confidence::Firm,
        ),
        (Storage::FastUnsalted(scheme) | Storage::FastSalted(scheme), false) => (
            format!("a password hash in the format of {scheme}: a fast hash a GPU tries billions of guesses per second against"),
            Severity::Medium,
            Confidence::Firm,
        ),
        (Storage::FastSalted(scheme), true) => (
            format!("a {scheme} hash"),
            Severity::Medium,
            Confidence::Firm,
        ),
        (Storage::Strong(_), _) => (String::new(), Severity::Info, Confidence::Tentative),
    };
    let description = format!(
        "The answer to `{}` (HTTP {}) carries in `{}` {what}. Exposing it is a data-exposure flaw \
         of its own; the storage scheme means a leaked database gives up the passwords.",
        s.op.key(),
        s.exchange.status().unwrap_or(0),
        s.field
    );
    let note = if s.confirmed {
        "the account was registered by the scan with a password it chose; the field equals that \
         password's digest (or the password)"
    } else {
        "judged by the value's format only"
    };
    META.finding(
        Some(&s.op),
        &s.field,
        severity,
        confidence,
        description,
        Evidence::new(vec![s.exchange]).note(note),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{exchange_for, FakeProbe};
    use crate::similarity::response;
    use middlebrick_model::{RequestBody, RequestSpec, SpecVersion};
    use std::sync::{Arc, Mutex};

    const JSON: &str = "application/json";

    fn inventory() -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations
            .push(Operation::new(Method::Post, "/fake-register"));
        inv.operations
            .push(Operation::new(Method::Get, "/users/me"));
        inv
    }

    async fn run(p: &FakeProbe) -> Outcome {
        let inv = inventory();
        PasswordStorage
            .run(&RunCtx {
                probe: p,
                inventory: &inv,
                op: None,
            })
            .await
    }

    /// Registration stores `hash(password)`; `/users/me` shows it for the scan's account and a
    /// seeded scrypt hash for alice.
    fn probe(hash: fn(&str) -> String) -> FakeProbe {
        let stored = Arc::new(Mutex::new(String::new()));
        let s = stored.clone();
        let mut p = FakeProbe::new().identity("alice", &["alice"]).on_dynamic(
            move |r: &RequestSpec| match (r.method, r.path.as_str()) {
                (Method::Post, "/fake-register") => {
                    if let Some(RequestBody::Json(v)) = &r.body {
                        *s.lock().unwrap() = hash(v["password"].as_str().unwrap_or(""));
                    }
                    Some(response(201, JSON, r#"{"id":5}"#))
                }
                (Method::Post, "/fake-sign-in") => {
                    Some(response(200, JSON, r#"{"access_token":"tok-0123456789"}"#))
                }
                (Method::Get, "/users/me") if r.identity == "alice" => Some(response(
                    200,
                    JSON,
                    r#"{"id":1,"username":"alice","password_hash":"scrypt:32768:8:1$salt$abcdef"}"#,
                )),
                (Method::Get, "/users/me") => Some(response(
                    200,
                    JSON,
                    &format!(r#"{{"id":5,"password_hash":"{}"}}"#, s.lock().unwrap()),
                )),
                _ => None,
            },
        );
        p.mode = Mode::Active;
        p
    }

    #[tokio::test]
    async fn unsalted_md5_of_the_chosen_password_is_proven() {
        let p = probe(|pw| {
            use md5::Digest as _;
            hex(&md5::Md5::digest(pw.as_bytes()))
        });
        let out = run(&p).await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        let f = &out.findings[0];
        assert_eq!(
            (f.severity, f.confidence),
            (Severity::High, Confidence::Confirmed)
        );
        assert_eq!(f.location(), "GET /users/me");
        assert_eq!(f.parameter.as_deref(), Some("password_hash"));
        assert!(f.description.contains("MD5"), "{}", f.description);
    }

    #[tokio::test]
    async fn slow_salted_hashes_are_left_to_data_exposure() {
        let p = probe(|_| format!("scrypt:32768:8:1${}$abcdef0123", nonce()));
        assert!(run(&p).await.findings.is_empty());
        let mut p = probe(|pw| pw.to_string());
        p.mode = Mode::Safe;
        // safe mode: only alice's scrypt hash is seen; nothing is registered
        assert!(run(&p).await.findings.is_empty());
        assert!(p
            .sent
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.method == Method::Get));
    }

    #[tokio::test]
    async fn plaintext_storage_is_proven_in_a_read() {
        let out = run(&probe(|pw| pw.to_string())).await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        assert!(out.findings[0].description.contains("plaintext"));
        let text = serde_json::to_string(&out.findings).unwrap();
        assert!(
            !text.contains("Mb-Store-"),
            "the chosen password is in the report"
        );
    }

    #[tokio::test]
    async fn observed_fast_formats_are_firm() {
        let mut p = FakeProbe::new();
        p.observed.push(exchange_for(
            &RequestSpec::new(Method::Get, "/users/me"),
            Some(response(
                200,
                JSON,
                r#"{"id":1,"password":"sha256$Xy12$9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}"#,
            )),
        ));
        let out = run(&p).await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        assert_eq!(out.findings[0].confidence, Confidence::Firm);
        assert!(out.findings[0].description.contains("salted SHA-2"));
    }

    #[test]
    fn schemes_are_named_by_format() {
        let bcrypt = format!("$2b$12${}", "a".repeat(53));
        assert_eq!(storage_of(&bcrypt), Some(Storage::Strong("bcrypt")));
        assert_eq!(
            storage_of("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"),
            Some(Storage::Strong("argon2"))
        );
        assert_eq!(
            storage_of("pbkdf2:sha256:600000$s$h"),
            Some(Storage::Strong("PBKDF2"))
        );
        assert_eq!(
            storage_of("pbkdf2_sha256$720000$s$h"),
            Some(Storage::Strong("PBKDF2"))
        );
        assert!(
            matches!(storage_of("5f4dcc3b5aa765d61d8327deb882cf99"), Some(Storage::FastUnsalted(s)) if s.starts_with("MD5"))
        );
        assert!(matches!(
            storage_of("md5$salt$5f4dcc3b5aa765d61d8327deb882cf99"),
            Some(Storage::FastSalted(_))
        ));
        assert!(matches!(
            storage_of("unsalted_md5$5f4d"),
            Some(Storage::FastUnsalted(_))
        ));
        assert_eq!(storage_of("hunter2"), Some(Storage::Plaintext));
        for hidden in [
            "********",
            "[REDACTED]",
            "",
            "Must be at least eight characters long",
        ] {
            assert_eq!(storage_of(hidden), None, "{hidden}");
        }
        assert!(password_key("password_hash") && password_key("hashedPassword"));
        let ctx = |v: serde_json::Value| v.as_object().unwrap().clone();
        let md5 = || Storage::FastUnsalted("MD5");
        assert_eq!(
            in_context(md5(), &ctx(serde_json::json!({"iterations": 1000}))),
            None
        );
        assert!(matches!(
            in_context(md5(), &ctx(serde_json::json!({"salt": "x"}))),
            Some(Storage::FastSalted(_))
        ));
        let policy = ctx(serde_json::json!({"password": "required", "otp": "optional"}));
        assert_eq!(in_context(Storage::Plaintext, &policy), None);
        assert!(!password_key("password_changed_at") && !password_key("has_password"));
    }

    #[test]
    fn digests_match_known_vectors() {
        let d = digests("password");
        assert!(d.contains(&("5f4dcc3b5aa765d61d8327deb882cf99".into(), "MD5")));
        assert!(d.contains(&("5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8".into(), "SHA-1")));
    }
}
