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

#[cfg(test)]
mod tests {
    use super::*;

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
