//! `design.race-condition`: a single-use resource consumed more than once by parallel requests.
//!
//! Active mode only, and only on what the scanner's own account holds. An operation is judged
//! when it consumes something by name (`POST …/{code}/redeem`, `…/claim`, `…/use`, …) and the
//! caller's own list (`GET` of the collection) names an unspent item for it, such as a welcome
//! coupon the API hands every account. Each round:
//! 1. list the caller's items and pick one not marked spent;
//! 2. send [`BURST`] identical consuming requests at the same instant (`Probe::send_burst`:
//!    the engine passes every gate for the burst first; on plain HTTP it then uses HTTP/1.1
//!    last-byte synchronisation, over TLS it writes them together on separate connections);
//! 3. send one more, sequentially, as the control: it must be refused, or the resource is not
//!    single-use and nothing is judged.
//!
//! A burst refused entirely with state conflicts (409, "already redeemed": the list called the
//! item unspent when it was not) moves to the next item; when the list offers none, one fresh
//! item is made through the API's own creation operation (`stateful.rs`).
//!
//! The finding needs two or more successes in the burst where the sequential control shows
//! that one is the limit. A round where the burst lost the race is not evidence either way, so
//! up to [`ROUNDS`] rounds are tried (each on a fresh item). Budget: at most
//! `ROUNDS × (2 + BURST)` = 28 requests per operation.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::ownership::collection_of;
use crate::probe::{Overrides, ProbeError};
use crate::stateful::{fresh_object, is_state_conflict};
use async_trait::async_trait;
use middlebrick_model::envelope::unwrap_envelope;
use middlebrick_model::names::normalize_name;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Operation, Owasp, ParamLocation,
    Remediation, Severity, Tech,
};
use serde_json::Value;

/// Requests sent at once: enough to win a check-then-act window of a few milliseconds, few
/// enough to stay under the default concurrency cap (8).
pub const BURST: usize = 5;
/// Fresh items tried before giving up. A round the burst loses (one success, the rest
/// refused) is common on a loaded server even when the window is tens of milliseconds wide.
pub const ROUNDS: usize = 4;

#[derive(Debug)]
pub struct RaceCondition;

static META: CheckMeta = CheckMeta {
    id: CheckId::DesignRaceCondition,
    title: "A single-use resource can be consumed twice by parallel requests",
    description: "In active mode, sends several identical consuming requests (redeem, claim, \
        use) for an item the scanner's own account holds at the same instant, then one more \
        sequentially. Fires when two or more parallel requests succeed while the sequential \
        repeat is refused.",
    cwe: &[362, 367],
    owasp: &[Owasp::Api6],
    severity: Severity::High,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Check and consume in one statement or one transaction holding a row lock: \
            `UPDATE coupons SET redeemed_at = now() WHERE code = $1 AND redeemed_at IS NULL \
            RETURNING …` and act only when a row came back, or `SELECT … FOR UPDATE` before the \
            write in the same transaction. A unique constraint on the redemption is a second line.",
        variants: &[
            (Tech::Flask, "wrap the check and the write in one `with conn.transaction():` block \
                and lock the row first; never read in one request-level transaction and write in \
                another."),
            (Tech::FastApi, "do the check and the write in one `async with conn.transaction():` \
                block; an `await` between them lets another request in."),
            (Tech::Psycopg, "```python\nwith conn.transaction():\n    row = conn.execute(\"SELECT id FROM coupons WHERE code = %s AND NOT redeemed FOR UPDATE\", (code,)).fetchone()\n```"),
            (Tech::Asyncpg, "```python\nasync with conn.transaction():\n    row = await conn.fetchrow(\"UPDATE coupons SET redeemed = true WHERE code = $1 AND NOT redeemed RETURNING amount\", code)\n```"),
            (Tech::SqlAlchemy, "`select(Coupon).where(Coupon.code == code).with_for_update()` \
                inside `session.begin()`, then the write."),
            (Tech::CockroachDb, "serializable isolation aborts one of the racing transactions \
                with SQLSTATE `40001`; retry it (the retry sees the code spent) instead of \
                answering 500, and keep the check and the write in that one transaction."),
        ],
    },
};

/// Last path segments of operations that consume what their path names.
const CONSUMING: &[&str] = &["redeem", "claim", "use", "consume", "apply", "activate"];
/// Boolean fields that say an item is spent, and status values that say so.
const SPENT_FLAGS: &[&str] = &["redeemed", "used", "claimed", "consumed", "spent"];
const SPENT_STATES: &[&str] = &[
    "redeemed", "used", "claimed", "consumed", "spent", "expired",
];

