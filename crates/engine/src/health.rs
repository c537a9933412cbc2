//! The target's outages as the report states them (issue 16, rule 4). The transport notices
//! and waits out an outage (`middlebrick_http`'s `health.rs`); the check
//! `availability.single-request-dos` proves a suspect; this says what happened either way, and
//! names the last requests sent when the target never came back.

use middlebrick_model::{Diagnostic, Outage};

pub(crate) fn diagnostics(outages: &[Outage]) -> Vec<Diagnostic> {
    outages.iter().map(diagnostic).collect()
}

fn diagnostic(o: &Outage) -> Diagnostic {
    let suspect = o
        .suspect
        .as_deref()
        .map(|s| format!("; the earliest request left unanswered was {s}"))
        .unwrap_or_default();
    if o.recovered {
        return Diagnostic::warning(
            "target.outage",
            format!(
                "the target stopped answering for {}s and came back after {} liveness \
                 request(s){suspect}",
                o.down_ms / 1000,
                o.probes
            ),
        );
    }
    Diagnostic::error(
        "target.down",
        format!(
            "the target stopped answering and did not come back after {} liveness request(s) \
             over {}s{suspect}; the last requests sent were: {}",
            o.probes,
            o.down_ms / 1000,
            o.last_sent.join(", ")
        ),
    )
    .hint("restart the target; the report covers only what was tested before it stopped")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_target_is_an_error_naming_the_last_requests() {
        let d = diagnostics(&[Outage {
            suspect: Some("GET http://t/a".into()),
            last_sent: vec!["GET http://t/a".into(), "GET http://t/b".into()],
            probes: 6,
            recovered: false,
            down_ms: 15_500,
        }]);
        assert_eq!(d[0].code, "target.down");
        assert!(d[0].message.contains("GET http://t/a, GET http://t/b"));
        assert!(d[0]
            .message
            .contains("earliest request left unanswered was GET http://t/a"));
    }
}
