//! A scan against the previous scan of its target, by finding fingerprint, with the same
//! rule as `middlebrick diff`: a finding absent from the newer report is `fixed` only when the
//! newer scan tested it again (`Report::not_retested`), otherwise `not_retested` with why.
//! (The CLI keeps its own copy until the shared front-end layer owns one.)

use middlebrick_model::{Finding, Report};
use serde_json::{json, Value};
use std::collections::HashSet;

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
    let old_ids: HashSet<&str> = old.findings.iter().map(|f| f.id.as_str()).collect();
    let new_ids: HashSet<&str> = new.findings.iter().map(|f| f.id.as_str()).collect();
    let mut fixed = Vec::new();
    let mut not_retested = Vec::new();
    for f in old
        .findings
        .iter()
        .filter(|f| !new_ids.contains(f.id.as_str()))
    {
        let op = f.method.is_some().then(|| f.location());
        match new.not_retested(f.check, op.as_deref()) {
            None => fixed.push(brief(f)),
            Some(why) => {
                let mut b = brief(f);
                b["why"] = json!(why);
                not_retested.push(b);
            }
        }
    }
    json!({
        "new": new.findings.iter().filter(|f| !old_ids.contains(f.id.as_str())).map(brief).collect::<Vec<_>>(),
        "fixed": fixed,
        "not_retested": not_retested,
        "unchanged": new.findings.iter().filter(|f| old_ids.contains(f.id.as_str())).map(brief).collect::<Vec<_>>(),
        "score": {"previous": old.score, "current": new.score, "drift": i16::from(new.score) - i16::from(old.score)},
        "grade": {"previous": old.grade.as_str(), "current": new.grade.as_str()},
    })
}
