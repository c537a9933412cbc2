//! The method and object census (issue 16): each in-house target, started with its own request
//! log (`MB_REQUEST_LOG`, `targets/common/request_log.py`), is scanned in passive, safe and
//! active mode, and the server's log is audited from the server's side:
//! - passive sent only GET, HEAD and OPTIONS;
//! - safe sent no state change but sign-in (a POST carrying a password, never to a registration
//!   or a password reset) and GraphQL queries (a POSTed document with no top-level mutation:
//!   a read, as the GraphQL specification defines it);
//! - active sent every state change to an object the scan created (an id in the path that an
//!   earlier creation answered with) or to a creation (a POST without an id in its path that
//!   answered an id, failed, signed in, refreshed or ended a session, or was sent as an account
//!   the scan registered), and
//!   changed no configured identity's own record (a PUT/PATCH/DELETE without an id in its path
//!   only as an account the scan registered).
//!
//! Each scan prints its census line: requests by method, state changes, those to scan-created
//! objects, creations, and requests the ledger refused.

mod common;

use common::{targets_ready, write_config, Target};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

const READS: &[&str] = &["GET", "HEAD", "OPTIONS"];

struct Census {
    by_method: BTreeMap<String, usize>,
    state_changes: usize,
    to_created: usize,
    creations: usize,
    refused: usize,
    violations: Vec<String>,
}

fn scan_logged(app: &'static str, mode: &str) -> (Vec<Value>, Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("requests.jsonl");
    let target = Target::start_with_env(app, "vulnerable", &[("MB_REQUEST_LOG", log.as_path())]);
    let config = write_config(dir.path(), "");
    let out_path = dir.path().join("report.json");
    let out = common::run(&[
        "scan",
        &target.url,
        "--config",
        config.to_str().unwrap(),
        "--mode",
        mode,
        "--format",
        "json",
        "-o",
        out_path.to_str().unwrap(),
        "--no-progress",
    ]);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{app} {mode} scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(target);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&out_path).expect("report")).expect("JSON");
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .expect("the target wrote its request log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("log line is JSON"))
        .collect();
    assert!(!lines.is_empty(), "the request log is empty");
    (lines, report)
}

fn text<'a>(e: &'a Value, key: &str) -> &'a str {
    e[key].as_str().unwrap_or("")
}

/// Path segments that are object ids: numbers and UUIDs.
fn ids_in(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| {
            (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
                || (s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4)
        })
        .map(str::to_string)
        .collect()
}

/// The id a creation answered with (inside a `data` envelope or not, or a GraphQL mutation's
/// one field: `{"data": {"addNote": {"id": …}}}`), and its Location.
fn created_ids(e: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(answer) = serde_json::from_str::<Value>(text(e, "answer")) {
        let mut record = if answer["data"].is_object() {
            &answer["data"]
        } else {
            &answer
        };
        if let Some(fields) = record.as_object().filter(|o| o.len() == 1) {
            if let Some(inner) = fields.values().next().filter(|v| v.is_object()) {
                if record["id"].is_null() && record["uuid"].is_null() {
                    record = inner;
                }
            }
        }
        for key in ["id", "uuid"] {
            match &record[key] {
                Value::String(s) => out.push(s.clone()),
                Value::Number(n) => out.push(n.to_string()),
                _ => {}
            }
        }
    }
    if let Some(last) = text(e, "location").rsplit('/').find(|s| !s.is_empty()) {
        out.push(last.to_string());
    }
    out
}

/// What the scan created, as the audit knows it. An object is named by its collection and id
/// (`notes/2`): the scan's bookmark 2 is not the seeded note 2. A creation's id is filed under
/// every named segment of the path it was POSTed to (`POST /orders/checkout` answering 5 made
/// `orders/5`) and of its Location. Accounts the scan registered are kept by id and login name,
/// whatever collection a path later names them under (`/users/13/password`).
#[derive(Default)]
struct Created {
    objects: HashSet<String>,
    accounts: HashSet<String>,
}

impl Created {
    fn record(&mut self, e: &Value) {
        let ids = created_ids(e);
        let location = text(e, "location");
        for id in &ids {
            for seg in text(e, "path").split('/').chain(location.split('/')) {
                if !seg.is_empty() && ids_in(seg).is_empty() && seg != id {
                    self.objects.insert(format!("{seg}/{id}"));
                }
            }
        }
        if let Some(login) = registered_login(e) {
            self.accounts.insert(login);
            self.accounts.extend(ids);
        }
    }

    /// Whether the id at segment `at` of `path` is the scan's: the object it names under the
    /// segment before it, or an account the scan registered.
    fn names(&self, path: &str, at: usize) -> bool {
        let segs: Vec<&str> = path.split('/').collect();
        let id = segs[at];
        self.accounts.contains(id)
            || at
                .checked_sub(1)
                .is_some_and(|i| self.objects.contains(&format!("{}/{id}", segs[i])))
    }
}

