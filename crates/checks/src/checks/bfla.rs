//! `authz.bfla`: a function meant for administrators works for a regular identity.
//!
//! Evidence that an operation is reserved for a role: the spec marks it (an `admin`-like tag,
//! an admin scope, a summary naming the role), or a sibling operation (same parent path)
//! refuses a regular identity with 403 where the admin identity succeeds. That an admin
//! identity answers is no evidence: every role reads what is shared by design. A path segment
//! alone (`admin`, `internal`) is a name, worth a low, tentative note at most. A regular
//! identity's answer must be data, not a refusal:
//! - with an admin identity: the regular answer matches the admin's (confirmed; a different
//!   answer is the regular identity's own, scoped view);
//! - without one: the regular answer carries another identity's account data (confirmed; a
//!   back-office view leaking other users), or, failing that, the operation simply works for a
//!   regular identity (firm, medium).
//!
//! Operations an anonymous caller can also use are left to `auth.missing-authentication`.
//! Reads cost no extra request: it judges the warm-up's answers. Writes (active mode) are
//! verified by their effect on objects and accounts the scan created ([`write`]).

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::ownership::{owners_named, privilege};
use crate::probe::{IdentityInfo, ProbeError};
use crate::similarity::{has_substance, is_error_envelope, same_data};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Operation, Owasp, Remediation,
    Severity, Tech, ANONYMOUS,
};

mod write;

#[derive(Debug)]
pub struct Bfla;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthzBfla,
    title: "Administrative function available to regular users",
    description: "Calls operations the spec reserves for a role (tag, scope, summary), or whose \
        siblings refuse regular identities, as regular identities. Fires when a regular identity \
        gets the admin's data, or other users' data, from such a read that anonymous callers are \
        refused, or when its write takes effect (in active mode: a created object read back, \
        the role of an account the scan registered changed). A path segment alone is a low note.",
    cwe: &[285],
    owasp: &[Owasp::Api5],
    severity: Severity::High,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic:
            "Authorise by role on the server for every privileged operation, deny by default, \
            and keep administrative operations on their own router or blueprint whose guard checks \
            the role once for all of them.",
        variants: &[
            (
                Tech::Flask,
                "register a `before_request` hook on the admin blueprint that aborts with \
                403 unless `g.user.role == \"admin\"`; a login check alone is not authorisation.",
            ),
            (
                Tech::FastApi,
                "mount admin routes with `APIRouter(dependencies=[Depends(require_admin)])`, \
                where `require_admin` raises `HTTPException(403)` for other roles.",
            ),
        ],
    },
};

#[async_trait]
impl Check for Bfla {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        if ctx.identities == 0 {
            return Vec::new();
        }
        match op.method {
            Method::Get => vec![Planned {
                method: Method::Get,
                identity: "*",
                purpose: "regular and admin identities call the operation",
            }],
            // Writes are tried only where the spec marks them (a sibling's 403 is learnt at
            // run time, so it is planned for every write of a family it could guard).
            Method::Post | Method::Put | Method::Patch if crate::authflow::role(op).is_none() => {
                vec![
                    Planned {
                        method: op.method,
                        identity: "*",
                        purpose: "a regular identity performs the privileged write",
                    },
                    Planned {
                        method: Method::Get,
                        identity: "*",
                        purpose: "the write's effect is read back",
                    },
                ]
            }
            _ => Vec::new(),
        }
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        match op.method {
            Method::Get => judge(ctx, op).await.unwrap_or_default(),
            _ if crate::authflow::role(op).is_none() => {
                judge_write(ctx, op).await.unwrap_or_default()
            }
            _ => Outcome::none(),
        }
    }
}

/// How many sibling operations are compared at most.
const MAX_SIBLINGS: usize = 4;

/// Evidence from the same family of operations (the same parent path, `/admin/users` for
/// `/admin/orders`): a regular identity is refused there with 403 where the admin identity,
/// when one is configured, succeeds. Role checks guard the family, so this member is meant for
/// the role too. Baselines are shared with the warm-up, so this costs no request.
async fn guarded_sibling(
    ctx: &RunCtx<'_>,
    op: &Operation,
    admin: Option<&IdentityInfo>,
    regulars: &[&IdentityInfo],
) -> Result<Option<(String, Vec<Exchange>)>, ProbeError> {
    let Some(parent) = op.path.rsplit_once('/').map(|(p, _)| p) else {
        return Ok(None);
    };
    let siblings = ctx.inventory.operations.iter().filter(|o| {
        o.method == Method::Get
            && o.path != op.path
            && !o.path.contains('{')
            && o.path.rsplit_once('/').is_some_and(|(p, _)| p == parent)
    });
    for sib in siblings.take(MAX_SIBLINGS) {
        let admin_ok = match admin {
            Some(a) => {
                let ex = ctx.probe.baseline(sib, &a.name).await?;
                ex.response
                    .as_ref()
                    .is_some_and(|r| r.is_success() && has_substance(r))
                    .then_some(ex)
            }
            None => None,
        };
        if admin.is_some() && admin_ok.is_none() {
            continue;
        }
        for r in regulars {
            let ex = ctx.probe.baseline(sib, &r.name).await?;
            if ex.status() == Some(403) {
                let why = match &admin_ok {
                    Some(a) => format!(
                        "its sibling `{}` refuses `{}` (HTTP 403) and answers the admin identity \
                         `{}`",
                        sib.key(),
                        r.name,
                        a.identity
                    ),
                    None => format!(
                        "its sibling `{}` refuses `{}` (HTTP 403)",
                        sib.key(),
                        r.name
                    ),
                };
                return Ok(Some((why, std::iter::once(ex).chain(admin_ok).collect())));
            }
        }
    }
    Ok(None)
}

