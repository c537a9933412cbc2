//! The object ledger and its gate (issue 16): the one place that decides whether a
//! state-changing request may be sent. Checks never judge this themselves.
//!
//! The ledger records what this scan created: the id in each successful answer to a creation
//! (and its `Location`), by the identity that created it, and the accounts the scan registered.
//! The gate then refuses, in active mode:
//! - a write (PUT, PATCH, DELETE, an action such as `POST /orders/{id}/cancel`, a read named for
//!   a state change) whose target — the last path parameter, or without one the id-like
//!   properties of its query and body — is not an object the scan created;
//! - a creation (`POST` to a collection) under a parent that is neither the scan's nor the
//!   acting identity's own account;
//! - an account change (a write to the caller's own record or settings, a password, e-mail or
//!   role, a path about passwords or sessions) for an account the scan did not register;
//! - a write with no object at all (`POST /admin/reset`) unless the caller is an account the
//!   scan registered and the path is not an administrator's.
//!
//! In disposable mode everything passes, reads named for a state change once per operation.
//! Below active mode only reads go out (the method gate), and reads named for a state change
//! not at all. A refusal is kept with the check that wanted it ([`CURRENT_CHECK`]); the report
//! lists it under that check's `coverage.checks[].skipped_on`.

use middlebrick_model::{
    danger, names, scalar_text, Exchange, Inventory, Method, Mode, Operation, RequestSpec,
    SelfKnowledge,
};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// A request the gate did not send, and the check that wanted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untested {
    /// The check that asked (none for the engine's own requests).
    pub check: Option<middlebrick_model::CheckId>,
    /// `METHOD /path/{template}`, or the request's own method and path without an operation.
    pub operation: String,
    pub reason: String,
}

tokio::task_local! {
    /// The check whose requests the current task sends (set by `run`), so that a refusal
    /// names the check that could not test.
    pub static CURRENT_CHECK: middlebrick_model::CheckId;
}

/// Refusals kept for the report; later ones are counted, not kept.
const UNTESTED_CAP: usize = 500;

/// Body and query properties that name the account an account change is about.
const ACCOUNT_NAMES: &[&str] = &["email", "username", "login", "mail", "emailaddress", "user"];
/// Path and property words of account changes.
const ACCOUNT_WORDS: &[&str] = &["password", "passwd", "email", "role", "roles", "sessions"];

/// Who sends the request, as the gate sees it.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub name: String,
    /// An account this scan registered itself.
    pub registered: bool,
    pub own: SelfKnowledge,
}

/// The accounts the scan knows: what names each configured one (never touched in active
/// mode) and each registered one (the scan's own).
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    pub configured: Vec<String>,
    pub registered: Vec<String>,
}

/// The operations the gate treats as neither creation nor write: sign-in and registration.
#[derive(Debug, Clone, Default)]
pub struct Exempt(pub HashSet<String>);

/// Where an object the scan made lives.
#[derive(Debug, Clone)]
struct Made {
    /// The collection's template, every parameter written `{}` (`/users/{}/cards`); `None` when
    /// not known.
    collection: Option<String>,
    /// The parameter its items go by (`card_id`).
    param: Option<String>,
}

#[derive(Debug, Default)]
pub struct Ledger {
    /// Object ids the scan created (as text), with where each was made. One id may name
    /// objects of several collections (card 1 and user 1): a write is judged against the
    /// collection its parameter names, so making card 1 is no licence to write to user 1.
    created: Mutex<HashMap<String, Vec<Made>>>,
    /// Operations named for a state change sent once in disposable mode.
    once: Mutex<HashSet<String>>,
    refused: Mutex<Vec<Untested>>,
    refused_total: std::sync::atomic::AtomicUsize,
}

impl Ledger {
    /// Adds an object the scan made through a producer (`checks::stateful::fresh_object`) for
    /// `param` of the operation at `template`.
    pub fn add_created(&self, value: &str, template: &str, param: &str) {
        self.lock_created()
            .entry(value.to_string())
            .or_default()
            .push(Made {
                collection: Some(collection_before(template, param)),
                param: Some(param.to_string()),
            });
    }

    /// Whether `value` of path parameter `name` in `template` is an object this scan created
    /// in the collection that parameter names (or one whose items go by the same name).
    fn created_at(&self, template: &str, name: &str, value: &str) -> bool {
        let collection = collection_before(template, name);
        self.lock_created().get(value).is_some_and(|made| {
            made.iter().any(|m| {
                m.collection.is_none()
                    || m.collection.as_deref() == Some(collection.as_str())
                    || m.param.as_deref().is_some_and(|p| same_name(p, name))
            })
        })
    }

