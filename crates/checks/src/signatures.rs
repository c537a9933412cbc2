//! What a database, a driver or a Python runtime prints when it fails, so checks can tell that
//! an answer leaks one. These are facts about those programs' messages:
//! - PostgreSQL: the primary messages of `src/backend/utils/errcodes.txt` conditions as the
//!   server words them (`invalid input syntax for type integer: "x"`, `syntax error at or near`).
//! - CockroachDB words the same conditions differently (`could not parse "x" as type int`,
//!   `at or near "x": syntax error`) and links `go.crdb.dev` in hints.
//! - psycopg 2/3 (`psycopg2.errors.*`, `psycopg.errors.*`), asyncpg (`asyncpg.exceptions.*`),
//!   SQLAlchemy (`sqlalchemy.exc.*`, `[SQL: …]`, `sqlalche.me` links) name themselves.
//! - Werkzeug's interactive debugger page carries `Werkzeug Debugger` in its title and loads
//!   `?__debugger__=yes&cmd=resource` assets.
//!
//! A signature alone never makes a finding: checks compare against a control answer.

use regex::{Regex, RegexSet};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeakKind {
    /// The interactive debugger: whoever reaches it can run code.
    Debugger,
    /// The SQL statement itself.
    SqlText,
    /// A database server's error message.
    DatabaseError,
    /// A driver or ORM exception class.
    DriverException,
    /// A runtime stack trace.
    Traceback,
    /// A bare SQLSTATE code.
    SqlState,
}

impl LeakKind {
    pub fn describe(self) -> &'static str {
        match self {
            LeakKind::Debugger => "a live Werkzeug interactive debugger",
            LeakKind::SqlText => "the SQL statement",
            LeakKind::DatabaseError => "a database error message",
            LeakKind::DriverException => "a database driver exception",
            LeakKind::Traceback => "a Python stack trace",
            LeakKind::SqlState => "a SQLSTATE code",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    PostgreSql,
    CockroachDb,
    MySql,
    Sqlite,
    Psycopg,
    Asyncpg,
    SqlAlchemy,
    Python,
    Werkzeug,
    AnySql,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::PostgreSql => "PostgreSQL",
            Source::CockroachDb => "CockroachDB",
            Source::MySql => "MySQL",
            Source::Sqlite => "SQLite",
            Source::Psycopg => "psycopg",
            Source::Asyncpg => "asyncpg",
            Source::SqlAlchemy => "SQLAlchemy",
            Source::Python => "Python",
            Source::Werkzeug => "Werkzeug",
            Source::AnySql => "SQL database",
        }
    }
}

struct Signature {
    pattern: &'static str,
    kind: LeakKind,
    source: Source,
}

