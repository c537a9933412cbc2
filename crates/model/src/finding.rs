//! A finding and the evidence that proves it.

use crate::check::{CheckId, Confidence, Owasp, Severity};
use crate::exchange::{Exchange, Method};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The exchanges that show the flaw, with a curl reproduction per exchange and short notes
/// that say what to compare ("anonymous got the same 2 objects as alice").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub exchanges: Vec<Exchange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curl: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Evidence {
    pub fn new(exchanges: Vec<Exchange>) -> Self {
        let curl = exchanges.iter().map(Exchange::to_curl).collect();
        Evidence {
            exchanges,
            curl,
            notes: Vec::new(),
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// A fingerprint of what the flaw is and where, stable across reruns (see [`fingerprint`]).
    pub id: String,
    pub check: CheckId,
    pub title: String,
    pub severity: Severity,
    pub confidence: Confidence,
    pub cwe: Vec<u32>,
    pub owasp: Vec<Owasp>,
    /// The operation's method; `None` for a finding about the whole API (once per scan).
    pub method: Option<Method>,
    /// The spec's path template; `None` for a finding about the whole API.
    pub path: Option<String>,
    /// The GraphQL operation (`query order`, `mutation updateProfile`) when the finding is on
    /// one; `method` and `path` are then those of the HTTP request (`POST /graphql`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphql_operation: Option<String>,
    /// The parameter, header or cookie the finding is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// What was observed, in a few sentences a reader can check against the evidence.
    pub description: String,
    pub evidence: Evidence,
    pub remediation: String,
}

impl Finding {
    /// Where the finding is, as `GET /path`, `POST /graphql query order` or `(API-wide)`.
    pub fn location(&self) -> String {
        let at = match (&self.method, &self.path) {
            (Some(m), Some(p)) => format!("{m} {p}"),
            (None, Some(p)) => p.clone(),
            _ => return "(API-wide)".to_string(),
        };
        match &self.graphql_operation {
            Some(g) => format!("{at} {g}"),
            None => at,
        }
    }
}

/// A short, stable identity for a flaw: the check, the operation and a discriminator (the
/// parameter or header concerned). It never includes volatile data such as ids, timings or
/// host and port, so the same flaw on a rerun, or on another deployment, keeps its id.
pub fn fingerprint(
    check: CheckId,
    method: Option<Method>,
    path: Option<&str>,
    discriminator: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(check.as_str());
    h.update([0]);
    h.update(method.map(|m| m.as_str()).unwrap_or("*"));
    h.update([0]);
    h.update(path.unwrap_or("*"));
    h.update([0]);
    h.update(discriminator);
    let digest = h.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_discriminating() {
        let a = fingerprint(
            CheckId::InfoVerboseError,
            Some(Method::Get),
            Some("/a/{id}"),
            "id",
        );
        assert_eq!(a.len(), 16);
        assert_eq!(
            a,
            fingerprint(
                CheckId::InfoVerboseError,
                Some(Method::Get),
                Some("/a/{id}"),
                "id"
            )
        );
        assert_ne!(
            a,
            fingerprint(
                CheckId::InfoVerboseError,
                Some(Method::Get),
                Some("/a/{id}"),
                "q"
            )
        );
        assert_ne!(
            a,
            fingerprint(
                CheckId::InfoVerboseError,
                Some(Method::Post),
                Some("/a/{id}"),
                "id"
            )
        );
    }
}
