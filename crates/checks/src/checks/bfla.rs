//! `authz.bfla`: a function meant for administrators works for a regular identity.
//!
//! An operation is privileged when an admin identity is configured and it answers it, or when
//! the spec marks it so (an `admin`-like path segment or tag, an admin scope). A regular
//! identity's answer must be data, not a refusal:
//! - with an admin identity: the regular answer matches the admin's (confirmed);
//! - without one: the regular answer carries another identity's account data (confirmed; a
//!   back-office view leaking other users), or, failing that, the privileged-looking operation
//!   simply works for a regular identity (firm, medium).
//!
//! Operations an anonymous caller can also use are left to `auth.missing-authentication`.
//! No extra requests: it judges the warm-up's answers.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::ownership::{owners_named, privileged_reason};
use crate::probe::ProbeError;
use crate::similarity::{has_substance, is_error_envelope, same_data};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Method, Operation, Owasp, Remediation, Severity,
    Tech, ANONYMOUS,
};

#[derive(Debug)]
pub struct Bfla;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthzBfla,
    title: "Administrative function available to regular users",
    description: "Calls privileged operations (answered for an admin identity, or marked admin in \
        the spec) as regular identities. Fires when a regular identity gets the admin's data, or \
        other users' data, from a back-office operation that anonymous callers are refused.",
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
        if op.method != Method::Get || ctx.identities == 0 {
            return Vec::new();
        }
        vec![Planned {
            method: Method::Get,
            identity: "*",
            purpose: "regular and admin identities call the operation",
        }]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        judge(ctx, op).await.unwrap_or_default()
    }
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let identities = ctx.probe.identities();
    let admin = identities.iter().find(|i| i.admin);
    let regulars: Vec<_> = identities.iter().filter(|i| !i.admin).collect();
    if regulars.is_empty() {
        return Ok(Outcome::none());
    }
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
    let reason = privileged_reason(op);
    if admin_answer.is_none() && reason.is_none() {
        return Ok(Outcome::none());
    }
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
        let why = reason
            .clone()
            .map(|r| format!("it is marked privileged ({r})"))
            .unwrap_or_else(|| "an admin identity uses it".into());
        let (severity, confidence, detail, mut exchanges) = match &admin_answer {
            Some(a) if a.response.as_ref().is_some_and(|ar| same_data(ar, resp)) => (
                Severity::High,
                Confidence::Confirmed,
                format!(
                    "received the same data as the admin identity `{}`",
                    a.identity
                ),
                vec![ex.clone(), a.clone()],
            ),
            Some(_) => continue,
            None if !others.is_empty() => (
                Severity::High,
                Confidence::Confirmed,
                format!("received other users' account data: {}", others.join(", ")),
                vec![ex.clone()],
            ),
            None => (
                Severity::Medium,
                Confidence::Firm,
                "received data (no admin identity was configured to compare with)".to_string(),
                vec![ex.clone()],
            ),
        };
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

    async fn run(p: &FakeProbe, path: &str) -> Outcome {
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        let op = Operation::new(Method::Get, path);
        Bfla.run(&RunCtx {
            probe: p,
            inventory: &inv,
            op: Some(&op),
        })
        .await
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

    #[tokio::test]
    async fn back_office_list_open_to_a_customer_is_confirmed() {
        let out = run(&probe((200, ALL_ORDERS)), "/api/admin/orders").await;
        assert_eq!(out.findings[0].confidence, Confidence::Confirmed);
        assert!(out.findings[0].description.contains("bob"));
    }

    #[tokio::test]
    async fn refused_customers_and_ordinary_operations_are_silent() {
        assert!(run(
            &probe((403, r#"{"error":"forbidden"}"#)),
            "/api/admin/orders"
        )
        .await
        .findings
        .is_empty());
        assert!(run(&probe((200, ALL_ORDERS)), "/api/orders")
            .await
            .findings
            .is_empty());
    }
}