const SIGNATURES: &[Signature] = &[
    Signature {
        pattern: r"(?i)<title>[^<]*Werkzeug Debugger</title>",
        kind: LeakKind::Debugger,
        source: Source::Werkzeug,
    },
    Signature {
        pattern: r"The debugger caught an exception in your WSGI application",
        kind: LeakKind::Debugger,
        source: Source::Werkzeug,
    },
    Signature {
        pattern: r"__debugger__=yes",
        kind: LeakKind::Debugger,
        source: Source::Werkzeug,
    },
    Signature {
        pattern: r"\[SQL: [^\]]{4,}",
        kind: LeakKind::SqlText,
        source: Source::SqlAlchemy,
    },
    Signature {
        pattern: r"\b(?:SELECT\s+[\w\*,\s\.]+\s+FROM\s+\w+|INSERT\s+INTO\s+\w+\s*\(|UPDATE\s+\w+\s+SET\s+\w+\s*=)",
        kind: LeakKind::SqlText,
        source: Source::AnySql,
    },
    Signature {
        pattern: r#"invalid input syntax for (?:type )?[\w ]+"#,
        kind: LeakKind::DatabaseError,
        source: Source::PostgreSql,
    },
    Signature {
        pattern: r#"syntax error at or near ""#,
        kind: LeakKind::DatabaseError,
        source: Source::PostgreSql,
    },
    Signature {
        pattern: r#"relation "[^"]+" does not exist"#,
        kind: LeakKind::DatabaseError,
        source: Source::PostgreSql,
    },
    Signature {
        pattern: r#"column "[^"]+" (?:of relation "[^"]+" )?does not exist"#,
        kind: LeakKind::DatabaseError,
        source: Source::PostgreSql,
    },
    Signature {
        pattern: r"operator does not exist: \w+",
        kind: LeakKind::DatabaseError,
        source: Source::PostgreSql,
    },
    Signature {
        pattern: r"unterminated quoted (?:string|identifier) at or near",
        kind: LeakKind::DatabaseError,
        source: Source::PostgreSql,
    },
    Signature {
        pattern: r"current transaction is aborted, commands ignored until end of transaction block",
        kind: LeakKind::DatabaseError,
        source: Source::PostgreSql,
    },
    Signature {
        pattern: r"value too long for type character varying",
        kind: LeakKind::DatabaseError,
        source: Source::PostgreSql,
    },
    Signature {
        pattern: r#"invalid input value for enum \w+"#,
        kind: LeakKind::DatabaseError,
        source: Source::PostgreSql,
    },
    Signature {
        pattern: r#"value "[^"]*" is out of range for type \w+"#,
        kind: LeakKind::DatabaseError,
        source: Source::PostgreSql,
    },
    Signature {
        pattern: r#"duplicate key value violates unique constraint ""#,
        kind: LeakKind::DatabaseError,
        source: Source::PostgreSql,
    },
    Signature {
        pattern: r#"violates (?:foreign key|not-null|check) constraint"#,
        kind: LeakKind::DatabaseError,
        source: Source::PostgreSql,
    },
    Signature {
        pattern: r#"invalid byte sequence for encoding "UTF8""#,
        kind: LeakKind::DatabaseError,
        source: Source::PostgreSql,
    },
    Signature {
        pattern: r#"could not parse "[^"]*" as type \w+"#,
        kind: LeakKind::DatabaseError,
        source: Source::CockroachDb,
    },
    Signature {
        pattern: r#"at or near "[^"]*": syntax error"#,
        kind: LeakKind::DatabaseError,
        source: Source::CockroachDb,
    },
    Signature {
        pattern: r"go\.crdb\.dev/|crdb_internal\.|TransactionRetryWithProtoRefreshError",
        kind: LeakKind::DatabaseError,
        source: Source::CockroachDb,
    },
    Signature {
        pattern: r"You have an error in your SQL syntax",
        kind: LeakKind::DatabaseError,
        source: Source::MySql,
    },
    Signature {
        pattern: r"(?:sqlite3\.OperationalError|SQLITE_ERROR|no such (?:table|column): \w+)",
        kind: LeakKind::DatabaseError,
        source: Source::Sqlite,
    },
    Signature {
        pattern: r"\bpsycopg2?\.(?:errors|extensions|Data|Programming|Operational|Integrity|Internal)[\w\.]*",
        kind: LeakKind::DriverException,
        source: Source::Psycopg,
    },
    Signature {
        pattern: r"\bpsycopg2?\.errors\.\w+",
        kind: LeakKind::DriverException,
        source: Source::Psycopg,
    },
    Signature {
        pattern: r"\basyncpg\.exceptions\.\w+|\basyncpg\.(?:pgproto|protocol)\b",
        kind: LeakKind::DriverException,
        source: Source::Asyncpg,
    },
    Signature {
        pattern: r"\bsqlalchemy\.exc\.\w+|sqlalche\.me/e/",
        kind: LeakKind::DriverException,
        source: Source::SqlAlchemy,
    },
    Signature {
        pattern: r"\b(?:InvalidTextRepresentation|UndefinedColumn|UndefinedTable|NumericValueOutOfRange|DataError|InvalidTextRepresentationError|DataError|StringDataRightTruncation)(?:Error)?:\s",
        kind: LeakKind::DriverException,
        source: Source::Psycopg,
    },
    Signature {
        pattern: r"Traceback \(most recent call last\)",
        kind: LeakKind::Traceback,
        source: Source::Python,
    },
    Signature {
        pattern: r#"File "[^"]+\.py", line \d+, in \w+"#,
        kind: LeakKind::Traceback,
        source: Source::Python,
    },
    Signature {
        pattern: r#"(?i)\bSQLSTATE\b["'\s:=\[]*[0-9A-Z]{5}\b|"(?:pgcode|sqlstate)"\s*:\s*"[0-9A-Z]{5}""#,
        kind: LeakKind::SqlState,
        source: Source::AnySql,
    },
];