    /// Whether `value` of a query or body reference `name` (`card_id`, `id`) is an object this
    /// scan created whose items go by that name.
    fn created_ref(&self, name: &str, value: &str) -> bool {
        self.lock_created().get(value).is_some_and(|made| {
            made.iter().any(|m| {
                names::normalize_name(name) == "id"
                    || m.param.as_deref().is_none_or(|p| same_name(p, name))
            })
        })
    }

    fn lock_created(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Made>>> {
        self.created.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records what a successful answer to a creation made: the new object's id (read as
    /// `ownership::created_id` reads it, named like the item operation's parameter) and the
    /// last segment of a `Location` header.
    pub fn record(&self, inv: &Inventory, op: Option<&Operation>, exempt: &Exempt, ex: &Exchange) {
        let Some(op) = op else { return };
        if ex.request.method != Method::Post
            || !is_creation(inv, op, exempt)
            || !ex.response.as_ref().is_some_and(|r| r.is_success())
        {
            return;
        }
        let mut ids = Vec::new();
        let item = item_param(inv, op);
        if let Some(json) = ex.success_json() {
            let param = item.clone().unwrap_or_else(|| "id".to_string());
            ids.extend(
                middlebrick_checks::ownership::created_id(&json, &param)
                    .and_then(|v| scalar_text(&v)),
            );
        }
        if let Some(loc) = ex.response.as_ref().and_then(|r| r.header("location")) {
            let path = loc.split(['?', '#']).next().unwrap_or_default();
            ids.extend(path.rsplit('/').find(|s| !s.is_empty()).map(decode));
        }
        let mut created = self.lock_created();
        for id in ids {
            created.entry(id).or_default().push(Made {
                collection: Some(normal_template(&op.path)),
                param: item.clone(),
            });
        }
    }

    /// The gate: `Ok` when `req` may be sent in `mode`, else why not.
    pub fn judge(
        &self,
        mode: Mode,
        inv: &Inventory,
        req: &RequestSpec,
        actor: &Actor,
        accounts: &Accounts,
        exempt: &Exempt,
    ) -> Result<(), String> {
        let op = req
            .operation
            .as_deref()
            .and_then(|k| inv.operations.iter().find(|o| o.key() == k));
        let named_danger = match op {
            Some(o) => danger::state_change_word(o).is_some(),
            None => danger::path_signals_state_change(&req.path),
        };
        let read = match &req.graphql {
            Some(_) => !req.changes_state(),
            None => matches!(req.method, Method::Get | Method::Head | Method::Options),
        };
        if read && !(named_danger && req.method != Method::Options) {
            return Ok(());
        }
        if op.is_some_and(|o| exempt.0.contains(&o.key())) {
            return Ok(());
        }
        if let Some(word) = op
            .filter(|_| mode >= Mode::Active)
            .filter(|o| middlebrick_checks::authflow::role(o).is_none())
            .and_then(danger::wholesale_word)
        {
            return wholesale(mode, word);
        }
        match mode {
            Mode::Passive | Mode::Safe if read => Err(format!(
                "its path or name signals a state change, which {mode} mode never sends"
            )),
            Mode::Passive | Mode::Safe => Err(format!(
                "{} changes state, which {mode} mode never sends",
                req.method
            )),
            Mode::Disposable if read => {
                let key = op.map_or_else(|| req.path.clone(), Operation::key);
                if self
                    .once
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key)
                {
                    Ok(())
                } else {
                    Err("it is named for a state change and was sent once already".into())
                }
            }
            Mode::Disposable => Ok(()),
            Mode::Active => self.judge_active(inv, op, req, actor, accounts, exempt),
        }
    }

    fn judge_active(
        &self,
        inv: &Inventory,
        op: Option<&Operation>,
        req: &RequestSpec,
        actor: &Actor,
        accounts: &Accounts,
        exempt: &Exempt,
    ) -> Result<(), String> {
        let account = |v: &str| accounts.registered.iter().any(|r| same(r, v));
        // A request under another method than the spec's (`GET` to `POST /orders/{id}/cancel`)
        // names its template in its operation key all the same.
        let template = op.map(|o| o.path.as_str()).or_else(|| {
            req.operation
                .as_deref()
                .and_then(|k| k.split_once(' '))
                .map(|(_, p)| p)
        });
        let params = template
            .map(|t| path_values(t, &req.path))
            .unwrap_or_default();
        let ours = |name: &str, v: &str| {
            account(v) || template.is_some_and(|t| self.created_at(t, name, v))
        };
        let creation =
            req.method == Method::Post && op.is_some_and(|o| is_creation(inv, o, exempt));
        if creation {
            for (name, v) in &params {
                if !ours(name, v) && !actor.own.values().iter().any(|o| same(o, v)) {
                    return Err(format!(
                        "it creates under `{name}` = `{v}`, which is neither an object this scan \
                         created nor the account of `{}`",
                        actor.name
                    ));
                }
            }
            return self.judge_account(op, req, actor, accounts, None);
        }
        if let Some((name, v)) = params.last() {
            if !ours(name, v) {
                return Err(format!(
                    "`{name}` = `{v}` names an object this scan did not create"
                ));
            }
            // `PUT /users/{username}/password` for an account the scan registered: that account
            // is the one changed, whoever sends it.
            let path_account = account(v).then_some(v.as_str());
            return self.judge_account(op, req, actor, accounts, path_account);
        }
        let refs = id_references(req);
        if let Some((name, v)) = refs
            .iter()
            .find(|(name, v)| !account(v) && !self.created_ref(name, v))
        {
            return Err(format!(
                "`{name}` = `{v}` names an object this scan did not create"
            ));
        }
        if !refs.is_empty() {
            return self.judge_account(op, req, actor, accounts, None);
        }
        // No object named: the caller's own record or settings, or the whole application.
        let admin = op.and_then(middlebrick_checks::ownership::privileged_reason);
        match (actor.registered, admin) {
            (true, None) => self.judge_account(op, req, actor, accounts, None),
            (true, Some(why)) => Err(format!(
                "it changes state without naming an object, on an administrator's operation \
                 ({why})"
            )),
            (false, _) if actor.name == middlebrick_model::ANONYMOUS => {
                self.judge_account(op, req, actor, accounts, None)
            }
            (false, _) => Err(format!(
                "it changes the record or settings of `{}`, an account this scan did not \
                 register",
                actor.name
            )),
        }
    }

    /// Account changes (password, e-mail, role, sessions) only for accounts the scan registered:
    /// the account a body names by e-mail or username, else the caller.
    fn judge_account(
        &self,
        op: Option<&Operation>,
        req: &RequestSpec,
        actor: &Actor,
        accounts: &Accounts,
        path_account: Option<&str>,
    ) -> Result<(), String> {
        let body = body_object(req);
        // A GraphQL operation is named by its field, and its arguments say what it changes
        // unless it creates (as a POST's body does).
        let (path_words, body_counts) = match op.and_then(|o| o.graphql.as_ref()) {
            Some(g) => (g.field.as_str(), !graphql_creation(g)),
            None => (
                op.map_or(req.path.as_str(), |o| o.path.as_str()),
                req.method != Method::Post,
            ),
        };
        let about_account = names::name_words(path_words)
            .iter()
            .any(|w| ACCOUNT_WORDS.contains(&w.as_str()))
            || (body_counts
                && body.iter().any(|(k, _)| {
                    names::name_words(k)
                        .iter()
                        .any(|w| ACCOUNT_WORDS.contains(&w.as_str()))
                }));
        if !about_account {
            return Ok(());
        }
        let named: Vec<String> = body
            .iter()
            .chain(req.query.iter())
            .filter(|(k, _)| ACCOUNT_NAMES.contains(&names::normalize_name(k).as_str()))
            .map(|(_, v)| v.clone())
            .chain(path_account.map(str::to_string))
            .collect();
        if let Some(v) = named.iter().find(|v| {
            accounts.configured.iter().any(|c| same(c, v))
                && !accounts.registered.iter().any(|r| same(r, v))
        }) {
            return Err(format!(
                "it changes the account `{v}`, which this scan did not register"
            ));
        }
        if named.is_empty() && !actor.registered && actor.name != middlebrick_model::ANONYMOUS {
            return Err(format!(
                "it changes the account of `{}`, which this scan did not register",
                actor.name
            ));
        }
        Ok(())
    }

    /// Keeps a refusal for the report, with the check that wanted the request.
    pub fn refused(&self, req: &RequestSpec, reason: &str) {
        let n = self
            .refused_total
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let check = CURRENT_CHECK.try_with(|c| *c).ok();
        let operation = req
            .operation
            .clone()
            .unwrap_or_else(|| format!("{} {}", req.method, req.path));
        let mut list = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        if n < UNTESTED_CAP
            && !list
                .iter()
                .any(|u| u.check == check && u.operation == operation && u.reason == reason)
        {
            list.push(Untested {
                check,
                operation,
                reason: reason.to_string(),
            });
        }
    }

    /// What the gate refused (one entry per check, operation and reason) and how many requests.
    pub fn untested(&self) -> (Vec<Untested>, usize) {
        (
            self.refused
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            self.refused_total.load(std::sync::atomic::Ordering::SeqCst),
        )
    }
}

/// The gate for an operation that acts on the whole application (`POST /admin/reset`,
/// `GET /initdb`): it may change every object, whoever made them, and undo the scan's own
/// mid-scan. Only disposable mode sends it, and only `auth.anonymous-state-change`, which runs
/// after every other check.
fn wholesale(mode: Mode, word: &str) -> Result<(), String> {
    let last = middlebrick_model::CheckId::AuthAnonymousStateChange;
    match mode {
        Mode::Disposable if CURRENT_CHECK.try_with(|c| *c).ok() == Some(last) => Ok(()),
        Mode::Disposable => Err(format!(
            "it acts on the whole application (`{word}`): only {last} sends it, after every \
             other check, so that it cannot undo the scan's own objects mid-scan"
        )),
        _ => Err(format!(
            "it acts on the whole application (`{word}`), which only --mode disposable sends, \
             and only {last}"
        )),
    }
}

/// A creation: a `POST` to a collection — its last segment a word, not a parameter, not named
/// for a state change, and not the caller's own record (a path that is also read and has no
/// item below it, like `/me` or `/preferences`) — or a sign-in or registration.
pub fn is_creation(inv: &Inventory, op: &Operation, exempt: &Exempt) -> bool {
    if exempt.0.contains(&op.key()) {
        return true;
    }
    if let Some(g) = &op.graphql {
        return graphql_creation(g);
    }
    // The last segment decides: `/orders` creates, `/orders/{id}/cancel` acts on an order. A
    // summary saying "Create an order" is what a creation says, so only the path is read.
    let last = op.path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    let action = danger::path_signals_state_change(last)
        && !names::name_words(last).iter().any(|w| w == "create");
    op.method == Method::Post
        && !last.starts_with('{')
        && !action
        && is_collection(inv, op)
        && !is_own_record(inv, op)
}

/// A GraphQL mutation that creates: its field opens with a creation verb (`createOrder`,
/// `addCard`, `placeOrder`) and no argument names an existing object (an id-like name or an
/// `ID` type). Every other mutation is a write, judged by the objects its arguments name or,
/// naming none, as a change to the caller's own account (`updateProfile`).
fn graphql_creation(g: &middlebrick_model::GraphqlOperation) -> bool {
    const CREATION_VERBS: &[&str] = &[
        "create", "add", "new", "insert", "place", "post", "submit", "register", "signup",
        "upload", "open", "book", "make",
    ];
    let first = names::name_words(&g.field).into_iter().next();
    g.kind == middlebrick_model::GraphqlKind::Mutation
        && first.is_some_and(|w| CREATION_VERBS.contains(&w.as_str()))
        && !g.arguments.iter().any(|a| {
            a.type_ref.trim_matches(['[', ']', '!']) == "ID"
                || names::name_words(&a.name)
                    .last()
                    .is_some_and(|w| names::is_id_word(w))
        })
}

fn is_own_record(inv: &Inventory, op: &Operation) -> bool {
    let read = inv
        .operations
        .iter()
        .find(|o| o.method == Method::Get && o.path == op.path);
    read.is_some_and(|r| !reads_a_list(r)) && item_param(inv, op).is_none()
}

/// Whether a read answers a list: an array, or a page object holding an array of objects
/// (`{"items": [...], "page": 1}`). Such a path is a collection even with no item operation
/// below it (`GET /bookmarks` and `POST /bookmarks`), not the caller's own record.
fn reads_a_list(read: &Operation) -> bool {
    use middlebrick_model::SchemaType;
    let Some(s) = read.success_schema() else {
        return false;
    };
    let objects = |a: &middlebrick_model::Schema| {
        a.effective_type() == Some(SchemaType::Array)
            && a.items
                .as_ref()
                .is_some_and(|i| i.effective_type() == Some(SchemaType::Object))
    };
    const PAGING: &[&str] = &[
        "page",
        "pages",
        "total",
        "count",
        "next",
        "previous",
        "prev",
        "limit",
        "offset",
        "perpage",
        "pagesize",
        "cursor",
        "size",
        "hasmore",
        "totalpages",
        "totalcount",
    ];
    let lists = s.properties.values().filter(|p| objects(p)).count();
    // A page: one list, and beside it nothing but paging (a record with a list inside, like
    // `{"name": …, "addresses": [...]}`, stays a record).
    s.effective_type() == Some(SchemaType::Array)
        || (lists == 1
            && s.properties
                .iter()
                .all(|(k, p)| objects(p) || PAGING.contains(&names::normalize_name(k).as_str())))
}

/// The parameter of the items under a collection (`note_id` of `/notes/{note_id}`, or of
/// `/orders/{order_id}/pay` when no operation reads one order).
fn item_param(inv: &Inventory, op: &Operation) -> Option<String> {
    let prefix = format!("{}/{{", op.path.trim_end_matches('/'));
    let under: Vec<(&str, &str)> = inv
        .operations
        .iter()
        .filter_map(|o| o.path.strip_prefix(&prefix)?.split_once('}'))
        .collect();
    under
        .iter()
        .find(|(_, tail)| tail.is_empty())
        .or_else(|| under.first())
        .map(|(name, _)| name.to_string())
}

/// Whether a path under parameters is a collection: it is also listed (a GET on it) or has
/// items below it. `/users/{username}/pets` is; `/orders/{id}/pay` is an action on an order.
fn is_collection(inv: &Inventory, op: &Operation) -> bool {
    !op.path.contains('{')
        || item_param(inv, op).is_some()
        || inv
            .operations
            .iter()
            .any(|o| o.method == Method::Get && o.path == op.path)
}

/// A template with every parameter written `{}` and no trailing slash, so that two spellings of
/// one collection compare equal (`/users/{id}/cards`, `/users/{user_id}/cards`).
fn normal_template(template: &str) -> String {
    template
        .trim_end_matches('/')
        .split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// The collection path parameter `name` of `template` picks an item of
/// (`/users/{}/cards` for `card_id` of `/users/{user_id}/cards/{card_id}`), normalised.
fn collection_before(template: &str, name: &str) -> String {
    let marker = format!("/{{{name}}}");
    normal_template(template.split(&marker).next().unwrap_or(template))
}

fn same_name(a: &str, b: &str) -> bool {
    names::normalize_name(a) == names::normalize_name(b)
}

/// The values of a template's path parameters in a filled path, in order.
pub fn path_values(template: &str, path: &str) -> Vec<(String, String)> {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    if p.len() < t.len() {
        return Vec::new();
    }
    // The filled path may carry the base path in front: align on the end.
    let p = &p[p.len() - t.len()..];
    t.iter()
        .zip(p)
        .filter_map(|(ts, ps)| {
            let name = ts.strip_prefix('{')?.strip_suffix('}')?;
            Some((name.to_string(), decode(ps)))
        })
        .collect()
}

/// Id-like properties of the query and the JSON body (`order_id`, `petId`, `id`).
fn id_references(req: &RequestSpec) -> Vec<(String, String)> {
    let id_like = |k: &str| {
        names::name_words(k)
            .last()
            .is_some_and(|w| names::is_id_word(w))
    };
    req.query
        .iter()
        .cloned()
        .chain(body_object(req))
        .filter(|(k, _)| id_like(k))
        .collect()
}

/// The top-level scalar properties of a JSON (or form) body, as text. A GraphQL request's are
/// its `variables`, and those of the input objects among them (`input: {id: 7, …}`).
fn body_object(req: &RequestSpec) -> Vec<(String, String)> {
    let Some(body) = req.body.as_ref() else {
        return Vec::new();
    };
    if let (Some(_), middlebrick_model::RequestBody::Json(v)) = (&req.graphql, body) {
        let mut out = Vec::new();
        for (k, v) in v
            .get("variables")
            .and_then(|v| v.as_object())
            .into_iter()
            .flatten()
        {
            match v {
                serde_json::Value::Object(inner) => out.extend(
                    inner
                        .iter()
                        .filter_map(|(k, v)| scalar_text(v).map(|t| (k.clone(), t))),
                ),
                other => out.extend(scalar_text(other).map(|t| (k.clone(), t))),
            }
        }
        return out;
    }
    match body {
        middlebrick_model::RequestBody::Json(v) => middlebrick_model::envelope::unwrap_envelope(v)
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| scalar_text(v).map(|t| (k.clone(), t)))
                    .collect()
            })
            .unwrap_or_default(),
        middlebrick_model::RequestBody::Form(fields) => fields.clone(),
        _ => Vec::new(),
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Percent-decodes a path segment (`alice%40example.test`).
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_model::{Exchange, RequestBody, RequestRecord, ResponseRecord};
    use serde_json::json;

