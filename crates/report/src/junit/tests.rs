use super::*;
use crate::fixture;

const GOLDEN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- middlebrick: 3 of 3 operations reached -->
<testsuites name="middlebrick" tests="3" failures="3" errors="0" time="12.345">
  <testsuite name="auth" tests="1" failures="1" errors="0" skipped="0">
    <testcase classname="auth.missing-authentication" name="GET /users/{id}">
      <failure message="critical: Missing authentication" type="critical">[critical] Missing authentication (confidence: confirmed; CWE-306, API2:2023)
The operation answered an anonymous request with data.
Evidence: GET https://api.example.test/users/1 as anonymous -&gt; 200
  | {&quot;id&quot;:1,&quot;email&quot;:&quot;a@example.test&quot;}
Note: an anonymous request got the user object
Reproduce: curl -sS -X GET -H &#39;accept: application/json&#39; &#39;https://api.example.test/users/1&#39;
Remediation: Fix auth.missing-authentication.
Finding id: 2a461ce94c869466</failure>
    </testcase>
  </testsuite>
  <testsuite name="info" tests="1" failures="1" errors="0" skipped="0">
    <testcase classname="info.verbose-error" name="POST /users">
      <failure message="medium: Verbose error" type="medium">[medium] Verbose error [name] (confidence: firm; CWE-209, API8:2023)
A malformed name produced a stack trace.
Evidence: POST https://api.example.test/users as anonymous -&gt; 500
  | Traceback (most recent call last):
  |   File &quot;app.py&quot;, line 3
Reproduce: curl -sS -X POST -H &#39;accept: application/json&#39; &#39;https://api.example.test/users&#39;
Remediation: Fix info.verbose-error.
Finding id: d6ab2cb305ebb67b</failure>
    </testcase>
  </testsuite>
  <testsuite name="transport" tests="1" failures="1" errors="0" skipped="0">
    <testcase classname="transport.security-headers" name="(API-wide)">
      <failure message="low: Missing security headers" type="low">[low] Missing security headers [strict-transport-security] (confidence: firm; CWE-693, API8:2023)
No Strict-Transport-Security header on any answer.
Evidence: GET https://api.example.test/ as anonymous -&gt; 200
  | {}
Reproduce: curl -sS -X GET -H &#39;accept: application/json&#39; &#39;https://api.example.test/&#39;
Remediation: Fix transport.security-headers.
Finding id: 730a21eac1724ad3</failure>
    </testcase>
  </testsuite>
</testsuites>
"#;

#[test]
fn golden() {
    assert_eq!(render(&fixture::report(), &fixture::options()), GOLDEN);
}

#[test]
fn skipped_checks_are_skipped_cases_and_coverage_comes_first() {
    let mut report = fixture::report_with_coverage();
    report.findings.clear();
    let mut opts = fixture::options();
    opts.rules.push(crate::RuleInfo {
        id: CheckId::AuthzBolaWrite,
        title: "BOLA on writes".into(),
        severity: middlebrick_model::Severity::High,
        cwe: vec![639],
        owasp: vec![],
        description: String::new(),
        remediation: String::new(),
    });
    let out = render(&report, &opts);
    assert!(
        out.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- middlebrick: 3 of 4 checks ran; \
         2 of 3 operations reached; identity bob failed to sign in -->\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "<testcase classname=\"authz.bola-write\" name=\"(all operations)\">\
         <skipped message=\"needs a mode above safe\"/></testcase>"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "<testsuite name=\"authz\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"1\">"
        ),
        "{out}"
    );
}

#[test]
fn catalogue_checks_without_findings_pass() {
    let mut report = fixture::report();
    report
        .findings
        .retain(|f| f.check != CheckId::InfoVerboseError);
    let out = render(&report, &fixture::options());
    assert!(out.contains(
        "  <testsuite name=\"info\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\">\n    \
         <testcase classname=\"info.verbose-error\" name=\"(all operations)\"/>\n  </testsuite>"
    ));
    assert!(out.contains("<testsuites name=\"middlebrick\" tests=\"3\" failures=\"2\""));
}

#[test]
fn findings_on_one_check_and_operation_share_a_case() {
    let mut report = fixture::report();
    let mut second = report.findings[1].clone();
    second.parameter = Some("email".into());
    second.severity = middlebrick_model::Severity::High;
    second.title = "Very verbose error".into();
    report.findings.push(second);
    let out = render(&report, &fixture::options());
    assert_eq!(
        out.matches("<testcase classname=\"info.verbose-error\"")
            .count(),
        1
    );
    assert!(out.contains("message=\"high: Very verbose error (and 1 more)\" type=\"high\""));
    assert!(out.contains("[medium] Verbose error [name]"));
}

#[test]
fn markup_in_evidence_is_escaped() {
    let mut report = fixture::report();
    let ex = &mut report.findings[1].evidence.exchanges[0];
    ex.response.as_mut().unwrap().body.text = "<&\"'> \u{1b}\u{0}".into();
    report.findings[1].title = "a <b> & \"c\"".into();
    let out = render(&report, &fixture::options());
    assert!(out.contains("  | &lt;&amp;&quot;&#39;&gt; \u{FFFD}\u{FFFD}"));
    assert!(out.contains("message=\"medium: a &lt;b&gt; &amp; &quot;c&quot;\""));
    assert!(!out.contains("<&"));
    assert!(!out.contains('\u{0}') && !out.contains('\u{1b}'));
}
