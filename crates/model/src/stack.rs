//! The technology stack a scan detected, and the technologies remediation is written for.

use crate::check::Confidence;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A technology that remediation has a variant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tech {
    Flask,
    FastApi,
    Psycopg,
    Asyncpg,
    SqlAlchemy,
    PostgreSql,
    CockroachDb,
}

impl Tech {
    pub const ALL: [Tech; 7] = [
        Tech::Flask,
        Tech::FastApi,
        Tech::Psycopg,
        Tech::Asyncpg,
        Tech::SqlAlchemy,
        Tech::PostgreSql,
        Tech::CockroachDb,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tech::Flask => "flask",
            Tech::FastApi => "fastapi",
            Tech::Psycopg => "psycopg",
            Tech::Asyncpg => "asyncpg",
            Tech::SqlAlchemy => "sqlalchemy",
            Tech::PostgreSql => "postgresql",
            Tech::CockroachDb => "cockroachdb",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Tech::Flask => "Flask",
            Tech::FastApi => "FastAPI",
            Tech::Psycopg => "psycopg",
            Tech::Asyncpg => "asyncpg",
            Tech::SqlAlchemy => "SQLAlchemy",
            Tech::PostgreSql => "PostgreSQL",
            Tech::CockroachDb => "CockroachDB",
        }
    }
}

impl fmt::Display for Tech {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tech {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Tech::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == s || (s == "postgres" && *t == Tech::PostgreSql) || (s == "cockroach" && *t == Tech::CockroachDb))
            .ok_or_else(|| format!("unknown technology `{s}` (flask, fastapi, psycopg, asyncpg, sqlalchemy, postgresql, cockroachdb)"))
    }
}

/// How to fix a flaw: a part that holds everywhere, and variants for specific technologies.
#[derive(Debug, Clone, Copy)]
pub struct Remediation {
    pub generic: &'static str,
    pub variants: &'static [(Tech, &'static str)],
}

impl Remediation {
    /// The generic part and the variants for `stack`; every variant when the stack is unknown.
    pub fn render(&self, stack: &[Tech]) -> String {
        let mut out = self.generic.to_string();
        for (tech, text) in self.variants {
            if stack.is_empty() || stack.contains(tech) {
                out.push('\n');
                out.push_str(tech.display_name());
                out.push_str(": ");
                out.push_str(text);
            }
        }
        out
    }
}

/// One detected component with how sure the scan is and what showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    /// `Flask`, `Werkzeug development server`, `uvicorn`, `PostgreSQL`, `psycopg 3`, …
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tech: Option<Tech>,
    pub confidence: Confidence,
    /// What showed it (a header, an error text), redacted like the rest of the report.
    pub evidence: Vec<String>,
}

/// The report's `stack` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stack {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<Detection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Detection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<Detection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<Detection>,
}

impl Stack {
    /// Applies `redact` to every evidence text (error excerpts may quote a secret).
    pub fn redact_with(&mut self, mut redact: impl FnMut(&mut String)) {
        for d in [
            &mut self.framework,
            &mut self.server,
            &mut self.database,
            &mut self.driver,
        ]
        .into_iter()
        .flatten()
        {
            d.evidence.iter_mut().for_each(&mut redact);
        }
    }

    /// The technologies remediation should be written for.
    pub fn techs(&self) -> Vec<Tech> {
        [&self.framework, &self.server, &self.database, &self.driver]
            .into_iter()
            .flatten()
            .filter_map(|d| d.tech)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Remediation = Remediation {
        generic: "Do the right thing.",
        variants: &[
            (Tech::Flask, "use a hook"),
            (Tech::FastApi, "use a dependency"),
        ],
    };

    #[test]
    fn remediation_shows_the_detected_stack_or_everything() {
        assert_eq!(
            R.render(&[Tech::Flask]),
            "Do the right thing.\nFlask: use a hook"
        );
        assert_eq!(
            R.render(&[]),
            "Do the right thing.\nFlask: use a hook\nFastAPI: use a dependency"
        );
        assert_eq!("Postgres".parse::<Tech>().unwrap(), Tech::PostgreSql);
    }
}
