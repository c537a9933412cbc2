//! The scan history: every scan a front end runs, recorded in one SQLite file.
//!
//! This crate owns all SQL in middlebrick (the monitoring service will grow from it), so the
//! SQL is kept portable to PostgreSQL: numbered migrations embedded in the binary and applied
//! in order, recorded in `schema_migrations`; `$n` parameters in order of first use (SQLite
//! binds them by position like PostgreSQL does); RFC 3339 text timestamps; `RETURNING`.
//!
//! A scan is written twice: a `running` row when it starts, then one transaction that sets
//! its outcome, the report and the findings. A killed process leaves the `running` row, which
//! readers show as incomplete; nothing is ever half-written.

mod migrate;
mod scans;
pub mod service;

pub use scans::{Filter, NewScan, ScanId, ScanSummary, Status};

use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("history database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("creating {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("history database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("scan {0} is not in the history")]
    NotFound(ScanId),
    #[error("scan {id}: stored report is unreadable: {message}")]
    Corrupt { id: ScanId, message: String },
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// A serialization failure (SQLSTATE 40001): the transaction is run again.
    #[error("PostgreSQL serialization failure: {0}")]
    Retry(String),
    #[error("the {0} just written could not be read back")]
    Missing(&'static str),
    #[error("history database has schema version {found}; this middlebrick knows up to {known}")]
    TooNew { found: i64, known: i64 },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A connection to the history. Not `Sync`: a front end that shares it across tasks wraps it
/// in a mutex (every call is short).
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating it and its directory when missing) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        // A CLI scan and an MCP server may write at the same time: wait for the lock rather
        // than fail, and let readers read while a scan is written.
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Store::setup(conn)
    }

    /// A database that lives as long as the value (an MCP server started with no history).
    pub fn open_in_memory() -> Result<Store> {
        Store::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate::run(&mut conn)?;
        Ok(Store { conn })
    }
}

/// `$XDG_DATA_HOME/middlebrick/history.sqlite3` (or the platform's data directory).
pub fn default_path() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("middlebrick").join("history.sqlite3"))
}

/// Lower-case hex SHA-256, the form every hash in the history takes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
