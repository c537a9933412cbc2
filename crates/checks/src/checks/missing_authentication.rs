//! `auth.missing-authentication`: an operation serves an anonymous caller what an
//! authenticated caller gets.
//!
//! A 200 without credentials proves nothing: public catalogues answer everyone. The check
//! fires only when there is a reason to expect authentication *and* the anonymous answer is
//! data, not an error envelope or a login page:
//! - the spec declares security on the operation, and the anonymous answer carries the same data
//!   as a signed-in identity's (confirmed), or, with no identity to compare, has the documented
//!   success shape (firm);
//! - the spec says nothing, and the anonymous answer carries the same data as a signed-in
//!   identity's *including values that identify that account* (its username, email or id).
//!   Operations the spec marks public (`security: []`) are never judged; an optional
//!   credential (`[{bearer: []}, {}]`) is judged as if the spec said nothing.
//!
//! With two or more identities, data that every one of them reads exactly as the anonymous
//! caller does is public by design (an optional credential, which FastAPI declares like a
//! required one), unless it discloses an identity's e-mail address: nothing is scoped to a
//! user, so nothing was left unprotected. Budget: the anonymous request and one baseline per
//! identity (baselines are shared with the other checks).

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::probe::ProbeError;
use crate::similarity::{
    has_substance, is_error_envelope, looks_like_login_page, markers_in, same_data,
};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Operation, Owasp, Remediation,
    ResponseRecord, Severity, Tech, ANONYMOUS,
};

#[derive(Debug)]
pub struct MissingAuthentication;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthMissingAuthentication,
    title: "Operation answers without authentication",
    description: "Sends the operation's valid request with no credentials and compares the answer \
        with a signed-in identity's. Fires when the anonymous caller receives the same data and \
        the spec declares security for the operation, or the data identifies the signed-in account.",
    cwe: &[306],
    owasp: &[Owasp::Api2],
    severity: Severity::High,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Require authentication on the operation and deny by default: answer 401 before \
            any data is read when no valid credential is presented. Keep the OpenAPI `security` \
            declarations in step with the code, and add a test that calls every operation \
            anonymously and expects 401.",
        variants: &[
            (Tech::Flask, "protect every blueprint with a `before_request` hook that rejects anonymous \
                callers, and list the few public routes explicitly, instead of decorating routes one by one."),
            (Tech::FastApi, "declare the credential as a dependency of the router \
                (`APIRouter(dependencies=[Depends(current_user)])`) so no route can forget it, keep public \
                routes on a separate router, and never use an optional-user dependency on a private route."),
        ],
    },
};

#[async_trait]
impl Check for MissingAuthentication {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        let judged = op.is_read()
            && !op.declares_only_public()
            && (op.declares_auth() || ctx.identities > 0);
        if !judged {
            return Vec::new();
        }
        let mut plan = vec![Planned {
            method: op.method,
            identity: ANONYMOUS,
            purpose: "same request without credentials",
        }];
        if ctx.identities > 0 {
            plan.push(Planned {
                method: op.method,
                identity: "*",
                purpose: "authenticated baseline",
            });
        }
        plan
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        match judge(ctx, op).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::none(),
        }
    }
}