    fn inv() -> Inventory {
        let mut inv = Inventory::empty(middlebrick_model::SpecVersion::OpenApi30);
        for (m, p) in [
            (Method::Get, "/notes"),
            (Method::Post, "/notes"),
            (Method::Get, "/notes/{note_id}"),
            (Method::Patch, "/notes/{note_id}"),
            (Method::Post, "/orders/{order_id}/cancel"),
            (Method::Get, "/users/{username}/pets"),
            (Method::Post, "/users/{username}/pets"),
            (Method::Put, "/users/{username}/pets/{petId}"),
            (Method::Get, "/me"),
            (Method::Patch, "/me"),
            (Method::Post, "/auth/password-reset"),
            (Method::Post, "/admin/reset"),
            (Method::Get, "/admin/reset-db"),
            (Method::Post, "/auth/login"),
        ] {
            inv.operations.push(Operation::new(m, p));
        }
        inv
    }

    fn req(m: Method, template: &str, path: &str, who: &str) -> RequestSpec {
        let mut r = RequestSpec::new(m, path);
        r.operation = Some(format!("{m} {template}"));
        r.identity = who.into();
        r
    }

    fn alice() -> Actor {
        Actor {
            name: "alice".into(),
            registered: false,
            own: SelfKnowledge {
                id: Some(json!(1)),
                username: Some("alice".into()),
                ..SelfKnowledge::default()
            },
        }
    }

