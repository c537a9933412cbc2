//! The timing phase of `auth.user-enumeration`: when the answers for an existing and a made-up
//! account are the same, whether their *times* still tell them apart (CWE-208), as when an
//! unknown username is refused before the password hash is computed.
//!
//! Only a scan-owned account is the existing side (never a configured identity's: repeated
//! wrong passwords may lock a real account); each made-up name is new (`mb-nx-…`), so a limiter
//! keyed per name sees one attempt each. A round is [`PER_SIDE`] attempts of each side sent one
//! at a time in ABBA order (existing, made-up, made-up, existing, …) so drift in the server's or
//! the network's speed falls on both sides alike; its times are compared by
//! [`crate::timing::compare`]. A second round must agree (same direction): with ALPHA = 0.001
//! per round, a false alarm on a server that does equal work is below one scan in a million
//! (ALPHA² / 2), before the separation and gap rules remove more. Any 429, `Retry-After`, 5xx,
//! a sign-in that succeeds, or answers whose statuses differ end the phase silently (a limiter
//! that trips on the existing account is how secure sign-ins answer this). Budget: at most
//! 2 × 2 × PER_SIDE = 64 requests per operation, plus the scan-owned account's registration.

use crate::authflow::is_throttled;
use crate::check::{CheckMeta, Outcome, RunCtx};
use crate::probe::{Overrides, ProbeError};
use crate::timing::{compare, median, Comparison, ALPHA};
use middlebrick_model::{Confidence, Evidence, Exchange, Operation, Severity, ANONYMOUS};
use serde_json::json;

/// Attempts of each side in one round.
pub const PER_SIDE: usize = 16;
const ROUNDS: usize = 2;

/// What one attempt sends.
pub enum Attempt {
    /// A sign-in with this wrong password.
    SignIn(String),
    /// A reset request with the account in this body property.
    Reset(String),
}

async fn attempt(
    ctx: &RunCtx<'_>,
    op: &Operation,
    how: &Attempt,
    value: &str,
) -> Result<Exchange, ProbeError> {
    match how {
        Attempt::SignIn(password) => {
            ctx.probe
                .sign_in_attempt(Some(op), value, password, &[])
                .await
        }
        Attempt::Reset(property) => {
            let o = Overrides::body_field(vec![property.clone()], json!(value));
            ctx.probe.send(ctx.probe.request(op, ANONYMOUS, &o)).await
        }
    }
}

struct Round {
    known: Vec<Exchange>,
    unknown: Vec<Exchange>,
}

fn times(xs: &[Exchange]) -> Vec<f64> {
    xs.iter().map(|e| e.elapsed_ms as f64).collect()
}

/// One round, or `None` when an answer ends the phase (see the module header).
async fn round(
    ctx: &RunCtx<'_>,
    op: &Operation,
    how: &Attempt,
    existing: &str,
    made_up: &(dyn Fn() -> String + Sync),
) -> Result<Option<Round>, ProbeError> {
    let mut r = Round {
        known: Vec::new(),
        unknown: Vec::new(),
    };
    let mut status = None;
    for i in 0..2 * PER_SIDE {
        let known = matches!(i % 4, 0 | 3);
        let value = if known {
            existing.to_string()
        } else {
            made_up()
        };
        let ex = attempt(ctx, op, how, &value).await?;
        let s = ex.status();
        let signed_in = matches!(how, Attempt::SignIn(_)) && s.is_some_and(|s| s < 300);
        if is_throttled(&ex)
            || s.is_none_or(|s| s >= 500)
            || signed_in
            || *status.get_or_insert(s) != s
        {
            return Ok(None);
        }
        if known {
            r.known.push(ex);
        } else {
            r.unknown.push(ex);
        }
    }
    Ok(Some(r))
}

/// Both rounds differ, the same way.
pub fn verdict(rounds: &[Comparison]) -> bool {
    rounds.len() == ROUNDS
        && rounds.iter().all(Comparison::differs)
        && rounds.iter().all(|c| c.a_slower() == rounds[0].a_slower())
}

/// Runs the rounds; a finding when they agree.
pub async fn trial(
    ctx: &RunCtx<'_>,
    meta: &'static CheckMeta,
    op: &Operation,
    how: Attempt,
    kind: &str,
    existing: &str,
    made_up: &(dyn Fn() -> String + Sync),
) -> Result<Outcome, ProbeError> {
    let mut comparisons = Vec::new();
    let mut last = None;
    for _ in 0..ROUNDS {
        let Some(r) = round(ctx, op, &how, existing, made_up).await? else {
            return Ok(Outcome::none());
        };
        let c = compare(&times(&r.known), &times(&r.unknown));
        let differs = c.differs();
        comparisons.push(c);
        last = Some(r);
        if !differs {
            return Ok(Outcome::none());
        }
    }
    if !verdict(&comparisons) {
        return Ok(Outcome::none());
    }
    let r = last.expect("a round ran");
    Ok(Outcome::finding(finding(meta, op, kind, &comparisons, r)))
}

/// The exchange whose time is nearest the side's median: the typical answer.
fn typical(xs: Vec<Exchange>) -> Option<Exchange> {
    let m = median(&times(&xs));
    xs.into_iter().min_by(|a, b| {
        (a.elapsed_ms as f64 - m)
            .abs()
            .total_cmp(&(b.elapsed_ms as f64 - m).abs())
    })
}

fn finding(
    meta: &'static CheckMeta,
    op: &Operation,
    kind: &str,
    rounds: &[Comparison],
    r: Round,
) -> middlebrick_model::Finding {
    let figures: Vec<String> = rounds
        .iter()
        .map(|c| {
            format!(
                "median {:.0} ms for the existing account against {:.0} ms for made-up ones \
                 (Mann–Whitney p = {:.1e})",
                c.median_a, c.median_b, c.p_value
            )
        })
        .collect();
    let description = format!(
        "`{}` answers a {kind} for an existing account and for a non-existent one with the same \
         status and body, but not in the same time: in two rounds of {PER_SIDE} interleaved \
         attempts each, {}. The chance of two such rounds on a server doing equal work is below \
         {:.0e}. An attacker who times the answers learns which accounts exist; do the same work \
         on both paths (verify against a dummy hash when the account is unknown).",
        op.key(),
        figures.join("; then "),
        ALPHA * ALPHA / 2.0
    );
    let exchanges: Vec<Exchange> = [typical(r.known), typical(r.unknown)]
        .into_iter()
        .flatten()
        .collect();
    let evidence = Evidence::new(exchanges).note(
        "first: a typical answer for the scan's own existing account; second: a typical answer \
         for a made-up one (same status and body, different time)",
    );
    meta.finding(
        Some(op),
        "",
        Severity::Medium,
        Confidence::Firm,
        description,
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &[f64], b: &[f64]) -> Comparison {
        compare(a, b)
    }

    #[test]
    fn two_agreeing_rounds_are_a_verdict_and_one_or_opposite_ones_are_not() {
        let slow: Vec<f64> = (0..16).map(|i| 40.0 + i as f64).collect();
        let fast: Vec<f64> = (0..16).map(|i| 3.0 + (i % 3) as f64).collect();
        assert!(verdict(&[c(&slow, &fast), c(&slow, &fast)]));
        assert!(!verdict(&[c(&slow, &fast)]));
        assert!(!verdict(&[c(&slow, &fast), c(&fast, &slow)]));
        assert!(!verdict(&[c(&slow, &fast), c(&slow, &slow)]));
    }
}
