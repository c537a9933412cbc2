//! The plan: which checks run on which operation with which methods, decided before anything
//! is sent. `--dry-run` prints it; the run follows it.

use crate::config::ScanConfig;
use middlebrick_checks::{Check, PlanCtx, Planned, Scope, CHECKS};
use middlebrick_model::{CheckId, Inventory, Method, Operation};
use std::collections::BTreeSet;
use std::fmt::Write as _;

#[derive(Debug, Clone)]
pub struct PlanEntry {
    pub operation: usize,
    pub check: CheckId,
    pub requests: Vec<Planned>,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Operations whose valid request is sent during warm-up (GET operations, GraphQL queries).
    pub warm_up: Vec<usize>,
    pub entries: Vec<PlanEntry>,
    /// API-wide checks that run once at the end.
    pub api_checks: Vec<CheckId>,
    /// Checks left out, with why.
    pub skipped: Vec<(CheckId, String)>,
    /// Reads named for a state change (`model::danger`), left out in this mode.
    pub dangerous: Vec<usize>,
}

pub(crate) fn enabled_checks(
    cfg: &ScanConfig,
) -> (Vec<&'static dyn Check>, Vec<(CheckId, String)>) {
    let mut on = Vec::new();
    let mut off = Vec::new();
    for c in CHECKS.iter().copied() {
        let m = c.meta();
        if !cfg.check_enabled(m.id) {
            off.push((m.id, "not selected".to_string()));
        } else if !cfg.mode.allows(m.kind) {
            off.push((m.id, format!("needs a mode above {}", cfg.mode)));
        } else {
            on.push(c);
        }
    }
    (on, off)
}

pub fn plan(inv: &Inventory, cfg: &ScanConfig) -> Plan {
    let (checks, skipped) = enabled_checks(cfg);
    let ctx = PlanCtx {
        mode: cfg.mode,
        identities: cfg.identities.len(),
    };
    let mut plan = Plan {
        skipped,
        ..Plan::default()
    };
    for (i, op) in inv.operations.iter().enumerate() {
        let dangerous = middlebrick_model::danger::is_dangerous_read(op);
        if op.is_read() && !dangerous && cfg.operation_allowed(op) {
            plan.warm_up.push(i);
        }
        // A read named for a state change (`GET /admin/reset`) is not sent below active mode;
        // above it, the engine's gate decides request by request (`crate::ledger`).
        if dangerous && cfg.mode < middlebrick_model::Mode::Active {
            plan.dangerous.push(i);
            continue;
        }
        // Signing out an identity would end its session for the rest of the scan (and a careful
        // API revokes the token): only the check that tests sign-out, which opens sessions of
        // its own for it, is planned there.
        let sign_out = middlebrick_checks::authflow::is_sign_out(op);
        for c in &checks {
            // Only a check that changes state itself sends a read named for a state change.
            let wrong_kind =
                dangerous && c.meta().kind != middlebrick_model::CheckKind::StateChanging;
            if c.scope() == Scope::Api
                || (sign_out && c.meta().id != CheckId::AuthLogoutIneffective)
                || wrong_kind
            {
                continue;
            }
            let requests: Vec<Planned> = c
                .plan(op, ctx)
                .into_iter()
                .filter(|p| {
                    cfg.method_allowed(p.method)
                        || (p.method == op.method && cfg.operation_allowed(op))
                })
                .collect();
            if !requests.is_empty() {
                plan.entries.push(PlanEntry {
                    operation: i,
                    check: c.meta().id,
                    requests,
                });
            }
        }
    }
    plan.api_checks = checks
        .iter()
        .filter(|c| c.scope() == Scope::Api)
        .map(|c| c.meta().id)
        .collect();
    plan
}

/// Reads the warm-up sends to a GET operation per identity: the baseline, and one without
/// the optional query parameters when it has any (`EngineProbe::unfiltered_read`).
pub fn warm_up_reads(op: &Operation) -> usize {
    1 + usize::from(
        op.params_in(middlebrick_model::ParamLocation::Query)
            .any(|p| !p.required),
    )
}

