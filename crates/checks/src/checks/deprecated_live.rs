//! `inventory.deprecated-live`: an operation the spec marks `deprecated: true` still answers
//! with data. A deprecated operation is one the owners meant to retire; while it answers, it
//! is attack surface that reviews of the current API skip.
//!
//! Method: the operation's valid request as each signed-in identity and anonymously, through
//! the scan's shared baselines (the warm-up already sent them for reads, so usually no new
//! request). Fires when one answers 2xx with data (not an error envelope, not empty). Reads
//! only: a deprecated write is never sent for this.
//!
//! Budget: the shared baselines of one operation, at most one per identity.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::similarity::{has_substance, is_error_envelope};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Method, Operation, Owasp, Remediation, Severity,
    Tech, ANONYMOUS,
};

#[derive(Debug)]
pub struct DeprecatedLive;

static META: CheckMeta = CheckMeta {
    id: CheckId::InventoryDeprecatedLive,
    title: "Deprecated operation still answers",
    description: "Sends the valid request of each read the spec marks `deprecated` (the scan's \
        shared baseline, as each identity and anonymously). Fires when it still answers with \
        data (a 2xx that is not an error envelope).",
    cwe: &[1059],
    owasp: &[Owasp::Api9],
    severity: Severity::Low,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Retire deprecated operations on the date the description announces: answer \
            410 Gone (with a `Sunset` header beforehand, RFC 8594), then remove the route; \
            until then keep it under the same authentication and fixes as its replacement.",
        variants: &[
            (
                Tech::Flask,
                "replace the view with one that aborts: `abort(410)`, and remove its blueprint \
                at the announced date.",
            ),
            (
                Tech::FastApi,
                "keep `deprecated=True` only while the route must live; then raise \
                `HTTPException(status_code=410)` from it, and finally drop the route.",
            ),
        ],
    },
};

#[async_trait]
impl Check for DeprecatedLive {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        if !op.deprecated || op.method != Method::Get {
            return Vec::new();
        }
        vec![Planned {
            method: Method::Get,
            identity: "*",
            purpose: "the deprecated operation's valid request",
        }]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op.filter(|o| o.deprecated && o.method == Method::Get) else {
            return Outcome::none();
        };
        let mut who: Vec<String> = ctx.probe.identities().into_iter().map(|i| i.name).collect();
        who.push(ANONYMOUS.to_string());
        for name in who {
            let Ok(ex) = ctx.probe.baseline(op, &name).await else {
                return Outcome::none();
            };
            let live = ex
                .response
                .as_ref()
                .is_some_and(|r| r.is_success() && has_substance(r) && !is_error_envelope(r));
            if !live {
                continue;
            }
            let status = ex.status().unwrap_or(0);
            let description = format!(
                "{} is marked deprecated in the spec, yet it answered {name} with {status} and \
                 data: it is still live.",
                op.key()
            );
            let evidence = Evidence::new(vec![ex])
                .note("the deprecated operation's valid request and its answer");
            return Outcome::finding(META.finding(
                Some(op),
                "",
                META.severity,
                Confidence::Confirmed,
                description,
                evidence,
            ));
        }
        Outcome::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, SpecVersion};

    async fn run(probe: &FakeProbe, deprecated: bool) -> Outcome {
        let mut op = Operation::new(Method::Get, "/old/items");
        op.deprecated = deprecated;
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        DeprecatedLive
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: Some(&op),
            })
            .await
    }

    #[tokio::test]
    async fn a_deprecated_read_that_answers_with_data_is_reported() {
        let probe = FakeProbe::new().identity("alice", &[]).on(
            |_| true,
            response(200, "application/json", r#"[{"id":1,"name":"mug"}]"#),
        );
        assert_eq!(run(&probe, true).await.findings.len(), 1);
        assert!(run(&probe, false).await.findings.is_empty());
    }

    #[tokio::test]
    async fn gone_or_empty_answers_are_silent() {
        let probe = FakeProbe::new().identity("alice", &[]).on(
            |_| true,
            response(410, "application/json", r#"{"error":"gone"}"#),
        );
        assert!(run(&probe, true).await.findings.is_empty());
        let probe = FakeProbe::new().on(
            |_| true,
            response(200, "application/json", r#"{"status":"ok"}"#),
        );
        assert!(run(&probe, true).await.findings.is_empty());
    }
}