/// The positions of the id segments in `path` (numbers and UUIDs), first to last.
fn id_positions(path: &str) -> Vec<usize> {
    path.split('/')
        .enumerate()
        .filter(|(_, s)| !ids_in(s).is_empty())
        .map(|(i, _)| i)
        .collect()
}

/// The login name a registration (a POST with a password that answered with a new id) chose:
/// the scan's own account, which it may change in active mode.
fn registered_login(e: &Value) -> Option<String> {
    if created_ids(e).is_empty() || !text(e, "body").to_ascii_lowercase().contains("password") {
        return None;
    }
    let body: Value = serde_json::from_str(text(e, "body")).ok()?;
    let record = if body["data"].is_object() {
        &body["data"]
    } else {
        &body
    };
    ["username", "login", "userName"]
        .iter()
        .find_map(|k| record[*k].as_str())
        .map(str::to_string)
}

/// A POSTed GraphQL request whose documents only read (`{"query": "query …"}`, or an array of
/// them). The log keeps the first 2 kB of a body: a cut document is judged by its opening,
/// which is where a document says whether it writes.
fn graphql_read(e: &Value) -> bool {
    let body = text(e, "body");
    let docs: Vec<String> = match serde_json::from_str::<Value>(body) {
        Ok(Value::Array(items)) => items
            .iter()
            .map(|i| i["query"].as_str().unwrap_or("mutation").to_string())
            .collect(),
        Ok(v) => vec![v["query"].as_str().unwrap_or("mutation").to_string()],
        Err(_) => match body.strip_prefix("{\"query\":\"") {
            Some(rest) => vec![rest.to_string()],
            // An `application/graphql` body is the document itself (no JSON keys in it).
            None if !body.contains("\":") => vec![body.to_string()],
            None => return false,
        },
    };
    !docs.is_empty()
        && docs
            .iter()
            .all(|d| !middlebrick_model::document_writes(d) && d.contains('{'))
}

/// A GraphQL answer (status 200) that executed nothing: errors, and no field answered.
fn graphql_refused(e: &Value) -> bool {
    let Ok(answer) = serde_json::from_str::<Value>(text(e, "answer")) else {
        return false;
    };
    let errors = answer["errors"].as_array().is_some_and(|a| !a.is_empty());
    let answered = answer["data"]
        .as_object()
        .is_some_and(|d| d.values().any(|v| !v.is_null()));
    errors && !answered
}

fn signs_in(e: &Value) -> bool {
    let carries = |s: &str| s.to_ascii_lowercase().contains("password");
    let path = text(e, "path").to_ascii_lowercase();
    (carries(text(e, "body")) || carries(text(e, "query")))
        && !path.contains("register")
        && !path.contains("reset")
        && !path.ends_with("/users")
}

/// A call about the session it is sent with: a token refresh (answered with a token) or a
/// sign-out (the scanner signs out only sessions it opened itself).
fn session_call(e: &Value) -> bool {
    let path = text(e, "path").to_ascii_lowercase();
    text(e, "answer").contains("token\"")
        || ["logout", "signout", "sign-out", "log-out"]
            .iter()
            .any(|w| path.ends_with(w))
}