fn anonymous_data(ex: &Exchange) -> Option<&ResponseRecord> {
    let resp = ex.response.as_ref()?;
    let is_data = resp.is_success()
        && !is_error_envelope(resp)
        && !looks_like_login_page(resp)
        && has_substance(resp);
    is_data.then_some(resp)
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let anon_baseline = ctx.probe.baseline(op, ANONYMOUS).await?;
    let identities = ctx.probe.identities();
    for identity in &identities {
        let auth = ctx.probe.baseline(op, &identity.name).await?;
        let Some(auth_resp) = auth.response.as_ref().filter(|r| r.is_success()) else {
            continue;
        };
        let anon = same_request_anonymously(ctx, op, &identity.name, &auth, &anon_baseline).await?;
        let Some(anon_resp) = anonymous_data(&anon) else {
            continue;
        };
        if !same_data(auth_resp, anon_resp) {
            continue;
        }
        let mut markers = markers_in(anon_resp, &identity.markers);
        if !scoped(ctx, op, &identities, &identity.name, anon_resp).await? {
            // Every identity reads the same as anonymous: public data unless it discloses who an
            // account is beyond a display name (an e-mail address). A spec's `security` on
            // such an operation is often an optional credential (FastAPI lists those too).
            markers.retain(|m| m.contains('@'));
            if markers.is_empty() {
                continue;
            }
        }
        let (severity, confidence, why) = if op.declares_auth() {
            (
                Severity::High,
                Confidence::Confirmed,
                "The spec declares that this operation requires authentication".to_string(),
            )
        } else if !markers.is_empty() {
            (
                Severity::High,
                Confidence::Firm,
                format!(
                    "The answer identifies the account `{}` ({})",
                    identity.name,
                    markers.join(", ")
                ),
            )
        } else {
            continue;
        };
        let description = format!(
            "{why}, yet a request without any credentials received the same data as the \
             signed-in identity `{}` (HTTP {} for both).",
            identity.name, anon_resp.status
        );
        let evidence = Evidence::new(vec![anon.clone(), auth])
            .note("first exchange: anonymous; second: the authenticated baseline");
        return Ok(Outcome::finding(META.finding(
            Some(op),
            "",
            severity,
            confidence,
            description,
            evidence,
        )));
    }
    let Some(anon_resp) = anonymous_data(&anon_baseline) else {
        return Ok(Outcome::none());
    };
    // Only with no identity at all: with identities, the comparison above is the evidence.
    if identities.is_empty() && op.declares_auth() && matches_documented_shape(op, anon_resp) {
        let description = format!(
            "The spec declares that this operation requires authentication, yet a request \
             without credentials got HTTP {} with a body of the documented success shape. No \
             signed-in identity was available to compare with.",
            anon_resp.status
        );
        return Ok(Outcome::finding(META.finding(
            Some(op),
            "",
            Severity::High,
            Confidence::Firm,
            description,
            Evidence::new(vec![anon_baseline]),
        )));
    }
    Ok(Outcome::none())
}

/// The identity's own request sent without credentials: the anonymous baseline when it is the
/// same request, else one more request (an identity fills `{username}` with its own name, and
/// anonymous with nobody's).
async fn same_request_anonymously(
    ctx: &RunCtx<'_>,
    op: &Operation,
    identity: &str,
    auth: &Exchange,
    anon_baseline: &Exchange,
) -> Result<Exchange, ProbeError> {
    if auth.request.url == anon_baseline.request.url
        && auth.request.body == anon_baseline.request.body
    {
        return Ok(anon_baseline.clone());
    }
    let req = ctx
        .probe
        .request(op, identity, &crate::probe::Overrides::none())
        .as_identity(ANONYMOUS);
    ctx.probe.send(req).await
}

/// True when the data is scoped to callers: another signed-in identity than `who` is refused,
/// or reads other records than the anonymous caller got (by their ids). False when every
/// other identity reads the same, and also when there is no other identity to ask (the caller
/// then decides with what it has).
async fn scoped(
    ctx: &RunCtx<'_>,
    op: &Operation,
    identities: &[crate::probe::IdentityInfo],
    who: &str,
    anon: &ResponseRecord,
) -> Result<bool, ProbeError> {
    let others: Vec<_> = identities.iter().filter(|i| i.name != who).collect();
    if others.is_empty() {
        return Ok(true);
    }
    for other in others {
        let ex = ctx.probe.baseline(op, &other.name).await?;
        match ex.response.as_ref() {
            Some(r) if r.is_success() && !is_error_envelope(r) => {
                // Other records, not the same records shown another way (a `following` flag
                // that differs per caller is personalisation, not scoping).
                let (theirs, anons) = (record_ids(r), record_ids(anon));
                let other_records = if theirs.is_empty() && anons.is_empty() {
                    texts(r) != texts(anon)
                } else {
                    theirs != anons
                };
                if other_records {
                    return Ok(true);
                }
            }
            Some(_) => return Ok(true),
            None => {}
        }
    }
    Ok(false)
}

