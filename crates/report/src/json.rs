//! The JSON report: the [`Report`] itself, serialised as documented in
//! `docs/report-format.md`. It is the contract other tools build on, so it is the model's own
//! serde form with nothing added or renamed here; only redaction and the body cap (applied
//! before this point) change what it holds.

use middlebrick_model::Report;

pub fn render(report: &Report) -> String {
    // The model has no maps with non-string keys and no fallible custom serialisers, so
    // serialising it cannot fail; a failure would be a bug in the model, worth a loud stop.
    let mut out = serde_json::to_string_pretty(report).expect("a Report always serialises");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use middlebrick_model::REPORT_SCHEMA_VERSION;

    #[test]
    fn round_trips_into_a_report() {
        let report = fixture::report();
        let out = render(&report);
        let back: Report = serde_json::from_str(&out).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn carries_the_schema_version_first() {
        let out = render(&fixture::report());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["schema_version"], REPORT_SCHEMA_VERSION);
        assert!(out
            .trim_start()
            .starts_with("{\n  \"schema_version\": \"1.4\""));
    }

    #[test]
    fn a_capped_body_round_trips_with_its_flag() {
        let mut report = fixture::report();
        let body = &mut report.findings[0].evidence.exchanges[0]
            .response
            .as_mut()
            .unwrap()
            .body;
        body.text = "x".repeat(crate::BODY_CAP * 2);
        body.size = body.text.len() as u64;
        let out = crate::render(
            &report,
            crate::Format::Json,
            &crate::RenderOptions::default(),
            &middlebrick_model::Redactor::new(),
        );
        let back: Report = serde_json::from_str(&out).unwrap();
        let body = &back.findings[0].evidence.exchanges[0]
            .response
            .as_ref()
            .unwrap()
            .body;
        assert!(body.truncated);
        assert_eq!(body.text.len(), crate::BODY_CAP);
        assert_eq!(body.size, (crate::BODY_CAP * 2) as u64);
    }

    fn format_doc() -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/report-format.md");
        std::fs::read_to_string(path).expect("docs/report-format.md")
    }

    #[test]
    fn the_documented_example_is_a_valid_report() {
        let doc = format_doc();
        let start = doc.find("```json\n").expect("a json example") + "```json\n".len();
        let end = start + doc[start..].find("```").unwrap();
        let example: Report = serde_json::from_str(&doc[start..end]).unwrap();
        assert_eq!(example.schema_version, REPORT_SCHEMA_VERSION);
        assert!(doc.starts_with(&format!(
            "# The middlebrick JSON report, version {REPORT_SCHEMA_VERSION}"
        )));
    }

    /// Every field the report writes is documented, so the doc cannot fall behind the model.
    #[test]
    fn every_serialised_field_is_documented() {
        fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        out.push(k.clone());
                        keys(v, out);
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
                _ => {}
            }
        }
        let mut report = fixture::report_with_coverage();
        report.coverage.stopped = Some("the request budget of 10 was used up".into());
        report.coverage.checks[0]
            .skipped_on
            .push(middlebrick_model::SkippedOn {
                operation: "GET /x".into(),
                reason: "the scan stopped before it ran".into(),
            });
        // Fill the optional fields the fixture leaves empty.
        let ex = &mut report.findings[0].evidence.exchanges[0];
        ex.redirects = vec!["https://api.example.test/old".into()];
        ex.error = Some("timeout".into());
        ex.request.body = Some(middlebrick_model::BodyRecord {
            text: "x".into(),
            size: 1,
            truncated: true,
        });
        let value = serde_json::to_value(&report).unwrap();
        let mut found = Vec::new();
        keys(&value, &mut found);
        let doc = format_doc();
        for k in found {
            assert!(
                doc.contains(&format!("`{k}`")) || doc.contains(&format!("\"{k}\"")),
                "field `{k}` is not documented in docs/report-format.md"
            );
        }
    }
}