impl Plan {
    /// Every method the plan sends to an operation (warm-up included).
    pub fn methods_for(&self, op_index: usize, op: &Operation) -> BTreeSet<Method> {
        let entries: Vec<&PlanEntry> = self
            .entries
            .iter()
            .filter(|e| e.operation == op_index)
            .collect();
        methods_of(&entries, self.warm_up.contains(&op_index), op)
    }

    /// The entries of each operation, and whether each is warmed up or dangerous, in one pass:
    /// what rendering needs per operation without searching the whole plan for each.
    fn by_operation(&self, n: usize) -> (Vec<Vec<&PlanEntry>>, Vec<bool>, Vec<bool>) {
        let mut entries = vec![Vec::new(); n];
        for e in &self.entries {
            if let Some(list) = entries.get_mut(e.operation) {
                list.push(e);
            }
        }
        let mark = |indices: &[usize]| {
            let mut v = vec![false; n];
            for &i in indices {
                if let Some(b) = v.get_mut(i) {
                    *b = true;
                }
            }
            v
        };
        (entries, mark(&self.warm_up), mark(&self.dangerous))
    }

    /// The plan as text: one block per operation with the methods it will receive and the
    /// requests of each check; then API-wide and skipped checks.
    pub fn render(&self, inv: &Inventory, identities: &[String]) -> String {
        let mut out = String::new();
        let total: usize = self.entries.iter().map(|e| e.requests.len()).sum();
        let _ = writeln!(
            out,
            "Plan: {} operations, {} check runs, about {} requests (+{} warm-up), identities: anonymous{}",
            inv.operations.len(),
            self.entries.len(),
            total,
            self.warm_up
                .iter()
                .filter_map(|&i| inv.operations.get(i))
                .map(warm_up_reads)
                .sum::<usize>()
                * (1 + identities.len()),
            identities.iter().map(|i| format!(", {i}")).collect::<String>()
        );
        let (entries, warm_up, dangerous) = self.by_operation(inv.operations.len());
        for (i, op) in inv.operations.iter().enumerate() {
            let methods = methods_of(&entries[i], warm_up[i], op);
            let list: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
            let _ = writeln!(
                out,
                "\n{}  ->  {}",
                op.key(),
                if dangerous[i] {
                    "nothing (named for a state change: sent in active mode only to objects \
                     the scan created, in disposable mode once)"
                        .to_string()
                } else if list.is_empty() {
                    "nothing (no check applies in this mode)".to_string()
                } else {
                    list.join(", ")
                }
            );
            if warm_up[i] {
                let _ = writeln!(
                    out,
                    "  warm-up                         {} as each identity{}",
                    op.method,
                    if warm_up_reads(op) > 1 {
                        ", and again without its optional query parameters"
                    } else {
                        ""
                    }
                );
            }
            for e in &entries[i] {
                for r in &e.requests {
                    let _ = writeln!(
                        out,
                        "  {:<30}  {} as {} ({})",
                        e.check.as_str(),
                        r.method,
                        r.identity,
                        r.purpose
                    );
                }
            }
        }
        if !self.api_checks.is_empty() {
            let ids: Vec<&str> = self.api_checks.iter().map(|c| c.as_str()).collect();
            let _ = writeln!(
                out,
                "\nAPI-wide, once per scan (over the answers received, plus at most a few requests of their own): {}",
                ids.join(", ")
            );
        }
        for (id, why) in &self.skipped {
            let _ = writeln!(out, "skipped: {id} ({why})");
        }
        out
    }
}

