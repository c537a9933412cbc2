//! When to try a 429 or 503 again, and how long to wait first.
//!
//! The server's Retry-After wins (RFC 9110 §10.2.3: delta-seconds or an HTTP-date); when it asks
//! for more than `max_backoff` the answer is kept as it is rather than retried early (a limiter
//! that says "60 s" answers 429 again after 10 s, and a hostile server could park the scan for
//! a day). Without the header the wait doubles from half a second.

use std::time::{Duration, SystemTime};

const FIRST_BACKOFF: Duration = Duration::from_millis(500);

pub(crate) fn is_retryable(status: u16) -> bool {
    status == 429 || status == 503
}

/// The wait a Retry-After value asks for, measured from `now`; a date in the past is zero.
pub(crate) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait before retry number `retry + 1` when the server gave no Retry-After.
pub(crate) fn backoff(retry: u32, max: Duration) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
        .min(max)
}

/// The wait before the next retry: Retry-After if present and valid, else exponential; `None`
/// (do not retry) when Retry-After asks for longer than `max`.
pub(crate) fn wait_for(header: Option<&str>, retry: u32, max: Duration) -> Option<Duration> {
    match header.and_then(|v| retry_after(v, SystemTime::now())) {
        Some(d) if d > max => None,
        Some(d) => Some(d),
        None => Some(backoff(retry, max)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_seconds_and_http_dates_are_understood() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:42 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-1", now), None);
    }

    #[test]
    fn long_waits_are_not_retried_and_short_ones_grow_exponentially() {
        let max = Duration::from_secs(10);
        assert_eq!(
            wait_for(Some("86400"), 0, max),
            None,
            "too long: not retried"
        );
        assert_eq!(wait_for(Some("60"), 0, max), None);
        assert_eq!(wait_for(Some("10"), 0, max), Some(max));
        assert_eq!(wait_for(Some("2"), 0, max), Some(Duration::from_secs(2)));
        assert_eq!(wait_for(None, 0, max), Some(Duration::from_millis(500)));
        assert_eq!(
            wait_for(Some("garbage"), 2, max),
            Some(Duration::from_secs(2))
        );
        assert_eq!(backoff(10, max), max);
        assert_eq!(backoff(200, max), max);
    }
}