fn set() -> &'static (RegexSet, Vec<Regex>) {
    static SET: OnceLock<(RegexSet, Vec<Regex>)> = OnceLock::new();
    SET.get_or_init(|| {
        let patterns: Vec<&str> = SIGNATURES.iter().map(|s| s.pattern).collect();
        let set = RegexSet::new(&patterns).expect("signature patterns compile");
        let each = patterns
            .iter()
            .map(|p| Regex::new(p).expect("signature pattern compiles"))
            .collect();
        (set, each)
    })
}

/// One signature seen in a text, with the matched excerpt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    pub kind: LeakKind,
    pub source: Source,
    pub excerpt: String,
}

/// The text as a reader sees it: a JSON answer carries a quoted database message with its
/// quotes escaped (`syntax error at or near \"x\"`), which the signatures, written for the
/// server's own words, would miss.
fn unescape_json(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\\') {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.replace("\\\"", "\"")
            .replace("\\n", "\n")
            .replace("\\t", "\t")
            .replace("\\\\", "\\"),
    )
}

/// Every signature that matches `text`, strongest kind first, one per signature.
pub fn scan(text: &str) -> Vec<Leak> {
    let text = unescape_json(text);
    let text = text.as_ref();
    let (set, each) = set();
    let mut leaks: Vec<Leak> = set
        .matches(text)
        .into_iter()
        .filter_map(|i| {
            each[i].find(text).map(|m| Leak {
                kind: SIGNATURES[i].kind,
                source: SIGNATURES[i].source,
                excerpt: excerpt(text, m.start(), m.end()),
            })
        })
        .collect();
    leaks.sort_by_key(|l| l.kind);
    // One leak per kind and source: several patterns often see the same page.
    let mut seen = std::collections::HashSet::new();
    leaks.retain(|l| seen.insert((l.kind, l.source)));
    leaks
}

/// The leaked line, not the page around it: the line of the text that holds the match, cut
/// to ~160 characters of context between word or tag boundaries (never inside a word), with
/// HTML tags dropped. A Werkzeug debugger page, say, gives its `<title>` line: the exception.
fn excerpt(text: &str, start: usize, end: usize) -> String {
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    let mut from = floor_boundary(text, start.saturating_sub(40).max(line_start));
    let mut to = ceil_boundary(text, (end + 100).min(line_end));
    let is_break = |c: char| c.is_whitespace() || c == '>' || c == '<';
    // Whole words at both ends: widen to the break before (or after) the cut when it is near,
    // else narrow to the next break inside.
    if from > line_start && !text[..from].ends_with(is_break) {
        let reach = floor_boundary(text, from.saturating_sub(WORD_REACH).max(line_start));
        match text[reach..from].rfind(is_break) {
            Some(i) => from = reach + i + 1,
            None if reach == line_start => from = line_start,
            None => {
                if let Some(i) = text[from..start].find(is_break) {
                    from += i + 1;
                }
            }
        }
    }
    if to < line_end && !text[to..].starts_with(is_break) {
        let reach = ceil_boundary(text, (to + WORD_REACH).min(line_end));
        match text[to..reach].find(is_break) {
            Some(i) => to += i,
            None if reach == line_end => to = line_end,
            None => {
                if let Some(i) = text[end..to].rfind(is_break) {
                    to = end + i;
                }
            }
        }
    }
    let inner = strip_tags(&text[from..to]);
    let flat = inner.split_whitespace().collect::<Vec<_>>().join(" ");
    unescape_html(&flat)
}

/// How far an excerpt may widen to end on a whole word.
const WORD_REACH: usize = 40;

