//! Alert rules: what a finished (or failed) scan of a target tells its webhooks.
//!
//! The rules never compare reports themselves. Which findings are new, regressed, fixed or not
//! re-tested has one owner, the report diff (`Report::not_retested` decides "fixed"); the
//! service runs it and hands the result here as [`Changes`]. This module only decides which of
//! those changes a webhook asked to hear about, so a rule cannot call a finding fixed that the
//! diff called not re-tested.
//!
//! Events carry summaries ([`FindingBrief`]: check, severity, title, where), never evidence,
//! descriptions or bodies, which can hold what the target answered.

use middlebrick_model::{CheckId, Finding, Grade, Report, Severity};
use serde::{Deserialize, Serialize};

/// Which events a webhook wants, stored as JSON with the webhook. Every field has a default,
/// so `{}` is a useful rule set: new findings of medium or worse, grade drops, failed scans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertRules {
    /// Alert on new (or regressed) findings at or above this severity; `null` turns it off.
    pub new_findings_at_or_above: Option<Severity>,
    /// Alert when the grade is worse than the previous scan's.
    pub grade_drop: bool,
    /// Alert when a scan fails (could not run or stopped with an error).
    pub scan_failed: bool,
    /// Tell about findings the diff calls fixed (informational).
    pub fixed_findings: bool,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules {
            new_findings_at_or_above: Some(Severity::Medium),
            grade_drop: true,
            scan_failed: true,
            fixed_findings: false,
        }
    }
}

/// A finding as alerts and pages show it: enough to find it in the report, nothing the
/// target answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingBrief {
    /// The fingerprint (`Finding::id`), stable across scans.
    pub id: String,
    pub check: CheckId,
    pub severity: Severity,
    pub title: String,
    /// `GET /path` or `(API-wide)`.
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

impl FindingBrief {
    pub fn of(f: &Finding) -> FindingBrief {
        FindingBrief {
            id: f.id.clone(),
            check: f.check,
            severity: f.severity,
            title: f.title.clone(),
            location: f.location(),
            parameter: f.parameter.clone(),
        }
    }
}

/// A scan's score and grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grading {
    pub score: u8,
    pub grade: Grade,
}

impl Grading {
    pub fn of(r: &Report) -> Grading {
        Grading {
            score: r.score,
            grade: r.grade,
        }
    }
}

/// What the report diff found between a target's previous scan and this one. The service
/// fills it from the diff; each list is sorted as the diff sorts (most severe first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    pub new: Vec<FindingBrief>,
    /// In both scans with a higher severity now, or fixed before and back (the diff's rule).
    pub regressed: Vec<FindingBrief>,
    pub fixed: Vec<FindingBrief>,
    /// Absent now, but the new scan did not test them again: with why.
    pub not_retested: Vec<(FindingBrief, String)>,
    pub unchanged: usize,
    /// Why the two scans may not be comparable (different modes, identities, checks).
    pub warnings: Vec<String>,
}

impl Changes {
    /// The report diff's verdicts (`middlebrick_core::diff::compare`) as briefs.
    pub fn from_diff(d: &middlebrick_core::diff::Diff) -> Changes {
        let briefs = |v: &[&Finding]| v.iter().map(|f| FindingBrief::of(f)).collect();
        Changes {
            new: briefs(&d.new),
            regressed: briefs(&d.regressed),
            fixed: briefs(&d.fixed),
            not_retested: d
                .not_retested
                .iter()
                .map(|(f, why)| (FindingBrief::of(f), why.clone()))
                .collect(),
            unchanged: d.unchanged.len(),
            warnings: d.warnings.clone(),
        }
    }

    /// A target's first scan: everything it found is new.
    pub fn first_scan(r: &Report) -> Changes {
        let mut new: Vec<FindingBrief> = r.findings.iter().map(FindingBrief::of).collect();
        new.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.location.cmp(&b.location))
                .then_with(|| a.id.cmp(&b.id))
        });
        Changes {
            new,
            ..Changes::default()
        }
    }
}

/// The scan an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRef {
    pub target_id: String,
    pub target_name: String,
    /// The target's URL; [`crate::webhooks`] drops credentials and the query before sending it.
    pub target_url: String,
    pub scan_id: String,
}

/// How the scan ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Completed {
        /// None for a target's first scan.
        before: Option<Grading>,
        after: Grading,
        changes: Changes,
    },
    Failed {
        /// Why, as the service recorded it (already redacted by the service's redactor).
        error: String,
    },
}

impl Outcome {
    /// A completed scan, graded from its report and the previous one's.
    pub fn completed(previous: Option<&Report>, current: &Report, changes: Changes) -> Outcome {
        Outcome::Completed {
            before: previous.map(Grading::of),
            after: Grading::of(current),
            changes,
        }
    }
}

