//! The monitoring service's database: API keys, targets and their schedules, the scan queue,
//! findings, webhooks and their deliveries. SQLite for one machine, PostgreSQL for a fleet of
//! workers; the SQL is written once for both (and kept within what CockroachDB accepts), with
//! the two differences that matter for a queue spelled per backend in [`ServiceStore::lock`]:
//! row locks (`FOR UPDATE [SKIP LOCKED]`) on PostgreSQL, one `BEGIN IMMEDIATE` writer on SQLite.
//!
//! Times are milliseconds since the Unix epoch, passed in by the caller so that tests and
//! the queue agree on one clock.

mod db;
mod jobs;
mod keys;
mod targets;
mod webhooks;

pub use db::Backend;
pub use jobs::{Claimed, Completion, FindingRow, Job, JobFilter, JobStatus, Reaped};
pub use keys::ApiKey;
pub use targets::{NewTarget, Target};
pub use webhooks::{DeliveryRecord, DueDelivery, NewWebhook, WebhookRecord};

use crate::{now_rfc3339, Result, StoreError};
use db::{Db, Tx};

/// (version, name, SQL). Append only.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "service",
        include_str!("../../migrations/service/0001_service.sql"),
    ),
    (
        2,
        "webhooks",
        include_str!("../../migrations/service/0002_webhooks.sql"),
    ),
];

#[derive(Debug)]
pub struct ServiceStore {
    db: Db,
}

impl ServiceStore {
    /// `sqlite://PATH` (or a bare path), `sqlite::memory:`, or `postgres://…` /
    /// `postgresql://…`; migrated to the newest schema.
    pub fn open(database: &str) -> Result<ServiceStore> {
        let db = if database.starts_with("postgres://") || database.starts_with("postgresql://") {
            Db::postgres(database)?
        } else if database == "sqlite::memory:" {
            Db::sqlite(":memory:")?
        } else {
            Db::sqlite(database.strip_prefix("sqlite://").unwrap_or(database))?
        };
        let store = ServiceStore { db };
        store.migrate()?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    /// A row lock on the selected rows (PostgreSQL; SQLite's writer lock already covers it),
    /// `skip` to pass over rows another worker holds.
    fn lock(&self, skip: bool) -> &'static str {
        match (self.db.backend, skip) {
            (Backend::Sqlite, _) => "",
            (Backend::Postgres, false) => " FOR UPDATE",
            (Backend::Postgres, true) => " FOR UPDATE SKIP LOCKED",
        }
    }

    fn migrate(&self) -> Result<()> {
        self.db.tx(|tx| {
            tx.batch(
                "CREATE TABLE IF NOT EXISTS service_migrations (
                    version BIGINT PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at TEXT NOT NULL
                )",
            )
        })?;
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        for (version, name, sql) in MIGRATIONS {
            // Each migration in its own transaction with its row; two processes starting at
            // once: the second sees the row (or fails on its primary key and re-reads).
            self.db.tx(|tx| {
                if current(tx)? >= *version {
                    return Ok(());
                }
                tx.batch(sql)?;
                tx.exec(
                    "INSERT INTO service_migrations (version, name, applied_at) \
                     VALUES ($1, $2, $3)",
                    &[(*version).into(), (*name).into(), now_rfc3339().into()],
                )?;
                Ok(())
            })?;
        }
        let found = self.db.tx(current)?;
        if found > known {
            return Err(StoreError::TooNew { found, known });
        }
        Ok(())
    }
}

fn current(tx: &mut Tx) -> Result<i64> {
    Ok(tx
        .one(
            "SELECT COALESCE(MAX(version), 0) FROM service_migrations",
            &[],
        )?
        .map_or(0, |r| r.int(0)))
}

/// 16 random bytes as 32 hex characters: ids nobody can guess or enumerate.
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the operating system's random source");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod testdb {
    use super::ServiceStore;

    /// Every test runs on SQLite; on PostgreSQL too when `MIDDLEBRICK_TEST_PG` names a server
    /// (`postgres://postgres@127.0.0.1:5432`): a fresh database per test.
    pub fn each(mut f: impl FnMut(&ServiceStore)) {
        f(&ServiceStore::open("sqlite::memory:").unwrap());
        if let Some(url) = super::pg_test_url() {
            f(&ServiceStore::open(&url).unwrap());
            super::drop_pg_test_db(&url);
        }
    }
}

/// A fresh PostgreSQL database for a test, from `MIDDLEBRICK_TEST_PG` (a server URL without
/// a database); `None` when unset.
#[doc(hidden)]
pub fn pg_test_url() -> Option<String> {
    let server = std::env::var("MIDDLEBRICK_TEST_PG").ok()?;
    let server = server.trim_end_matches('/').to_string();
    let name = format!("mb_test_{}", &random_id()[..12]);
    let mut admin = postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls)
        .expect("MIDDLEBRICK_TEST_PG is set but the server does not answer");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create test database");
    Some(format!("{server}/{name}"))
}

/// Drops a database [`pg_test_url`] made, with whatever sessions are still open on it.
#[doc(hidden)]
pub fn drop_pg_test_db(url: &str) {
    let Some((server, name)) = url.rsplit_once('/') else {
        return;
    };
    if !name.starts_with("mb_test_") {
        return;
    }
    if let Ok(mut admin) = postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls)
    {
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_on_every_backend() {
        testdb::each(|s| {
            s.migrate().unwrap();
            let n =
                s.db.tx(|tx| {
                    Ok(tx
                        .one("SELECT COUNT(*) FROM service_migrations", &[])?
                        .unwrap()
                        .int(0))
                })
                .unwrap();
            assert_eq!(n, MIGRATIONS.len() as i64);
        });
    }

    #[test]
    fn ids_are_random_hex() {
        let (a, b) = (random_id(), random_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
