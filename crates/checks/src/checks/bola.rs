//! `authz.bola`: one identity reads another identity's object by passing its id.
//!
//! Ownership discovery: the engine's warm-up sends every GET operation as every identity and
//! remembers which identity saw which id in its own answers. For each id that only identity A
//! saw, identity B asks for it (path or query parameter, nested levels included) and A asks for
//! it too. A finding needs B's answer to be data that matches A's own answer (not merely a 200)
//! and an anonymous caller to be refused (otherwise it is missing authentication, a check of
//! its own). It is confirmed when the answer names A as the owner (A's username, email, or id
//! under an owner key); without that mark it is reported as firm and medium, because an object
//! shared by design looks the same from outside. When the object is A's account itself (the
//! path ends with an id that is A's username, id or e-mail: `/profiles/{username}`), B's answer
//! must also disclose A's e-mail: members reading each other's public profiles is common by
//! design. A collection under the account (`/farmers/{farmerId}/sheep`) is judged as any object.
//!
//! Budget: for each id parameter, at most two ids per ordered pair of identities, three
//! requests each (A, B, anonymous), first two identities only.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::ownership::{object_refs, owners_named, replayed_as, sequential, IdRef};
use crate::probe::{IdentityInfo, ProbeError};
use crate::similarity::{has_substance, is_error_envelope, same_data};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Operation, Owasp, Remediation, Severity, Tech,
    ANONYMOUS,
};
use serde_json::Value;

#[derive(Debug)]
pub struct Bola;

const IDS_PER_PAIR: usize = 2;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthzBola,
    title: "Another user's object can be read by passing its id",
    description: "Learns which object ids each identity sees in its own answers, then asks for \
        identity A's objects as identity B (path and query ids, nested resources). Fires when B \
        receives A's data, compared with A's own answer, while an anonymous caller is refused.",
    cwe: &[639],
    owasp: &[Owasp::Api1],
    severity: Severity::High,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Check ownership on every object access, in the query itself: look objects up by \
            id *and* owner (`WHERE id = $1 AND user_id = $2`) and answer 404 when nothing \
            matches, so the answer does not even reveal that the object exists. Random, \
            non-sequential ids (UUIDv4) make guessing harder but are no substitute for the check.",
        variants: &[
            (Tech::Flask, "load objects through one helper that takes the current user \
                (`get_owned(Order, order_id, g.user.id)`) and aborts with 404, instead of \
                `Order.query.get(order_id)` in each route."),
            (Tech::FastApi, "resolve the object in a dependency that takes `current_user` \
                (`order: Order = Depends(owned_order)`) and raises `HTTPException(404)` when the \
                owner differs, so every route that needs the object gets the check."),
            (Tech::Psycopg, "`cur.execute(\"SELECT … FROM orders WHERE id = %s AND user_id = %s\", (order_id, user_id))`."),
            (Tech::Asyncpg, "`await conn.fetchrow(\"SELECT … FROM orders WHERE id = $1 AND user_id = $2\", order_id, user_id)`."),
            (Tech::SqlAlchemy, "`select(Order).where(Order.id == order_id, Order.user_id == user.id)`; \
                never `session.get(Order, order_id)` alone."),
            (Tech::CockroachDb, "with row-level data spread over ranges, keep the owner column in the \
                primary key or an index (`PRIMARY KEY (user_id, id)`) so the owner filter stays cheap."),
        ],
    },
};

#[async_trait]
impl Check for Bola {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        if !op.is_read() || ctx.identities < 2 || object_refs(op).is_empty() {
            return Vec::new();
        }
        vec![
            Planned {
                method: op.method,
                identity: "*",
                purpose: "the owner's read of its object",
            },
            Planned {
                method: op.method,
                identity: "*",
                purpose: "another identity reads the same object",
            },
            Planned {
                method: op.method,
                identity: ANONYMOUS,
                purpose: "anonymous read of the object",
            },
        ]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        judge(ctx, op).await.unwrap_or_default()
    }
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let identities: Vec<IdentityInfo> = ctx
        .probe
        .identities()
        .into_iter()
        .filter(|i| !i.admin)
        .take(2)
        .collect();
    if identities.len() < 2 {
        return Ok(Outcome::none());
    }
    for at in object_refs(op) {
        let known = ctx.probe.known_values(op, at.name());
        for (a, b) in [
            (&identities[0], &identities[1]),
            (&identities[1], &identities[0]),
        ] {
            let only_a: Vec<&Value> = known
                .iter()
                .filter(|(_, who)| {
                    who.contains(&a.name)
                        && !who.contains(&b.name)
                        && !who.iter().any(|w| w == ANONYMOUS)
                })
                .map(|(v, _)| v)
                .take(IDS_PER_PAIR)
                .collect();
            for value in only_a {
                if let Some(outcome) = try_object(ctx, op, &at, value, a, b, &known).await? {
                    return Ok(outcome);
                }
            }
        }
    }
    Ok(Outcome::none())
}

