//! Exit codes, documented in `docs/cli.md` and the README. A failed scan never exits 0.

/// The scan completed and no gate failed.
pub const OK: i32 = 0;
/// The scan completed and a gate failed (`--fail-on`): findings at or above the threshold.
pub const GATE_FAILED: i32 = 1;
/// The command line or the configuration file is wrong.
pub const USAGE: i32 = 2;
/// The scan could not run: target unreachable, spec unusable, no operations, HTTP client setup.
pub const SCAN_FAILED: i32 = 3;
/// The scan ran but stopped early (request budget, maximum duration); the report is partial.
pub const INCOMPLETE: i32 = 4;
/// The scan ran but did not test what it was set up to: a configured identity could not sign
/// in (`--allow-failed-sign-in` accepts it), or most operations it sent requests to never
/// answered for real (`--allow-unreached`). The reports are written and say so.
pub const NOT_TESTED: i32 = 5;
/// Interrupted (Ctrl-C); the findings found so far were written.
pub const INTERRUPTED: i32 = 130;
