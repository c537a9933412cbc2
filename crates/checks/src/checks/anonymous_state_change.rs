//! `auth.anonymous-state-change`: a caller without credentials resets, initialises or empties
//! the application.
//!
//! Candidates are operations that name no object and act on the whole application (a
//! wholesale word in the path, operationId or opening verb: `POST /admin/reset`,
//! `PUT /demo-data` named `initializeDemoData`, `GET /initdb`; see
//! `middlebrick_model::danger::wholesale_word`), and collection-wide deletes
//! (`DELETE /notes`) when `--allow-delete` is given. Sign-in flows' own resets (a password
//! reset) are not candidates. The name only picks the candidates; the proof is the effect.
//!
//! Only in `--mode disposable`, after every other check (the engine's gate sends these
//! operations for this check alone, so a reset cannot undo the scan's objects mid-scan):
//! 1. a signed-in identity creates witness objects through up to [`MAX_WITNESSES`] of the
//!    API's collections and reads each one back twice (both reads succeed);
//! 2. the candidate is sent with no credentials;
//! 3. when it was accepted (2xx or 3xx), the witnesses are read again as their owner: one
//!    that is gone (404/410), or whose owner's credentials stopped working (401/403), is
//!    read a second time, and a second failure proves that the anonymous request destroyed
//!    state. Nothing else was sent between the reads.
//!
//! An initialisation that only adds data, or a reset of what no witness lives in, is not
//! provable this way and is not reported. In active mode nothing is sent and a diagnostic
//! names the candidates. Budget: 3 requests per witness, then per candidate 1 request plus 1
//! read per witness (2 when one is gone), and the witnesses made again after a proven reset;
//! at most [`MAX_CANDIDATES`] candidates.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, RunOrder, Scope};
use crate::ownership::{collection_of, created_id};
use crate::probe::{Overrides, ProbeError};
use async_trait::async_trait;
use middlebrick_model::{
    danger, CheckId, CheckKind, Confidence, Diagnostic, Evidence, Exchange, Inventory, Method,
    Mode, Operation, Owasp, ParamLocation, Remediation, Severity, Tech, ANONYMOUS,
};
use serde_json::Value;

#[derive(Debug)]
pub struct AnonymousStateChange;

/// Candidates tried per scan.
pub const MAX_CANDIDATES: usize = 8;
/// Collections a witness object is made in.
pub const MAX_WITNESSES: usize = 4;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthAnonymousStateChange,
    title: "The application's state can be reset or destroyed without authentication",
    description: "In disposable mode, after every other check: creates witness objects as a \
        signed-in identity, sends each operation that acts on the whole application (reset, \
        initialise, purge, collection-wide delete) with no credentials, and fires when the \
        witnesses' owner can no longer read them.",
    cwe: &[306],
    owasp: &[Owasp::Api2, Owasp::Api5],
    severity: Severity::Critical,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Require authentication, and an administrator's role, on every operation that \
            resets, seeds or empties data, whatever the spec declares; better, leave such \
            operations out of production builds altogether and run them as a deployment task \
            (a management command) that no HTTP request can reach.",
        variants: &[
            (
                Tech::Flask,
                "register maintenance routes only when `app.config[\"TESTING\"]` is set, \
                and guard them with the same admin decorator as the back office; prefer a \
                `flask` CLI command (`@app.cli.command()`) to a route.",
            ),
            (
                Tech::FastApi,
                "put maintenance routes on a router that is only included in test \
                settings, with `dependencies=[Depends(require_admin)]`; prefer a Typer/CLI task \
                to an HTTP route.",
            ),
        ],
    },
};

#[async_trait]
impl Check for AnonymousStateChange {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn scope(&self) -> Scope {
        Scope::Api
    }

    /// After every other check, API-wide ones included: a reset would undo their objects.
    fn order(&self) -> RunOrder {
        RunOrder::Last
    }

