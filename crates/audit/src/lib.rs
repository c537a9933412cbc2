//! Static rules over an OpenAPI description: what the document itself says is risky, before
//! any request is sent. The scan's checks prove flaws with exchanges; these rules only read
//! the inventory, so their findings carry no evidence and say "the description declares …".
//!
//! Each rule is one function in `rules.rs` with its metadata in [`RULES`]. Ids are
//! `audit.*` variants of the model's `CheckId` (kept apart from the scan catalogue in
//! `CheckId::AUDIT`), so reports, SARIF rule ids, baselines and `diff` treat them like any check.

mod rules;
mod walk;

use middlebrick_model::{CheckId, Finding, Inventory, Owasp, Severity};

/// One audit rule's metadata: what the SARIF rule, the Markdown family table and `--help` show.
#[derive(Debug, Clone, Copy)]
pub struct AuditRule {
    pub id: CheckId,
    pub title: &'static str,
    pub severity: Severity,
    pub cwe: &'static [u32],
    pub owasp: &'static [Owasp],
    pub description: &'static str,
    pub remediation: &'static str,
}

pub use middlebrick_spec::{load_path, SpecError};
pub use rules::RULES;

/// Every finding the rules raise on `inventory`, in rule order then operation order.
pub fn audit(inventory: &Inventory) -> Vec<Finding> {
    let mut out = Vec::new();
    rules::no_security(inventory, &mut out);
    rules::unused_scheme(inventory, &mut out);
    rules::credential_in_query(inventory, &mut out);
    rules::plain_http_server(inventory, &mut out);
    rules::unbounded(inventory, &mut out);
    rules::no_rate_limit_response(inventory, &mut out);
    rules::several_versions(inventory, &mut out);
    out
}

/// The metadata of one rule; every `CheckId::AUDIT` id has one (a test holds this).
pub fn rule(id: CheckId) -> Option<&'static AuditRule> {
    RULES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests;
