//! `llm.unbounded-consumption`: a chat operation's answer-length limit (`max_tokens` and the
//! like) is honoured far beyond any cap, so one request buys as much generation as it asks for.
//!
//! Two completions per chat operation that takes such a limit (`crate::llm`), as one identity,
//! both asking for a long answer (counting to a hundred thousand). The control sets the limit to
//! [`SMALL`]: its answer must stay short, which shows the field is honoured. The probe sets it
//! to four times the cap, the cap being the maximum the spec documents or [`DEFAULT_CAP`]
//! tokens when it documents none. A finding needs the probe accepted (2xx) and answered with
//! more than twice the cap (completion tokens as the answer's `usage` counts them, else its
//! words). A server that rejects the value (422) or clamps it is silent.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::llm::{self, Chat, Session};
use crate::probe::ProbeError;
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Finding, Operation, Owasp, Remediation, Severity,
    Tech,
};

#[derive(Debug)]
pub struct UnboundedConsumption;

/// Completions per chat operation.
pub const CAP: usize = 2;
/// The limit the control asks for.
const SMALL: u64 = 16;
/// The control's answer may run this far past [`SMALL`] (tokenisers differ from word counts).
const SMALL_SLACK: u64 = 4 * SMALL;
/// The cap assumed when the spec documents no maximum, in tokens.
const DEFAULT_CAP: u64 = 4096;
const LONG_TASK: &str = "Count from 1 to 100000, writing every number, separated by spaces.";

static META: CheckMeta = CheckMeta {
    id: CheckId::LlmUnboundedConsumption,
    title: "LLM endpoint honours unbounded output-length requests",
    description: "In active mode, sends each chat or completion operation that takes an \
        answer-length limit (`max_tokens`, `max_new_tokens`, …) a request for a long answer \
        twice: with the limit at 16 (control, whose answer must stay short) and at four times \
        the documented maximum (4096 tokens when none is documented). Fires when the second is \
        accepted and answered with more than twice that maximum.",
    cwe: &[770],
    owasp: &[Owasp::Llm10, Owasp::Api4],
    severity: Severity::Medium,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Cap the output length on the server whatever the client asks (reject or \
            clamp `max_tokens` above a documented maximum), bound input size and conversation \
            length, and meter tokens per user with quotas and rate limits so one caller cannot \
            run up the model bill or starve others.",
        variants: &[
            (
                Tech::Flask,
                "validate the body (`max_tokens = min(int(body.get(\"max_tokens\", \
                256)), 1024)`) before calling the model, and add per-user rate limits \
                (Flask-Limiter) on the chat route.",
            ),
            (
                Tech::FastApi,
                "declare the limit with a bound in the request model \
                (`max_tokens: int = Field(256, ge=1, le=1024)`) so larger values get a 422, and \
                rate-limit the route per user.",
            ),
        ],
    },
};

#[async_trait]
impl Check for UnboundedConsumption {
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
        llm::each_chat(ctx, |chat| judge(ctx, chat)).await
    }
}

async fn judge(ctx: &RunCtx<'_>, chat: Chat<'_>) -> Result<Option<Finding>, ProbeError> {
    let Some((field, maximum)) = chat.max_tokens.clone() else {
        return Ok(None);
    };
    let cap = maximum
        .filter(|m| m.is_finite() && *m >= 1.0)
        .map_or(DEFAULT_CAP, |m| m as u64);
    let who = llm::asker(ctx);
    let mut s = Session::new(ctx, &chat, CAP);
    let Some(control) = s
        .ask(&who, LONG_TASK, Some(SMALL))
        .await?
        .filter(|r| r.is_chat())
    else {
        return Ok(None);
    };
    if control.tokens.is_none_or(|t| t > SMALL + SMALL_SLACK) {
        return Ok(None);
    }
    let asked = cap * 4;
    let Some(probe) = s.ask(&who, LONG_TASK, Some(asked)).await? else {
        return Ok(None);
    };
    let Some(got) = probe.tokens.filter(|t| *t > cap * 2) else {
        return Ok(None);
    };
    let documented = match maximum {
        Some(_) => format!("the spec documents a maximum of {cap}"),
        None => format!("the spec documents no maximum; {cap} is the cap assumed"),
    };
    let description = format!(
        "`{}` honours `{field}` far beyond any cap: with `{field}` = {SMALL} a request for a long \
         answer got {} tokens, and with `{field}` = {asked} the same request was accepted and \
         answered with {got} tokens ({documented}). One caller can make the model generate as \
         much as it likes, running up cost and holding capacity others need.",
        chat.op.key(),
        control.tokens.unwrap_or(0),
    );
    let evidence = Evidence::new(vec![control.exchange, probe.exchange]).note(format!(
        "control: `{field}` = {SMALL}, a short answer; probe: `{field}` = {asked}, {got} tokens"
    ));
    Ok(Some(META.finding(
        Some(chat.op),
        &field,
        META.severity,
        Confidence::Firm,
        description,
        evidence,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::llm::tests::{chat_op, inventory, max_tokens_of, openai};
    use middlebrick_model::{BodyRecord, Mode, ResponseRecord};

    async fn run(maximum: Option<f64>, answer: fn(u64) -> ResponseRecord) -> (Outcome, Vec<u64>) {
        let inv = inventory(vec![chat_op(maximum)]);
        let mut probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on_dynamic(move |req| Some(answer(max_tokens_of(req).unwrap_or(256))));
        probe.mode = Mode::Active;
        let ctx = RunCtx {
            probe: &probe,
            inventory: &inv,
            op: None,
        };
        let out = UnboundedConsumption.run(&ctx).await;
        let asked = probe
            .sent
            .lock()
            .unwrap()
            .iter()
            .filter_map(max_tokens_of)
            .collect();
        (out, asked)
    }

    #[tokio::test]
    async fn fires_when_a_huge_limit_is_honoured() {
        let (out, asked) = run(None, |n| openai("1 2 3", n)).await;
        assert_eq!(asked, vec![SMALL, 4 * DEFAULT_CAP]);
        assert_eq!(out.findings.len(), 1, "{out:?}");
        assert_eq!(out.findings[0].parameter.as_deref(), Some("max_tokens"));
    }

    #[tokio::test]
    async fn a_clamped_limit_is_silent() {
        let (out, _) = run(None, |n| openai("1 2 3", n.min(1024))).await;
        assert!(out.findings.is_empty());
    }

    #[tokio::test]
    async fn a_rejected_limit_beyond_the_documented_maximum_is_silent() {
        let (out, asked) = run(Some(1024.0), |n| {
            if n > 1024 {
                ResponseRecord {
                    status: 422,
                    headers: vec![],
                    body: BodyRecord::default(),
                    graphql_field: None,
                }
            } else {
                openai("1 2 3", n)
            }
        })
        .await;
        assert_eq!(asked, vec![SMALL, 4096]);
        assert!(out.findings.is_empty());
    }

    #[tokio::test]
    async fn a_limit_the_server_ignores_is_no_evidence() {
        // The control's answer is long whatever it asked: the field is not what limits output.
        let (out, _) = run(None, |_| openai("1 2 3", 20_000)).await;
        assert!(out.findings.is_empty());
    }
}