    fn accounts() -> Accounts {
        Accounts {
            configured: vec!["1".into(), "alice".into(), "alice@example.test".into()],
            registered: vec!["77".into(), "mb-x".into(), "mb-x@example.test".into()],
        }
    }

    fn exempt() -> Exempt {
        Exempt(["POST /auth/login".to_string()].into_iter().collect())
    }

    fn judge(l: &Ledger, mode: Mode, r: &RequestSpec, a: &Actor) -> Result<(), String> {
        l.judge(mode, &inv(), r, a, &accounts(), &exempt())
    }

    fn created(l: &Ledger, template: &str, body: serde_json::Value) {
        let inv = inv();
        let op = inv.operations.iter().find(|o| o.key() == template).unwrap();
        let text = body.to_string();
        let ex = Exchange {
            identity: "alice".into(),
            request: RequestRecord {
                method: Method::Post,
                url: "http://127.0.0.1/notes".into(),
                headers: Vec::new(),
                body: None,
            },
            response: Some(ResponseRecord {
                status: 201,
                headers: vec![("content-type".into(), "application/json".into())],
                body: middlebrick_model::BodyRecord {
                    size: text.len() as u64,
                    text,
                    truncated: false,
                },
                graphql_field: None,
            }),
            redirects: Vec::new(),
            error: None,
            elapsed_ms: 0,
        };
        l.record(&inv, Some(op), &exempt(), &ex);
    }

