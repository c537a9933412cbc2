//! OpenAPI 2.0 / 3.0 / 3.1 descriptions (JSON or YAML) turned into middlebrick's operation
//! [`Inventory`].
//!
//! The scanner needs the API's surface, not a faithful object model of OpenAPI: which
//! operations exist, what they take, what they answer and how they authenticate. So this crate
//! reads the document as a `serde_json::Value` tree and walks only what it needs, resolving
//! `$ref`s (local and relative-file) on demand, so a spec split over thousands of files costs
//! only the files an operation actually reaches.
//!
//! Loading is forgiving by design: a broken operation (an unresolvable `$ref`, a wrong type) is
//! skipped with a [`Diagnostic`](middlebrick_model::Diagnostic) and the rest of the API is still
//! scanned. Only an unreadable root, or a root that is not a spec at all, is an error.

pub mod discover;
mod error;
pub mod graphql;
mod load;
mod parse;
mod refs;
mod schema;
mod security;
mod v2;
mod v3;

#[cfg(test)]
mod tests;

pub use error::SpecError;

use middlebrick_model::Inventory;
use std::path::Path;

/// Loads a spec from a file, following relative-file `$ref`s from that file's directory.
/// Every referenced file is read and parsed once.
pub fn load_path(path: &Path) -> Result<Inventory, SpecError> {
    let bytes = refs::read_capped(path).map_err(|source| SpecError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    load::load(&bytes, &path.display().to_string(), Some(path))
}

/// Loads a spec fetched over HTTP; `origin` is its URL, used in `Operation::source`, to resolve
/// relative server URLs, and in messages. References to other documents are not fetched: each
/// becomes a diagnostic (an unknown schema where a schema was expected).
pub fn load_bytes(bytes: &[u8], origin: &str) -> Result<Inventory, SpecError> {
    load::load(bytes, origin, None)
}
