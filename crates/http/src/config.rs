//! What the transport may do, with defaults chosen to be gentle on a target nobody has
//! measured yet. The numbers are public constants so the CLI's `--help` states the same values
//! the code uses.

use crate::error::HttpError;
use std::time::Duration;
use url::Url;

pub const DEFAULT_CONCURRENCY: usize = 8;
/// Where the adaptive rate starts for a host that is not loopback or private: the fixed rate
/// earlier versions used for every host.
pub const DEFAULT_START_RATE: f64 = 50.0;
/// Where it starts for loopback and private hosts (a developer's own server, a CI service).
pub const DEFAULT_START_RATE_LOCAL: f64 = 200.0;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;
pub const DEFAULT_MAX_REDIRECTS: usize = 5;
pub const DEFAULT_BUDGET: u64 = 10_000;
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_BREAKER_THRESHOLD: u32 = 10;
pub const DEFAULT_MAX_RETRIES: u32 = 2;
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(10);
pub const DEFAULT_USER_AGENT: &str = concat!(
    "middlebrick/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/middlebrick/middlebrick)"
);

/// The transport's limits and identity. Holds no live client, so it can be cloned, compared
/// and printed; [`Transport::new`](crate::Transport::new) validates it.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportConfig {
    /// The target; its host and port are in scope.
    pub base_url: Url,
    /// Further in-scope hosts: `api2.example.test` (on the scheme's default port, 80 or 443)
    /// or `host:port` (`[::1]:8080` for IPv6).
    pub allowed_hosts: Vec<String>,
    /// Requests in flight at once, over all hosts.
    pub concurrency: usize,
    /// The most requests per second to each host; `None`: no cap.
    pub rate_per_host: Option<f64>,
    /// The rate follows the target under the cap (`rate.rs`); false: it is the cap, fixed,
    /// and without a cap nothing is limited.
    pub adaptive_rate: bool,
    /// Where the adaptive rate starts, for loopback or private hosts and for others.
    pub start_rate_local: f64,
    pub start_rate: f64,
    pub connect_timeout: Duration,
    /// Total time for one attempt: connecting, sending, and reading the whole body.
    pub request_timeout: Duration,
    /// Bytes of each response body read and kept; the rest is never read.
    pub max_response_bytes: usize,
    pub max_redirects: usize,
    /// Requests for the whole scan, each retry and redirect hop included; `None` is unlimited.
    pub budget: Option<u64>,
    /// Time from [`Transport::new`](crate::Transport::new) after which nothing more is sent.
    pub max_duration: Option<Duration>,
    /// Consecutive connection-level failures after which every send is refused; 0 disables.
    pub breaker_threshold: u32,
    /// Retries of a request answered 429 or 503.
    pub max_retries: u32,
    /// The longest wait before a retry, whatever Retry-After asks for.
    pub max_backoff: Duration,
    pub user_agent: String,
    /// Skip TLS certificate verification (self-signed staging targets).
    pub accept_invalid_certs: bool,
}

impl TransportConfig {
    /// How the per-host rate is set.
    pub fn rate_policy(&self) -> crate::rate::RatePolicy {
        crate::rate::RatePolicy {
            cap: self.rate_per_host,
            adaptive: self.adaptive_rate,
            start_local: self.start_rate_local,
            start_public: self.start_rate,
        }
    }

    /// The defaults, aimed at `base_url`.
    pub fn new(base_url: Url) -> Self {
        TransportConfig {
            base_url,
            allowed_hosts: Vec::new(),
            concurrency: DEFAULT_CONCURRENCY,
            rate_per_host: None,
            adaptive_rate: true,
            start_rate_local: DEFAULT_START_RATE_LOCAL,
            start_rate: DEFAULT_START_RATE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            budget: Some(DEFAULT_BUDGET),
            max_duration: Some(DEFAULT_MAX_DURATION),
            breaker_threshold: DEFAULT_BREAKER_THRESHOLD,
            max_retries: DEFAULT_MAX_RETRIES,
            max_backoff: DEFAULT_MAX_BACKOFF,
            user_agent: DEFAULT_USER_AGENT.to_string(),
            accept_invalid_certs: false,
        }
    }

    /// Rejects values that would make the transport misbehave rather than merely be slow.
    pub(crate) fn validate(&self) -> Result<(), HttpError> {
        let bad = |msg: String| Err(HttpError::InvalidRequest(msg));
        if !matches!(self.base_url.scheme(), "http" | "https") || !self.base_url.has_host() {
            return bad(format!(
                "the target {} is not an http(s) URL",
                self.base_url
            ));
        }
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1".into());
        }
        for rate in [
            self.rate_per_host,
            Some(self.start_rate_local),
            Some(self.start_rate),
        ]
        .into_iter()
        .flatten()
        {
            if !(rate.is_finite() && rate > 0.0) {
                return bad(format!(
                    "rate per host must be a positive number, not {rate}"
                ));
            }
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return bad("timeouts must be longer than zero".into());
        }
        Ok(())
    }
}

/// The defaults, aimed at `http://localhost/`: set `base_url` before use.
impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig::new(Url::parse("http://localhost/").expect("a valid literal URL"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_published_constants() {
        let c = TransportConfig::default();
        assert_eq!(c.concurrency, 8);
        assert_eq!(c.rate_per_host, None, "no cap: the rate adapts");
        assert!(c.adaptive_rate);
        assert_eq!((c.start_rate, c.start_rate_local), (50.0, 200.0));
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.request_timeout, Duration::from_secs(15));
        assert_eq!(c.max_response_bytes, 1 << 20);
        assert_eq!(c.max_redirects, 5);
        assert_eq!(c.budget, Some(10_000));
        assert_eq!(c.max_duration, Some(Duration::from_secs(900)));
        assert_eq!(c.breaker_threshold, 10);
        assert_eq!(c.max_retries, 2);
        assert_eq!(c.max_backoff, Duration::from_secs(10));
        assert!(!c.accept_invalid_certs);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn nonsense_limits_are_rejected() {
        let c = TransportConfig {
            concurrency: 0,
            ..TransportConfig::default()
        };
        assert!(c.validate().is_err());
        let mut c = TransportConfig {
            rate_per_host: Some(0.0),
            ..TransportConfig::default()
        };
        assert!(c.validate().is_err());
        c.rate_per_host = Some(f64::NAN);
        assert!(c.validate().is_err());
        let c = TransportConfig::new(Url::parse("ftp://example.test/").unwrap());
        assert!(c.validate().is_err());
    }
}
