//! API keys: stored as the SHA-256 of the key. A key is 32 random bytes, so a fast unsalted
//! hash is enough: there is no dictionary to try, and a lookup by hash is one index probe.

use super::db::Row;
use super::{random_id, ServiceStore};
use crate::{sha256_hex, Result};

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub label: String,
    pub scans_per_hour: i64,
    pub created_at: i64,
}

fn key(r: &Row) -> ApiKey {
    ApiKey {
        id: r.text(0),
        label: r.text(1),
        scans_per_hour: r.int(2),
        created_at: r.int(3),
    }
}

impl ServiceStore {
    /// Stores the hash of `secret` (made by the caller) and returns the key's record.
    pub fn create_key(
        &self,
        secret: &str,
        label: &str,
        scans_per_hour: i64,
        now: i64,
    ) -> Result<ApiKey> {
        let k = ApiKey {
            id: random_id()[..12].to_string(),
            label: label.to_string(),
            scans_per_hour,
            created_at: now,
        };
        self.db.tx(|tx| {
            tx.exec(
                "INSERT INTO api_keys (id, key_hash, label, scans_per_hour, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    (&k.id).into(),
                    sha256_hex(secret.as_bytes()).into(),
                    (&k.label).into(),
                    k.scans_per_hour.into(),
                    k.created_at.into(),
                ],
            )
        })?;
        Ok(k)
    }

    /// The key whose hash matches `secret`, unless revoked.
    pub fn key_by_secret(&self, secret: &str) -> Result<Option<ApiKey>> {
        let hash = sha256_hex(secret.as_bytes());
        self.db.tx(|tx| {
            Ok(tx
                .one(
                    "SELECT id, label, scans_per_hour, created_at FROM api_keys \
                     WHERE key_hash = $1 AND revoked_at IS NULL",
                    &[(&hash).into()],
                )?
                .map(|r| key(&r)))
        })
    }

    pub fn key_count(&self) -> Result<i64> {
        self.db.tx(|tx| {
            Ok(tx
                .one(
                    "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL",
                    &[],
                )?
                .map_or(0, |r| r.int(0)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdb;

    #[test]
    fn a_key_is_found_by_its_secret_and_only_its_hash_is_stored() {
        testdb::each(|s| {
            let k = s.create_key("canary-secret-key", "ci", 10, 1).unwrap();
            assert_eq!(
                s.key_by_secret("canary-secret-key").unwrap().unwrap().id,
                k.id
            );
            assert!(s.key_by_secret("canary-secret-kex").unwrap().is_none());
            let stored =
                s.db.tx(|tx| {
                    Ok(tx
                        .one("SELECT key_hash FROM api_keys", &[])?
                        .unwrap()
                        .text(0))
                })
                .unwrap();
            assert!(!stored.contains("canary"));
            assert_eq!(stored.len(), 64);
            assert_eq!(s.key_count().unwrap(), 1);
        });
    }
}
