//! Webhooks: the payload an alert sends (`payload`), how it is signed and how a receiver checks
//! it (this file), and the deliveries that retry it until it lands or visibly fails
//! (`delivery`). `docs/webhooks.md` is the receiver's side of the same contract.
//!
//! Signing follows the scheme receivers already know from payment and code-hosting services:
//! HMAC-SHA256 over `timestamp + "." + body`, the timestamp sent in its own header, so a
//! captured request replayed later fails the tolerance window and a changed timestamp fails
//! the signature. The signature header is versioned (`v1=`) and may carry several values, so
//! the secret can be rotated without a window in which receivers reject deliveries.

mod delivery;
mod payload;

pub use delivery::{
    attempt, deliver_due, enqueue, now_ms, Delivery, DeliveryRound, DeliveryStatus, DeliveryStore,
    Due, Endpoint, HttpSender, RetryPolicy, SendError, Sender, Webhook,
};
pub use payload::{display_url, render, PayloadFormat, MAX_FINDINGS, SCHEMA};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::time::Duration;

/// Unix seconds at which the delivery attempt was signed.
pub const TIMESTAMP_HEADER: &str = "X-Middlebrick-Timestamp";
/// `v1=<hex HMAC-SHA256>`, comma-separated when more than one secret is active.
pub const SIGNATURE_HEADER: &str = "X-Middlebrick-Signature";
/// The event type (`scan.new_findings`, …), also in the body.
pub const EVENT_HEADER: &str = "X-Middlebrick-Event";
/// The delivery's id, the same on every retry: receivers drop a delivery they already took.
pub const DELIVERY_HEADER: &str = "X-Middlebrick-Delivery";
/// How far a timestamp may be from the receiver's clock, either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

type HmacSha256 = Hmac<Sha256>;

/// A webhook's signing secret. Never printed: `Debug` shows its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(bytes.into())
    }

    /// A fresh random secret, 32 bytes from the OS, as 64 hex characters: what the service
    /// shows the user once when a webhook is created.
    pub fn generate() -> Result<String, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(format!("whsec_{}", hex::encode(bytes)))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

