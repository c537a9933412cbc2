//! Which framework, server, database and driver answered: read from headers, default error
//! pages, validation envelopes, JSON formatting habits and the error texts that checks provoked.
//! Pure: the engine hands in what the scan observed plus the exchanges of findings.
//!
//! Where each signal comes from:
//! - `Server: Werkzeug/x` is Werkzeug's development server (`werkzeug.serving.WSGIRequestHandler`
//!   `server_version`); its default error pages say "The requested URL was not found on the
//!   server. If you entered the URL manually please check your spelling and try again."
//!   (`werkzeug.exceptions.NotFound.description`).
//! - Flask's `jsonify` sorts keys and ends the body with a newline (`DefaultJSONProvider`,
//!   `sort_keys = True`); Starlette's `JSONResponse` keeps insertion order, compact, no newline.
//! - FastAPI answers validation failures with 422 `{"detail": [{"loc", "msg", "type", …}]}`
//!   and Starlette's defaults are `{"detail": "Not Found"}`, `{"detail": "Not authenticated"}`
//!   (`OAuth2PasswordBearer`), `{"detail": "Method Not Allowed"}`.
//! - gunicorn sends `Server: gunicorn`, uvicorn `server: uvicorn`, hypercorn `hypercorn-h11`.
//! - PostgreSQL vs CockroachDB: see `signatures.rs` and `sqli.rs` (PostgreSQL's `scan.l` and
//!   `numutils.c` wordings vs CockroachDB's `at or near "x": syntax error`,
//!   `could not parse "x" as type int`, `crdb_internal`, `go.crdb.dev` links). CockroachDB-only
//!   texts win: CockroachDB reuses PostgreSQL's SQLSTATEs and some of its messages.
//! - Drivers name their exception modules: `psycopg2.errors`, `psycopg.errors` (version 3),
//!   `asyncpg.exceptions`, `sqlalchemy.exc`.
//!
//! Bounded (issue 16, rule 7): it runs after the scan's time limit, over answers the target
//! chose, so every step is linear in the text and reads at most [`MAX_TEXT`] bytes of a body;
//! the key order of a JSON object is read in one pass over its first [`MAX_KEYS`] keys (a
//! search per key was quadratic: 24 s of CPU for a 0.7 MB answer with 100,000 keys).

use crate::signatures::{scan, Source};
use crate::sqli::parser_error;
use middlebrick_model::{Confidence, Detection, Exchange, Stack, Tech};
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// Bytes of one answer's body the fingerprint reads: error pages, envelopes and tracebacks
/// say what they have to say well before this.
const MAX_TEXT: usize = 256 * 1024;
/// Top-level keys read to tell key-order habits apart.
const MAX_KEYS: usize = 64;

/// Signals for one candidate: weights add up; `proof` is a signal that only that component
/// produces (its own traceback frames, its debugger).
#[derive(Default)]
struct Votes {
    weight: u32,
    proof: bool,
    evidence: Vec<String>,
}

#[derive(Default)]
struct Tally {
    by: BTreeMap<(Slot, &'static str), (Option<Tech>, Votes)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Framework,
    Server,
    Database,
    Driver,
}

impl Tally {
    fn add(
        &mut self,
        slot: Slot,
        name: &'static str,
        tech: Option<Tech>,
        weight: u32,
        evidence: String,
    ) {
        let (_, v) = self
            .by
            .entry((slot, name))
            .or_insert((tech, Votes::default()));
        v.weight += weight;
        if weight >= 3 {
            v.proof = true;
        }
        if v.evidence.len() < 3 && !v.evidence.contains(&evidence) {
            v.evidence.push(evidence);
        }
    }