    fn plan(&self, _op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        Vec::new()
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let candidates = candidates(ctx.inventory, ctx.probe.method_allowed(Method::Delete));
        if candidates.is_empty() {
            return Outcome::none();
        }
        if ctx.probe.mode() != Mode::Disposable {
            let names: Vec<String> = candidates.iter().map(|o| o.key()).collect();
            return Outcome {
                findings: Vec::new(),
                diagnostics: vec![Diagnostic::info(
                    "auth.anonymous-state-change-untested",
                    format!(
                        "{} act on the whole application and were not sent anonymously \
                         ({} mode): {}",
                        match names.len() {
                            1 => "1 operation".to_string(),
                            n => format!("{n} operations"),
                        },
                        ctx.probe.mode(),
                        names.join(", ")
                    ),
                )
                .hint("on a throw-away environment, --mode disposable tests them last")],
            };
        }
        match judge(ctx, &candidates).await {
            Ok(out) => out,
            Err(_) => Outcome::none(),
        }
    }
}

/// Operations that act on the whole application, wholesale words first, in inventory order.
fn candidates(inv: &Inventory, deletes: bool) -> Vec<&Operation> {
    let wholesale = inv
        .operations
        .iter()
        .filter(|o| crate::authflow::role(o).is_none())
        .filter(|o| danger::wholesale_word(o).is_some());
    let deletes = inv.operations.iter().filter(move |o| {
        deletes
            && o.method == Method::Delete
            && !o.path.contains('{')
            && danger::wholesale_word(o).is_none()
            && crate::authflow::role(o).is_none()
    });
    wholesale.chain(deletes).take(MAX_CANDIDATES).collect()
}

/// An object made by a signed-in identity, and how to read it.
struct Witness<'a> {
    owner: String,
    read: &'a Operation,
    param: String,
    id: Value,
    made: Exchange,
}

impl Witness<'_> {
    fn overrides(&self) -> Overrides {
        Overrides::param(ParamLocation::Path, &self.param, self.id.clone())
    }
}

/// Pairs of a creation (`POST /notes`) and its item read (`GET /notes/{id}`) that no candidate
/// is, one per collection.
fn producers(inv: &Inventory) -> Vec<(&Operation, &Operation, String)> {
    let mut out = Vec::new();
    for read in inv.operations.iter().filter(|o| o.method == Method::Get) {
        let Some(param) = last_param(&read.path) else {
            continue;
        };
        let Some(collection) = collection_of(&read.path) else {
            continue;
        };
        let Some(create) = inv.operations.iter().find(|o| {
            o.method == Method::Post
                && o.path == collection
                && crate::authflow::role(o).is_none()
                && danger::state_change_word(o).is_none()
        }) else {
            continue;
        };
        if !out
            .iter()
            .any(|(c, _, _): &(&Operation, _, _)| c.path == create.path)
        {
            out.push((create, read, param));
        }
    }
    out
}

fn last_param(path: &str) -> Option<String> {
    let last = path.rsplit('/').find(|s| !s.is_empty())?;
    last.strip_prefix('{')?
        .strip_suffix('}')
        .map(str::to_string)
}

fn readable(ex: &Exchange) -> bool {
    ex.response.as_ref().is_some_and(|r| r.is_success())
}

fn gone(ex: &Exchange) -> bool {
    matches!(ex.status(), Some(401 | 403 | 404 | 410))
}

/// Witness objects, each made and read back twice by `owner`.
async fn witnesses<'a>(
    ctx: &RunCtx<'a>,
    owner: &str,
) -> Result<Vec<(Witness<'a>, Vec<Exchange>)>, ProbeError> {
    let mut out = Vec::new();
    for (create, read, param) in producers(ctx.inventory) {
        if out.len() == MAX_WITNESSES {
            break;
        }
        let made = ctx
            .probe
            .send(ctx.probe.request(create, owner, &Overrides::none()))
            .await?;
        let Some(id) = made.success_json().and_then(|j| created_id(&j, &param)) else {
            continue;
        };
        let w = Witness {
            owner: owner.to_string(),
            read,
            param,
            id,
            made,
        };
        let mut reads = Vec::new();
        for _ in 0..2 {
            reads.push(
                ctx.probe
                    .send(ctx.probe.request(w.read, &w.owner, &w.overrides()))
                    .await?,
            );
        }
        if reads.iter().all(readable) {
            out.push((w, reads));
        }
    }
    Ok(out)
}

