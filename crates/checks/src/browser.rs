//! What a browser lets an attacker's page do with a signed-in victim's cookies: the shared part
//! of the CSRF checks.
//!
//! A forged request is what a page on another site can make the browser send: the session
//! cookie (nothing else of the identity's credentials: a page cannot read the token a
//! single-page app keeps in memory), a foreign `Origin`, no anti-CSRF token. Whether the browser
//! really attaches the cookie depends on its `SameSite` attribute, which lowers the severity of
//! a finding instead of hiding it: same-site attackers (a sibling subdomain) are not stopped by
//! it, and browsers disagree on the default.
//!
//! Evidence is the change itself. The checks act only on objects the scanner creates for the
//! purpose (create as the identity, then attack that object), or on the identity's own
//! settings, which they put back afterwards.

use crate::check::RunCtx;
use crate::ownership::{collection_of, created_id, nonce};
use crate::probe::{IdentityInfo, Overrides, ProbeError};
use crate::similarity::{has_substance, is_error_envelope};
use middlebrick_model::{
    CredentialUse, Exchange, Inventory, Method, Operation, ParamLocation, RequestSpec, Severity,
};
use serde_json::Value;

/// The origin forged requests claim to come from (`.test` is reserved, RFC 2606).
pub const ATTACKER_ORIGIN: &str = "https://attacker.evil.test";

/// Whether a browser attaches the session cookie to a request started by another site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossSite {
    /// `SameSite=None`, or no attribute (Firefox and Safari send it; Chrome treats it as Lax).
    Sent,
    /// `SameSite=Lax`: only on top-level GET navigations.
    TopLevelGet,
    /// `SameSite=Strict`: never.
    NotSent,
}

impl CrossSite {
    /// The severity of a forged `method` that worked, starting from `full`.
    pub fn severity(self, method: Method, full: Severity) -> Severity {
        match (self, method) {
            (CrossSite::Sent, _) | (CrossSite::TopLevelGet, Method::Get) => full,
            _ => Severity::Low,
        }
    }
}

/// The first ordinary identity whose session is a cookie: bearer-only identities cannot be
/// forged from another site, so the CSRF checks never judge them.
pub fn cookie_identity(identities: Vec<IdentityInfo>) -> Option<IdentityInfo> {
    identities
        .into_iter()
        .filter(|i| !i.session_cookies.is_empty())
        .min_by_key(|i| i.admin)
}

/// What a browser does with the identity's session cookies cross-site, and why, in words. The
/// most permissive cookie decides.
pub fn cross_site(identity: &IdentityInfo) -> (CrossSite, String) {
    let mut worst = (CrossSite::NotSent, String::new());
    for name in &identity.session_cookies {
        let attr = identity
            .cookie_same_site
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone());
        let judged = match attr.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("strict") => (
                CrossSite::NotSent,
                format!("the session cookie `{name}` is `SameSite=Strict`, so browsers do not send it from another site; same-site pages (a sibling subdomain) still can"),
            ),
            Some("lax") => (
                CrossSite::TopLevelGet,
                format!("the session cookie `{name}` is `SameSite=Lax`, so browsers send it from another site only on top-level GET navigations; same-site pages can do more"),
            ),
            Some(_) => (
                CrossSite::Sent,
                format!("the session cookie `{name}` is `SameSite=None`, so browsers send it with requests from any site"),
            ),
            None => (
                CrossSite::Sent,
                format!("the session cookie `{name}` has no `SameSite` attribute, so Firefox and Safari send it with requests from any site (Chrome treats it as Lax)"),
            ),
        };
        let rank = |c: CrossSite| match c {
            CrossSite::Sent => 2,
            CrossSite::TopLevelGet => 1,
            CrossSite::NotSent => 0,
        };
        if worst.1.is_empty() || rank(judged.0) > rank(worst.0) {
            worst = judged;
        }
    }
    worst
}

/// `req` as a page on another site could send it: the session cookie only, a foreign
/// `Origin`, and no header that looks like an anti-CSRF token.
pub fn forged(mut req: RequestSpec, origin: bool) -> RequestSpec {
    req.credentials = CredentialUse::CookiesOnly;
    req.headers.retain(|(k, _)| {
        let k = k.to_ascii_lowercase();
        !(k.contains("csrf") || k.contains("xsrf") || k == "origin" || k == "referer")
    });
    if origin {
        req.headers
            .push(("Origin".to_string(), ATTACKER_ORIGIN.to_string()));
    }
    req
}

