//! The 0–100 score and A–F grade. Published in `docs/scoring.md`; `SCORING_DOC` keeps the
//! formula's text next to the code so a test can hold the two together.

use middlebrick_model::{CheckId, Confidence, Finding, Grade, Severity};
use std::collections::HashMap;

pub const SCORING_DOC: &str = "Start at 100. Each finding subtracts its severity's weight \
(critical 40, high 20, medium 8, low 3, info 0) times its confidence factor (confirmed 1.0, \
firm 0.8, tentative 0.4). Repeated findings of one check count less each time: the n-th \
finding of a check (n from 1) subtracts its weight divided by n. The score never goes below 0. \
A critical finding caps the score at 59 (grade F) and a high finding at 79 (at best C). Grades: \
A 90-100, B 80-89, C 70-79, D 60-69, F below 60.";

fn weight(s: Severity) -> f64 {
    match s {
        Severity::Critical => 40.0,
        Severity::High => 20.0,
        Severity::Medium => 8.0,
        Severity::Low => 3.0,
        Severity::Info => 0.0,
    }
}

fn factor(c: Confidence) -> f64 {
    match c {
        Confidence::Confirmed => 1.0,
        Confidence::Firm => 0.8,
        Confidence::Tentative => 0.4,
    }
}

pub fn score(findings: &[Finding]) -> (u8, Grade) {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.confidence.cmp(&a.confidence))
    });
    let mut seen: HashMap<CheckId, u32> = HashMap::new();
    let mut penalty = 0.0;
    for f in sorted {
        let n = seen.entry(f.check).or_insert(0);
        *n += 1;
        penalty += weight(f.severity) * factor(f.confidence) / f64::from(*n);
    }
    let mut score = (100.0 - penalty).round().clamp(0.0, 100.0) as u8;
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::Critical) => score = score.min(59),
        Some(Severity::High) => score = score.min(79),
        _ => {}
    }
    (score, Grade::from_score(score))
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_model::{fingerprint, Evidence};

    fn f(check: CheckId, s: Severity, c: Confidence) -> Finding {
        Finding {
            id: fingerprint(check, None, None, ""),
            check,
            title: String::new(),
            severity: s,
            confidence: c,
            cwe: vec![],
            owasp: vec![],
            method: None,
            path: None,
            graphql_operation: None,
            parameter: None,
            description: String::new(),
            evidence: Evidence::default(),
            remediation: String::new(),
        }
    }

    #[test]
    fn clean_scan_is_a_perfect_a() {
        assert_eq!(score(&[]), (100, Grade::A));
    }

    #[test]
    fn weights_confidence_and_repetition() {
        let low = f(
            CheckId::TransportSecurityHeaders,
            Severity::Low,
            Confidence::Confirmed,
        );
        assert_eq!(score(std::slice::from_ref(&low)), (97, Grade::A));
        // 3 + 3/2 = 4.5 -> 95.5 rounds to 96
        assert_eq!(score(&[low.clone(), low]).0, 96);
        let medium = f(
            CheckId::InfoVerboseError,
            Severity::Medium,
            Confidence::Firm,
        );
        assert_eq!(score(&[medium]).0, 94);
    }

    #[test]
    fn critical_and_high_cap_the_grade() {
        let crit = f(
            CheckId::InfoVerboseError,
            Severity::Critical,
            Confidence::Tentative,
        );
        assert_eq!(score(&[crit]), (59, Grade::F));
        let high = f(
            CheckId::AuthMissingAuthentication,
            Severity::High,
            Confidence::Tentative,
        );
        assert_eq!(score(&[high]), (79, Grade::C));
    }
}