    fn best(&self, slot: Slot) -> Option<Detection> {
        self.by
            .iter()
            .filter(|((s, _), _)| *s == slot)
            .max_by_key(|(_, (_, v))| (v.proof, v.weight))
            .map(|((_, name), (tech, v))| Detection {
                name: name.to_string(),
                tech: *tech,
                confidence: if v.proof {
                    Confidence::Confirmed
                } else if v.weight >= 2 {
                    Confidence::Firm
                } else {
                    Confidence::Tentative
                },
                evidence: v.evidence.clone(),
            })
    }
}

/// The stack the exchanges show; components without a signal stay `None`.
pub fn fingerprint(exchanges: &[Exchange]) -> Stack {
    let mut t = Tally::default();
    let (mut sorted_nl, mut compact_plain) = (0u32, 0u32);
    for ex in exchanges {
        let Some(r) = ex.response.as_ref() else {
            continue;
        };
        headers(&mut t, r);
        let text = head(&r.body.text, MAX_TEXT);
        frameworks(&mut t, r.status, text);
        data_layer(&mut t, text);
        match json_habit(text) {
            Some(true) => sorted_nl += 1,
            Some(false) => compact_plain += 1,
            None => {}
        }
    }
    if sorted_nl >= 3 && sorted_nl > compact_plain * 3 {
        t.add(Slot::Framework, "Flask", Some(Tech::Flask), 1,
            format!("{sorted_nl} JSON answers with sorted keys and a trailing newline (Flask's jsonify)"));
    }
    if compact_plain >= 3 && compact_plain > sorted_nl * 3 {
        t.add(Slot::Framework, "FastAPI / Starlette", Some(Tech::FastApi), 1,
            format!("{compact_plain} compact JSON answers in insertion order without a trailing newline (Starlette's JSONResponse)"));
    }
    let mut stack = Stack {
        framework: t.best(Slot::Framework),
        server: t.best(Slot::Server),
        database: t.best(Slot::Database),
        driver: t.best(Slot::Driver),
    };
    if stack.database.is_none() {
        if let Some(d) = &stack.driver {
            if matches!(d.tech, Some(Tech::Psycopg | Tech::Asyncpg)) {
                stack.database = Some(Detection {
                    name: "PostgreSQL (wire protocol)".into(),
                    tech: Some(Tech::PostgreSql),
                    confidence: Confidence::Tentative,
                    evidence: vec![format!("{} speaks only the PostgreSQL protocol", d.name)],
                });
            }
        }
    }
    stack
}

fn headers(t: &mut Tally, r: &middlebrick_model::ResponseRecord) {
    if let Some(server) = r.header("server") {
        let lower = server.to_ascii_lowercase();
        let ev = format!("Server: {server}");
        if lower.starts_with("werkzeug/") {
            t.add(
                Slot::Server,
                "Werkzeug development server",
                None,
                2,
                ev.clone(),
            );
            t.add(Slot::Framework, "Flask", Some(Tech::Flask), 2, ev);
        } else if lower.starts_with("gunicorn") {
            t.add(Slot::Server, "gunicorn", None, 2, ev);
        } else if lower.starts_with("uvicorn") {
            t.add(Slot::Server, "uvicorn", None, 2, ev);
        } else if lower.starts_with("hypercorn") {
            t.add(Slot::Server, "hypercorn", None, 2, ev);
        }
    }
    if let Some(p) = r.header("x-powered-by") {
        if p.to_ascii_lowercase().starts_with("fastapi") {
            t.add(
                Slot::Framework,
                "FastAPI",
                Some(Tech::FastApi),
                2,
                format!("X-Powered-By: {p}"),
            );
        }
    }
}

fn frameworks(t: &mut Tally, status: u16, text: &str) {
    if text
        .contains("The requested URL was not found on the server. If you entered the URL manually")
        || text.contains("The method is not allowed for the requested URL.")
    {
        t.add(
            Slot::Framework,
            "Flask",
            Some(Tech::Flask),
            2,
            "Werkzeug's default error page".into(),
        );
    }
    if text.contains("Werkzeug Debugger") || text.contains("/site-packages/flask/") {
        t.add(
            Slot::Framework,
            "Flask",
            Some(Tech::Flask),
            3,
            "Werkzeug debugger / Flask traceback frames".into(),
        );
    }
    if text.contains("/site-packages/fastapi/") || text.contains("/site-packages/starlette/") {
        t.add(
            Slot::Framework,
            "FastAPI",
            Some(Tech::FastApi),
            3,
            "FastAPI/Starlette traceback frames".into(),
        );
    }
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
        return;
    };
    if map.len() != 1 {
        return;
    }
    match map.get("detail") {
        Some(Value::Array(items)) if status == 422 => {
            let pydantic = items
                .iter()
                .any(|i| i.get("loc").is_some() && i.get("msg").is_some());
            if pydantic {
                t.add(
                    Slot::Framework,
                    "FastAPI",
                    Some(Tech::FastApi),
                    2,
                    "422 {\"detail\": [{\"loc\", \"msg\", …}]} validation envelope".into(),
                );
            }
        }
        Some(Value::String(s))
            if matches!(
                s.as_str(),
                "Not Found" | "Method Not Allowed" | "Not authenticated"
            ) =>
        {
            t.add(
                Slot::Framework,
                "FastAPI",
                Some(Tech::FastApi),
                2,
                format!("{status} {{\"detail\": \"{s}\"}}"),
            );
        }
        _ => {}
    }
}

