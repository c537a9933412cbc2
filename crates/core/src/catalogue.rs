//! The check catalogue as the front ends need it: the rules every report renderer takes
//! (SARIF `rules`, the HTML glossary) and a digest that tells which scans ran the same checks.

use middlebrick_checks::CHECKS;
use middlebrick_report::RuleInfo;
use middlebrick_store::sha256_hex;
use std::fmt::Write;

/// The catalogue as the report renderers need it.
pub fn rules() -> Vec<RuleInfo> {
    CHECKS
        .iter()
        .map(|c| {
            let m = c.meta();
            RuleInfo {
                id: m.id,
                title: m.title.to_string(),
                severity: m.severity,
                cwe: m.cwe.to_vec(),
                owasp: m.owasp.to_vec(),
                description: m.description.to_string(),
                remediation: m.remediation.render(&[]),
            }
        })
        .collect()
}

/// A digest of the catalogue: the number of checks and a hash of their ids and metadata, so a
/// history reader can tell which scans ran the same checks.
pub fn version() -> String {
    let mut text = String::new();
    for c in CHECKS {
        let m = c.meta();
        let _ = writeln!(
            text,
            "{} {:?} {:?} {:?} {}",
            m.id, m.severity, m.kind, m.cwe, m.title
        );
    }
    format!("{}-{}", CHECKS.len(), &sha256_hex(text.as_bytes())[..12])
}

/// A check's kind as the catalogue prints it (`passive`, `safe-active`, `state-changing`).
pub fn kind_name(kind: middlebrick_model::CheckKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_check_has_one_rule_and_the_version_counts_them() {
        let rules = super::rules();
        assert_eq!(rules.len(), middlebrick_checks::CHECKS.len());
        let mut ids: Vec<_> = rules.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), rules.len());
        assert!(super::version().starts_with(&format!("{}-", rules.len())));
        assert!(rules.iter().all(|r| !r.remediation.is_empty()));
    }
}
