//! The coverage record of a scan (`model::CheckRun`): every check of the catalogue, whether it
//! ran and where, and why not. Built from the plan and from what the run really executed, so a
//! check the plan named but the scan never reached (it stopped early) is not counted as run.

use crate::config::ScanConfig;
use crate::plan::Plan;
use middlebrick_checks::{Check, PlanCtx, Scope, CHECKS};
use middlebrick_model::{CheckId, CheckRun, Inventory, SkippedOn};
use std::collections::HashSet;

/// What the run executed: a check on an operation (by index), or an API-wide check (`None`).
pub type Executed = HashSet<(CheckId, Option<usize>)>;

/// Said of a planned check run the scan did not reach.
const STOPPED: &str = "the scan stopped before it ran";

/// One record per check of the catalogue, in catalogue order. `skipped` holds the checks left
/// out before planning (selection, mode) with why; `cfg` is the plan's configuration (the
/// identities that signed in).
pub fn records(
    inv: &Inventory,
    cfg: &ScanConfig,
    plan: &Plan,
    skipped: &[(CheckId, String)],
    executed: &Executed,
) -> Vec<CheckRun> {
    CHECKS
        .iter()
        .map(|c| {
            let id = c.meta().id;
            if let Some((_, why)) = skipped.iter().find(|(s, _)| *s == id) {
                return CheckRun::skipped(id, why.clone());
            }
            if c.scope() == Scope::Api {
                let mut r = if executed.contains(&(id, None)) {
                    CheckRun::ran(id)
                } else if let Some(why) = c.not_applicable(inv) {
                    CheckRun::skipped(id, why)
                } else {
                    CheckRun::skipped(id, STOPPED)
                };
                r.api_wide = true;
                return r;
            }
            let mut r = CheckRun::ran(id);
            for e in plan.entries.iter().filter(|e| e.check == id) {
                let Some(op) = inv.operations.get(e.operation) else {
                    continue;
                };
                if executed.contains(&(id, Some(e.operation))) {
                    r.operations.push(op.key());
                } else {
                    r.skipped_on.push(SkippedOn {
                        operation: op.key(),
                        reason: STOPPED.into(),
                    });
                }
            }
            if r.operations.is_empty() {
                r.ran = false;
                r.reason = Some(if r.skipped_on.is_empty() {
                    why_not_planned(*c, inv, cfg)
                } else {
                    STOPPED.to_string()
                });
            }
            r
        })
        .collect()
}

/// Why a check the mode allows planned nothing: the same plan with more signed-in identities
/// tells a check that needs one (or two) from one that applies to no operation of this API.
/// The object ledger's refusals, each under the check that wanted the request: what that check
/// could not test in this mode. The engine's own refused requests (no check) are counted in
/// the `scan.untested` diagnostic only.
pub fn add_refusals(records: &mut [CheckRun], refused: &[crate::ledger::Untested]) {
    for u in refused {
        let Some(r) = u
            .check
            .and_then(|id| records.iter_mut().find(|r| r.check == id))
        else {
            continue;
        };
        let reason = format!("refused by the object ledger: {}", u.reason);
        if !r
            .skipped_on
            .iter()
            .any(|s| s.operation == u.operation && s.reason == reason)
        {
            r.skipped_on.push(SkippedOn {
                operation: u.operation.clone(),
                reason,
            });
        }
    }
}

fn why_not_planned(c: &dyn Check, inv: &Inventory, cfg: &ScanConfig) -> String {
    let have = cfg.identities.len();
    let plans_with = |identities: usize| {
        let ctx = PlanCtx {
            mode: cfg.mode,
            identities,
        };
        inv.operations
            .iter()
            .any(|op| c.plan(op, ctx).iter().any(|p| cfg.method_allowed(p.method)))
    };
    for n in (have + 1)..=2 {
        if plans_with(n) {
            return match n {
                1 => "needs a signed-in identity".to_string(),
                _ => format!("needs a second signed-in identity ({have} signed in)"),
            };
        }
    }
    "no applicable operation".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_model::{Method, Mode, Operation, SpecVersion};

    fn inventory() -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = vec![
            Operation::new(Method::Get, "/items"),
            Operation::new(Method::Get, "/items/{id}"),
            Operation::new(Method::Post, "/items"),
        ];
        inv
    }

    #[test]
    fn a_ledger_refusal_is_listed_once_under_the_check_that_wanted_it() {
        use crate::ledger::Untested;
        let mut records = vec![
            CheckRun::ran(CheckId::AuthzBolaWrite),
            CheckRun::ran(CheckId::InjectionSql),
        ];
        let refusal = Untested {
            check: Some(CheckId::InjectionSql),
            operation: "PATCH /items/{id}".into(),
            reason: "`id` = `2` names an object this scan did not create".into(),
        };
        let engine_own = Untested {
            check: None,
            ..refusal.clone()
        };
        add_refusals(&mut records, &[refusal.clone(), refusal, engine_own]);
        assert!(records[0].skipped_on.is_empty());
        assert_eq!(records[1].skipped_on.len(), 1);
        assert_eq!(records[1].skipped_on[0].operation, "PATCH /items/{id}");
        assert!(records[1].skipped_on[0]
            .reason
            .starts_with("refused by the object ledger: `id` = `2`"));
    }

    #[test]
    fn every_check_has_one_record_and_a_reason_when_it_did_not_run() {
        let inv = inventory();
        let cfg = ScanConfig::new(
            url::Url::parse("http://127.0.0.1:9/").unwrap(),
            middlebrick_http::TransportConfig::default(),
        );
        assert_eq!(cfg.mode, Mode::Safe);
        let the_plan = crate::plan::plan(&inv, &cfg);
        let (_, skipped) = crate::plan::enabled_checks(&cfg);
        let executed: Executed = the_plan
            .entries
            .iter()
            .map(|e| (e.check, Some(e.operation)))
            .chain(the_plan.api_checks.iter().map(|c| (*c, None)))
            .collect();
        let recs = records(&inv, &cfg, &the_plan, &skipped, &executed);
        assert_eq!(recs.len(), CHECKS.len());
        for r in &recs {
            assert_eq!(r.ran, r.reason.is_none(), "{r:?}");
            assert_eq!(r.ran, !r.operations.is_empty() || r.api_wide, "{r:?}");
        }
        // Safe mode leaves out state-changing checks, and says so.
        assert!(recs
            .iter()
            .any(|r| r.reason.as_deref() == Some("needs a mode above safe")));
        // Nothing executed: every planned run is "stopped", none counts as run.
        let none = records(&inv, &cfg, &the_plan, &skipped, &Executed::new());
        assert!(none.iter().all(|r| !r.ran));
        assert!(none.iter().any(|r| r.reason.as_deref() == Some(STOPPED)));
        // An API-wide check whose surface is absent says so rather than "stopped".
        let graphql = none
            .iter()
            .find(|r| r.check == CheckId::GraphqlIntrospection)
            .unwrap();
        assert_eq!(
            graphql.reason.as_deref(),
            Some("no GraphQL endpoint was found")
        );
    }
}