    /// A password or role change on the path of an account the scan registered changes that
    /// account, whoever sends it (issue 15: bob changes the registered account's password,
    /// which then signs in with it); on a configured account's path it is refused.
    #[test]
    fn an_account_named_by_the_path_is_the_account_changed() {
        let l = Ledger::default();
        let bob = Actor {
            name: "bob".into(),
            ..Actor::default()
        };
        let t = "/users/{username}/password";
        let ours = req(Method::Put, t, "/users/mb-x/password", "bob");
        assert!(judge(&l, Mode::Active, &ours, &bob).is_ok());
        let alices = req(Method::Put, t, "/users/alice/password", "bob");
        assert!(judge(&l, Mode::Active, &alices, &bob).is_err());
    }

    /// A path that is read as a page of objects is a collection even with no item operation
    /// below it; one read as a record with a list inside stays the caller's own record.
    #[test]
    fn a_list_with_no_item_operation_is_a_collection_not_an_own_record() {
        use middlebrick_model::{ResponseSpec, Schema, SchemaType};
        use std::sync::Arc;
        let object = Arc::new(Schema::of_type(SchemaType::Object));
        let mut list = Schema::of_type(SchemaType::Array);
        list.items = Some(object);
        let list = Arc::new(list);
        let int = Arc::new(Schema::of_type(SchemaType::Integer));
        let read_with = |path: &str, props: Vec<(&str, Arc<Schema>)>| {
            let mut s = Schema::of_type(SchemaType::Object);
            for (k, v) in props {
                s.properties.insert(k.into(), v);
            }
            let mut get = Operation::new(Method::Get, path);
            get.responses.push(ResponseSpec {
                status: "200".into(),
                media_type: Some("application/json".into()),
                schema: Some(Arc::new(s)),
            });
            get
        };
        let mut inv = Inventory::empty(middlebrick_model::SpecVersion::OpenApi30);
        inv.operations.push(read_with(
            "/bookmarks",
            vec![
                ("items", list.clone()),
                ("page", int.clone()),
                ("per_page", int),
            ],
        ));
        inv.operations
            .push(Operation::new(Method::Post, "/bookmarks"));
        let name = Arc::new(Schema::of_type(SchemaType::String));
        inv.operations.push(read_with(
            "/preferences",
            vec![("theme", name), ("channels", list)],
        ));
        inv.operations
            .push(Operation::new(Method::Post, "/preferences"));
        let find = |k: &str| inv.operations.iter().find(|o| o.key() == k).unwrap();
        assert!(is_creation(&inv, find("POST /bookmarks"), &exempt()));
        assert!(!is_creation(&inv, find("POST /preferences"), &exempt()));
    }

