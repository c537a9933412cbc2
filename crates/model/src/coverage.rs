//! What a scan really tested, beside what it found: which checks ran on which operations and
//! why the others did not, which operations were reached and why the others were not, which
//! identities signed in. A clean report means "nothing found where we looked"; these records
//! say where that was, so a reader (and `diff`, and the gate) never takes a check that did not
//! run for a check that passed.
//!
//! Reasons are free text on purpose: a new source of refusals (the object ledger, say) adds its
//! own reason per check and operation ([`CheckRun::skipped_on`]) without a schema change.

use crate::check::CheckId;
use serde::{Deserialize, Serialize};

/// One check of the catalogue in one scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRun {
    pub check: CheckId,
    /// True when the check ran at least once (on an operation, or API-wide).
    pub ran: bool,
    /// Why the check did not run at all (`not selected`, `needs a mode above safe`, `no
    /// applicable operation`, `needs a second signed-in identity`, …); none when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// True for a check that runs once over the whole API rather than per operation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub api_wide: bool,
    /// The operations (`METHOD /path`) the check ran on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
    /// Operations the check was planned on but did not run on, each with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_on: Vec<SkippedOn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedOn {
    pub operation: String,
    pub reason: String,
}

impl CheckRun {
    pub fn ran(check: CheckId) -> Self {
        CheckRun {
            check,
            ran: true,
            reason: None,
            api_wide: false,
            operations: Vec::new(),
            skipped_on: Vec::new(),
        }
    }

    pub fn skipped(check: CheckId, reason: impl Into<String>) -> Self {
        CheckRun {
            ran: false,
            reason: Some(reason.into()),
            ..CheckRun::ran(check)
        }
    }

    /// True when this check ran on `operation` (`METHOD /path`); an API-wide check that ran
    /// covers every location.
    pub fn covers(&self, operation: Option<&str>) -> bool {
        self.ran
            && (self.api_wide
                || operation.is_some_and(|op| self.operations.iter().any(|o| o == op)))
    }
}

/// A configured (or self-registered) identity and whether it signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRun {
    pub name: String,
    pub signed_in: bool,
    /// Why it did not sign in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why an operation was not reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnreachedReason {
    /// Nothing was sent to it: no check that the mode allows sends its method.
    NotSent,
    /// Requests got no HTTP answer (connection errors, timeouts).
    NoAnswer,
    /// Every answer was 404, 405 or the API's own not-found answer.
    NotFound,
}

impl UnreachedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            UnreachedReason::NotSent => "not sent: no check that ran sends to it in this mode",
            UnreachedReason::NoAnswer => "no HTTP answer",
            UnreachedReason::NotFound => "answered only 404, 405 or the not-found answer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotReached {
    pub operation: String,
    pub reason: UnreachedReason,
}

/// Counts a reader needs first, computed from the records above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub checks: usize,
    pub checks_ran: usize,
    /// Operations that were sent something and never answered for real: the ones that say
    /// the scan did not happen (an operation the mode never sends is not counted here).
    pub sent_unreached: usize,
    pub sent: usize,
}

pub fn tally(
    checks: &[CheckRun],
    operations: usize,
    not_reached: &[NotReached],
    unreached: usize,
) -> Tally {
    let not_sent = not_reached
        .iter()
        .filter(|n| n.reason == UnreachedReason::NotSent)
        .count();
    // Reports older than 1.2 carry `unreached` without reasons: every one counts as sent.
    let sent_unreached = if not_reached.is_empty() {
        unreached
    } else {
        not_reached.len() - not_sent
    };
    Tally {
        checks: checks.len(),
        checks_ran: checks.iter().filter(|c| c.ran).count(),
        sent_unreached,
        sent: operations.saturating_sub(not_sent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_covers_the_operations_it_ran_on() {
        let mut c = CheckRun::ran(CheckId::AuthzBola);
        c.operations.push("GET /a/{id}".into());
        assert!(c.covers(Some("GET /a/{id}")));
        assert!(!c.covers(Some("GET /b")));
        assert!(!c.covers(None));
        c.api_wide = true;
        assert!(c.covers(None) && c.covers(Some("GET /b")));
        let s = CheckRun::skipped(CheckId::AuthzBola, "not selected");
        assert!(!s.covers(Some("GET /a/{id}")));
    }

    #[test]
    fn tally_leaves_out_operations_never_sent() {
        let checks = [
            CheckRun::ran(CheckId::AuthzBola),
            CheckRun::skipped(CheckId::AuthzBolaWrite, "needs a mode above safe"),
        ];
        let nr = [
            NotReached {
                operation: "POST /a".into(),
                reason: UnreachedReason::NotSent,
            },
            NotReached {
                operation: "GET /b".into(),
                reason: UnreachedReason::NotFound,
            },
        ];
        let t = tally(&checks, 4, &nr, 2);
        assert_eq!((t.checks, t.checks_ran), (2, 1));
        assert_eq!((t.sent_unreached, t.sent), (1, 3));
        // A 1.1 report: no reasons, every unreached operation counts.
        assert_eq!(tally(&checks, 4, &[], 2).sent_unreached, 2);
    }
}