fn data_layer(t: &mut Tally, text: &str) {
    let mut dbs: Vec<(Source, String)> = scan(text)
        .into_iter()
        .filter(|l| {
            matches!(
                l.source,
                Source::PostgreSql | Source::CockroachDb | Source::MySql | Source::Sqlite
            )
        })
        .map(|l| (l.source, l.excerpt))
        .collect();
    if let Some(p) = parser_error(text) {
        dbs.push(p);
    }
    let crdb = dbs.iter().any(|(s, _)| *s == Source::CockroachDb);
    for (source, excerpt) in dbs {
        let (name, tech) = match source {
            Source::PostgreSql if !crdb => ("PostgreSQL", Some(Tech::PostgreSql)),
            Source::CockroachDb => ("CockroachDB", Some(Tech::CockroachDb)),
            Source::MySql => ("MySQL", None),
            Source::Sqlite => ("SQLite", None),
            _ => continue,
        };
        t.add(Slot::Database, name, tech, 2, clip(&excerpt));
    }
    for (needle, name, tech) in [
        ("psycopg2.", "psycopg 2", Tech::Psycopg),
        ("psycopg.", "psycopg 3", Tech::Psycopg),
        ("/psycopg/", "psycopg 3", Tech::Psycopg),
        ("asyncpg.", "asyncpg", Tech::Asyncpg),
        ("/asyncpg/", "asyncpg", Tech::Asyncpg),
        ("sqlalchemy.exc", "SQLAlchemy", Tech::SqlAlchemy),
        ("sqlalche.me/e/", "SQLAlchemy", Tech::SqlAlchemy),
    ] {
        if let Some(i) = text.find(needle) {
            let from = text[..i]
                .char_indices()
                .rev()
                .nth(10)
                .map(|(j, _)| j)
                .unwrap_or(0);
            let snippet: String = text[from..].chars().take(70).collect();
            t.add(Slot::Driver, name, Some(tech), 2, clip(&snippet));
        }
    }
}

fn clip(s: &str) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    flat.chars().take(120).collect()
}

/// `Some(true)` for Flask's habit (sorted keys, trailing newline), `Some(false)` for Starlette's
/// (compact, no newline, keys not sorted), `None` when the body cannot tell.
fn json_habit(text: &str) -> Option<bool> {
    let trimmed = text.trim_end();
    if !trimmed.starts_with('{') {
        return None;
    }
    let keys = top_level_keys(trimmed)?;
    if keys.len() < 2 {
        return None;
    }
    let sorted = keys.windows(2).all(|w| w[0] <= w[1]);
    let newline = text.ends_with('\n');
    if sorted && newline {
        Some(true)
    } else if !sorted && !newline && !trimmed.contains("\": ") {
        Some(false)
    } else {
        None
    }
}