/// Parameter names that address an account itself (`username`, `userId`, `profile_id`, …).
fn is_account_param(param: &str) -> bool {
    let words = middlebrick_model::names::name_words(param);
    let account = [
        "user", "username", "login", "handle", "account", "member", "profile",
    ];
    match words.as_slice() {
        [one] => account.contains(&one.as_str()) || one == "email",
        [first, last] => {
            account.contains(&first.as_str())
                && ["id", "name", "uuid", "email"].contains(&last.as_str())
        }
        _ => false,
    }
}

/// True when `value` is A's own account id, username or e-mail: the object is the account.
fn names_the_account(a: &IdentityInfo, value: &Value) -> bool {
    let Some(text) = middlebrick_model::scalar_text(value) else {
        return false;
    };
    let own = &a.own;
    own.id
        .as_ref()
        .and_then(middlebrick_model::scalar_text)
        .as_deref()
        == Some(text.as_str())
        || own.username.as_deref() == Some(text.as_str())
        || own.email.as_deref() == Some(text.as_str())
}

/// True when the answer carries one of A's e-mail addresses.
fn discloses_email(resp: &middlebrick_model::ResponseRecord, a: &IdentityInfo) -> bool {
    crate::similarity::markers_in(resp, &a.markers)
        .iter()
        .any(|m| m.contains('@'))
}