/// The text with HTML tags (and a tag cut at either edge) replaced by spaces.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    // A `>` before any `<` closes a tag the excerpt started inside of.
    if let Some(gt) = s.find('>') {
        if s.find('<').is_none_or(|lt| gt < lt) {
            out.push(' ');
            return out + &strip_tags(&s[gt + 1..]);
        }
    }
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Error pages are HTML; their excerpts read better with the common entities decoded.
fn unescape_html(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Names of tables, columns and constraints that a leaked message reveals.
pub fn leaked_identifiers(text: &str) -> Vec<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r#"(?:relation|column|table|constraint|index) "([A-Za-z_][\w\.]{0,62})""#)
            .expect("identifier pattern compiles")
    });
    let text = unescape_json(text);
    let mut names: Vec<String> = re.captures_iter(&text).map(|c| c[1].to_string()).collect();
    names.sort();
    names.dedup();
    names.truncate(10);
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_debugger_page_gives_its_exception_line_not_the_markup() {
        let page = "<!doctype html>\n<html lang=en>\n  <head>\n    <title>psycopg.errors.InvalidTextRepresentation: invalid input syntax for type integer: &#34;mb-x1&#39;&#34;\nCONTEXT:  unnamed portal parameter $1 = &#39;...&#39;\n // Werkzeug Debugger</title>\n    <link rel=\"stylesheet\" href=\"?__debugger__=yes&amp;cmd=resource&amp;f=style.css\">\n";
        let leaks = scan(page);
        let db = leaks
            .iter()
            .find(|l| l.kind == LeakKind::DatabaseError)
            .expect("the database message");
        assert_eq!(
            db.excerpt,
            "psycopg.errors.InvalidTextRepresentation: invalid input syntax for type integer: \"mb-x1'\""
        );
        for l in &leaks {
            assert!(
                !l.excerpt.contains('<') || l.excerpt.contains("<="),
                "{l:?}"
            );
            assert!(
                !l.excerpt.starts_with("ctype") && !l.excerpt.starts_with("tml"),
                "{l:?}"
            );
        }
    }

    #[test]
    fn excerpts_start_and_end_on_whole_words() {
        let text = format!(
            "{} ERROR: syntax error at or near \"x\" {}",
            "padding ".repeat(20),
            "trailing words ".repeat(20)
        );
        let e = &scan(&text)[0].excerpt;
        assert!(e.contains("ERROR: syntax error at or near"), "{e}");
        let words = ["padding", "trailing", "words"];
        let first = e.split(' ').next().unwrap();
        let last = e.split(' ').next_back().unwrap();
        assert!(words.contains(&first) || first == "ERROR:", "{e}");
        assert!(words.contains(&last), "{e}");
    }

    #[test]
    fn messages_quoted_inside_json_are_read_unescaped() {
        let body = r#"{"error":"syntax error at or near \"'\"\nLINE 1: SELECT * FROM accounts","column":"column \"pin\" does not exist"}"#;
        let leaks = scan(body);
        assert!(!leaks.is_empty(), "{body}");
        assert!(
            leaks.iter().any(|l| l.excerpt.contains(r#"near "'""#)),
            "{leaks:?}"
        );
        assert_eq!(leaked_identifiers(body), vec!["pin"]);
        assert_eq!(unescape_json("plain text"), "plain text");
    }

    #[test]
    fn postgres_and_cockroach_messages_are_told_apart() {
        let pg = scan(r#"{"error": "invalid input syntax for type integer: \"abc\""}"#);
        assert_eq!(pg[0].source, Source::PostgreSql);
        assert_eq!(pg[0].kind, LeakKind::DatabaseError);
        let crdb = scan(r#"could not parse "abc" as type int: strconv.ParseInt"#);
        assert_eq!(crdb[0].source, Source::CockroachDb);
    }

    #[test]
    fn drivers_tracebacks_and_debugger_are_recognised() {
        let text = "Traceback (most recent call last):\n  File \"/app/db.py\", line 12, in find\npsycopg.errors.InvalidTextRepresentation: invalid input syntax for type integer";
        let kinds: Vec<_> = scan(text).iter().map(|l| l.kind).collect();
        assert!(kinds.contains(&LeakKind::Traceback));
        assert!(kinds.contains(&LeakKind::DriverException));
        assert!(kinds.contains(&LeakKind::DatabaseError));
        let dbg = scan("<title>ValueError // Werkzeug Debugger</title>");
        assert_eq!(dbg[0].kind, LeakKind::Debugger);
        assert!(scan("asyncpg.exceptions.DataError: invalid input")
            .iter()
            .any(|l| l.source == Source::Asyncpg));
    }

    #[test]
    fn ordinary_answers_do_not_match() {
        for text in [
            r#"{"detail":[{"type":"int_parsing","loc":["query","limit"],"msg":"Input should be a valid integer"}]}"#,
            r#"{"error": "invalid request"}"#,
            r#"{"items": [{"id": 1, "name": "Syntax Error T-shirt", "description": "select your size"}]}"#,
            "<html><body>Not Found</body></html>",
        ] {
            assert!(scan(text).is_empty(), "false match in {text}");
        }
    }

    #[test]
    fn identifiers_are_extracted() {
        let names = leaked_identifiers(r#"column "pricee" of relation "products" does not exist"#);
        assert_eq!(names, vec!["pricee".to_string(), "products".to_string()]);
    }
}