fn refused(report: &Value) -> usize {
    report["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["code"] == "scan.untested")
        .filter_map(|d| {
            d["message"]
                .as_str()?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum()
}

fn audit(lines: &[Value], report: &Value, mode: &str) -> Census {
    let mut c = Census {
        by_method: BTreeMap::new(),
        state_changes: 0,
        to_created: 0,
        creations: 0,
        refused: refused(report),
        violations: Vec::new(),
    };
    let mut created = Created::default();
    // Paths that took GraphQL query documents: a POST there with no document at all (a
    // malformed-input probe) cannot execute anything either.
    let graphql_paths: HashSet<&str> = lines
        .iter()
        .filter(|e| text(e, "method") == "POST" && graphql_read(e))
        .map(|e| text(e, "path"))
        .collect();
    for e in lines {
        let method = text(e, "method").to_string();
        *c.by_method.entry(method.clone()).or_default() += 1;
        let line = format!(
            "{method} {} (as {}, {})",
            text(e, "path"),
            e["who"].as_str().unwrap_or("nobody"),
            e["status"]
        );
        // A GraphQL query is a read however it travels (the GraphQL specification's rule);
        // passive mode still sends no POST at all.
        let graphql_query = method == "POST"
            && (graphql_read(e)
                || (text(e, "body").is_empty() && graphql_paths.contains(text(e, "path"))));
        if READS.contains(&method.as_str()) || (graphql_query && mode != "passive") {
            continue;
        }
        c.state_changes += 1;
        let ok = e["status"]
            .as_u64()
            .is_some_and(|s| (200..300).contains(&s))
            && !graphql_refused(e);
        match mode {
            "passive" => c.violations.push(format!("passive sent {line}")),
            "safe" if !signs_in(e) => c.violations.push(format!(
                "safe sent {line}: {}",
                text(e, "body").chars().take(160).collect::<String>()
            )),
            "safe" => {}
            _ => {
                let path = text(e, "path");
                let ids = ids_in(path);
                let at = id_positions(path);
                let who_is_ours = e["who"]
                    .as_str()
                    .is_none_or(|w| created.accounts.contains(w));
                // The object acted on is the one the path ends with (the gate's rule too):
                // `/users/1/cards/5` changes card 5, which the scan must have created; the
                // account it sits under is its container, not what is written.
                // A creation into a sub-collection (`POST /users/1/cards` answering a new id):
                // the ids in its path are its parents, which must be the scan's objects or the
                // caller's own account (the gate's creation rule).
                let into_collection = method == "POST"
                    && ok
                    && !created_ids(e).is_empty()
                    && ids.last().is_some_and(|l| {
                        !text(e, "path").trim_end_matches('/').ends_with(l.as_str())
                    });
                if into_collection {
                    c.creations += 1;
                    for (id, &i) in ids.iter().zip(&at) {
                        if !created.names(path, i) && e["who"].as_str() != Some(id.as_str()) {
                            c.violations.push(format!(
                                "{line}: created under {id}, neither an object the scan created \
                                 nor the caller's own account"
                            ));
                        }
                    }
                } else if let Some(last) = ids.last() {
                    match Some(last).filter(|_| !at.last().is_some_and(|&i| created.names(path, i)))
                    {
                        Some(id) => c
                            .violations
                            .push(format!("{line}: {id} is no object the scan created")),
                        None => c.to_created += 1,
                    }
                } else if method != "POST" {
                    // A path that names an account the scan registered, by its login name
                    // (`PUT /users/mbq…/password`), changes that account.
                    let names_ours = path.split('/').any(|seg| created.accounts.contains(seg));
                    if names_ours {
                        c.to_created += 1;
                    } else if !who_is_ours {
                        c.violations
                            .push(format!("{line}: a configured identity's own record"));
                    }
                } else {
                    c.creations += 1;
                    let made = !created_ids(e).is_empty();
                    if ok && !made && !signs_in(e) && !session_call(e) && !who_is_ours {
                        c.violations.push(format!(
                            "{line}: changed state as a configured identity and created nothing"
                        ));
                    }
                }
            }
        }
        if ok && method == "POST" {
            created.record(e);
        }
    }
    c
}

fn census(app: &'static str) {
    if !targets_ready() {
        return;
    }
    let mut failures = Vec::new();
    for mode in ["passive", "safe", "active"] {
        let (lines, report) = scan_logged(app, mode);
        let c = audit(&lines, &report, mode);
        if mode == "passive" {
            let said = report["diagnostics"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|d| d["code"] == "identity.passive-no-sign-in");
            assert!(
                said,
                "passive mode left the password identities out silently"
            );
        }
        eprintln!(
            "census {app} {mode}: {} requests {:?}; state changes {}, to scan-created objects {}, creations {}, refused by the ledger {}",
            lines.len(),
            c.by_method,
            c.state_changes,
            c.to_created,
            c.creations,
            c.refused
        );
        failures.extend(
            c.violations
                .into_iter()
                .map(|v| format!("{app} {mode}: {v}")),
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn census_flask_shop() {
    census("flask");
}

#[test]
fn census_fastapi_shop() {
    census("fastapi");
}

#[test]
fn census_connexion_clinic() {
    census("connexion");
}

/// The audit can fail: disposable mode writes to objects the scan did not create (the seeded
/// notes and addresses, the identities' own records), and the same audit names them.
#[test]
fn census_audit_catches_disposable_writes() {
    if !targets_ready() {
        return;
    }
    let (lines, report) = scan_logged("flask", "disposable");
    let c = audit(&lines, &report, "disposable");
    eprintln!(
        "census flask disposable: {} requests {:?}; state changes {}, flagged {}",
        lines.len(),
        c.by_method,
        c.state_changes,
        c.violations.len()
    );
    assert!(
        !c.violations.is_empty(),
        "a disposable scan wrote only to scan-created objects: the audit proves nothing"
    );
    // Disposable mode refuses only what acts on the whole application (the demo reset), which
    // it leaves to auth.anonymous-state-change after every other check.
    let reasons: Vec<&str> = report["coverage"]["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["skipped_on"].as_array().into_iter().flatten())
        .filter_map(|s| s["reason"].as_str())
        .filter(|r| r.starts_with("refused by the object ledger"))
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.contains("acts on the whole application")),
        "disposable mode refuses nothing else: {reasons:?}"
    );
}