#[allow(clippy::too_many_arguments)]
async fn try_object(
    ctx: &RunCtx<'_>,
    op: &Operation,
    at: &IdRef,
    value: &Value,
    a: &IdentityInfo,
    b: &IdentityInfo,
    known: &[(Value, Vec<String>)],
) -> Result<Option<Outcome>, ProbeError> {
    let param = at.name();
    let set = at.set(value.clone());
    let owner_req = ctx.probe.request(op, &a.name, &set);
    // B and anonymous replay A's own request: only the credentials differ.
    let other_req = replayed_as(ctx.probe, op, &b.name, &set, &owner_req);
    let anon_req = replayed_as(ctx.probe, op, ANONYMOUS, &set, &owner_req);
    let owner = ctx.probe.send(owner_req).await?;
    let Some(owner_resp) = owner
        .response
        .as_ref()
        .filter(|r| r.is_success() && has_substance(r) && !is_error_envelope(r))
    else {
        return Ok(None);
    };
    let other = ctx.probe.send(other_req).await?;
    let Some(other_resp) = other
        .response
        .as_ref()
        .filter(|r| r.is_success() && !is_error_envelope(r))
    else {
        return Ok(None);
    };
    if !same_data(owner_resp, other_resp) {
        return Ok(None);
    }
    // The object is the account itself when the path ends with it, or it is the only argument
    // of a GraphQL field (`user(username: …)`).
    let names_only_it = match &op.graphql {
        Some(g) => g.arguments.len() == 1,
        None => op
            .path
            .trim_end_matches('/')
            .ends_with(&format!("{{{param}}}")),
    };
    let is_the_account = names_only_it && (names_the_account(a, value) || is_account_param(param));
    if is_the_account && !discloses_email(other_resp, a) {
        // `{username}` / `{userId}` names A's account itself: every member reading every
        // profile is common by design, so only private data of A (its e-mail) makes it BOLA.
        return Ok(None);
    }
    let anon = ctx.probe.send(anon_req).await?;
    if anon
        .response
        .as_ref()
        .is_some_and(|r| r.is_success() && same_data(r, owner_resp))
    {
        // Everyone can read it: missing authentication or public by design, not BOLA.
        return Ok(None);
    }
    let owners = other_resp
        .json()
        .map(|j| owners_named(&j, &a.markers))
        .unwrap_or_default();
    let (severity, confidence, mark) = if owners.is_empty() {
        (Severity::Medium, Confidence::Firm, String::from("The answer does not name its owner, so the object could be shared by design; the id was seen only in the first identity's own answers."))
    } else {
        (
            Severity::High,
            Confidence::Confirmed,
            format!(
                "The answer names `{}` as the owner ({}).",
                a.name,
                owners.join(", ")
            ),
        )
    };
    let value_text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut description = format!(
        "Identity `{b}` asked for `{param}` = `{value_text}`, an object of identity `{a}`, and \
         received the same data `{a}` gets (HTTP {status}), while an anonymous caller was refused. {mark}",
        b = b.name,
        a = a.name,
        status = other_resp.status,
    );
    let ids: Vec<&Value> = known.iter().map(|(v, _)| v).collect();
    if sequential(&ids) {
        description.push_str(" The ids are small sequential integers, so other users' objects can be found by counting.");
    }
    let evidence = Evidence::new(vec![other, owner, anon]).note(format!(
        "first exchange: `{}` reads `{}`'s object; second: `{}`'s own read; third: anonymous",
        b.name, a.name, a.name
    ));
    Ok(Some(Outcome::finding(META.finding(
        Some(op),
        param,
        severity,
        confidence,
        description,
        evidence,
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{
        Inventory, Method, ParamLocation, Parameter, RequestSpec, Schema, SchemaType, SpecVersion,
    };
    use std::sync::Arc;

    const JSON: &str = "application/json";
    const ALICE_ADDR: &str =
        r#"{"id":1,"user_id":1,"street":"1 Rose Lane","city":"Bath","phone":"555-0101"}"#;

    fn op() -> Operation {
        let mut op = Operation::new(Method::Get, "/addresses/{address_id}");
        op.parameters.push(Parameter {
            name: "address_id".into(),
            location: ParamLocation::Path,
            required: true,
            schema: Arc::new(Schema::of_type(SchemaType::Integer)),
            example: None,
        });
        op
    }

    fn probe(bob_gets: (u16, &'static str), anon_gets: (u16, &'static str)) -> FakeProbe {
        let mut p = FakeProbe::new()
            .identity("alice", &["alice", "1"])
            .identity("bob", &["bob", "2"])
            .on(
                |r: &RequestSpec| r.identity == "alice" && r.path == "/addresses/1",
                response(200, JSON, ALICE_ADDR),
            )
            .on(
                move |r: &RequestSpec| r.identity == "bob" && r.path == "/addresses/1",
                response(bob_gets.0, JSON, bob_gets.1),
            )
            .on(
                move |r: &RequestSpec| r.identity == ANONYMOUS,
                response(anon_gets.0, JSON, anon_gets.1),
            );
        p.known = vec![
            (
                "address_id".into(),
                serde_json::json!(1),
                vec!["alice".into()],
            ),
            (
                "address_id".into(),
                serde_json::json!(3),
                vec!["bob".into()],
            ),
        ];
        p
    }

    async fn run(p: &FakeProbe) -> Outcome {
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        Bola.run(&RunCtx {
            probe: p,
            inventory: &inv,
            op: Some(&op()),
        })
        .await
    }

    #[tokio::test]
    async fn another_members_public_profile_is_no_bola_but_its_e_mail_is() {
        let mut op = Operation::new(Method::Get, "/profiles/{username}");
        op.parameters.push(Parameter {
            name: "username".into(),
            location: ParamLocation::Path,
            required: true,
            schema: Arc::new(Schema::of_type(SchemaType::String)),
            example: None,
        });
        for (profile, found) in [
            (r#"{"profile":{"username":"alice","bio":"hi"}}"#, 0),
            (
                r#"{"profile":{"username":"alice","email":"alice@example.com"}}"#,
                1,
            ),
        ] {
            let mut p = FakeProbe::new()
                .identity("alice", &["alice", "alice@example.com"])
                .identity("bob", &["bob"])
                .on(
                    |r: &RequestSpec| r.identity != ANONYMOUS && r.path == "/profiles/alice",
                    response(200, JSON, profile),
                )
                .on(
                    |r: &RequestSpec| r.identity == ANONYMOUS,
                    response(401, JSON, r#"{"error":"sign in"}"#),
                );
            p.identities[0].own.username = Some("alice".into());
            p.known = vec![(
                "username".into(),
                serde_json::json!("alice"),
                vec!["alice".into()],
            )];
            let inv = Inventory::empty(SpecVersion::OpenApi30);
            let out = Bola
                .run(&RunCtx {
                    probe: &p,
                    inventory: &inv,
                    op: Some(&op),
                })
                .await;
            assert_eq!(out.findings.len(), found, "{profile}");
        }
    }

    #[test]
    fn account_parameters_are_told_by_name() {
        for name in [
            "username",
            "userId",
            "user_id",
            "profile_id",
            "email",
            "accountUuid",
        ] {
            assert!(is_account_param(name), "{name}");
        }
        for name in ["order_id", "petId", "farmerId", "slug", "id"] {
            assert!(!is_account_param(name), "{name}");
        }
    }

    #[tokio::test]
    async fn a_collection_under_another_members_account_is_judged_as_any_object() {
        let mut op = Operation::new(Method::Get, "/farmers/{farmerId}/sheep");
        op.parameters.push(Parameter {
            name: "farmerId".into(),
            location: ParamLocation::Path,
            required: true,
            schema: Arc::new(Schema::of_type(SchemaType::String)),
            example: None,
        });
        let mut p = FakeProbe::new()
            .identity("alice", &["alice"])
            .identity("bob", &["bob"])
            .on(
                |r: &RequestSpec| r.identity != ANONYMOUS && r.path == "/farmers/alice/sheep",
                response(
                    200,
                    JSON,
                    r#"[{"id":"s1","name":"Dolly","farmerId":"alice"}]"#,
                ),
            )
            .on(
                |r: &RequestSpec| r.identity == ANONYMOUS,
                response(401, JSON, r#"{"error":"sign in"}"#),
            );
        p.identities[0].own.username = Some("alice".into());
        p.known = vec![(
            "farmerId".into(),
            serde_json::json!("alice"),
            vec!["alice".into()],
        )];
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        let out = Bola
            .run(&RunCtx {
                probe: &p,
                inventory: &inv,
                op: Some(&op),
            })
            .await;
        assert_eq!(out.findings.len(), 1);
    }

    #[tokio::test]
    async fn the_other_identity_replays_the_owners_whole_request() {
        // `/users/{username}/pets/{pet_id}`: alice's pet is reached under alice's name; bob
        // under his own name gets nothing, under alice's he gets her pet.
        let mut op = Operation::new(Method::Get, "/users/{username}/pets/{pet_id}");
        for (name, ty) in [
            ("username", SchemaType::String),
            ("pet_id", SchemaType::Integer),
        ] {
            op.parameters.push(Parameter {
                name: name.into(),
                location: ParamLocation::Path,
                required: true,
                schema: Arc::new(Schema::of_type(ty)),
                example: None,
            });
        }
        const PET: &str = r#"{"id":1,"owner":"alice","name":"Rex","species":"dog"}"#;
        let mut p = FakeProbe::new()
            .identity("alice", &["alice"])
            .identity("bob", &["bob"])
            .on(
                |r: &RequestSpec| r.identity != ANONYMOUS && r.path == "/users/alice/pets/1",
                response(200, JSON, PET),
            )
            .on(
                |r: &RequestSpec| r.path.starts_with("/users/bob/") || r.identity == ANONYMOUS,
                response(404, JSON, r#"{"error":"not found"}"#),
            );
        p.known = vec![("pet_id".into(), serde_json::json!(1), vec!["alice".into()])];
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        let out = Bola
            .run(&RunCtx {
                probe: &p,
                inventory: &inv,
                op: Some(&op),
            })
            .await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.diagnostics);
        let exchanges = &out.findings[0].evidence.exchanges;
        let bob = exchanges
            .iter()
            .find(|e| e.identity == "bob")
            .expect("bob's request");
        assert!(
            bob.request.url.contains("/users/alice/pets/1"),
            "{}",
            bob.request.url
        );
    }

    #[tokio::test]
    async fn other_identity_reading_the_owners_object_is_confirmed() {
        let p = probe((200, ALICE_ADDR), (401, r#"{"error":"unauthorized"}"#));
        let out = run(&p).await;
        assert_eq!(out.findings.len(), 1);
        let f = &out.findings[0];
        assert_eq!(f.confidence, Confidence::Confirmed);
        assert_eq!(f.evidence.exchanges[0].identity, "bob");
        assert!(f.description.contains("sequential"));
    }

    #[tokio::test]
    async fn refusals_and_public_objects_are_silent() {
        for (bob, anon) in [
            (
                (404, r#"{"error":"not found"}"#),
                (401, r#"{"error":"unauthorized"}"#),
            ),
            ((200, ALICE_ADDR), (200, ALICE_ADDR)),
            (
                (
                    200,
                    r#"{"id":3,"user_id":2,"street":"9 Elm","city":"York","phone":"555-0202"}"#,
                ),
                (401, "{}"),
            ),
        ] {
            let p = probe(bob, anon);
            assert!(
                run(&p).await.findings.is_empty(),
                "bob {bob:?} anon {anon:?}"
            );
        }
    }

    #[tokio::test]
    async fn ids_both_identities_saw_are_shared_and_not_tried() {
        let mut p = probe((200, ALICE_ADDR), (401, "{}"));
        p.known = vec![(
            "address_id".into(),
            serde_json::json!(1),
            vec!["alice".into(), "bob".into()],
        )];
        assert!(run(&p).await.findings.is_empty());
        assert_eq!(p.sent_count(), 0);
    }
}
