//! The pure half of `injection.sql`: the payloads, the signatures of a SQL *parser* rejecting
//! them, and the judgement of a timing series. No I/O, so every rule here is unit-tested.
//!
//! Payloads are read-only by construction: a comparison (`AND 7>6`), a string concatenation, a
//! `CASE` that divides by zero when false, or `pg_sleep` inside a scalar subquery. None has a
//! statement separator, DDL or DML (the test at the bottom holds every template to that). Each
//! true/false pair uses the same characters in a different order (`7>6` vs `6>7`), so anything
//! that is not a SQL engine (a length check, a full-text engine's bag of words) treats the two
//! alike.

use crate::signatures::Source;
use regex::Regex;
use std::sync::OnceLock;

/// Where the value lands in the statement, as far as a payload is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// A bare number: `WHERE id = 1`.
    Numeric,
    /// Inside a string literal: `WHERE status = 'placed'`.
    Quoted,
    /// Inside a `LIKE` pattern that the code wraps in `%`: `ILIKE '%mug%'`.
    Like,
    /// An identifier: `ORDER BY price`.
    Identifier,
}

impl Context {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Context::Numeric => "a numeric expression",
            Context::Quoted => "a quoted string",
            Context::Like => "a LIKE pattern",
            Context::Identifier => "an identifier (ORDER BY / column name)",
        }
    }
}

/// The contexts worth trying for a value, most likely first. A string parameter whose value
/// happens to be a number may still be pasted unquoted, so it gets the numeric context last.
pub(crate) fn contexts(value: &str, numeric_schema: bool) -> Vec<Context> {
    let looks_numeric = value.parse::<f64>().is_ok();
    if numeric_schema {
        return vec![Context::Numeric, Context::Quoted];
    }
    let mut out = vec![Context::Quoted, Context::Like];
    if looks_numeric {
        out.push(Context::Numeric);
    } else if is_identifier(value) {
        out.push(Context::Identifier);
    }
    out
}

fn is_identifier(v: &str) -> bool {
    let mut chars = v.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && v.len() <= 63
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// The values that break the statement's syntax, and nothing else, when the input is pasted in.
/// The first is also `info.verbose-error`'s quote probe, sent once for both
/// (`crate::malformed`).
pub(crate) fn breakers(value: &str) -> [String; 2] {
    [crate::malformed::quote_breaker(value), format!("{value}\"")]
}

/// A true and a false condition for `context`; the true one leaves the statement's result as
/// the control's.
pub(crate) fn boolean_pair(value: &str, context: Context) -> (String, String) {
    let cond = |a: u8, b: u8| match context {
        Context::Numeric => format!("{value} AND {a}>{b}"),
        Context::Quoted => format!("{value}' AND '{a}'>'{b}"),
        Context::Like => format!("{value}%' AND '{a}%'>'{b}"),
        // A false condition divides by zero for every row; the subquery stops the planner
        // from folding the division away (or raising it) while the CASE is still undecided.
        Context::Identifier => {
            format!("{value},(CASE WHEN {a}>{b} THEN 1 ELSE 1/(SELECT 0) END)")
        }
    };
    (cond(7, 6), cond(6, 7))
}

/// A value that makes the database sleep `seconds` and otherwise leaves the statement as it was.
/// `pg_sleep` is PostgreSQL's and CockroachDB's (both document it); in a scalar subquery it runs
/// once per statement.
pub(crate) fn sleeper(value: &str, context: Context, seconds: u32) -> String {
    match context {
        Context::Numeric => format!("{value}+(SELECT 0 FROM pg_sleep({seconds}))"),
        Context::Quoted | Context::Like => {
            format!("{value}'||(SELECT '' FROM pg_sleep({seconds}))||'")
        }
        Context::Identifier => format!("{value},(SELECT 0 FROM pg_sleep({seconds}))"),
    }
}

struct ParserSignature {
    pattern: &'static str,
    source: Source,
}

/// What a SQL parser says when the statement text itself is broken. Type errors
/// (`invalid input syntax for type integer`) are left out on purpose: a parameterised query
/// raises those too. So are tsquery/jsonpath/regex syntax errors, which PostgreSQL reports with
/// the same SQLSTATE 42601 for a bound parameter.
const PARSER_SIGNATURES: &[ParserSignature] = &[
    // PostgreSQL, src/backend/parser/scan.l (scanner_yyerror / the `unterminated` rules) and
    // gram.y: "syntax error at or near \"%s\"", "syntax error at end of input",
    // "unterminated quoted string at or near", "unterminated quoted identifier at or near",
    // "zero-length delimited identifier at or near".
    ParserSignature {
        pattern: r#"syntax error at or near "|syntax error at end of input"#,
        source: Source::PostgreSql,
    },
    ParserSignature {
        pattern: r"unterminated quoted (?:string|identifier) at or near|zero-length delimited identifier at or near",
        source: Source::PostgreSql,
    },
    // CockroachDB, pkg/sql/parser and pkg/sql/scanner: the position comes first,
    // `at or near "x": syntax error`, and the scanner's `lexical error: unterminated string`.
    ParserSignature {
        pattern: r#"at or near "[^"]*": syntax error|lexical error: unterminated"#,
        source: Source::CockroachDb,
    },
    // MySQL/MariaDB ER_PARSE_ERROR (1064).
    ParserSignature {
        pattern: r"You have an error in your SQL syntax",
        source: Source::MySql,
    },
    // SQLite, src/tokenize.c and parse.y: `unrecognized token: "x"`, `near "x": syntax error`.
    ParserSignature {
        pattern: r#"unrecognized token: "|near "[^"]*": syntax error"#,
        source: Source::Sqlite,
    },
];

fn parser_regexes() -> &'static Vec<Regex> {
    static RE: OnceLock<Vec<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        PARSER_SIGNATURES
            .iter()
            .map(|s| Regex::new(s.pattern).expect("parser signature compiles"))
            .collect()
    })
}

