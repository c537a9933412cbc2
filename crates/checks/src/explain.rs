//! `middlebrick explain <check> [--stack …]`: a check's catalogue entry with the remediation
//! variants for a stack, as plain text. The CLI only parses the arguments and prints this.
//!
//! Remediation texts mark Python snippets as fenced blocks, "```python\n<code>\n```", so the
//! test below can pull every one out and have a real Python parser check it.

use crate::by_id;
use middlebrick_model::{CheckId, Tech};

/// The catalogue entry of `id` with the remediation for `stack` (every variant when `stack` is
/// empty).
pub fn explain(id: CheckId, stack: &[Tech]) -> String {
    let Some(check) = by_id(id) else {
        return format!("{id}: no such check in the catalogue\n");
    };
    let m = check.meta();
    let cwe: Vec<String> = m.cwe.iter().map(|c| format!("CWE-{c}")).collect();
    let owasp: Vec<String> = m
        .owasp
        .iter()
        .map(|o| format!("{} {}", o.code(), o.title()))
        .collect();
    let stack_line = if stack.is_empty() {
        "every stack".to_string()
    } else {
        stack
            .iter()
            .map(|t| t.display_name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let shown: Vec<Tech> = m.remediation.variants.iter().map(|(t, _)| *t).collect();
    let missing: Vec<&str> = stack
        .iter()
        .filter(|t| !shown.contains(t))
        .map(|t| t.display_name())
        .collect();
    let mut out = format!(
        "{id} — {title}\n\nSeverity: {sev} (default)\nCWE: {cwe}\nOWASP: {owasp}\n\n{desc}\n\n\
         Remediation ({stack_line}):\n{rem}\n",
        title = m.title,
        sev = m.severity,
        cwe = cwe.join(", "),
        owasp = owasp.join("; "),
        desc = m.description,
        rem = m.remediation.render(stack),
    );
    if !missing.is_empty() {
        out.push_str(&format!(
            "(no specific advice for {}: the generic part applies)\n",
            missing.join(", ")
        ));
    }
    out
}

/// Every fenced Python snippet in a text.
#[cfg(test)]
pub(crate) fn python_snippets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```python\n") {
        let after = &rest[start + "```python\n".len()..];
        let Some(end) = after.find("\n```") else {
            break;
        };
        out.push(after[..end].to_string());
        rest = &after[end + 4..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CHECKS;
    use std::io::Write;
    use std::process::{Command, Stdio};

    #[test]
    fn explain_shows_the_variants_asked_for() {
        let all = explain(CheckId::InjectionSql, &[]);
        assert!(all.contains("CWE-89") && all.contains("asyncpg") && all.contains("Flask"));
        let some = explain(
            CheckId::InjectionSql,
            &[Tech::Flask, Tech::Psycopg, Tech::CockroachDb],
        );
        assert!(some.contains("%s") && some.contains("CockroachDB"));
        assert!(
            !some.contains("$1`, `$2`"),
            "asyncpg's variant is not shown"
        );
        let none = explain(CheckId::AuthzBfla, &[Tech::Asyncpg]);
        assert!(none.contains("no specific advice for asyncpg"));
    }

    #[test]
    fn snippets_are_found() {
        let s = python_snippets("a\n```python\nx = 1\n```\nb ```python\ny = 2\n```");
        assert_eq!(s, vec!["x = 1".to_string(), "y = 2".to_string()]);
    }

    /// Every Python snippet in the catalogue parses (`ast.parse` of the targets' interpreter).
    #[test]
    fn every_python_snippet_parses() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = root.join("targets/.venv/bin/python");
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        if !python.exists() {
            assert!(
                !ci,
                "targets/.venv is missing under CI; run targets/setup.sh"
            );
            eprintln!("note: targets/.venv absent, Python snippets not parsed");
            return;
        }
        let mut count = 0;
        for c in CHECKS {
            let m = c.meta();
            let texts = std::iter::once(m.remediation.generic)
                .chain(m.remediation.variants.iter().map(|(_, t)| *t));
            for text in texts {
                for snippet in python_snippets(text) {
                    count += 1;
                    let mut child = Command::new(&python)
                        .args(["-c", "import ast,sys; ast.parse(sys.stdin.read())"])
                        .stdin(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .expect("python runs");
                    child
                        .stdin
                        .take()
                        .unwrap()
                        .write_all(snippet.as_bytes())
                        .unwrap();
                    let out = child.wait_with_output().unwrap();
                    assert!(
                        out.status.success(),
                        "{}: snippet does not parse:\n{snippet}\n{}",
                        m.id,
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
        assert!(count >= 5, "only {count} snippets");
    }
}