/// The item path and its last path parameter: `/coupons/{code}/redeem` → (`/coupons/{code}`,
/// `code`).
fn target(op: &Operation) -> Option<(&str, String)> {
    if op.method != Method::Post {
        return None;
    }
    let (item, verb) = op.path.rsplit_once('/')?;
    if !CONSUMING.contains(&verb.to_ascii_lowercase().as_str()) {
        return None;
    }
    let param = op.params_in(ParamLocation::Path).last()?.name.clone();
    item.ends_with(&format!("{{{param}}}"))
        .then_some((item, param))
}

#[async_trait]
impl Check for RaceCondition {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        if ctx.identities == 0 || target(op).and_then(|(i, _)| collection_of(i)).is_none() {
            return Vec::new();
        }
        vec![
            Planned {
                method: Method::Get,
                identity: "*",
                purpose: "list the caller's own items",
            },
            Planned {
                method: Method::Post,
                identity: "*",
                purpose: "consume one item with parallel requests, then once more",
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

fn spent(item: &serde_json::Map<String, Value>) -> bool {
    item.iter().any(|(k, v)| {
        let k = normalize_name(k);
        (SPENT_FLAGS.contains(&k.as_str()) && v.as_bool() == Some(true))
            || (k == "status"
                && v.as_str()
                    .is_some_and(|s| SPENT_STATES.contains(&s.to_ascii_lowercase().as_str())))
            || (k
                .strip_suffix("at")
                .is_some_and(|f| SPENT_FLAGS.contains(&f))
                && !v.is_null())
    })
}

/// An unspent item's value for `param` in the caller's list, not one of `tried`.
fn unspent(list: &Value, param: &str, tried: &[Value]) -> Option<Value> {
    let items = match unwrap_envelope(list) {
        Value::Array(a) => a.clone(),
        Value::Object(o) => o
            .values()
            .find_map(|v| v.as_array().cloned())
            .unwrap_or_default(),
        _ => return None,
    };
    let want = normalize_name(param);
    items.iter().find_map(|i| {
        let o = i.as_object()?;
        let field = |name: &str| {
            o.iter()
                .find(|(k, v)| normalize_name(k) == name && (v.is_string() || v.is_number()))
                .map(|(_, v)| v)
        };
        let v = field(&want)
            .or_else(|| field("code"))
            .or_else(|| field("id"))?;
        (!spent(o) && !tried.contains(v)).then(|| v.clone())
    })
}

/// The next item to consume and the exchange that showed it: an unspent one from the caller's
/// list, else (once) a fresh one made through the API's own creation operation.
#[allow(clippy::too_many_arguments)]
async fn pick(
    ctx: &RunCtx<'_>,
    list_op: &Operation,
    op: &Operation,
    param: &str,
    me: &str,
    tried: &[Value],
    fresh_made: &mut bool,
) -> Result<Option<(Value, Exchange)>, ProbeError> {
    let list = ctx
        .probe
        .send(ctx.probe.request(list_op, me, &Overrides::none()))
        .await?;
    if let Some(v) = list.success_json().and_then(|j| unspent(&j, param, tried)) {
        return Ok(Some((v, list)));
    }
    if std::mem::replace(fresh_made, true) {
        return Ok(None);
    }
    Ok(fresh_object(ctx, op, param, me)
        .await?
        .filter(|(v, _)| !tried.contains(v)))
}

fn succeeded(r: &Result<Exchange, ProbeError>) -> bool {
    matches!(r, Ok(ex) if ex.response.as_ref().is_some_and(|r| r.is_success()))
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let Some((item, param)) = target(op) else {
        return Ok(Outcome::none());
    };
    let Some(list_op) = collection_of(item).and_then(|c| {
        ctx.inventory
            .operations
            .iter()
            .find(|o| o.method == Method::Get && o.path == c)
    }) else {
        return Ok(Outcome::none());
    };
    let Some(me) = ctx.probe.identities().into_iter().find(|i| !i.admin) else {
        return Ok(Outcome::none());
    };
    let mut tried = Vec::new();
    let mut fresh_made = false;
    for _ in 0..ROUNDS {
        let Some((value, list)) =
            pick(ctx, list_op, op, &param, &me.name, &tried, &mut fresh_made).await?
        else {
            return Ok(Outcome::none());
        };
        tried.push(value.clone());
        let req = ctx.probe.request(
            op,
            &me.name,
            &Overrides::param(ParamLocation::Path, &param, value.clone()),
        );
        let burst = ctx.probe.send_burst(vec![req.clone(); BURST]).await;
        if let Some(Err(e @ ProbeError::Stopped(_))) = burst.iter().find(|r| r.is_err()) {
            return Err(e.clone());
        }
        let wins = burst.iter().filter(|r| succeeded(r)).count();
        let answered = burst
            .iter()
            .any(|r| matches!(r, Ok(ex) if ex.response.is_some()));
        let conflicts = burst
            .iter()
            .all(|r| matches!(r, Ok(ex) if is_state_conflict(ex)));
        if wins == 0 && answered && conflicts {
            // The item was spent after all (the list did not say so): another one.
            continue;
        }
        if wins == 0 && answered {
            // Not consumable by this account at all: nothing to compare.
            return Ok(Outcome::none());
        }
        if wins == 0 {
            // No answer at all (connections refused or timed out under load): try again.
            continue;
        }
        let control = ctx.probe.send(req).await?;
        if control.response.as_ref().is_none_or(|r| r.is_success()) {
            // A sequential repeat also succeeds: not single-use, or no answer to judge.
            return Ok(Outcome::none());
        }
        if wins >= 2 {
            return Ok(Outcome::finding(finding(
                op, &param, &value, wins, list, burst, control,
            )));
        }
    }
    Ok(Outcome::none())
}

fn finding(
    op: &Operation,
    param: &str,
    value: &Value,
    wins: usize,
    list: Exchange,
    burst: Vec<Result<Exchange, ProbeError>>,
    control: Exchange,
) -> middlebrick_model::Finding {
    let shown = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let description = format!(
        "{wins} of {BURST} parallel requests to `{}` for the same `{param}` (`{shown}`, held by \
         the scanner's own account) all succeeded, while a sequential repeat was refused: the \
         single-use resource was consumed {wins} times. The check and the consumption are not \
         one atomic step.",
        op.key()
    );
    let mut exchanges = vec![list];
    exchanges.extend(
        burst
            .into_iter()
            .flatten()
            .filter(|e| e.response.as_ref().is_some_and(|r| r.is_success()))
            .take(2),
    );
    exchanges.push(control);
    let evidence = Evidence::new(exchanges).note(
        "first: the caller's list; then two successful requests of the parallel burst; last: \
         the sequential repeat, refused",
    );
    META.finding(
        Some(op),
        param,
        Severity::High,
        Confidence::Confirmed,
        description,
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, Parameter, RequestSpec, Schema, SchemaType, SpecVersion};
    use std::sync::{Arc, Mutex};

    fn inventory() -> Inventory {
        let mut redeem = Operation::new(Method::Post, "/coupons/{code}/redeem");
        redeem.parameters.push(Parameter {
            name: "code".into(),
            location: ParamLocation::Path,
            required: true,
            schema: Arc::new(Schema::of_type(SchemaType::String)),
            example: None,
        });
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = vec![redeem, Operation::new(Method::Get, "/coupons")];
        inv
    }

    /// A coupon API whose fake burst (sent one by one) lets the first `racy` redemptions of a
    /// code through, as a check-then-act race would; `racy = 1` is a correct implementation.
    fn api(racy: usize) -> FakeProbe {
        let uses: Arc<Mutex<usize>> = Arc::default();
        FakeProbe::new()
            .identity("alice", &["alice"])
            .on_dynamic(move |r: &RequestSpec| {
                let mut uses = uses.lock().unwrap();
                if r.method == Method::Get {
                    let spent = *uses > 0;
                    return Some(response(
                        200,
                        "application/json",
                        &format!(r#"[{{"code":"WELCOME-1","redeemed":{spent}}}]"#),
                    ));
                }
                *uses += 1;
                Some(if *uses <= racy {
                    response(200, "application/json", r#"{"credit":10}"#)
                } else {
                    response(409, "application/json", r#"{"error":"already redeemed"}"#)
                })
            })
    }

    async fn run(p: &FakeProbe) -> Outcome {
        let inv = inventory();
        RaceCondition
            .run(&RunCtx {
                probe: p,
                inventory: &inv,
                op: Some(&inv.operations[0]),
            })
            .await
    }

    #[tokio::test]
    async fn two_parallel_successes_with_a_refused_repeat_are_confirmed() {
        let out = run(&api(2)).await;
        assert_eq!(out.findings.len(), 1);
        assert!(out.findings[0].description.contains("consumed 2 times"));
    }

    #[tokio::test]
    async fn one_success_per_code_is_silent_and_a_spent_code_is_not_retried() {
        let p = api(1);
        assert!(run(&p).await.findings.is_empty());
        // round one: list, burst, control; round two finds no unspent code after its list.
        assert_eq!(p.sent_count(), 1 + BURST + 1 + 1);
    }

    /// Like [`api`], but every list hands out a fresh code and the n-th code lets `racy[n]`
    /// redemptions through: the burst can lose early rounds and win a later one.
    fn api_by_round(racy: &'static [usize]) -> FakeProbe {
        let state: Arc<Mutex<(usize, usize)>> = Arc::default(); // (codes handed out, uses of the last)
        FakeProbe::new()
            .identity("alice", &["alice"])
            .on_dynamic(move |r: &RequestSpec| {
                let mut st = state.lock().unwrap();
                if r.method == Method::Get {
                    st.0 += 1;
                    st.1 = 0;
                    let body = format!(r#"[{{"code":"WELCOME-{}","redeemed":false}}]"#, st.0);
                    return Some(response(200, "application/json", &body));
                }
                st.1 += 1;
                let allowed = racy.get(st.0 - 1).copied().unwrap_or(1);
                Some(if st.1 <= allowed {
                    response(200, "application/json", r#"{"credit":10}"#)
                } else {
                    response(409, "application/json", r#"{"error":"already redeemed"}"#)
                })
            })
    }

    #[tokio::test]
    async fn lost_rounds_are_retried_on_fresh_items_up_to_the_limit() {
        let won_third = api_by_round(&[1, 1, 2]);
        let out = run(&won_third).await;
        assert_eq!(out.findings.len(), 1, "the third round's race is reported");
        assert_eq!(won_third.sent_count(), 3 * (BURST + 2));

        let never = api_by_round(&[1, 1, 1, 1, 2]);
        assert!(run(&never).await.findings.is_empty());
        assert_eq!(
            never.sent_count(),
            ROUNDS * (BURST + 2),
            "bounded by ROUNDS"
        );
    }

    /// The list keeps offering a code that is in fact spent (every use answers 409); a fresh
    /// code made through `POST /coupons` is racy.
    fn api_with_a_stale_list() -> FakeProbe {
        let uses: Arc<Mutex<usize>> = Arc::default();
        let mut p =
            FakeProbe::new()
                .identity("alice", &["alice"])
                .on_dynamic(move |r: &RequestSpec| {
                    let json = |s: u16, b: &str| Some(response(s, "application/json", b));
                    match (r.method, r.path.as_str()) {
                        (Method::Get, _) => {
                            json(200, r#"{"data":[{"couponCode":"OLD","redeemedAt":null}]}"#)
                        }
                        (Method::Post, "/coupons") => json(201, r#"{"data":{"code":"FRESH"}}"#),
                        (_, "/coupons/FRESH/redeem") => {
                            let mut n = uses.lock().unwrap();
                            *n += 1;
                            if *n <= 2 {
                                json(200, r#"{"credit":10}"#)
                            } else {
                                json(409, r#"{"error":"already redeemed"}"#)
                            }
                        }
                        _ => json(409, r#"{"error":"already redeemed"}"#),
                    }
                });
        p.mode = middlebrick_model::Mode::Active;
        p
    }

    #[tokio::test]
    async fn a_spent_item_leads_to_a_fresh_one_made_by_the_producer() {
        let mut inv = inventory();
        inv.operations[0].parameters[0].name = "couponCode".into();
        inv.operations[0].path = "/coupons/{couponCode}/redeem".into();
        inv.operations
            .push(Operation::new(Method::Post, "/coupons"));
        let p = api_with_a_stale_list();
        let out = RaceCondition
            .run(&RunCtx {
                probe: &p,
                inventory: &inv,
                op: Some(&inv.operations[0]),
            })
            .await;
        assert_eq!(out.findings.len(), 1, "{:?}", p.sent.lock().unwrap());
        assert!(out.findings[0].description.contains("FRESH"));
    }

    #[tokio::test]
    async fn a_resource_that_is_not_single_use_is_silent() {
        assert!(run(&api(usize::MAX)).await.findings.is_empty());
    }

    #[test]
    fn consuming_operations_are_recognised_by_their_last_segment() {
        let inv = inventory();
        assert!(target(&inv.operations[0]).is_some());
        assert!(target(&Operation::new(Method::Post, "/coupons")).is_none());
    }
}
