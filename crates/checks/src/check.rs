//! The `Check` trait and what it returns.

use crate::probe::Probe;
use async_trait::async_trait;
use middlebrick_model::{
    fingerprint, CheckId, CheckKind, Confidence, Diagnostic, Evidence, Finding, Inventory, Method,
    Mode, Operation, Owasp, Remediation, Severity,
};

/// What a check is, independent of any scan: the catalogue entry.
#[derive(Debug)]
pub struct CheckMeta {
    pub id: CheckId,
    pub title: &'static str,
    /// What the check looks for and what evidence it needs before it reports.
    pub description: &'static str,
    pub cwe: &'static [u32],
    pub owasp: &'static [Owasp],
    /// The default severity; a finding may be raised or lowered by what was observed.
    pub severity: Severity,
    pub kind: CheckKind,
    /// A generic part and variants per technology; findings carry it rendered for the stack
    /// the scan detected (every variant while the stack is unknown).
    pub remediation: Remediation,
}

impl CheckMeta {
    /// A finding of this check with the catalogue's CWE, OWASP, title and remediation.
    #[allow(clippy::too_many_arguments)]
    pub fn finding(
        &'static self,
        op: Option<&Operation>,
        discriminator: &str,
        severity: Severity,
        confidence: Confidence,
        description: String,
        evidence: Evidence,
    ) -> Finding {
        let method = op.map(|o| o.method);
        let path = op.map(|o| o.path.clone());
        let graphql_operation = op.and_then(Operation::graphql_label);
        // Every GraphQL operation of an endpoint shares its method and path: the label tells
        // them apart in the fingerprint (REST fingerprints are unchanged).
        let at = match (&path, &graphql_operation) {
            (Some(p), Some(g)) => Some(format!("{p} {g}")),
            _ => path.clone(),
        };
        Finding {
            id: fingerprint(self.id, method, at.as_deref(), discriminator),
            check: self.id,
            title: self.title.to_string(),
            severity,
            confidence,
            cwe: self.cwe.to_vec(),
            owasp: self.owasp.to_vec(),
            method,
            path,
            graphql_operation,
            parameter: (!discriminator.is_empty()).then(|| discriminator.to_string()),
            description,
            evidence,
            remediation: self.remediation.render(&[]),
        }
    }
}

/// Whether a check runs once per operation or once per scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Operation,
    /// Runs once, after the per-operation checks, over what the scan observed.
    Api,
}

/// When a check runs. Failed sign-ins from other checks' malformed input can trip a limiter keyed
/// on the scanner's address, so checks that need a successful sign-in through an operation run
/// before anything else touches it, and checks that burst failed sign-ins run after everything.
/// A check that judges by answer times and grows its requests up to a time ceiling runs first
/// too: the main round's malformed input can leave the target slower for the rest of the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunOrder {
    /// Before the other checks (per-operation ones one after another, then API-wide ones).
    First,
    Normal,
    /// After every other check, API-wide ones included, one after another.
    Last,
}

/// One request a check intends to send, for `--dry-run` and the mode gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub method: Method,
    /// The identity it is sent as (`anonymous`, `*` for each signed-in identity).
    pub identity: &'static str,
    /// What it is for, in a few words.
    pub purpose: &'static str,
}

/// What the planner knows before anything is sent.
#[derive(Debug, Clone, Copy)]
pub struct PlanCtx {
    pub mode: Mode,
    /// How many identities besides anonymous are configured.
    pub identities: usize,
}

pub struct RunCtx<'a> {
    pub probe: &'a dyn Probe,
    pub inventory: &'a Inventory,
    /// The operation under test; `None` for API-wide checks.
    pub op: Option<&'a Operation>,
}

impl std::fmt::Debug for RunCtx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunCtx")
            .field("op", &self.op.map(Operation::key))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Outcome {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn finding(f: Finding) -> Self {
        Outcome {
            findings: vec![f],
            diagnostics: Vec::new(),
        }
    }
}

#[async_trait]
pub trait Check: Send + Sync {
    fn meta(&self) -> &'static CheckMeta;

    fn scope(&self) -> Scope {
        Scope::Operation
    }

    /// When the engine runs this check relative to the others: see [`RunOrder`].
    fn order(&self) -> RunOrder {
        RunOrder::Normal
    }

    /// Why an API-wide check has nothing to test on this API (the surface it tests is absent),
    /// or `None` when it applies. The engine then neither runs it nor counts it as run, and
    /// the report's coverage gives this reason.
    fn not_applicable(&self, _inventory: &middlebrick_model::Inventory) -> Option<&'static str> {
        None
    }

    /// The requests this check would send for `op`; empty when it does not apply. The engine
    /// runs a check on an operation only when this is non-empty and the mode allows its kind.
    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned>;

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome;
}