    /// Regression: card 1 made under alice's account licensed a write to user 1's collection
    /// as bob (ids of different collections were one set).
    #[test]
    fn an_id_the_scan_made_is_ours_only_in_its_own_collection() {
        let l = Ledger::default();
        created(&l, "POST /users/{username}/pets", json!({"petId": 1}));
        let bob = Actor {
            name: "bob".into(),
            ..Actor::default()
        };
        let pet = req(
            Method::Put,
            "/users/{username}/pets/{petId}",
            "/users/alice/pets/1",
            "bob",
        );
        assert!(judge(&l, Mode::Active, &pet, &bob).is_ok());
        let note = req(Method::Patch, "/notes/{note_id}", "/notes/1", "bob");
        let err = judge(&l, Mode::Active, &note, &bob).unwrap_err();
        assert!(err.contains("`note_id` = `1`"), "{err}");
        let mut by_ref = req(
            Method::Post,
            "/orders/{order_id}/cancel",
            "/orders/x/cancel",
            "bob",
        );
        by_ref.operation = None;
        by_ref.path = "/refunds".into();
        by_ref.body = Some(RequestBody::Json(json!({"note_id": 1})));
        assert!(judge(&l, Mode::Active, &by_ref, &bob).is_err());
        by_ref.body = Some(RequestBody::Json(json!({"pet_id": 1})));
        assert!(judge(&l, Mode::Active, &by_ref, &bob).is_ok());
    }