/// The text values of an answer (sorted, at most 2,000): records told apart without ids, with
/// per-caller flags and counters (booleans, numbers) left out.
fn texts(resp: &ResponseRecord) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        if out.len() >= 2_000 {
            return;
        }
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            serde_json::Value::Object(map) => map.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match resp.json() {
        Some(json) => walk(&json, &mut out),
        None => out.push(resp.body.text.clone()),
    }
    out.sort();
    out
}

/// The ids of the records an answer carries (inside any wrapper, or the one list of objects a
/// wrapper of another name holds, `{"articles": [...], "count": 1}`), in order.
fn record_ids(resp: &ResponseRecord) -> Vec<String> {
    use middlebrick_model::names::{is_id_word, normalize_name};
    let Some(json) = resp.json() else {
        return Vec::new();
    };
    let id_of = |r: &serde_json::Map<String, serde_json::Value>| {
        r.iter()
            .find(|(k, _)| is_id_word(&normalize_name(k)))
            .and_then(|(_, v)| middlebrick_model::scalar_text(v))
    };
    let mut records = middlebrick_model::envelope::records(&json);
    if let [only] = records.as_slice() {
        let lists: Vec<&Vec<serde_json::Value>> =
            only.values().filter_map(|v| v.as_array()).collect();
        if id_of(only).is_none() && lists.len() == 1 {
            records = lists[0].iter().filter_map(|v| v.as_object()).collect();
        }
    }
    records.into_iter().filter_map(id_of).collect()
}