/// True when a path is a sign-in, sign-up or sign-out operation (CSRF on those is a different
/// problem, and forging them would change the scan's own sessions).
pub fn is_session_path(path: &str) -> bool {
    path.split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .any(|s| {
            matches!(
                s.to_ascii_lowercase().replace(['-', '_'], "").as_str(),
                "login" | "logout" | "signin" | "signout" | "signup" | "register" | "token"
            )
        })
}

/// How the effect of a forged request on an operation is observed.
#[derive(Debug, Clone)]
enum Watch {
    /// An object the scanner created, read back by id.
    Object { read: Operation, ids: Overrides },
    /// A create: the new object is read back by the id in the answer.
    Create { item: Operation, param: String },
    /// The identity's own state (`/users/me`, `/preferences`), read back and put back.
    Own { read: Operation },
    /// Nothing to read: only a `201` with the created object counts.
    Answer,
}

/// The setup of one forged request: how to address it, how to see its effect, and what was
/// sent to prepare it.
#[derive(Debug, Clone)]
pub struct Prepared {
    watch: Watch,
    /// Path parameters of the scanner's own object, plus the marker in a text property.
    pub overrides: Overrides,
    /// The text property set to `marker`, when the operation takes one.
    field: Option<String>,
    pub marker: String,
    before: Option<Value>,
    pub setup: Vec<Exchange>,
}

fn find<'a>(inv: &'a Inventory, method: Method, path: &str) -> Option<&'a Operation> {
    inv.operations
        .iter()
        .find(|o| o.method == method && o.path == path)
}

/// A plain string property of the operation's body a forged request may set to a marker (no
/// enum, no format, not an id, e-mail or password).
pub fn writable_text(op: &Operation) -> Option<String> {
    let body = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.values().next())?;
    crate::ownership::plain_text_field(body)
}

/// Prepares a forged request on `op` as `identity`: creates the object it acts on when its
/// path names one, reads the state it would change. `None` when the effect could not be
/// observed safely (no create operation, the create failed).
pub async fn prepare(
    ctx: &RunCtx<'_>,
    op: &Operation,
    identity: &str,
) -> Result<Option<Prepared>, ProbeError> {
    let marker = format!("mb-csrf-{}", nonce());
    let field = if op.method == Method::Get {
        None
    } else {
        writable_text(op)
    };
    let mut overrides = Overrides::none();
    if let Some(f) = &field {
        overrides
            .body
            .push((vec![f.clone()], Some(Value::String(marker.clone()))));
    }
    let mut prepared = Prepared {
        watch: Watch::Answer,
        overrides,
        field,
        marker,
        before: None,
        setup: Vec::new(),
    };
    if let Some(end) = op.path.rfind('}') {
        let object = &op.path[..=end];
        let (Some(collection), Some(param)) = (
            collection_of(object),
            object.rsplit('{').next().map(|p| p.trim_end_matches('}')),
        ) else {
            return Ok(None);
        };
        let (Some(create), Some(read)) = (
            find(ctx.inventory, Method::Post, collection),
            find(ctx.inventory, Method::Get, object),
        ) else {
            return Ok(None);
        };
        let created = ctx
            .probe
            .send(ctx.probe.request(create, identity, &Overrides::none()))
            .await?;
        let Some(id) = created.success_json().and_then(|j| created_id(&j, param)) else {
            return Ok(None);
        };
        let ids = Overrides::param(ParamLocation::Path, param, id);
        prepared.overrides.params = ids.params.clone();
        prepared.setup.push(created);
        prepared.watch = Watch::Object {
            read: read.clone(),
            ids,
        };
    } else if let Some(item) = ctx.inventory.operations.iter().find(|o| {
        op.method == Method::Post
            && o.method == Method::Get
            && collection_of(&o.path) == Some(&op.path)
    }) {
        let param = item
            .path
            .rsplit('{')
            .next()
            .unwrap_or("")
            .trim_end_matches('}');
        prepared.watch = Watch::Create {
            item: item.clone(),
            param: param.to_string(),
        };
    } else if let Some(read) = find(ctx.inventory, Method::Get, &op.path) {
        prepared.watch = Watch::Own { read: read.clone() };
    }
    if let Some((read, ids)) = prepared.read() {
        let before = ctx
            .probe
            .send(ctx.probe.request(&read, identity, &ids))
            .await?;
        let Some(json) = before.success_json() else {
            return Ok(None);
        };
        prepared.before = Some(json);
        prepared.setup.push(before);
    }
    Ok(Some(prepared))
}