async fn judge(ctx: &RunCtx<'_>, candidates: &[&Operation]) -> Result<Outcome, ProbeError> {
    let mut out = Outcome::none();
    let identities = ctx.probe.identities();
    let Some(owner) = identities
        .iter()
        .find(|i| !i.admin)
        .or(identities.first())
        .map(|i| i.name.clone())
    else {
        return Ok(out);
    };
    let mut live = witnesses(ctx, &owner).await?;
    for (i, op) in candidates.iter().enumerate() {
        if live.is_empty() {
            out.diagnostics.push(Diagnostic::info(
                "auth.anonymous-state-change-no-witness",
                format!(
                    "no object could be created and read back as `{owner}`, so {} operations that \
                     act on the whole application were not tested anonymously",
                    candidates.len() - i
                ),
            ));
            break;
        }
        let attack = ctx
            .probe
            .send(ctx.probe.request(op, ANONYMOUS, &Overrides::none()))
            .await?;
        if !attack.status().is_some_and(|s| (200..400).contains(&s)) || attack.graphql_refused() {
            continue;
        }
        let mut proof = None;
        for (w, before) in &live {
            let after = ctx
                .probe
                .send(ctx.probe.request(w.read, &w.owner, &w.overrides()))
                .await?;
            if !gone(&after) {
                continue;
            }
            let again = ctx
                .probe
                .send(ctx.probe.request(w.read, &w.owner, &w.overrides()))
                .await?;
            if gone(&again) {
                let mut exchanges = vec![w.made.clone()];
                exchanges.extend(before.iter().cloned());
                exchanges.extend([attack.clone(), after, again]);
                proof = Some((w, exchanges));
                break;
            }
        }
        let Some((w, exchanges)) = proof else {
            continue;
        };
        let id = middlebrick_model::scalar_text(&w.id).unwrap_or_else(|| w.id.to_string());
        let description = format!(
            "A request without any credentials to `{}` was accepted, and afterwards `{}` could \
             no longer read its own object `{}` {id} (read twice before, refused twice after). \
             Anyone can reset or destroy the application's data.",
            op.key(),
            w.owner,
            w.read.path,
        );
        let evidence = Evidence::new(exchanges).note(format!(
            "{owner} created and read the object; the anonymous request came next and nothing \
             else was sent before the reads after it"
        ));
        out.findings.push(META.finding(
            Some(op),
            "",
            Severity::Critical,
            Confidence::Confirmed,
            description,
            evidence,
        ));
        // The state is gone: new witnesses for the remaining candidates.
        live = witnesses(ctx, &owner).await?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Parameter, RequestSpec, Schema, SchemaType, SpecVersion};
    use std::sync::{Arc, Mutex};

    fn inventory(ops: &[(Method, &str)]) -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        for (m, p) in ops {
            let mut op = Operation::new(*m, *p);
            if let Some(name) = last_param(p) {
                op.parameters.push(Parameter {
                    name,
                    location: ParamLocation::Path,
                    required: true,
                    schema: Arc::new(Schema::of_type(SchemaType::Integer)),
                    example: None,
                });
            }
            inv.operations.push(op);
        }
        inv
    }

    fn api() -> Inventory {
        inventory(&[
            (Method::Post, "/notes"),
            (Method::Get, "/notes/{note_id}"),
            (Method::Post, "/admin/reset"),
        ])
    }

    /// A notes API whose `POST /admin/reset` empties the notes; `anonymous_may` says whether a
    /// caller without credentials may send it, `effect` whether it changes anything.
    fn notes(anonymous_may: bool, effect: bool) -> FakeProbe {
        let notes = Arc::new(Mutex::new(Vec::<u64>::new()));
        let (n1, n2, n3) = (notes.clone(), notes.clone(), notes);
        let mut probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on_dynamic(move |r: &RequestSpec| {
                (r.method == Method::Post && r.path == "/notes").then(|| {
                    let mut n = n1.lock().unwrap();
                    let id = 40 + n.len() as u64 + 1;
                    n.push(id);
                    response(201, "application/json", &format!(r#"{{"id":{id}}}"#))
                })
            })
            .on_dynamic(move |r: &RequestSpec| {
                (r.path == "/admin/reset").then(|| {
                    if r.identity == ANONYMOUS && !anonymous_may {
                        return response(401, "application/json", r#"{"error":"unauthorized"}"#);
                    }
                    if effect {
                        n2.lock().unwrap().clear();
                    }
                    response(200, "application/json", r#"{"status":"ok"}"#)
                })
            })
            .on_dynamic(move |r: &RequestSpec| {
                (r.method == Method::Get).then(|| {
                    let id: u64 = r.path.rsplit('/').next().unwrap().parse().unwrap();
                    match n3.lock().unwrap().contains(&id) {
                        true => response(200, "application/json", &format!(r#"{{"id":{id}}}"#)),
                        false => response(404, "application/json", r#"{"error":"not_found"}"#),
                    }
                })
            });
        probe.mode = Mode::Disposable;
        probe
    }

    async fn run(probe: &FakeProbe, inv: &Inventory) -> Outcome {
        AnonymousStateChange
            .run(&RunCtx {
                probe,
                inventory: inv,
                op: None,
            })
            .await
    }

    #[test]
    fn candidates_act_on_the_whole_application() {
        let inv = inventory(&[
            (Method::Post, "/api/admin/reset"),
            (Method::Post, "/api/password/reset"),
            (Method::Post, "/api/notes/{id}/reset"),
            (Method::Delete, "/api/notes"),
            (Method::Delete, "/api/notes/{id}"),
            (Method::Post, "/api/orders"),
            (Method::Get, "/initdb"),
        ]);
        let keys = |deletes| -> Vec<String> {
            candidates(&inv, deletes).iter().map(|o| o.key()).collect()
        };
        assert_eq!(keys(false), ["POST /api/admin/reset", "GET /initdb"]);
        assert_eq!(
            keys(true),
            ["POST /api/admin/reset", "GET /initdb", "DELETE /api/notes"]
        );
    }

    #[test]
    fn producers_pair_a_creation_with_its_item_read() {
        let inv = inventory(&[
            (Method::Post, "/api/notes"),
            (Method::Get, "/api/notes/{note_id}"),
            (Method::Get, "/api/stores/{id}"),
            (Method::Post, "/api/reset"),
            (Method::Get, "/api/reset/{id}"),
        ]);
        let p = producers(&inv);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0.key(), "POST /api/notes");
        assert_eq!(p[0].2, "note_id");
    }

    #[tokio::test]
    async fn an_anonymous_reset_that_destroys_the_witness_is_confirmed() {
        let probe = notes(true, true);
        let out = run(&probe, &api()).await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.diagnostics);
        let f = &out.findings[0];
        assert_eq!(f.path.as_deref(), Some("/admin/reset"));
        assert_eq!(f.confidence, Confidence::Confirmed);
        let ex = &f.evidence.exchanges;
        // made, read, read, the anonymous reset, refused twice
        assert_eq!(ex.len(), 6);
        assert_eq!(ex[3].identity, ANONYMOUS);
        assert_eq!(ex[1].status(), Some(200));
        assert_eq!(ex[4].status(), Some(404));
        assert_eq!(ex[5].status(), Some(404));
    }

    #[tokio::test]
    async fn a_reset_that_refuses_anonymous_callers_is_silent() {
        let probe = notes(false, true);
        let out = run(&probe, &api()).await;
        assert!(out.findings.is_empty());
        // No read after a refusal: nothing to judge.
        assert_eq!(probe.sent_count(), 4);
    }

    #[tokio::test]
    async fn an_accepted_request_that_changes_nothing_is_silent() {
        let probe = notes(true, false);
        assert!(run(&probe, &api()).await.findings.is_empty());
    }

    #[tokio::test]
    async fn active_mode_sends_nothing_and_says_so() {
        let mut probe = notes(true, true);
        probe.mode = Mode::Active;
        let out = run(&probe, &api()).await;
        assert!(out.findings.is_empty());
        assert_eq!(probe.sent_count(), 0);
        assert_eq!(out.diagnostics.len(), 1);
        assert!(out.diagnostics[0].message.contains("POST /admin/reset"));
    }
}
