//! Webhooks and their deliveries. The store keeps rows; what a rule means, how a body is
//! rendered and signed, and the retry schedule are the monitor's (`monitor::webhooks`), which
//! passes the next attempt's time in. The signing secret arrives already sealed.
//!
//! Deliveries are claimed like scans: on PostgreSQL the due rows `FOR UPDATE SKIP LOCKED` (two
//! service processes never wait on, or take, the same delivery), on SQLite under the one
//! writer; a claim sets a lease, so a process that dies mid-attempt gives the delivery back
//! when its lease runs out instead of losing it.

use super::db::{Row, Value};
use super::{random_id, ServiceStore};
use crate::{Result, StoreError};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub target_id: Option<String>,
    pub url: String,
    pub secret_sealed: String,
    pub rules_json: String,
    pub format: String,
    pub created_by: Option<String>,
}

/// A webhook as stored. The sealed secret is never serialised.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookRecord {
    pub id: String,
    pub target_id: Option<String>,
    pub url: String,
    #[serde(skip)]
    pub secret_sealed: String,
    #[serde(skip)]
    pub rules_json: String,
    pub format: String,
    pub created_at: i64,
}

/// A delivery row; times in Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    pub id: String,
    pub webhook_id: String,
    pub target_id: String,
    pub scan_id: String,
    pub event: String,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub last_attempt_at: Option<i64>,
    pub next_attempt_at: Option<i64>,
}

/// A claimed delivery with where and with what sealed key to send it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub delivery: DeliveryRecord,
    pub url: String,
    pub secret_sealed: String,
}

const WEBHOOK_COLUMNS: &str =
    "w.id, w.target_id, w.url, w.secret_sealed, w.rules_json, w.format, w.created_at";

fn webhook(r: &Row) -> WebhookRecord {
    WebhookRecord {
        id: r.text(0),
        target_id: r.opt_text(1),
        url: r.text(2),
        secret_sealed: r.text(3),
        rules_json: r.text(4),
        format: r.text(5),
        created_at: r.int(6),
    }
}

const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, d.target_id, d.scan_id, d.event, d.body, \
    d.status, d.attempts, d.last_status, d.last_error, d.created_at, d.last_attempt_at, \
    d.next_attempt_at";

fn delivery(r: &Row) -> DeliveryRecord {
    DeliveryRecord {
        id: r.text(0),
        webhook_id: r.text(1),
        target_id: r.text(2),
        scan_id: r.text(3),
        event: r.text(4),
        body: r.text(5),
        status: r.text(6),
        attempts: r.int(7),
        last_status: r.opt_int(8),
        last_error: r.opt_text(9),
        created_at: r.int(10),
        last_attempt_at: r.opt_int(11),
        next_attempt_at: r.opt_int(12),
    }
}