/// What a forged request was seen to do.
#[derive(Debug)]
pub struct Effect {
    /// The exchanges that show it (the read-back), after the forged request.
    pub exchanges: Vec<Exchange>,
    /// What changed, in words.
    pub what: String,
    /// The read-back showed the change (else only the answer did).
    pub observed: bool,
}

impl Prepared {
    fn read(&self) -> Option<(Operation, Overrides)> {
        match &self.watch {
            Watch::Object { read, ids } => Some((read.clone(), ids.clone())),
            Watch::Own { read } => Some((read.clone(), Overrides::none())),
            _ => None,
        }
    }

    /// Whether the forged request `attack` changed anything, judged by reading the state back
    /// as `identity` with all its credentials. Puts the identity's own settings back.
    pub async fn effect(
        &self,
        ctx: &RunCtx<'_>,
        op: &Operation,
        identity: &str,
        attack: &Exchange,
    ) -> Result<Option<Effect>, ProbeError> {
        let Some(resp) = attack.response.as_ref().filter(|r| r.is_success()) else {
            return Ok(None);
        };
        match &self.watch {
            Watch::Create { item, param } => {
                let Some(id) = resp.json().and_then(|j| created_id(&j, param)) else {
                    return Ok(None);
                };
                let ids = Overrides::param(ParamLocation::Path, param, id.clone());
                let after = ctx
                    .probe
                    .send(ctx.probe.request(item, identity, &ids))
                    .await?;
                let seen = after.response.as_ref().is_some_and(|r| {
                    r.is_success()
                        && has_substance(r)
                        && (self.field.is_none() || r.body.text.contains(&self.marker))
                });
                Ok(seen.then(|| Effect {
                    exchanges: vec![after],
                    what: format!("created object `{}` = {id}, which the identity's own read returns afterwards", param),
                    observed: true,
                }))
            }
            Watch::Answer => {
                let created = resp.status == 201 && has_substance(resp) && !is_error_envelope(resp);
                Ok(created.then(|| Effect {
                    exchanges: Vec::new(),
                    what: "answered 201 with the created object".to_string(),
                    observed: false,
                }))
            }
            Watch::Object { .. } | Watch::Own { .. } => {
                let Some((read, ids)) = self.read() else {
                    return Ok(None);
                };
                let after = ctx
                    .probe
                    .send(ctx.probe.request(&read, identity, &ids))
                    .await?;
                let Some(now) = after.success_json() else {
                    return Ok(None);
                };
                let shows = |ex: &Exchange| {
                    ex.response
                        .as_ref()
                        .is_some_and(|r| r.body.text.contains(&self.marker))
                };
                // Concurrent checks may write the same settings between the forged request and
                // the read-back; the forged request's own answer holding the marker still shows
                // the write was accepted (firm rather than confirmed).
                let (what, observed) = match (&self.field, &self.before) {
                    (Some(f), _) if shows(&after) => (
                        format!("`{f}` now holds the scanner's marker `{}`", self.marker),
                        true,
                    ),
                    (Some(f), _) if shows(attack) => (
                        format!(
                            "the answer to the forged request shows `{f}` set to the scanner's marker `{}`",
                            self.marker
                        ),
                        false,
                    ),
                    (None, Some(before)) => match changed_leaf(before, &now) {
                        Some(w) => (w, true),
                        None => return Ok(None),
                    },
                    _ => return Ok(None),
                };
                let mut exchanges = vec![after];
                if let (Watch::Own { .. }, Some(f), Some(before)) =
                    (&self.watch, &self.field, &self.before)
                {
                    if let Some(old) = before.get(f) {
                        let undo = Overrides::body_field(vec![f.clone()], old.clone());
                        if let Ok(ex) = ctx.probe.send(ctx.probe.request(op, identity, &undo)).await
                        {
                            exchanges.push(ex);
                        }
                    }
                }
                Ok(Some(Effect {
                    exchanges,
                    what,
                    observed,
                }))
            }
        }
    }
}