/// The kinds of event, as the `type` field of the webhook payload names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "scan.new_findings")]
    NewFindings,
    #[serde(rename = "scan.grade_dropped")]
    GradeDropped,
    #[serde(rename = "scan.failed")]
    ScanFailed,
    #[serde(rename = "scan.fixed_findings")]
    FixedFindings,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::NewFindings => "scan.new_findings",
            EventKind::GradeDropped => "scan.grade_dropped",
            EventKind::ScanFailed => "scan.failed",
            EventKind::FixedFindings => "scan.fixed_findings",
        }
    }
}

/// Whether a finding in an event is new or came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    New,
    Regressed,
    Fixed,
}

/// One thing to tell a webhook about one scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub scan: ScanRef,
    pub before: Option<Grading>,
    pub after: Option<Grading>,
    /// The findings the event is about, most severe first.
    pub findings: Vec<(Change, FindingBrief)>,
    pub error: Option<String>,
}

/// The events `rules` ask for about `outcome`, in a fixed order: failed, grade dropped, new
/// findings, fixed findings. Empty when nothing asked for happened.
pub fn evaluate(rules: &AlertRules, scan: &ScanRef, outcome: &Outcome) -> Vec<Event> {
    let event = |kind, before, after, findings, error| Event {
        kind,
        scan: scan.clone(),
        before,
        after,
        findings,
        error,
    };
    let (before, after, changes) = match outcome {
        Outcome::Failed { error } => {
            return if rules.scan_failed {
                vec![event(
                    EventKind::ScanFailed,
                    None,
                    None,
                    Vec::new(),
                    Some(error.clone()),
                )]
            } else {
                Vec::new()
            };
        }
        Outcome::Completed {
            before,
            after,
            changes,
        } => (*before, Some(*after), changes),
    };
    let mut events = Vec::new();
    // Grades are ordered A < F, so a worse grade compares greater.
    if rules.grade_drop && before.is_some_and(|b| after.is_some_and(|a| a.grade > b.grade)) {
        events.push(event(
            EventKind::GradeDropped,
            before,
            after,
            Vec::new(),
            None,
        ));
    }
    if let Some(floor) = rules.new_findings_at_or_above {
        let mut found: Vec<(Change, FindingBrief)> = changes
            .new
            .iter()
            .map(|f| (Change::New, f))
            .chain(changes.regressed.iter().map(|f| (Change::Regressed, f)))
            .filter(|(_, f)| f.severity >= floor)
            .map(|(c, f)| (c, f.clone()))
            .collect();
        found.sort_by_key(|(_, f)| std::cmp::Reverse(f.severity));
        if !found.is_empty() {
            events.push(event(EventKind::NewFindings, before, after, found, None));
        }
    }
    if rules.fixed_findings && !changes.fixed.is_empty() {
        let fixed = changes
            .fixed
            .iter()
            .map(|f| (Change::Fixed, f.clone()))
            .collect();
        events.push(event(EventKind::FixedFindings, before, after, fixed, None));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief(id: &str, severity: Severity) -> FindingBrief {
        FindingBrief {
            id: id.into(),
            check: CheckId::AuthzBola,
            severity,
            title: format!("finding {id}"),
            location: "GET /things/{id}".into(),
            parameter: None,
        }
    }

    fn scan() -> ScanRef {
        ScanRef {
            target_id: "t1".into(),
            target_name: "shop".into(),
            target_url: "http://127.0.0.1:8000/".into(),
            scan_id: "s2".into(),
        }
    }

    fn grading(score: u8) -> Grading {
        Grading {
            score,
            grade: Grade::from_score(score),
        }
    }

    fn completed(before: Option<u8>, after: u8, changes: Changes) -> Outcome {
        Outcome::Completed {
            before: before.map(grading),
            after: grading(after),
            changes,
        }
    }

    fn kinds(events: &[Event]) -> Vec<EventKind> {
        events.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn empty_rules_json_means_the_defaults_and_unknown_keys_are_refused() {
        let r: AlertRules = serde_json::from_str("{}").unwrap();
        assert_eq!(r, AlertRules::default());
        let r: AlertRules =
            serde_json::from_str(r#"{"new_findings_at_or_above":"high","grade_drop":false}"#)
                .unwrap();
        assert_eq!(r.new_findings_at_or_above, Some(Severity::High));
        assert!(!r.grade_drop && r.scan_failed);
        let off: AlertRules = serde_json::from_str(r#"{"new_findings_at_or_above":null}"#).unwrap();
        assert_eq!(off.new_findings_at_or_above, None);
        assert!(serde_json::from_str::<AlertRules>(r#"{"on_everything":true}"#).is_err());
    }

    #[test]
    fn new_and_regressed_findings_at_or_above_the_floor_alert() {
        let changes = Changes {
            new: vec![brief("a", Severity::Low), brief("b", Severity::High)],
            regressed: vec![brief("c", Severity::Critical)],
            ..Changes::default()
        };
        let rules = AlertRules {
            new_findings_at_or_above: Some(Severity::High),
            ..AlertRules::default()
        };
        let events = evaluate(&rules, &scan(), &completed(Some(70), 70, changes));
        assert_eq!(kinds(&events), [EventKind::NewFindings]);
        let ids: Vec<(Change, &str)> = events[0]
            .findings
            .iter()
            .map(|(c, f)| (*c, f.id.as_str()))
            .collect();
        assert_eq!(ids, [(Change::Regressed, "c"), (Change::New, "b")]);
        assert_eq!(events[0].scan.scan_id, "s2");
    }

    #[test]
    fn findings_below_the_floor_or_with_the_rule_off_stay_silent() {
        let changes = Changes {
            new: vec![brief("a", Severity::Low)],
            ..Changes::default()
        };
        let rules = AlertRules::default();
        assert!(evaluate(&rules, &scan(), &completed(Some(95), 95, changes.clone())).is_empty());
        let off = AlertRules {
            new_findings_at_or_above: None,
            ..AlertRules::default()
        };
        let loud = Changes {
            new: vec![brief("b", Severity::Critical)],
            ..Changes::default()
        };
        assert!(evaluate(&off, &scan(), &completed(Some(95), 95, loud)).is_empty());
    }

    #[test]
    fn a_worse_grade_alerts_and_a_better_or_first_one_does_not() {
        let rules = AlertRules::default();
        let dropped = evaluate(
            &rules,
            &scan(),
            &completed(Some(92), 75, Changes::default()),
        );
        assert_eq!(kinds(&dropped), [EventKind::GradeDropped]);
        assert_eq!(dropped[0].before.unwrap().grade, Grade::A);
        assert_eq!(dropped[0].after.unwrap().grade, Grade::C);
        // A lower score inside the same band is drift, not a drop.
        assert!(evaluate(
            &rules,
            &scan(),
            &completed(Some(99), 91, Changes::default())
        )
        .is_empty());
        assert!(evaluate(
            &rules,
            &scan(),
            &completed(Some(60), 95, Changes::default())
        )
        .is_empty());
        assert!(evaluate(&rules, &scan(), &completed(None, 10, Changes::default())).is_empty());
        let off = AlertRules {
            grade_drop: false,
            ..AlertRules::default()
        };
        assert!(evaluate(&off, &scan(), &completed(Some(92), 10, Changes::default())).is_empty());
    }

    #[test]
    fn a_failed_scan_alerts_only_when_asked() {
        let failed = Outcome::Failed {
            error: "target refused the connection".into(),
        };
        let events = evaluate(&AlertRules::default(), &scan(), &failed);
        assert_eq!(kinds(&events), [EventKind::ScanFailed]);
        assert_eq!(
            events[0].error.as_deref(),
            Some("target refused the connection")
        );
        assert!(events[0].findings.is_empty() && events[0].after.is_none());
        let off = AlertRules {
            scan_failed: false,
            ..AlertRules::default()
        };
        assert!(evaluate(&off, &scan(), &failed).is_empty());
    }

    #[test]
    fn fixed_findings_are_told_only_on_request_and_not_retested_never() {
        let changes = Changes {
            fixed: vec![brief("f", Severity::High)],
            not_retested: vec![(brief("n", Severity::High), "the scan stopped early".into())],
            ..Changes::default()
        };
        let quiet = evaluate(
            &AlertRules::default(),
            &scan(),
            &completed(Some(50), 95, changes.clone()),
        );
        assert!(quiet.is_empty());
        let rules = AlertRules {
            fixed_findings: true,
            ..AlertRules::default()
        };
        let events = evaluate(&rules, &scan(), &completed(Some(50), 95, changes));
        assert_eq!(kinds(&events), [EventKind::FixedFindings]);
        assert_eq!(events[0].findings.len(), 1);
        assert_eq!(events[0].findings[0].0, Change::Fixed);
        assert_eq!(events[0].findings[0].1.id, "f");
    }

    #[test]
    fn everything_at_once_comes_in_a_fixed_order() {
        let changes = Changes {
            new: vec![brief("b", Severity::High)],
            fixed: vec![brief("f", Severity::Low)],
            ..Changes::default()
        };
        let rules = AlertRules {
            fixed_findings: true,
            ..AlertRules::default()
        };
        let events = evaluate(&rules, &scan(), &completed(Some(90), 40, changes));
        assert_eq!(
            kinds(&events),
            [
                EventKind::GradeDropped,
                EventKind::NewFindings,
                EventKind::FixedFindings
            ]
        );
    }

    #[test]
    fn a_first_scan_reports_every_finding_as_new() {
        let report = crate::fixture::report();
        let changes = Changes::first_scan(&report);
        let ids: Vec<&str> = changes.new.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["crit", "low"]);
        let outcome = Outcome::completed(None, &report, changes);
        let events = evaluate(&AlertRules::default(), &scan(), &outcome);
        assert_eq!(kinds(&events), [EventKind::NewFindings]);
        assert_eq!(
            events[0].findings.len(),
            1,
            "only the critical is >= medium"
        );
        assert_eq!(events[0].after.unwrap().grade, Grade::F);
    }
}