/// True when a JSON answer has the properties the spec documents for success (at least half of
/// the documented object properties, or an array when an array is documented).
fn matches_documented_shape(op: &Operation, resp: &ResponseRecord) -> bool {
    let (Some(schema), Some(body)) = (op.success_schema(), resp.json()) else {
        return false;
    };
    let object = match &body {
        serde_json::Value::Array(items) => {
            if schema.items.is_none() {
                return false;
            }
            match items.first() {
                Some(serde_json::Value::Object(o)) => o.clone(),
                _ => return !items.is_empty(),
            }
        }
        serde_json::Value::Object(o) => o.clone(),
        _ => return false,
    };
    let props = match &schema.items {
        Some(item) => &item.properties,
        None => &schema.properties,
    };
    if props.is_empty() {
        return false;
    }
    let present = props.keys().filter(|k| object.contains_key(*k)).count();
    present * 2 >= props.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{route, FakeProbe};
    use crate::similarity::response;
    use middlebrick_model::{Inventory, Method, SecurityRequirement, SpecVersion};

    const JSON: &str = "application/json";
    const ORDER: &str = r#"{"id":3,"owner":"alice","total":42.5,"items":[{"sku":"A1","qty":2}]}"#;

    fn op(secured: Option<bool>) -> Operation {
        let mut op = Operation::new(Method::Get, "/orders/{id}");
        op.parameters.push(middlebrick_model::Parameter {
            name: "id".into(),
            location: middlebrick_model::ParamLocation::Path,
            required: true,
            schema: std::sync::Arc::new(middlebrick_model::Schema::of_type(
                middlebrick_model::SchemaType::Integer,
            )),
            example: None,
        });
        op.security = secured.map(|s| {
            if s {
                vec![SecurityRequirement {
                    schemes: vec![("bearer".into(), vec![])],
                }]
            } else {
                vec![]
            }
        });
        op
    }

    async fn run(probe: &FakeProbe, op: &Operation) -> Outcome {
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        MissingAuthentication
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: Some(op),
            })
            .await
    }

    #[tokio::test]
    async fn fires_when_declared_security_is_not_enforced() {
        let probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on(
                route(ANONYMOUS, Method::Get, "/orders/1"),
                response(200, JSON, ORDER),
            )
            .on(
                route("alice", Method::Get, "/orders/1"),
                response(200, JSON, ORDER),
            );
        let out = run(&probe, &op(Some(true))).await;
        assert_eq!(out.findings.len(), 1);
        let f = &out.findings[0];
        assert_eq!(f.confidence, Confidence::Confirmed);
        assert_eq!(f.evidence.exchanges[0].identity, ANONYMOUS);
        assert_eq!(f.path.as_deref(), Some("/orders/{id}"));
    }

    #[tokio::test]
    async fn anonymous_replays_the_identitys_own_request() {
        // `{username}` is the caller's own name: anonymous asks for alice's record at alice's URL.
        let mut op = Operation::new(Method::Get, "/users/{username}/profile");
        op.parameters.push(middlebrick_model::Parameter {
            name: "username".into(),
            location: middlebrick_model::ParamLocation::Path,
            required: true,
            schema: std::sync::Arc::new(middlebrick_model::Schema::of_type(
                middlebrick_model::SchemaType::String,
            )),
            example: None,
        });
        op.security = Some(vec![SecurityRequirement {
            schemes: vec![("bearer".into(), vec![])],
        }]);
        let probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on(
                |r: &middlebrick_model::RequestSpec| r.path == "/users/alice/profile",
                response(200, JSON, ORDER),
            )
            .on(
                |r: &middlebrick_model::RequestSpec| r.path != "/users/alice/profile",
                response(404, JSON, r#"{"error":"no such user"}"#),
            );
        let out = run(&probe, &op).await;
        assert_eq!(out.findings.len(), 1);
        let anon = &out.findings[0].evidence.exchanges[0];
        assert_eq!(anon.identity, ANONYMOUS);
        assert!(anon.request.url.contains("/users/alice/profile"));
    }

    #[tokio::test]
    async fn data_every_identity_reads_like_anonymous_is_public_despite_the_spec() {
        // An optional credential: alice, bob and anonymous all read the same article, which
        // names its author (alice) but discloses nothing private.
        const ARTICLE: &str = r#"{"slug":"hi","author":{"username":"alice","bio":""},"body":"x"}"#;
        let probe = FakeProbe::new()
            .identity("alice", &["alice", "alice@example.com"])
            .identity("bob", &["bob"])
            .on(
                route(ANONYMOUS, Method::Get, "/orders/1"),
                response(200, JSON, ARTICLE),
            )
            .on(
                route("alice", Method::Get, "/orders/1"),
                response(200, JSON, ARTICLE),
            )
            .on(
                route("bob", Method::Get, "/orders/1"),
                response(200, JSON, ARTICLE),
            );
        assert!(run(&probe, &op(Some(true))).await.findings.is_empty());
    }

    #[tokio::test]
    async fn records_shown_per_caller_are_personalisation_not_scoping() {
        // An optional credential adds per-caller flags (`following`) to the same records.
        const ANON: &str =
            r#"{"articles":[{"id":1,"author":"alice","following":false}],"count":1}"#;
        const BOB: &str = r#"{"articles":[{"id":1,"author":"alice","following":true}],"count":1}"#;
        let probe = FakeProbe::new()
            .identity("alice", &["alice", "alice@example.com"])
            .identity("bob", &["bob"])
            .on(
                route(ANONYMOUS, Method::Get, "/orders/1"),
                response(200, JSON, ANON),
            )
            .on(
                route("alice", Method::Get, "/orders/1"),
                response(200, JSON, ANON),
            )
            .on(
                route("bob", Method::Get, "/orders/1"),
                response(200, JSON, BOB),
            );
        assert!(run(&probe, &op(Some(true))).await.findings.is_empty());
        // Records without ids (a slug) are told apart by their text.
        let anon = r#"{"articles":[{"slug":"hi","author":"alice","following":false}]}"#;
        let bob = r#"{"articles":[{"slug":"hi","author":"alice","following":true}]}"#;
        let probe = FakeProbe::new()
            .identity("alice", &["alice", "alice@example.com"])
            .identity("bob", &["bob"])
            .on(
                route(ANONYMOUS, Method::Get, "/orders/1"),
                response(200, JSON, anon),
            )
            .on(
                route("alice", Method::Get, "/orders/1"),
                response(200, JSON, anon),
            )
            .on(
                route("bob", Method::Get, "/orders/1"),
                response(200, JSON, bob),
            );
        assert!(run(&probe, &op(Some(true))).await.findings.is_empty());
    }

    #[tokio::test]
    async fn scoped_or_e_mail_bearing_data_read_anonymously_is_still_found() {
        // Scoped: bob is refused what anonymous and alice read.
        let probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .identity("bob", &["bob"])
            .on(
                route(ANONYMOUS, Method::Get, "/orders/1"),
                response(200, JSON, ORDER),
            )
            .on(
                route("alice", Method::Get, "/orders/1"),
                response(200, JSON, ORDER),
            )
            .on(
                route("bob", Method::Get, "/orders/1"),
                response(404, JSON, r#"{"detail":"not found"}"#),
            );
        assert_eq!(run(&probe, &op(Some(true))).await.findings.len(), 1);
        // Everyone reads it, but it lists an identity's e-mail address.
        const USERS: &str = r#"[{"username":"alice","email":"alice@example.com"}]"#;
        let probe = FakeProbe::new()
            .identity("alice", &["alice", "alice@example.com"])
            .identity("bob", &["bob"])
            .on(
                route(ANONYMOUS, Method::Get, "/orders/1"),
                response(200, JSON, USERS),
            )
            .on(
                route("alice", Method::Get, "/orders/1"),
                response(200, JSON, USERS),
            )
            .on(
                route("bob", Method::Get, "/orders/1"),
                response(200, JSON, USERS),
            );
        assert_eq!(run(&probe, &op(None)).await.findings.len(), 1);
    }

    #[tokio::test]
    async fn silent_when_anonymous_is_refused_or_gets_an_envelope() {
        for anon in [
            response(401, JSON, r#"{"error":"authentication required"}"#),
            response(
                200,
                JSON,
                r#"{"error":"authentication required","status":401}"#,
            ),
            response(
                200,
                "text/html",
                r#"<form><input type="password"></form> please sign in"#,
            ),
        ] {
            let probe = FakeProbe::new()
                .identity("alice", &["alice"])
                .on(route(ANONYMOUS, Method::Get, "/orders/1"), anon)
                .on(
                    route("alice", Method::Get, "/orders/1"),
                    response(200, JSON, ORDER),
                );
            assert!(run(&probe, &op(Some(true))).await.findings.is_empty());
        }
    }

    #[tokio::test]
    async fn public_data_without_declared_security_or_account_markers_is_silent() {
        let catalogue = r#"[{"id":1,"name":"mug","price":4.5},{"id":2,"name":"pen","price":1.0}]"#;
        let probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on(
                route(ANONYMOUS, Method::Get, "/orders/1"),
                response(200, JSON, catalogue),
            )
            .on(
                route("alice", Method::Get, "/orders/1"),
                response(200, JSON, catalogue),
            );
        assert!(run(&probe, &op(None)).await.findings.is_empty());
        assert!(MissingAuthentication
            .plan(
                &op(Some(false)),
                PlanCtx {
                    mode: middlebrick_model::Mode::Safe,
                    identities: 1
                }
            )
            .is_empty());
    }

    #[tokio::test]
    async fn undeclared_but_account_data_served_anonymously_fires_firm() {
        let probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on(
                route(ANONYMOUS, Method::Get, "/orders/1"),
                response(200, JSON, ORDER),
            )
            .on(
                route("alice", Method::Get, "/orders/1"),
                response(200, JSON, ORDER),
            );
        let out = run(&probe, &op(None)).await;
        assert_eq!(out.findings[0].confidence, Confidence::Firm);
    }

    #[tokio::test]
    async fn different_data_for_anonymous_is_not_the_same_answer() {
        let probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on(
                route(ANONYMOUS, Method::Get, "/orders/1"),
                response(
                    200,
                    JSON,
                    r#"{"id":3,"teaser":"sign in to see more","public":true}"#,
                ),
            )
            .on(
                route("alice", Method::Get, "/orders/1"),
                response(200, JSON, ORDER),
            );
        assert!(run(&probe, &op(Some(true))).await.findings.is_empty());
    }
}
