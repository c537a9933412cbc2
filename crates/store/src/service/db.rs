//! The two backends behind one small interface: statements with `$n` parameters, typed values
//! in and out, and transactions that retry when the database asks for it.
//!
//! Both backends are driven synchronously (the PostgreSQL client runs its own small runtime),
//! so an async caller runs store calls on a blocking thread. One connection per process,
//! behind a mutex: every statement is short, and scans run outside any transaction.

use crate::{Result, StoreError};
use std::sync::Mutex;
use std::time::Duration;

/// A parameter or a column value. Nulls are typed because PostgreSQL checks a parameter's
/// type even when it is null.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_string))
    }
}

/// One result row; the accessors name the column's index in the SELECT.
#[derive(Debug)]
pub(crate) struct Row(Vec<Value>);

impl Row {
    pub fn int(&self, i: usize) -> i64 {
        self.opt_int(i).unwrap_or(0)
    }
    pub fn opt_int(&self, i: usize) -> Option<i64> {
        match self.0.get(i) {
            Some(Value::Int(v)) => *v,
            Some(Value::Text(Some(t))) => t.parse().ok(),
            _ => None,
        }
    }
    pub fn text(&self, i: usize) -> String {
        self.opt_text(i).unwrap_or_default()
    }
    pub fn opt_text(&self, i: usize) -> Option<String> {
        match self.0.get(i) {
            Some(Value::Text(v)) => v.clone(),
            Some(Value::Int(Some(n))) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Sqlite(_) => "Conn::Sqlite",
            Conn::Postgres(_) => "Conn::Postgres",
        })
    }
}

/// A connection; [`Db::tx`] hands out a [`Tx`] to run statements in one transaction.
#[derive(Debug)]
pub(crate) struct Db {
    conn: Mutex<Conn>,
    pub backend: Backend,
}

/// Statements inside one transaction.
pub(crate) struct Tx<'a> {
    conn: &'a mut Conn,
}

impl Db {
    pub fn sqlite(path: &str) -> Result<Db> {
        let conn = if path == ":memory:" {
            rusqlite::Connection::open_in_memory()?
        } else {
            if let Some(dir) = std::path::Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
            let c = rusqlite::Connection::open(path).map_err(|source| StoreError::Open {
                path: path.to_string(),
                source,
            })?;
            c.pragma_update(None, "journal_mode", "WAL")?;
            c
        };
        // A serve process and a second process (`key create`) may write at once.
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Db {
            conn: Mutex::new(Conn::Sqlite(conn)),
            backend: Backend::Sqlite,
        })
    }

    pub fn postgres(url: &str) -> Result<Db> {
        // TLS is left to the network (a local socket, a VPN, a sidecar): no TLS stack here.
        let client = postgres::Client::connect(url, postgres::NoTls)
            .map_err(|e| StoreError::Postgres(redact_url(&e.to_string(), url)))?;
        Ok(Db {
            conn: Mutex::new(Conn::Postgres(Box::new(client))),
            backend: Backend::Postgres,
        })
    }

    /// Runs `f` in a transaction and commits it; a serialization failure (SQLSTATE 40001,
    /// which CockroachDB returns under contention) or a busy SQLite file runs `f` again.
    pub fn tx<T>(&self, mut f: impl FnMut(&mut Tx) -> Result<T>) -> Result<T> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let begin = match &*guard {
                // IMMEDIATE takes the write lock at once: the queue's claim reads and writes
                // under it, which is SQLite's whole-database version of FOR UPDATE.
                Conn::Sqlite(_) => "BEGIN IMMEDIATE",
                Conn::Postgres(_) => "BEGIN",
            };
            let mut tx = Tx { conn: &mut guard };
            let result = tx.batch(begin).and_then(|()| f(&mut tx)).and_then(|v| {
                tx.batch("COMMIT")?;
                Ok(v)
            });
            match result {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let _ = tx.batch("ROLLBACK");
                    if e.is_retryable() && attempt < 8 {
                        std::thread::sleep(Duration::from_millis(10 * attempt));
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }
}