    #[test]
    fn writes_go_only_to_objects_the_scan_created() {
        let l = Ledger::default();
        let seeded = req(Method::Patch, "/notes/{note_id}", "/notes/3", "alice");
        let err = judge(&l, Mode::Active, &seeded, &alice()).unwrap_err();
        assert!(err.contains("did not create"), "{err}");
        created(
            &l,
            "POST /notes",
            json!({"data": {"note_id": 41, "title": "x"}}),
        );
        let ours = req(Method::Patch, "/notes/{note_id}", "/notes/41", "bob");
        assert!(judge(
            &l,
            Mode::Active,
            &ours,
            &Actor {
                name: "bob".into(),
                ..alice()
            }
        )
        .is_ok());
        assert!(judge(&l, Mode::Disposable, &seeded, &alice()).is_ok());
        assert!(judge(&l, Mode::Safe, &seeded, &alice()).is_err());
    }

    #[test]
    fn creations_pass_under_the_callers_own_account_only() {
        let l = Ledger::default();
        let mut r = req(Method::Post, "/notes", "/notes", "alice");
        r.body = Some(RequestBody::Json(json!({"title": "t"})));
        assert!(judge(&l, Mode::Active, &r, &alice()).is_ok());
        let own = req(
            Method::Post,
            "/users/{username}/pets",
            "/users/alice/pets",
            "alice",
        );
        assert!(judge(&l, Mode::Active, &own, &alice()).is_ok());
        let theirs = req(
            Method::Post,
            "/users/{username}/pets",
            "/users/bob/pets",
            "alice",
        );
        assert!(judge(&l, Mode::Active, &theirs, &alice()).is_err());
        let sign_in = req(Method::Post, "/auth/login", "/auth/login", "anonymous");
        assert!(judge(&l, Mode::Safe, &sign_in, &alice()).is_ok());
    }