/// The first [`MAX_KEYS`] keys of a JSON object in the order the text has them (serde_json's
/// map would sort them), read in one pass; values are skipped unparsed. `None` when the text
/// is not one JSON object (a cut body included).
fn top_level_keys(text: &str) -> Option<Vec<String>> {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                if keys.len() < MAX_KEYS {
                    keys.push(k);
                }
            }
            Ok(keys)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let keys = de.deserialize_map(Keys).ok()?;
    de.end().ok()?;
    Some(keys)
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::exchange_for;
    use crate::similarity::response;
    use middlebrick_model::{Method, RequestSpec};

    fn ex(status: u16, ct: &str, body: &str, server: Option<&str>) -> Exchange {
        let mut r = response(status, ct, body);
        if let Some(s) = server {
            r.headers.push(("server".into(), s.into()));
        }
        exchange_for(&RequestSpec::new(Method::Get, "/x"), Some(r))
    }

    #[test]
    fn flask_on_werkzeug_with_psycopg3_and_postgresql() {
        let s = fingerprint(&[
            ex(200, "application/json", "{\n  \"count\": 1,\n  \"items\": []\n}\n", Some("Werkzeug/3.1.3 Python/3.11.9")),
            ex(500, "text/html", "<title>DataError // Werkzeug Debugger</title> psycopg.errors.InvalidTextRepresentation: invalid input syntax for type integer: \"x\"", Some("Werkzeug/3.1.3 Python/3.11.9")),
        ]);
        assert_eq!(s.framework.as_ref().unwrap().tech, Some(Tech::Flask));
        assert_eq!(
            s.framework.as_ref().unwrap().confidence,
            Confidence::Confirmed
        );
        assert_eq!(
            s.server.as_ref().unwrap().name,
            "Werkzeug development server"
        );
        assert_eq!(s.database.as_ref().unwrap().tech, Some(Tech::PostgreSql));
        assert_eq!(s.driver.as_ref().unwrap().name, "psycopg 3");
        assert_eq!(
            s.techs(),
            vec![Tech::Flask, Tech::PostgreSql, Tech::Psycopg]
        );
    }

    #[test]
    fn fastapi_from_its_envelopes_and_asyncpg_from_its_exceptions() {
        let s = fingerprint(&[
            ex(
                422,
                "application/json",
                r#"{"detail":[{"loc":["query","limit"],"msg":"Input should be a valid integer","type":"int_parsing"}]}"#,
                None,
            ),
            ex(
                401,
                "application/json",
                r#"{"detail":"Not authenticated"}"#,
                None,
            ),
            ex(
                500,
                "text/plain",
                "asyncpg.exceptions.DataError: invalid input for query argument $1",
                Some("uvicorn"),
            ),
        ]);
        assert_eq!(s.framework.as_ref().unwrap().tech, Some(Tech::FastApi));
        assert_eq!(s.framework.as_ref().unwrap().confidence, Confidence::Firm);
        assert_eq!(s.server.as_ref().unwrap().name, "uvicorn");
        assert_eq!(s.driver.as_ref().unwrap().tech, Some(Tech::Asyncpg));
        let db = s.database.unwrap();
        assert_eq!(
            (db.tech, db.confidence),
            (Some(Tech::PostgreSql), Confidence::Tentative)
        );
    }

    #[test]
    fn cockroachdb_wins_over_postgresql_lookalikes() {
        let s = fingerprint(&[ex(
            500,
            "text/plain",
            r#"psycopg2.errors.SyntaxError: at or near "'": syntax error: unterminated quoted string HINT: see go.crdb.dev/issue"#,
            None,
        )]);
        assert_eq!(s.database.as_ref().unwrap().tech, Some(Tech::CockroachDb));
        assert_eq!(s.driver.as_ref().unwrap().name, "psycopg 2");
    }

    #[test]
    fn json_habits_tell_flask_from_starlette() {
        let flask: Vec<Exchange> = (0..3)
            .map(|_| {
                ex(
                    200,
                    "application/json",
                    "{\"count\":2,\"items\":[]}\n",
                    Some("gunicorn"),
                )
            })
            .collect();
        let s = fingerprint(&flask);
        assert_eq!(s.framework.unwrap().tech, Some(Tech::Flask));
        assert_eq!(s.server.unwrap().name, "gunicorn");
        let starlette: Vec<Exchange> = (0..3)
            .map(|_| ex(200, "application/json", r#"{"items":[],"count":0}"#, None))
            .collect();
        assert_eq!(
            fingerprint(&starlette).framework.unwrap().tech,
            Some(Tech::FastApi)
        );
        assert_eq!(fingerprint(&[]), Stack::default());
    }

    #[test]
    fn a_huge_json_answer_costs_milliseconds_not_seconds() {
        // Issue 16: 0.7 MB, 100,000 keys, cost 24 s of CPU when each key was searched for.
        let mut body = String::from("{");
        for i in 0..100_000 {
            body.push_str(&format!("\"k{i:05}\":1,"));
        }
        body.pop();
        body.push('}');
        assert!(body.len() > 700_000);
        let answers: Vec<Exchange> = (0..4)
            .map(|_| ex(200, "application/json", &body, None))
            .collect();
        let started = std::time::Instant::now();
        let _ = fingerprint(&answers);
        let took = started.elapsed();
        // Generous for an unoptimised build on a shared machine; quadratic work took minutes.
        assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
        assert_eq!(
            top_level_keys(r#"{"b":1,"a":{"x":[1,2]}}"#).unwrap(),
            ["b", "a"]
        );
        assert_eq!(top_level_keys(r#"{"b":1,"a":"#), None);
        assert_eq!(top_level_keys("[1]"), None);
    }
}
