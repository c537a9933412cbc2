use super::*;
use crate::fixture;
use middlebrick_model::{Method, Severity};

const GOLDEN: &str = r#"## middlebrick: grade C (72/100)

**Tested** 3 of 3 operations reached  
**Target** https://api.example.test · **Mode** safe · **Duration** 12.3s · **Requests** 412  
**Coverage** OpenAPI 3.0 from openapi.yaml: 3 of 3 operations reached

**3 findings: 1 critical, 1 medium, 1 low**

| Family | Critical | High | Medium | Low | Info |
| --- | ---: | ---: | ---: | ---: | ---: |
| auth | 1 | 0 | 0 | 0 | 0 |
| info | 0 | 0 | 1 | 0 | 0 |
| transport | 0 | 0 | 0 | 1 | 0 |

### Findings

| Severity | Check | Location | Title |
| --- | --- | --- | --- |
| 🟥 critical | `auth.missing-authentication` | GET /users/{id} | Missing authentication |
| 🟨 medium | `info.verbose-error` | POST /users \[name\] | Verbose error |
| 🟦 low | `transport.security-headers` | (API-wide) \[strict-transport-security\] | Missing security headers |

<details>
<summary><b>critical</b> <code>auth.missing-authentication</code> Missing authentication on GET /users/{id}</summary>

The operation answered an anonymous request with data.

Confidence: confirmed · CWE-306, API2:2023 · finding `2a461ce94c869466`

- an anonymous request got the user object

GET https://api.example.test/users/1 as anonymous → 200

```
{"id":1,"email":"a@example.test"}
```

Reproduce:

```sh
curl -sS -X GET -H 'accept: application/json' 'https://api.example.test/users/1'
```

**Remediation.**

Fix auth.missing-authentication.

</details>

<details>
<summary><b>medium</b> <code>info.verbose-error</code> Verbose error on POST /users [name]</summary>

A malformed name produced a stack trace.

Confidence: firm · CWE-209, API8:2023 · finding `d6ab2cb305ebb67b`

POST https://api.example.test/users as anonymous → 500

```
Traceback (most recent call last):
  File "app.py", line 3
```

Reproduce:

```sh
curl -sS -X POST -H 'accept: application/json' 'https://api.example.test/users'
```

**Remediation.**

Fix info.verbose-error.

</details>

<details>
<summary><b>low</b> <code>transport.security-headers</code> Missing security headers on (API-wide) [strict-transport-security]</summary>

No Strict-Transport-Security header on any answer.

Confidence: firm · CWE-693, API8:2023 · finding `730a21eac1724ad3`

GET https://api.example.test/ as anonymous → 200

```
{}
```

Reproduce:

```sh
curl -sS -X GET -H 'accept: application/json' 'https://api.example.test/'
```

**Remediation.**

Fix transport.security-headers.

</details>

_1 diagnostic (1 warning); see the full report._
"#;

#[test]
fn golden() {
    assert_eq!(render(&fixture::report(), &fixture::options()), GOLDEN);
}

#[test]
fn coverage_first_skipped_checks_listed_and_remediation_intact() {
    let mut report = fixture::report_with_coverage();
    report.findings[0].remediation =
        "Use `session.get(User, id)` and check `owner_id`:\n\n```python\nif row.owner_id != me:\n    abort(404)\n```".into();
    let out = render(&report, &fixture::options());
    assert!(out.starts_with(
        "## middlebrick: grade C (72/100) over 3 of 4 checks and 2 of 3 operations\n\n\
         **Tested** 3 of 4 checks ran; 2 of 3 operations reached; identity bob failed to sign in  \n"
    ), "{out}");
    assert!(out.contains("> Identity bob did not sign in"));
    assert!(out.contains("<summary>Not tested: 1 check skipped, 1 operation not reached</summary>"));
    assert!(out.contains("- Skipped, needs a mode above safe: `authz.bola-write`"));
    assert!(out.contains(
        "- Not reached, not sent: no check that ran sends to it in this mode: DELETE /users/{id}"
    ));
    assert!(out.contains(
        "Use `session.get(User, id)` and check `owner_id`:\n\n```python\nif row.owner_id != me:\n    abort(404)\n```"
    ), "{out}");
}

#[test]
fn descriptions_keep_code_spans() {
    let mut report = fixture::report();
    report.findings[0].description = "The answer carried `password_hash` for [user] <b>".into();
    let out = render(&report, &fixture::options());
    assert!(
        out.contains("The answer carried `password_hash` for \\[user\\] \\<b\\>"),
        "{out}"
    );
}

#[test]
fn text_from_the_target_cannot_open_markup() {
    let mut report = fixture::report();
    report.findings[2].title = "a | b <script>x</script> [l](http://e)".into();
    report.findings[2].description = "line one\n# not a heading".into();
    report.findings[2].evidence.curl = vec!["echo ```".into()];
    let out = render(&report, &fixture::options());
    assert!(out.contains("| a \\| b \\<script\\>x\\</script\\> \\[l\\](http://e) |"));
    assert!(out.contains("a | b &lt;script&gt;x&lt;/script&gt; [l](http://e) on GET"));
    assert!(out.contains("line one \\# not a heading"));
    assert!(out.contains("````sh\necho ```\n````"));
    assert!(!out.contains("<script>"));
}

#[test]
fn partial_coverage_and_incomplete_scans_are_called_out() {
    let mut report = fixture::report();
    report.coverage.partial = true;
    report.incomplete = true;
    let out = render(&report, &fixture::options());
    assert!(out.contains(
        "> [!WARNING]\n> coverage is partial: no OpenAPI description; operations were found by crawling.\n"
    ));
    assert!(out.contains("> The scan stopped early; results are incomplete."));
}

#[test]
fn details_stop_before_the_comment_limit_but_the_table_lists_all() {
    let mut report = fixture::report();
    let template = report.findings[1].clone();
    for i in 0..200 {
        let mut f = template.clone();
        f.id = format!("{i:016x}");
        f.method = Some(Method::Get);
        f.path = Some(format!("/items/{i}"));
        f.severity = Severity::Low;
        f.evidence.curl = vec![format!("curl '{}'", "x".repeat(500))];
        report.findings.push(f);
    }
    let out = render(&report, &fixture::options());
    assert!(out.len() < 65_536, "{} chars", out.len());
    assert!(out.contains("more findings are left out to keep this comment short"));
    assert_eq!(out.matches("| 🟦 low |").count(), 201);
}
