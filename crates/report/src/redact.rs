//! The one step every format shares: redact secrets by value and cap evidence, on a clone.
//!
//! Redaction happens here, at write time, rather than trusting that the transport redacted
//! its records: secrets learnt late in a scan (a token from a sign-in) may postdate evidence
//! recorded earlier, and a report must be safe to attach to a public pull request.
//!
//! Bodies are redacted *before* they are cut, so a cut never leaves half a secret behind that
//! the by-value match would no longer recognise.

use middlebrick_model::{BodyRecord, Evidence, Finding, Redactor, Report};

/// Bodies longer than this many bytes are cut in written reports (`truncated` is set).
pub const BODY_CAP: usize = 8 * 1024;

/// A curl reproduction carries a body plus headers and the URL, so it gets a little more room.
const CURL_CAP: usize = BODY_CAP + 2 * 1024;

const CURL_CUT_MARKER: &str = "\n# [middlebrick: command truncated; see the recorded exchange]";

/// A redacted, capped copy of `report`: what every renderer works from.
pub fn prepare(report: &Report, redactor: &Redactor) -> Report {
    let mut out = report.clone();
    let red = |s: &mut String| redactor.redact_in_place(s);
    red(&mut out.target);
    red(&mut out.coverage.source);
    out.identities.iter_mut().for_each(red);
    for i in &mut out.coverage.identities {
        red(&mut i.name);
        i.reason.iter_mut().for_each(red);
    }
    out.coverage.stopped.iter_mut().for_each(red);
    for finding in &mut out.findings {
        redact_finding(finding, redactor);
        cap_evidence(&mut finding.evidence);
    }
    if let Some(stack) = out.stack.as_mut() {
        stack.redact_with(red);
    }
    for d in &mut out.diagnostics {
        red(&mut d.code);
        red(&mut d.message);
        d.operation.iter_mut().for_each(red);
        d.hint.iter_mut().for_each(red);
    }
    out
}

fn redact_finding(f: &mut Finding, redactor: &Redactor) {
    let red = |s: &mut String| redactor.redact_in_place(s);
    red(&mut f.title);
    red(&mut f.description);
    red(&mut f.remediation);
    f.path.iter_mut().for_each(red);
    f.parameter.iter_mut().for_each(red);
    for ex in &mut f.evidence.exchanges {
        redactor.redact_exchange(ex);
        red(&mut ex.identity);
    }
    f.evidence.curl.iter_mut().for_each(red);
    f.evidence.notes.iter_mut().for_each(red);
}

fn cap_evidence(ev: &mut Evidence) {
    for ex in &mut ev.exchanges {
        if let Some(body) = ex.request.body.as_mut() {
            cap_body(body);
        }
        if let Some(resp) = ex.response.as_mut() {
            cap_body(&mut resp.body);
        }
    }
    for curl in &mut ev.curl {
        if curl.len() > CURL_CAP {
            curl.truncate(floor_char_boundary(curl, CURL_CAP));
            curl.push_str(CURL_CUT_MARKER);
        }
    }
}

/// Cuts the text to [`BODY_CAP`] bytes; `size` keeps the size the peer sent.
fn cap_body(body: &mut BodyRecord) {
    if body.text.len() > BODY_CAP {
        body.text
            .truncate(floor_char_boundary(&body.text, BODY_CAP));
        body.truncated = true;
    }
}

/// The largest index `<= max` that falls on a char boundary (std's is not stable at our MSRV).
pub(crate) fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn long_bodies_are_cut_on_a_char_boundary_and_marked() {
        let mut report = fixture::report();
        let big = "é".repeat(BODY_CAP); // 2 bytes each: the cap falls inside none of them
        let ex = &mut report.findings[0].evidence.exchanges[0];
        ex.response.as_mut().unwrap().body = BodyRecord {
            text: big.clone(),
            size: big.len() as u64,
            truncated: false,
        };
        let out = prepare(&report, &Redactor::new());
        let body = &out.findings[0].evidence.exchanges[0]
            .response
            .as_ref()
            .unwrap()
            .body;
        assert!(body.truncated);
        assert_eq!(body.text.len(), BODY_CAP);
        assert_eq!(body.size, big.len() as u64, "size keeps what the peer sent");
        // The original is untouched: preparation works on a clone.
        assert!(
            !report.findings[0].evidence.exchanges[0]
                .response
                .as_ref()
                .unwrap()
                .body
                .truncated
        );
    }

    #[test]
    fn short_bodies_are_left_alone() {
        let report = fixture::report();
        let out = prepare(&report, &Redactor::new());
        assert_eq!(out, report);
    }

    #[test]
    fn a_secret_straddling_the_cap_is_redacted_before_the_cut() {
        let mut report = fixture::report();
        let secret = "tok-0123456789abcdef";
        let text = format!("{}{secret}", "x".repeat(BODY_CAP - 5));
        let resp = report.findings[0].evidence.exchanges[0]
            .response
            .as_mut()
            .unwrap();
        resp.body.text = text;
        let redactor = Redactor::new();
        redactor.add(secret);
        let out = prepare(&report, &redactor);
        let body = &out.findings[0].evidence.exchanges[0]
            .response
            .as_ref()
            .unwrap()
            .body
            .text;
        assert!(!body.contains("tok-0"), "no prefix of the secret survives");
    }

    #[test]
    fn long_curl_commands_are_cut_with_a_marker() {
        let mut report = fixture::report();
        report.findings[0].evidence.curl = vec!["c".repeat(CURL_CAP + 10)];
        let out = prepare(&report, &Redactor::new());
        let curl = &out.findings[0].evidence.curl[0];
        assert!(curl.ends_with(CURL_CUT_MARKER));
        assert!(curl.len() <= CURL_CAP + CURL_CUT_MARKER.len());
    }
}