impl Tx<'_> {
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        match self.conn {
            Conn::Sqlite(c) => c.execute_batch(sql)?,
            Conn::Postgres(c) => c.batch_execute(sql).map_err(pg)?,
        }
        Ok(())
    }

    /// Rows changed.
    pub fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        match self.conn {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let n =
                    stmt.execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?;
                Ok(n as u64)
            }
            Conn::Postgres(c) => {
                let p = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    p.iter().map(|b| b.as_ref()).collect();
                c.execute(sql, &refs).map_err(pg)
            }
        }
    }

    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        match self.conn {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let n = stmt.column_count();
                let rows = stmt.query_map(
                    rusqlite::params_from_iter(params.iter().map(sqlite_value)),
                    |r| {
                        let mut v = Vec::with_capacity(n);
                        for i in 0..n {
                            v.push(match r.get_ref(i)? {
                                rusqlite::types::ValueRef::Null => Value::Text(None),
                                rusqlite::types::ValueRef::Integer(x) => Value::Int(Some(x)),
                                rusqlite::types::ValueRef::Real(x) => Value::Int(Some(x as i64)),
                                rusqlite::types::ValueRef::Text(t)
                                | rusqlite::types::ValueRef::Blob(t) => {
                                    Value::Text(Some(String::from_utf8_lossy(t).into_owned()))
                                }
                            });
                        }
                        Ok(Row(v))
                    },
                )?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            }
            Conn::Postgres(c) => {
                let p = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    p.iter().map(|b| b.as_ref()).collect();
                let rows = c.query(sql, &refs).map_err(pg)?;
                rows.iter().map(pg_row).collect()
            }
        }
    }

    pub fn one(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

fn sqlite_value(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Int(Some(n)) => rusqlite::types::Value::Integer(*n),
        Value::Text(Some(t)) => rusqlite::types::Value::Text(t.clone()),
        _ => rusqlite::types::Value::Null,
    }
}

fn pg_params(params: &[Value]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|v| -> Box<dyn postgres::types::ToSql + Sync> {
            match v {
                Value::Int(n) => Box::new(*n),
                Value::Text(t) => Box::new(t.clone()),
            }
        })
        .collect()
}

fn pg_row(r: &postgres::Row) -> Result<Row> {
    use postgres::types::Type;
    let mut out = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let t = col.type_();
        let v = if *t == Type::INT8 {
            Value::Int(r.try_get::<_, Option<i64>>(i).map_err(pg)?)
        } else if *t == Type::INT4 {
            Value::Int(r.try_get::<_, Option<i32>>(i).map_err(pg)?.map(i64::from))
        } else if *t == Type::INT2 {
            Value::Int(r.try_get::<_, Option<i16>>(i).map_err(pg)?.map(i64::from))
        } else if *t == Type::BOOL {
            Value::Int(r.try_get::<_, Option<bool>>(i).map_err(pg)?.map(i64::from))
        } else {
            Value::Text(r.try_get::<_, Option<String>>(i).map_err(pg)?)
        };
        out.push(v);
    }
    Ok(Row(out))
}

fn pg(e: postgres::Error) -> StoreError {
    match e.code() {
        Some(c) if *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE => {
            StoreError::Retry(e.to_string())
        }
        _ => StoreError::Postgres(e.to_string()),
    }
}

/// The connection error without the URL's password, which the client may echo.
fn redact_url(message: &str, url: &str) -> String {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_string))
    {
        Some(p) if !p.is_empty() => message.replace(&p, "[redacted]"),
        _ => message.to_string(),
    }
}

impl StoreError {
    fn is_retryable(&self) -> bool {
        match self {
            StoreError::Retry(_) => true,
            StoreError::Sql(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DatabaseBusy
            }
            _ => false,
        }
    }
}