/// The first SQL parser error in `text`, with its database and an excerpt.
pub(crate) fn parser_error(text: &str) -> Option<(Source, String)> {
    let decoded = text.replace("&#34;", "\"").replace("&quot;", "\"");
    parser_regexes()
        .iter()
        .zip(PARSER_SIGNATURES)
        .find_map(|(re, sig)| {
            re.find(&decoded).map(|m| {
                let start = floor(&decoded, m.start().saturating_sub(20));
                let end = ceil(&decoded, (m.end() + 60).min(decoded.len()));
                let excerpt = decoded[start..end]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                (sig.source, excerpt)
            })
        })
}

fn floor(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The two delays of a timing series, in seconds.
pub(crate) const SHORT_DELAY: u32 = 1;
pub(crate) const LONG_DELAY: u32 = 2;

/// One trial: the control's, the short delay's and the long delay's answer times, in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Trial {
    pub control: u64,
    pub short: u64,
    pub long: u64,
}

/// The fitted seconds-of-answer per second-of-sleep when every trial is ordered
/// (control < short < long), each step is at least 80 % of the requested delay and not far
/// beyond it, and a line through all points fits (slope 0.8–1.3, r² ≥ 0.9). One slow answer,
/// or answers that are slow at random, never pass: random latency is not ordered in every
/// trial and does not grow with the requested delay.
pub(crate) fn consistent_slope(trials: &[Trial]) -> Option<f64> {
    if trials.len() < 3 {
        return None;
    }
    let (short, long) = (SHORT_DELAY as f64, LONG_DELAY as f64);
    for t in trials {
        let c = t.control as f64 / 1000.0;
        let s = t.short as f64 / 1000.0;
        let l = t.long as f64 / 1000.0;
        let steps_ok = s - c >= 0.8 * short && l - s >= 0.8 * (long - short);
        let bounded = l - c <= long * 1.5 + 0.5;
        if !(steps_ok && bounded) {
            return None;
        }
    }
    let points: Vec<(f64, f64)> = trials
        .iter()
        .flat_map(|t| {
            [
                (0.0, t.control as f64 / 1000.0),
                (short, t.short as f64 / 1000.0),
                (long, t.long as f64 / 1000.0),
            ]
        })
        .collect();
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let r2 = (sxy * sxy) / (sxx * syy);
    ((0.8..=1.3).contains(&slope) && r2 >= 0.9).then_some(slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Context; 4] = [
        Context::Numeric,
        Context::Quoted,
        Context::Like,
        Context::Identifier,
    ];

    fn every_payload() -> Vec<String> {
        let mut out = Vec::new();
        for v in ["1", "mug", "price", "a b"] {
            out.extend(breakers(v));
            for c in ALL {
                let (t, f) = boolean_pair(v, c);
                out.push(t);
                out.push(f);
                out.push(sleeper(v, c, SHORT_DELAY));
                out.push(sleeper(v, c, LONG_DELAY));
            }
        }
        out
    }

    #[test]
    fn every_payload_is_read_only() {
        for p in every_payload() {
            let upper = p.to_ascii_uppercase();
            assert!(!p.contains(';'), "statement separator in {p}");
            assert!(!p.contains("--") && !p.contains("/*"), "comment in {p}");
            for word in [
                "DROP", "INSERT", "UPDATE", "DELETE", "ALTER", "CREATE", "TRUNCATE", "GRANT",
                "COPY", "EXEC", "INTO",
            ] {
                assert!(
                    !upper
                        .split(|c: char| !c.is_ascii_alphanumeric())
                        .any(|w| w == word),
                    "{word} in {p}"
                );
            }
        }
    }

    #[test]
    fn true_and_false_use_the_same_characters() {
        for c in ALL {
            let (t, f) = boolean_pair("mug", c);
            let mut a: Vec<char> = t.chars().collect();
            let mut b: Vec<char> = f.chars().collect();
            a.sort();
            b.sort();
            assert_eq!(a, b, "{c:?}");
            assert_ne!(t, f);
        }
        assert_eq!(
            boolean_pair("mug", Context::Like).0,
            "mug%' AND '7%'>'6",
            "closes the code's own `%'` into a true comparison"
        );
    }

    #[test]
    fn contexts_follow_the_value() {
        assert_eq!(contexts("1", true), vec![Context::Numeric, Context::Quoted]);
        assert_eq!(
            contexts("1", false),
            vec![Context::Quoted, Context::Like, Context::Numeric]
        );
        assert_eq!(
            contexts("price", false),
            vec![Context::Quoted, Context::Like, Context::Identifier]
        );
        assert_eq!(
            contexts("red mug", false),
            vec![Context::Quoted, Context::Like]
        );
    }

    #[test]
    fn parser_errors_are_told_from_type_errors() {
        let pg = parser_error(
            r#"psycopg.errors.SyntaxError: unterminated quoted string at or near "'" LINE 1"#,
        );
        assert_eq!(pg.unwrap().0, Source::PostgreSql);
        let crdb =
            parser_error(r#"ERROR: at or near "'": syntax error: unterminated quoted string"#);
        assert_eq!(crdb.unwrap().0, Source::CockroachDb);
        assert!(parser_error(r#"invalid input syntax for type integer: "1'""#).is_none());
        assert!(
            parser_error(r#"PostgresSyntaxError: syntax error in tsquery: "gift ideas""#).is_none()
        );
        assert_eq!(
            parser_error("You have an error in your SQL syntax; check the manual")
                .unwrap()
                .0,
            Source::MySql
        );
    }

    fn trial(c: u64, s: u64, l: u64) -> Trial {
        Trial {
            control: c,
            short: s,
            long: l,
        }
    }

    #[test]
    fn a_consistent_slope_passes() {
        let t = [
            trial(40, 1_050, 2_060),
            trial(35, 1_045, 2_040),
            trial(50, 1_070, 2_080),
        ];
        let slope = consistent_slope(&t).unwrap();
        assert!((0.95..1.1).contains(&slope));
    }

    #[test]
    fn one_slow_answer_or_random_latency_does_not() {
        // one slow answer in the long probe, the rest flat
        assert!(
            consistent_slope(&[trial(40, 45, 2_100), trial(40, 50, 60), trial(30, 40, 50)])
                .is_none()
        );
        // an endpoint that sleeps 0-1.5 s at random
        assert!(consistent_slope(&[
            trial(1_400, 200, 1_300),
            trial(100, 1_200, 1_500),
            trial(700, 900, 100),
        ])
        .is_none());
        // slow, but not by the requested amount
        assert!(consistent_slope(&[
            trial(40, 400, 800),
            trial(40, 410, 790),
            trial(45, 420, 810)
        ])
        .is_none());
        assert!(
            consistent_slope(&[trial(40, 1_050, 2_060)]).is_none(),
            "one trial is not a series"
        );
    }
}
