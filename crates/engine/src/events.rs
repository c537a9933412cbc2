//! Progress events, so each front end can show progress its own way (a bar on a terminal,
//! MCP progress notifications, a service's job log, nothing in CI logs).
//!
//! A scan announces each [`Phase`] as it enters it, in the order of [`Phase::ALL`]; a phase
//! with nothing to do is still announced, so a front end can count `n of Phase::ALL.len()`.
//! Events are sent from the scan's own task: a sink must return quickly (forward to a channel
//! when the work is slow).

use middlebrick_checks::RunOrder;
use middlebrick_model::{Diagnostic, Severity};

/// The named phases of a scan, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Where the API lives and what it offers: the spec (given, found or crawled), the base
    /// path checked against a not-found baseline, GraphQL endpoints.
    Discovery,
    /// The configured identities sign in (or, in active mode with none, two accounts are
    /// registered); GraphQL schemas refused to anonymous callers are read as each identity.
    SignIn,
    /// Who each identity is: its own id, username and e-mail (`engine::selfknow`).
    SelfKnowledge,
    /// Every read as each identity, harvesting object ids; in active mode, one object per
    /// producer for the write probes to target.
    WarmUp,
    /// One round of checks, set by `Check::order`: `First`, `Normal`, then `Last`.
    Checks(RunOrder),
    /// Dedup, redaction, scoring, coverage: the report is assembled.
    Scoring,
}

impl Phase {
    /// Every phase, in the order a scan enters them.
    pub const ALL: [Phase; 8] = [
        Phase::Discovery,
        Phase::SignIn,
        Phase::SelfKnowledge,
        Phase::WarmUp,
        Phase::Checks(RunOrder::First),
        Phase::Checks(RunOrder::Normal),
        Phase::Checks(RunOrder::Last),
        Phase::Scoring,
    ];

    /// 1-based position in [`Phase::ALL`].
    pub fn number(self) -> usize {
        Phase::ALL.iter().position(|p| *p == self).unwrap_or(0) + 1
    }

    /// A short name for progress lines.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Discovery => "discovering operations",
            Phase::SignIn => "signing in",
            Phase::SelfKnowledge => "learning who each identity is",
            Phase::WarmUp => "warming up (reading every GET)",
            Phase::Checks(RunOrder::First) => "running checks (first round: sign-in, timing)",
            Phase::Checks(RunOrder::Normal) => "running checks",
            Phase::Checks(RunOrder::Last) => "running checks (lock-out round)",
            Phase::Scoring => "scoring",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    /// The scan entered this phase.
    Phase(Phase),
    /// The operation inventory is known.
    Operations {
        count: usize,
        source: String,
    },
    /// Per-operation work units of the check rounds: `done` of `total`.
    Progress {
        done: usize,
        total: usize,
    },
    Finding {
        severity: Severity,
        title: String,
        location: String,
    },
    Diagnostic(Diagnostic),
    /// The scan was cancelled through its [`crate::ScanHandle`]: the transport is stopped and
    /// the report being assembled is marked incomplete (`coverage.stopped = "interrupted"`).
    Cancelled,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_numbered_in_order_and_named_once() {
        let numbers: Vec<usize> = Phase::ALL.iter().map(|p| p.number()).collect();
        assert_eq!(numbers, (1..=Phase::ALL.len()).collect::<Vec<_>>());
        let mut labels: Vec<&str> = Phase::ALL.iter().map(|p| p.label()).collect();
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), Phase::ALL.len());
    }
}