    #[test]
    fn account_changes_only_for_registered_accounts() {
        let l = Ledger::default();
        let mut me = req(Method::Patch, "/me", "/me", "alice");
        me.body = Some(RequestBody::Json(json!({"fullName": "x"})));
        assert!(judge(&l, Mode::Active, &me, &alice()).is_err());
        let mine = Actor {
            name: "mb-own-1".into(),
            registered: true,
            own: SelfKnowledge::default(),
        };
        me.identity = "mb-own-1".into();
        assert!(judge(&l, Mode::Active, &me, &mine).is_ok());
        let mut reset = req(
            Method::Post,
            "/auth/password-reset",
            "/auth/password-reset",
            "anonymous",
        );
        reset.body = Some(RequestBody::Json(json!({"email": "alice@example.test"})));
        let anon = Actor {
            name: "anonymous".into(),
            ..Actor::default()
        };
        assert!(judge(&l, Mode::Active, &reset, &anon).is_err());
        reset.body = Some(RequestBody::Json(json!({"email": "mb-x@example.test"})));
        assert!(judge(&l, Mode::Active, &reset, &anon).is_ok());
        let admin = req(Method::Post, "/admin/reset", "/admin/reset", "mb-own-1");
        assert!(judge(&l, Mode::Active, &admin, &mine).is_err());
    }

    #[test]
    fn operations_on_the_whole_application_are_left_to_the_check_that_runs_last() {
        let l = Ledger::default();
        let anon = Actor {
            name: "anonymous".into(),
            ..Actor::default()
        };
        for r in [
            req(
                Method::Get,
                "/admin/reset-db",
                "/admin/reset-db",
                "anonymous",
            ),
            req(Method::Post, "/admin/reset", "/admin/reset", "anonymous"),
        ] {
            // Active mode never sends it, even without credentials (no object is named).
            assert!(judge(&l, Mode::Active, &r, &anon).is_err());
            // Disposable mode: not by the other checks, mid-scan.
            let other = CURRENT_CHECK.sync_scope(middlebrick_model::CheckId::InjectionSql, || {
                judge(&l, Mode::Disposable, &r, &anon)
            });
            assert!(other.unwrap_err().contains("auth.anonymous-state-change"));
            let last = middlebrick_model::CheckId::AuthAnonymousStateChange;
            for _ in 0..2 {
                let ok = CURRENT_CHECK.sync_scope(last, || judge(&l, Mode::Disposable, &r, &anon));
                assert!(ok.is_ok(), "{ok:?}");
            }
        }
    }

    #[test]
    fn reads_named_for_a_state_change_are_gated_and_sent_once_when_disposable() {
        let l = Ledger::default();
        let cancel = req(
            Method::Get,
            "/orders/{order_id}/cancel",
            "/api/orders/9/cancel",
            "alice",
        );
        assert!(judge(&l, Mode::Safe, &cancel, &alice()).is_err());
        assert!(judge(&l, Mode::Active, &cancel, &alice()).is_err());
        assert!(judge(&l, Mode::Disposable, &cancel, &alice()).is_ok());
        assert!(judge(&l, Mode::Disposable, &cancel, &alice()).is_err());
        let plain = req(Method::Get, "/notes/{note_id}", "/notes/3", "alice");
        assert!(judge(&l, Mode::Safe, &plain, &alice()).is_ok());
    }

    #[test]
    fn a_post_under_an_object_is_an_action_unless_that_path_is_a_collection() {
        let mut inv = inv();
        inv.operations
            .push(Operation::new(Method::Post, "/orders/{order_id}/pay"));
        inv.operations.push(Operation::new(Method::Get, "/orders"));
        inv.operations.push(Operation::new(Method::Post, "/orders"));
        let ex = exempt();
        let find = |k: &str| inv.operations.iter().find(|o| o.key() == k).unwrap();
        assert!(!is_creation(&inv, find("POST /orders/{order_id}/pay"), &ex));
        assert!(
            is_creation(&inv, find("POST /orders"), &ex),
            "items below it"
        );
        assert!(is_creation(&inv, find("POST /users/{username}/pets"), &ex));
        assert!(!is_creation(&inv, find("PATCH /me"), &ex));
        assert!(!is_own_record(&inv, find("POST /notes")));
    }

    #[test]
    fn path_values_align_on_the_template_and_decode() {
        assert_eq!(
            path_values(
                "/users/{username}/pets/{petId}",
                "/api/v2/users/a%40b.c/pets/7"
            ),
            vec![
                ("username".to_string(), "a@b.c".to_string()),
                ("petId".to_string(), "7".to_string())
            ]
        );
    }
}

#[cfg(test)]
#[path = "ledger_graphql_tests.rs"]
mod graphql_tests;