/// Keys whose values change between two reads by themselves.
fn volatile(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let stamp = k.ends_with("at")
        && (k.starts_with("updated") || k.starts_with("modified") || k.starts_with("created"));
    k.ends_with("_at")
        || stamp
        || [
            "time",
            "date",
            "expires",
            "nonce",
            "token",
            "csrf",
            "etag",
            "request_id",
            "version",
        ]
        .iter()
        .any(|w| k.contains(w))
}

/// The first top-level property whose value differs between two reads, volatile ones aside.
pub fn changed_leaf(before: &Value, after: &Value) -> Option<String> {
    let (Value::Object(b), Value::Object(a)) = (before, after) else {
        return None;
    };
    b.iter()
        .filter(|(k, v)| !volatile(k) && !v.is_object() && !v.is_array())
        .find_map(|(k, old)| {
            let new = a.get(k)?;
            (new != old).then(|| format!("`{k}` changed from {old} to {new}"))
        })
}

/// A JSON object body as the bodies a cross-site HTML form or `fetch(…, {mode: "no-cors"})`
/// can send without a CORS preflight: form-encoded (scalar properties only) and `text/plain`
/// carrying the JSON text.
pub fn simple_bodies(body: &Value) -> Vec<middlebrick_model::RequestBody> {
    use middlebrick_model::RequestBody;
    let mut out = Vec::new();
    if let Value::Object(map) = body {
        if map.values().all(|v| !v.is_object() && !v.is_array()) {
            let pairs = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect();
            out.push(RequestBody::Form(pairs));
        }
    }
    out.push(RequestBody::Raw {
        content_type: "text/plain".to_string(),
        body: body.to_string(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity(same_site: Option<&str>) -> IdentityInfo {
        IdentityInfo {
            name: "alice".into(),
            session_cookies: vec!["session".into()],
            cookie_same_site: vec![("session".into(), same_site.map(str::to_string))],
            token_header: Some("Authorization".into()),
            markers: vec![],
            own: Default::default(),
            admin: false,
        }
    }

    #[test]
    fn same_site_decides_what_a_browser_sends_cross_site() {
        assert_eq!(cross_site(&identity(None)).0, CrossSite::Sent);
        assert_eq!(cross_site(&identity(Some("None"))).0, CrossSite::Sent);
        assert_eq!(cross_site(&identity(Some("lax"))).0, CrossSite::TopLevelGet);
        assert_eq!(cross_site(&identity(Some("Strict"))).0, CrossSite::NotSent);
        let lax = CrossSite::TopLevelGet;
        assert_eq!(lax.severity(Method::Get, Severity::High), Severity::High);
        assert_eq!(lax.severity(Method::Post, Severity::High), Severity::Low);
    }

    #[test]
    fn forged_requests_carry_cookies_and_a_foreign_origin_only() {
        let req = RequestSpec::new(Method::Post, "/x")
            .header("X-CSRF-Token", "abc")
            .header("Accept", "application/json");
        let f = forged(req, true);
        assert_eq!(f.credentials, CredentialUse::CookiesOnly);
        assert!(f.headers.iter().all(|(k, _)| k != "X-CSRF-Token"));
        assert!(f
            .headers
            .contains(&("Origin".into(), ATTACKER_ORIGIN.into())));
    }

    #[test]
    fn changes_ignore_timestamps() {
        let before = json!({"id": 1, "status": "placed", "updated_at": "1"});
        let after = json!({"id": 1, "status": "cancelled", "updated_at": "2"});
        assert!(changed_leaf(&before, &after).unwrap().contains("status"));
        let after = json!({"id": 1, "status": "placed", "updated_at": "2"});
        assert_eq!(changed_leaf(&before, &after), None);
    }

    #[test]
    fn session_paths_are_left_alone() {
        assert!(is_session_path("/api/auth/login"));
        assert!(is_session_path("/api/auth/token"));
        assert!(!is_session_path("/api/orders/{order_id}/cancel"));
    }

    #[test]
    fn simple_bodies_are_form_and_text() {
        let b = simple_bodies(&json!({"note": "x", "newsletter": true}));
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].content_type(), "application/x-www-form-urlencoded");
        assert_eq!(b[1].content_type(), "text/plain");
        assert_eq!(simple_bodies(&json!({"a": {"b": 1}})).len(), 1);
    }
}
