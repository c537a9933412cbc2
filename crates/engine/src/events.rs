//! Progress events, so each front end can show progress its own way (a bar on a terminal,
//! MCP progress notifications, nothing in CI logs).

use middlebrick_model::{Diagnostic, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Discovery,
    SignIn,
    WarmUp,
    Checks,
    Finish,
}

#[derive(Debug, Clone)]
pub enum Event {
    Phase(Phase),
    /// The operation inventory is known.
    Operations {
        count: usize,
        source: String,
    },
    /// Work units of the checks phase: `done` of `total`.
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
}