impl ServiceStore {
    pub fn create_webhook(&self, w: &NewWebhook, now: i64) -> Result<WebhookRecord> {
        let id = random_id();
        self.db.tx(|tx| {
            tx.exec(
                "INSERT INTO webhooks (id, target_id, url, secret_sealed, rules_json, format, \
                 created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    (&id).into(),
                    w.target_id.clone().into(),
                    (&w.url).into(),
                    (&w.secret_sealed).into(),
                    (&w.rules_json).into(),
                    (&w.format).into(),
                    w.created_by.clone().into(),
                    now.into(),
                ],
            )
        })?;
        self.webhook(&id)?.ok_or(StoreError::Missing("webhook"))
    }

    pub fn webhook(&self, id: &str) -> Result<Option<WebhookRecord>> {
        self.db.tx(|tx| {
            Ok(tx
                .one(
                    &format!(
                        "SELECT {WEBHOOK_COLUMNS} FROM webhooks w \
                         WHERE w.id = $1 AND w.deleted_at IS NULL"
                    ),
                    &[id.into()],
                )?
                .map(|r| webhook(&r)))
        })
    }

    /// Every webhook (not deleted), oldest first.
    pub fn webhooks(&self) -> Result<Vec<WebhookRecord>> {
        self.webhooks_where("1 = 1", &[])
    }

    /// The webhooks that hear about `target_id`: its own and those for every target.
    pub fn webhooks_for_target(&self, target_id: &str) -> Result<Vec<WebhookRecord>> {
        self.webhooks_where(
            "(w.target_id IS NULL OR w.target_id = $1)",
            &[target_id.into()],
        )
    }

    fn webhooks_where(&self, cond: &str, p: &[Value]) -> Result<Vec<WebhookRecord>> {
        self.db.tx(|tx| {
            Ok(tx
                .query(
                    &format!(
                        "SELECT {WEBHOOK_COLUMNS} FROM webhooks w \
                         WHERE {cond} AND w.deleted_at IS NULL ORDER BY w.created_at, w.id"
                    ),
                    p,
                )?
                .iter()
                .map(webhook)
                .collect())
        })
    }

    /// Deletes a webhook (its deliveries stay, for the record); its pending deliveries end
    /// `failed` so none is left waiting for an endpoint that is gone.
    pub fn delete_webhook(&self, id: &str, now: i64) -> Result<bool> {
        self.db.tx(|tx| {
            let n = tx.exec(
                "UPDATE webhooks SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL",
                &[now.into(), id.into()],
            )?;
            if n == 1 {
                tx.exec(
                    "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, \
                     lease_until = NULL, last_error = 'the webhook was deleted' \
                     WHERE webhook_id = $1 AND status = 'pending'",
                    &[id.into()],
                )?;
            }
            Ok(n == 1)
        })
    }

    /// Stores new deliveries; one that repeats a (webhook, scan, event) already stored is
    /// skipped. Returns how many were stored.
    pub fn insert_deliveries(&self, ds: &[DeliveryRecord]) -> Result<u64> {
        self.db.tx(|tx| {
            let mut n = 0;
            for d in ds {
                n += tx.exec(
                    "INSERT INTO deliveries (id, webhook_id, target_id, scan_id, event, body, \
                     status, attempts, last_status, last_error, created_at, last_attempt_at, \
                     next_attempt_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                     ON CONFLICT (webhook_id, scan_id, event) DO NOTHING",
                    &[
                        (&d.id).into(),
                        (&d.webhook_id).into(),
                        (&d.target_id).into(),
                        (&d.scan_id).into(),
                        (&d.event).into(),
                        (&d.body).into(),
                        (&d.status).into(),
                        d.attempts.into(),
                        d.last_status.into(),
                        d.last_error.clone().into(),
                        d.created_at.into(),
                        d.last_attempt_at.into(),
                        d.next_attempt_at.into(),
                    ],
                )?;
            }
            Ok(n)
        })
    }

    /// Claims up to `limit` pending deliveries due at `now` (oldest due first) whose webhook
    /// still exists, leasing each until `now + lease_ms`.
    pub fn claim_deliveries(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<DueDelivery>> {
        let skip = self.lock(true);
        self.db.tx(|tx| {
            let ids: Vec<String> = tx
                .query(
                    &format!(
                        "SELECT d.id FROM deliveries d WHERE d.status = 'pending' \
                         AND d.next_attempt_at <= $1 \
                         AND (d.lease_until IS NULL OR d.lease_until < $1) \
                         ORDER BY d.next_attempt_at, d.id LIMIT $2{skip}"
                    ),
                    &[now.into(), limit.max(1).into()],
                )?
                .iter()
                .map(|r| r.text(0))
                .collect();
            let mut out = Vec::new();
            for id in ids {
                tx.exec(
                    "UPDATE deliveries SET lease_until = $1 WHERE id = $2",
                    &[(now + lease_ms).into(), (&id).into()],
                )?;
                let row = tx.one(
                    &format!(
                        "SELECT {DELIVERY_COLUMNS}, w.url, w.secret_sealed \
                         FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                         WHERE d.id = $1 AND w.deleted_at IS NULL"
                    ),
                    &[(&id).into()],
                )?;
                if let Some(r) = row {
                    out.push(DueDelivery {
                        delivery: delivery(&r),
                        url: r.text(13),
                        secret_sealed: r.text(14),
                    });
                }
            }
            Ok(out)
        })
    }

    /// Writes back a delivery after an attempt and releases its claim.
    pub fn save_delivery(&self, d: &DeliveryRecord) -> Result<()> {
        self.db.tx(|tx| {
            tx.exec(
                "UPDATE deliveries SET status = $1, attempts = $2, last_status = $3, \
                 last_error = $4, last_attempt_at = $5, next_attempt_at = $6, \
                 lease_until = NULL WHERE id = $7",
                &[
                    (&d.status).into(),
                    d.attempts.into(),
                    d.last_status.into(),
                    d.last_error.clone().into(),
                    d.last_attempt_at.into(),
                    d.next_attempt_at.into(),
                    (&d.id).into(),
                ],
            )?;
            Ok(())
        })
    }

    /// The newest `limit` deliveries, with their webhook's URL and their target's name.
    pub fn recent_deliveries(&self, limit: i64) -> Result<Vec<(DeliveryRecord, String, String)>> {
        self.db.tx(|tx| {
            Ok(tx
                .query(
                    &format!(
                        "SELECT {DELIVERY_COLUMNS}, w.url, COALESCE(t.name, d.target_id) \
                         FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                         LEFT JOIN targets t ON t.id = d.target_id \
                         ORDER BY d.created_at DESC, d.id DESC LIMIT $1"
                    ),
                    &[limit.clamp(1, 500).into()],
                )?
                .iter()
                .map(|r| (delivery(r), r.text(13), r.text(14)))
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::targets::NewTarget;
    use super::super::testdb;
    use super::*;

    fn hook(s: &ServiceStore, target: Option<&str>) -> WebhookRecord {
        s.create_webhook(
            &NewWebhook {
                target_id: target.map(str::to_string),
                url: "http://127.0.0.1:9/hook".into(),
                secret_sealed: "sealed".into(),
                rules_json: "{}".into(),
                format: "json".into(),
                created_by: None,
            },
            1,
        )
        .unwrap()
    }

    fn pending(id: &str, webhook: &str, scan: &str, due: i64) -> DeliveryRecord {
        DeliveryRecord {
            id: id.into(),
            webhook_id: webhook.into(),
            target_id: "t".into(),
            scan_id: scan.into(),
            event: "scan.failed".into(),
            body: "{}".into(),
            status: "pending".into(),
            attempts: 0,
            last_status: None,
            last_error: None,
            created_at: due,
            last_attempt_at: None,
            next_attempt_at: Some(due),
        }
    }

    #[test]
    fn webhooks_are_found_for_their_target_and_for_every_target() {
        testdb::each(|s| {
            let t = s
                .create_target(
                    &NewTarget {
                        name: "t".into(),
                        url: "http://127.0.0.1:1/".into(),
                        config_json: "{}".into(),
                        mode: "safe".into(),
                        origin: "api".into(),
                        ..NewTarget::default()
                    },
                    0,
                )
                .unwrap();
            let all = hook(s, None);
            let own = hook(s, Some(&t.id));
            let ids: Vec<String> = s
                .webhooks_for_target(&t.id)
                .unwrap()
                .into_iter()
                .map(|w| w.id)
                .collect();
            assert!(ids.contains(&all.id) && ids.contains(&own.id));
            assert_eq!(s.webhooks_for_target("other").unwrap().len(), 1);
            assert!(s.delete_webhook(&own.id, 2).unwrap());
            assert!(!s.delete_webhook(&own.id, 3).unwrap(), "deleted once");
            assert_eq!(s.webhooks().unwrap().len(), 1);
            assert!(s.webhook(&own.id).unwrap().is_none());
        });
    }

    #[test]
    fn a_claimed_delivery_is_not_claimed_again_until_saved_or_its_lease_ends() {
        testdb::each(|s| {
            let w = hook(s, None);
            let ds = [
                pending("d1", &w.id, "s1", 10),
                pending("d2", &w.id, "s2", 20),
            ];
            assert_eq!(s.insert_deliveries(&ds).unwrap(), 2);
            // The same (webhook, scan, event) again: skipped.
            let again = pending("d3", &w.id, "s1", 10);
            assert_eq!(s.insert_deliveries(&[again]).unwrap(), 0);
            assert!(
                s.claim_deliveries(5, 1000, 10).unwrap().is_empty(),
                "none due"
            );
            let got = s.claim_deliveries(15, 1000, 10).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(
                (got[0].url.as_str(), got[0].secret_sealed.as_str()),
                ("http://127.0.0.1:9/hook", "sealed")
            );
            assert_eq!(
                s.claim_deliveries(25, 1000, 10).unwrap().len(),
                1,
                "d2 only"
            );
            assert!(
                s.claim_deliveries(30, 1000, 10).unwrap().is_empty(),
                "both leased"
            );
            // d1's lease (until 1015) ran out: back.
            assert_eq!(
                s.claim_deliveries(1016, 1000, 10).unwrap()[0].delivery.id,
                "d1"
            );
            let mut d = got[0].delivery.clone();
            d.status = "delivered".into();
            d.attempts = 1;
            d.last_status = Some(204);
            d.next_attempt_at = None;
            s.save_delivery(&d).unwrap();
            assert!(s
                .claim_deliveries(5000, 1000, 10)
                .unwrap()
                .iter()
                .all(|x| x.delivery.id != "d1"));
            let recent = s.recent_deliveries(10).unwrap();
            assert_eq!(recent.len(), 2);
            assert_eq!(recent[0].0.id, "d2", "newest first");
            assert_eq!(recent[1].0.last_status, Some(204));
            // Deleting the webhook fails what is still pending.
            s.delete_webhook(&w.id, 6000).unwrap();
            let after = s.recent_deliveries(10).unwrap();
            assert_eq!(after[0].0.status, "failed");
            assert_eq!(after[1].0.status, "delivered");
        });
    }
}
