//! The CI gate: `--fail-on`, `--min-score` and the baseline, resolved from the command line
//! before any work, and judged against the finished report.

use crate::args::ReportArgs;
use crate::baseline::Baseline;
use anyhow::{anyhow, bail, Result};
use middlebrick_model::{Report, Severity};

#[derive(Debug, Default)]
pub struct Gate {
    pub fail_on: Option<Severity>,
    pub min_score: Option<u8>,
    pub baseline: Option<Baseline>,
}

/// `--min-score`: a number 0-100, or a grade letter meaning the lowest score of its band.
pub fn parse_min_score(s: &str) -> Result<u8> {
    let t = s.trim();
    match t.to_ascii_uppercase().as_str() {
        "A" => return Ok(90),
        "B" => return Ok(80),
        "C" => return Ok(70),
        "D" => return Ok(60),
        "F" => return Ok(0),
        _ => {}
    }
    match t.parse::<u8>() {
        Ok(n) if n <= 100 => Ok(n),
        _ => bail!("--min-score takes a number 0-100 or a grade A-F, not `{s}`"),
    }
}

impl Gate {
    pub fn from_args(args: &ReportArgs) -> Result<Gate> {
        Ok(Gate {
            fail_on: args
                .fail_on
                .as_deref()
                .map(|s| s.parse::<Severity>().map_err(|e| anyhow!(e)))
                .transpose()?,
            min_score: args.min_score.as_deref().map(parse_min_score).transpose()?,
            baseline: args.baseline.as_deref().map(Baseline::read).transpose()?,
        })
    }

    /// Why the gate fails, one line per reason; empty when it passes. The report has had the
    /// baseline applied, so suppressed findings are not in it.
    pub fn failures(&self, report: &Report) -> Vec<String> {
        let mut why = Vec::new();
        if let Some(t) = self.fail_on {
            let n = report.findings.iter().filter(|f| f.severity >= t).count();
            if n > 0 {
                why.push(format!("{n} finding(s) at or above {t} (--fail-on {t})"));
            }
        }
        if let Some(min) = self.min_score {
            if report.score < min {
                why.push(format!(
                    "score {} (grade {}) is below {min} (--min-score)",
                    report.score,
                    report.grade.as_str()
                ));
            }
        }
        why
    }
}

/// What the user accepts of a scan that did not test everything it was set up to.
#[derive(Debug, Default, Clone, Copy)]
pub struct Accept {
    pub failed_sign_in: bool,
    pub unreached: bool,
}

/// Why the scan did not happen as configured, one line per reason, each naming the flag that
/// accepts it; empty when it did (or the user accepted what went wrong).
pub fn not_tested(report: &Report, accept: Accept) -> Vec<String> {
    let c = &report.coverage;
    let mut why = Vec::new();
    if !accept.failed_sign_in {
        for i in c.failed_identities() {
            // The reason is the sign-in diagnostic, which names the identity itself.
            let what = i
                .reason
                .clone()
                .unwrap_or_else(|| format!("identity {} could not sign in", i.name));
            why.push(format!(
                "{what}; the checks that need it did not run (--allow-failed-sign-in accepts this)"
            ));
        }
    }
    if !accept.unreached && c.mostly_unreached() {
        let t = c.tally();
        why.push(format!(
            "{} of the {} operations the scan sent requests to never answered for real \
             (only 404, 405, the not-found answer or errors): is the base path right? \
             (--allow-unreached accepts this)",
            t.sent_unreached, t.sent
        ));
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_model::{
        Coverage, Grade, IdentityRun, Mode, NotReached, SpecVersion, ToolInfo, UnreachedReason,
    };

    fn report(coverage: Coverage) -> Report {
        Report {
            schema_version: "1.2".into(),
            tool: ToolInfo {
                name: "middlebrick".into(),
                version: "0".into(),
            },
            target: "http://t/".into(),
            mode: Mode::Safe,
            started_at: String::new(),
            duration_ms: 0,
            requests_sent: 0,
            score: 100,
            grade: Grade::A,
            coverage,
            identities: vec![],
            findings: vec![],
            diagnostics: vec![],
            incomplete: false,
            stack: None,
        }
    }

    #[test]
    fn a_failed_sign_in_fails_unless_accepted() {
        let mut c = Coverage::new(SpecVersion::OpenApi30, "s", 2);
        c.identities.push(IdentityRun {
            name: "bob".into(),
            signed_in: false,
            reason: Some("401".into()),
        });
        let r = report(c);
        let why = not_tested(&r, Accept::default());
        assert_eq!(why.len(), 1);
        assert!(why[0].starts_with("401; the checks that need it did not run"));
        let accept = Accept {
            failed_sign_in: true,
            ..Accept::default()
        };
        assert!(not_tested(&r, accept).is_empty());
    }

    #[test]
    fn most_operations_unreached_fails_but_operations_never_sent_do_not_count() {
        let nr = |op: &str, reason| NotReached {
            operation: op.into(),
            reason,
        };
        let mut c = Coverage::new(SpecVersion::OpenApi30, "s", 4);
        c.operations_reached = 1;
        c.unreached = vec!["GET /a".into(), "GET /b".into(), "POST /c".into()];
        c.not_reached = vec![
            nr("GET /a", UnreachedReason::NotFound),
            nr("GET /b", UnreachedReason::NoAnswer),
            nr("POST /c", UnreachedReason::NotSent),
        ];
        let r = report(c.clone());
        assert_eq!(not_tested(&r, Accept::default()).len(), 1, "2 of 3 sent");
        let accept = Accept {
            unreached: true,
            ..Accept::default()
        };
        assert!(not_tested(&r, accept).is_empty());
        // Safe mode: the write operations were never sent; the reads answered.
        c.operations_reached = 2;
        c.not_reached = vec![
            nr("POST /c", UnreachedReason::NotSent),
            nr("POST /d", UnreachedReason::NotSent),
        ];
        assert!(not_tested(&report(c), Accept::default()).is_empty());
    }

    #[test]
    fn min_score_takes_numbers_and_grades() {
        assert_eq!(parse_min_score("75").unwrap(), 75);
        assert_eq!(parse_min_score("b").unwrap(), 80);
        assert_eq!(parse_min_score("F").unwrap(), 0);
        assert!(parse_min_score("101").is_err());
        assert!(parse_min_score("E").is_err());
        assert!(parse_min_score("-1").is_err());
    }
}
