//! A scan against the previous scan of its target, as JSON for the API: the rule is `core`'s
//! (`middlebrick_core::diff::compare`, the same as `middlebrick diff`): a finding absent from
//! the newer report is `fixed` only when the newer scan tested it again, otherwise
//! `not_retested` with why; `regressed` is a finding whose severity rose.

use middlebrick_model::{Finding, Report};
use serde_json::{json, Value};

fn brief(f: &Finding) -> Value {
    json!({
        "id": f.id,
        "check": f.check,
        "severity": f.severity,
        "title": f.title,
        "location": f.location(),
    })
}

/// Every finding of a first scan is new.
pub fn all(r: &Report) -> Vec<Value> {
    r.findings.iter().map(brief).collect()
}

pub fn compare(old: &Report, new: &Report) -> Value {
    let d = middlebrick_core::diff::compare(old, new);
    let briefs = |v: &[&Finding]| v.iter().map(|f| brief(f)).collect::<Vec<_>>();
    json!({
        "new": briefs(&d.new),
        "fixed": briefs(&d.fixed),
        "regressed": briefs(&d.regressed),
        "not_retested": d.not_retested.iter().map(|(f, why)| {
            let mut b = brief(f);
            b["why"] = json!(why);
            b
        }).collect::<Vec<_>>(),
        "unchanged": briefs(&d.unchanged),
        "warnings": d.warnings,
        "score": {"previous": old.score, "current": new.score, "drift": i16::from(new.score) - i16::from(old.score)},
        "grade": {"previous": old.grade.as_str(), "current": new.grade.as_str()},
    })
}