/// The methods an operation receives: its entries' requests, and its own method when warmed up.
fn methods_of(entries: &[&PlanEntry], warm_up: bool, op: &Operation) -> BTreeSet<Method> {
    let mut methods: BTreeSet<Method> = entries
        .iter()
        .flat_map(|e| e.requests.iter().map(|r| r.method))
        .collect();
    if warm_up {
        methods.insert(op.method);
    }
    methods
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_model::{CheckKind, Mode, SpecVersion};

    fn inventory() -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations.push(Operation::new(Method::Get, "/notes"));
        inv.operations
            .push(Operation::new(Method::Get, "/admin/reset-db"));
        let mut cancel = Operation::new(Method::Get, "/orders/{order_id}/cancel");
        cancel.summary = Some("Cancels the order (e-mail link)".into());
        inv.operations.push(cancel);
        inv
    }

    fn config(mode: Mode) -> ScanConfig {
        let mut cfg = ScanConfig::new(
            url::Url::parse("http://127.0.0.1:1/").unwrap(),
            middlebrick_http::TransportConfig::default(),
        );
        cfg.mode = mode;
        cfg
    }

    #[test]
    fn reads_named_for_a_state_change_are_no_warm_up_and_nothing_below_active() {
        let inv = inventory();
        let safe = plan(&inv, &config(Mode::Safe));
        assert_eq!(safe.warm_up, vec![0]);
        assert_eq!(safe.dangerous, vec![1, 2]);
        assert!(safe.entries.iter().all(|e| e.operation == 0));
        assert!(safe.render(&inv, &[]).contains("named for a state change"));
    }

    /// A GraphQL query is a read though POSTed: warmed up and checked in safe mode, named by
    /// its key in the plan; the mutation itself is not sent below active mode.
    #[test]
    fn graphql_queries_are_reads_and_mutations_wait_for_active_mode() {
        use middlebrick_model::{GraphqlArgument, GraphqlKind, GraphqlOperation};
        let gql = |kind, field: &str| {
            let mut op = Operation::new(Method::Post, "/graphql");
            op.graphql = Some(GraphqlOperation {
                kind,
                field: field.into(),
                arguments: vec![GraphqlArgument {
                    name: "id".into(),
                    type_ref: "ID!".into(),
                }],
                selection: "{ id }".into(),
                returns: "Order".into(),
            });
            op
        };
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations.push(gql(GraphqlKind::Query, "order"));
        inv.operations
            .push(gql(GraphqlKind::Mutation, "cancelOrder"));
        let mut cfg = config(Mode::Safe);
        cfg.identities = ["alice", "bob"]
            .map(|name| crate::config::IdentityConfig {
                name: name.into(),
                headers: vec![],
                cookies: vec![],
                login: None,
                admin: false,
            })
            .to_vec();
        let safe = plan(&inv, &cfg);
        assert_eq!(safe.warm_up, vec![0]);
        let on_query: Vec<CheckId> = safe
            .entries
            .iter()
            .filter(|e| e.operation == 0)
            .map(|e| e.check)
            .collect();
        assert!(on_query.contains(&CheckId::AuthzBola), "{on_query:?}");
        assert!(on_query.contains(&CheckId::AuthMissingAuthentication));
        assert!(safe
            .entries
            .iter()
            .filter(|e| e.operation == 1)
            .all(|e| e.requests.iter().all(|r| r.method != Method::Post)));
        let text = safe.render(&inv, &[]);
        let sent = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix("  ->  "))
                .unwrap_or_else(|| panic!("{key} not in {text}"))
                .to_string()
        };
        assert!(sent("POST /graphql query order").contains("POST"));
        assert!(!sent("POST /graphql mutation cancelOrder").contains("POST"));
        // Passive mode observes: not even a query goes out as a POST.
        cfg.mode = Mode::Passive;
        assert!(!cfg.operation_allowed(&inv.operations[0]));
        let passive = plan(&inv, &cfg);
        assert!(passive.warm_up.is_empty());
        cfg.mode = Mode::Active;
        let active = plan(&inv, &cfg);
        assert!(active
            .entries
            .iter()
            .any(|e| e.operation == 1 && e.requests.iter().any(|r| r.method == Method::Post)));
    }

    #[test]
    fn above_safe_only_state_changing_checks_are_planned_on_them() {
        let inv = inventory();
        let active = plan(&inv, &config(Mode::Active));
        assert_eq!(active.warm_up, vec![0]);
        assert!(active.dangerous.is_empty());
        for e in active.entries.iter().filter(|e| e.operation != 0) {
            let kind = middlebrick_checks::by_id(e.check).unwrap().meta().kind;
            assert_eq!(kind, CheckKind::StateChanging, "{}", e.check);
        }
    }
}