/// A write is tried only with evidence that it is reserved for a role: the spec's mark or a
/// guarded sibling, never a name alone.
async fn judge_write(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let identities = ctx.probe.identities();
    let admin = identities.iter().find(|i| i.admin);
    let regulars: Vec<&IdentityInfo> = identities.iter().filter(|i| !i.admin).collect();
    let Some(regular) = regulars.first() else {
        return Ok(Outcome::none());
    };
    let why = match privilege(op).filter(|p| p.marked) {
        Some(p) => p.reason,
        None => match guarded_sibling(ctx, op, admin, &regulars).await? {
            Some((why, _)) => why,
            None => return Ok(Outcome::none()),
        },
    };
    write::judge(ctx, op, regular, &why).await
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let identities = ctx.probe.identities();
    let admin = identities.iter().find(|i| i.admin);
    let regulars: Vec<&IdentityInfo> = identities.iter().filter(|i| !i.admin).collect();
    if regulars.is_empty() {
        return Ok(Outcome::none());
    }
    // "The admin identity calls it" is no evidence: every role reads what is shared by
    // design. The spec's mark or a role-guarded sibling is; a path segment alone is a name.
    let privilege = privilege(op);
    let sibling = guarded_sibling(ctx, op, admin, &regulars).await?;
    let marked = privilege.as_ref().is_some_and(|p| p.marked);
    let why = match (&privilege, &sibling) {
        (Some(p), _) if p.marked => p.reason.clone(),
        (_, Some((s, _))) => s.clone(),
        (Some(p), None) => p.reason.clone(),
        (None, None) => return Ok(Outcome::none()),
    };
    let strong = marked || sibling.is_some();
    let admin_answer = match admin {
        Some(a) => {
            let ex = ctx.probe.baseline(op, &a.name).await?;
            ex.response
                .as_ref()
                .is_some_and(|r| r.is_success() && has_substance(r))
                .then_some(ex)
        }
        None => None,
    };
    let anon = ctx.probe.baseline(op, ANONYMOUS).await?;
    if anon
        .response
        .as_ref()
        .is_some_and(|r| r.is_success() && has_substance(r) && !is_error_envelope(r))
    {
        return Ok(Outcome::none());
    }
    for regular in &regulars {
        let ex = ctx.probe.baseline(op, &regular.name).await?;
        let Some(resp) = ex
            .response
            .as_ref()
            .filter(|r| r.is_success() && has_substance(r) && !is_error_envelope(r))
        else {
            continue;
        };
        let others: Vec<String> = identities
            .iter()
            .filter(|i| i.name != regular.name)
            .flat_map(|i| {
                resp.json()
                    .map(|j| owners_named(&j, &i.markers))
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |m| format!("{} ({m})", i.name))
            })
            .collect();
        let mut exchanges = vec![ex.clone()];
        let (severity, confidence, detail) = match &admin_answer {
            // The admin's answer differs: the regular identity gets its own, scoped view.
            Some(a) if !a.response.as_ref().is_some_and(|ar| same_data(ar, resp)) => continue,
            _ if !strong => (
                Severity::Low,
                Confidence::Tentative,
                "received data; nothing but the name says the operation is reserved for a \
                 role, so this is a note to review"
                    .to_string(),
            ),
            Some(a) => {
                exchanges.push(a.clone());
                (
                    Severity::High,
                    Confidence::Confirmed,
                    format!(
                        "received the same data as the admin identity `{}`",
                        a.identity
                    ),
                )
            }
            None if !others.is_empty() => (
                Severity::High,
                Confidence::Confirmed,
                format!("received other users' account data: {}", others.join(", ")),
            ),
            None => (
                Severity::Medium,
                Confidence::Firm,
                "received data (no admin identity was configured to compare with)".to_string(),
            ),
        };
        if let Some((_, sib)) = &sibling {
            exchanges.extend(sib.iter().cloned());
        }
        exchanges.push(anon.clone());
        let description = format!(
            "The operation is administrative ({why}), yet the regular identity `{}` {detail}, \
             while an anonymous caller was refused (HTTP {}).",
            regular.name,
            anon.status().unwrap_or(0)
        );
        let evidence =
            Evidence::new(exchanges).note("first exchange: the regular identity; last: anonymous");
        return Ok(Outcome::finding(META.finding(
            Some(op),
            "",
            severity,
            confidence,
            description,
            evidence,
        )));
    }
    Ok(Outcome::none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, RequestSpec, SpecVersion};

    const JSON: &str = "application/json";
    const ALL_ORDERS: &str = r#"{"items":[{"id":1,"username":"alice","total":5},{"id":3,"username":"bob","total":7}],"count":2}"#;
    const STORES: &str = r#"{"items":[{"id":1,"city":"Leeds"},{"id":2,"city":"York"}]}"#;

    /// Runs the check on the inventory's first operation.
    async fn run_inv(p: &FakeProbe, inv: &Inventory) -> Outcome {
        Bfla.run(&RunCtx {
            probe: p,
            inventory: inv,
            op: Some(&inv.operations[0]),
        })
        .await
    }

    fn inventory(ops: Vec<Operation>) -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = ops;
        inv
    }

    fn tagged(path: &str) -> Operation {
        let mut op = Operation::new(Method::Get, path);
        op.tags = vec!["admin".into()];
        op
    }

    async fn run(p: &FakeProbe, op: Operation) -> Outcome {
        run_inv(p, &inventory(vec![op])).await
    }

    fn probe(regular: (u16, &'static str)) -> FakeProbe {
        FakeProbe::new()
            .identity("alice", &["alice"])
            .identity("bob", &["bob"])
            .on(
                |r: &RequestSpec| r.identity == ANONYMOUS,
                response(401, JSON, r#"{"error":"unauthorized"}"#),
            )
            .on(|_| true, response(regular.0, JSON, regular.1))
    }

    fn with_admin(mut p: FakeProbe) -> FakeProbe {
        p = p.identity("root", &["root"]);
        p.identities.last_mut().unwrap().admin = true;
        p
    }

    #[tokio::test]
    async fn back_office_list_the_spec_marks_open_to_a_customer_is_confirmed() {
        let out = run(&probe((200, ALL_ORDERS)), tagged("/api/admin/orders")).await;
        assert_eq!(out.findings[0].confidence, Confidence::Confirmed);
        assert_eq!(out.findings[0].severity, Severity::High);
        assert!(out.findings[0].description.contains("bob"));
    }

    #[tokio::test]
    async fn a_path_segment_alone_is_a_low_tentative_note() {
        let out = run(
            &probe((200, ALL_ORDERS)),
            Operation::new(Method::Get, "/api/admin/orders"),
        )
        .await;
        assert_eq!(out.findings[0].severity, Severity::Low);
        assert_eq!(out.findings[0].confidence, Confidence::Tentative);
    }

    #[tokio::test]
    async fn a_list_every_role_reads_is_shared_by_design() {
        // The admin identity reads it too, with the same answer: no evidence of a role.
        let p = with_admin(probe((200, STORES)));
        let out = run(&p, Operation::new(Method::Get, "/api/stores")).await;
        assert!(out.findings.is_empty(), "{:?}", out.findings);
    }

    #[tokio::test]
    async fn a_sibling_that_refuses_regular_identities_is_evidence() {
        // `/api/office/users` answers the admin and refuses alice and bob with 403;
        // `/api/office/orders`, unmarked, answers them all the same.
        let p = with_admin(
            FakeProbe::new()
                .identity("alice", &["alice"])
                .identity("bob", &["bob"]),
        )
        .on(
            |r: &RequestSpec| r.identity == ANONYMOUS,
            response(401, JSON, r#"{"error":"unauthorized"}"#),
        )
        .on(
            |r: &RequestSpec| r.path == "/api/office/users" && r.identity != "root",
            response(403, JSON, r#"{"error":"forbidden"}"#),
        )
        .on(|_| true, response(200, JSON, ALL_ORDERS));
        let inv = inventory(vec![
            Operation::new(Method::Get, "/api/office/orders"),
            Operation::new(Method::Get, "/api/office/users"),
        ]);
        let out = run_inv(&p, &inv).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].confidence, Confidence::Confirmed);
        assert!(out.findings[0].description.contains("/api/office/users"));
    }

    #[tokio::test]
    async fn refused_customers_and_ordinary_operations_are_silent() {
        assert!(run(
            &probe((403, r#"{"error":"forbidden"}"#)),
            tagged("/api/admin/orders")
        )
        .await
        .findings
        .is_empty());
        assert!(run(
            &probe((200, ALL_ORDERS)),
            Operation::new(Method::Get, "/api/orders")
        )
        .await
        .findings
        .is_empty());
    }
}