fn mac(secret: &Secret, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The value of [`SIGNATURE_HEADER`] for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &Secret, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Why a delivery failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the timestamp header is not a number of seconds")]
    BadTimestamp,
    #[error("the timestamp is {0} s away from now, outside the tolerance window")]
    Stale(i64),
    #[error("the signature header has no v1 signature")]
    NoSignature,
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// Checks a delivery as a receiver should: the timestamp within `tolerance` of `now` (Unix
/// seconds), then any `v1=` signature of [`SIGNATURE_HEADER`] matching HMAC-SHA256 over
/// `timestamp + "." + body`, compared in constant time. `body` is the raw bytes received,
/// before any JSON parsing.
pub fn verify(
    secret: &Secret,
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let timestamp: i64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let skew = now.saturating_sub(timestamp);
    if skew.unsigned_abs() > tolerance.as_secs() {
        return Err(VerifyError::Stale(skew));
    }
    let candidates: Vec<Vec<u8>> = signature_header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|h| hex::decode(h).ok())
        .collect();
    if candidates.is_empty() {
        return Err(VerifyError::NoSignature);
    }
    let expected = mac(secret, timestamp, body);
    if candidates
        .iter()
        .any(|c| expected.clone().verify_slice(c).is_ok())
    {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Why a webhook URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the webhook URL does not parse: {0}")]
    Parse(String),
    #[error("the webhook URL must be http or https")]
    Scheme,
    #[error("the webhook URL must not carry a user name or password")]
    UserInfo,
    #[error("the webhook URL names a link-local address (a cloud metadata service lives there)")]
    LinkLocal,
}

/// Checks a webhook URL when it is created: http(s), a host, no user-info (it would be shown
/// and logged as part of the URL), and not a link-local address, where cloud metadata services
/// answer. Loopback and private addresses are allowed: a self-hosted receiver often lives
/// there. Names are not resolved here; the transport connects to what the name resolves to.
pub fn validate_url(raw: &str) -> Result<url::Url, UrlError> {
    let url = url::Url::parse(raw).map_err(|e| UrlError::Parse(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlError::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::UserInfo);
    }
    let link_local = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_link_local(),
        Some(url::Host::Ipv6(ip)) => {
            (ip.segments()[0] & 0xffc0) == 0xfe80
                || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_link_local())
        }
        Some(url::Host::Domain(_)) => false,
        None => return Err(UrlError::Scheme),
    };
    if link_local {
        return Err(UrlError::LinkLocal);
    }
    Ok(url)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod signing_tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Independent value: `printf '1790000000.{"a":1}' | openssl dgst -sha256 -hmac k`.
        let sig = sign(&Secret::new("k"), NOW, br#"{"a":1}"#);
        assert_eq!(
            sig,
            "v1=eb8290e330bf8401069d994986a056a9d691bb03abb211cc05e995e253327926"
        );
        assert_eq!(sig.len(), 3 + 64);
        assert!(verify(
            &Secret::new("k"),
            &NOW.to_string(),
            &sig,
            br#"{"a":1}"#,
            NOW,
            DEFAULT_TOLERANCE
        )
        .is_ok());
    }

    #[test]
    fn the_documented_test_vector_and_retry_schedule_are_ours() {
        let doc = include_str!("../../../docs/webhooks.md");
        let sig = sign(&Secret::new("k"), NOW, br#"{"a":1}"#);
        assert!(
            doc.contains(&format!("`{sig}`")),
            "docs/webhooks.md test vector"
        );
        let p = RetryPolicy::default();
        assert!(doc.contains(&format!("until its {}th failed", p.max_attempts)));
        assert_eq!((p.base.as_secs(), p.max_delay.as_secs()), (30, 3600));
        assert!(doc.contains("Waits double from 30 seconds, capped at an hour"));
        assert!(doc.contains(&format!("within {} seconds", p.timeout.as_secs())));
        assert!(doc.contains(SCHEMA) && doc.contains(&format!("at most {MAX_FINDINGS}")));
    }

    #[test]
    fn tampering_with_body_timestamp_or_secret_fails() {
        let s = Secret::new("s3cret");
        let body = br#"{"type":"scan.failed"}"#;
        let sig = sign(&s, NOW, body);
        let ts = NOW.to_string();
        let tol = DEFAULT_TOLERANCE;
        assert_eq!(verify(&s, &ts, &sig, body, NOW + 10, tol), Ok(()));
        assert_eq!(
            verify(&s, &ts, &sig, br#"{"type":"scan.failed "}"#, NOW, tol),
            Err(VerifyError::Mismatch)
        );
        // A fresh timestamp on an old signature: the signature covers the timestamp.
        let later = (NOW + 1).to_string();
        assert_eq!(
            verify(&s, &later, &sig, body, NOW, tol),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(&Secret::new("other"), &ts, &sig, body, NOW, tol),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(&s, &ts, "sha256=00", body, NOW, tol),
            Err(VerifyError::NoSignature)
        );
        assert_eq!(
            verify(&s, "yesterday", &sig, body, NOW, tol),
            Err(VerifyError::BadTimestamp)
        );
    }

    #[test]
    fn replays_outside_the_window_fail_either_way() {
        let s = Secret::new("s3cret");
        let sig = sign(&s, NOW, b"{}");
        let ts = NOW.to_string();
        let tol = Duration::from_secs(300);
        assert!(verify(&s, &ts, &sig, b"{}", NOW + 300, tol).is_ok());
        assert_eq!(
            verify(&s, &ts, &sig, b"{}", NOW + 301, tol),
            Err(VerifyError::Stale(301))
        );
        assert_eq!(
            verify(&s, &ts, &sig, b"{}", NOW - 301, tol),
            Err(VerifyError::Stale(-301))
        );
    }

    #[test]
    fn any_of_several_signatures_may_match_during_rotation() {
        let old = Secret::new("old");
        let new = Secret::new("new");
        let both = format!("{}, {}", sign(&old, NOW, b"x"), sign(&new, NOW, b"x"));
        let ts = NOW.to_string();
        assert!(verify(&new, &ts, &both, b"x", NOW, DEFAULT_TOLERANCE).is_ok());
        assert!(verify(&old, &ts, &both, b"x", NOW, DEFAULT_TOLERANCE).is_ok());
    }

    #[test]
    fn webhook_urls_are_checked_when_created() {
        for ok in [
            "https://hooks.chat.example/services/T1/B2/key",
            "http://127.0.0.1:9000/hook",
            "http://10.0.0.5/hook",
            "http://[::1]:8080/",
        ] {
            assert!(validate_url(ok).is_ok(), "{ok}");
        }
        assert_eq!(validate_url("ftp://h/x"), Err(UrlError::Scheme));
        assert_eq!(validate_url("file:///etc/passwd"), Err(UrlError::Scheme));
        assert_eq!(
            validate_url("https://u:p@hooks.example/x"),
            Err(UrlError::UserInfo)
        );
        for metadata in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/",
            "http://[::ffff:169.254.169.254]/",
        ] {
            assert_eq!(
                validate_url(metadata),
                Err(UrlError::LinkLocal),
                "{metadata}"
            );
        }
        assert!(matches!(validate_url("not a url"), Err(UrlError::Parse(_))));
    }

    #[test]
    fn secrets_are_never_printed_and_generated_ones_differ() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(7 bytes)");
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert!(a.starts_with("whsec_") && a.len() == 6 + 64);
        assert_ne!(a, b);
    }
}
