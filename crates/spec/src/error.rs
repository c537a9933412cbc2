//! The few failures that stop a load. Everything smaller (a broken operation, an unreadable
//! referenced file) is a `Diagnostic` in the inventory instead, so a scan still runs.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read spec file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin} is not valid {format}: {message}")]
    Syntax {
        origin: String,
        format: &'static str,
        message: String,
    },
    #[error("{origin} is not an OpenAPI or Swagger document: {reason}")]
    NotASpec { origin: String, reason: String },
    #[error(
        "{origin} declares version `{version}`, which middlebrick does not read \
         (it reads Swagger 2.0 and OpenAPI 3.0 / 3.1)"
    )]
    UnsupportedVersion { origin: String, version: String },
}
