//! The one way a probe reaches the target. `send` checks the scope, then runs each attempt
//! through the brakes in this order: a concurrency permit, a rate-limit slot for the host,
//! the stop conditions (cancelled, deadline, circuit open), and the budget, so an attempt is
//! counted only when it is about to go on the wire. Redirects and 429/503 retries are attempts
//! of their own and pass the same gates.
//!
//! The permit is taken before the rate slot on purpose: a slot is then used the moment it
//! comes, so requests queued behind the semaphore cannot bunch up and exceed the rate. The
//! price is that permits wait on a slow host; a scan targets one API, so that is rarely paid.

use crate::config::TransportConfig;
use crate::error::HttpError;
use crate::limits::{Breaker, Budget, RateLimiter};
use crate::outgoing::Outgoing;
use crate::prepare::{self, WireBody};
use crate::record::{self, Outcome, Partial};
use crate::redirect;
use crate::retry;
use crate::scope::Scope;
use middlebrick_model::{Exchange, Method, RequestRecord, ResponseRecord};
use reqwest::header::{HeaderMap, HeaderValue};
use std::fmt;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

/// A pooled HTTP client (HTTP/1.1, and HTTP/2 where TLS ALPN offers it) behind the scan's
/// scope and limits. Share it (`Arc`) across tasks: pooling and the limits are per transport.
pub struct Transport {
    client: reqwest::Client,
    scope: Scope,
    permits: Semaphore,
    limiter: Option<RateLimiter>,
    budget: Budget,
    breaker: Breaker,
    deadline: Option<Instant>,
    cancel: CancellationToken,
    user_agent: HeaderValue,
    request_timeout: Duration,
    max_response_bytes: usize,
    max_redirects: usize,
    max_retries: u32,
    max_backoff: Duration,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("scope", &self.scope)
            .field("requests_sent", &self.requests_sent())
            .field("circuit_open", &self.breaker.is_open())
            .finish_non_exhaustive()
    }
}

/// The hop being sent: where, how, and with which body.
struct Hop {
    method: Method,
    url: Url,
    body: Option<WireBody>,
}

impl Transport {
    /// Validates the configuration and builds the client. The deadline (`max_duration`) starts
    /// now.
    pub fn new(cfg: TransportConfig) -> Result<Transport, HttpError> {
        cfg.validate()?;
        let scope = Scope::new(&cfg.base_url, &cfg.allowed_hosts)?;
        let user_agent = HeaderValue::from_str(&cfg.user_agent).map_err(|_| {
            HttpError::InvalidRequest("the user agent has control characters".into())
        })?;
        let client = reqwest::Client::builder()
            // Redirects are ours to follow, hop by hop, against the scope.
            .redirect(reqwest::redirect::Policy::none())
            // The body we record must be the body that was sent; no Accept-Encoding is added.
            .no_gzip()
            // Proxies come from explicit configuration only, never silently from the environment.
            .no_proxy()
            .referer(false)
            .use_rustls_tls()
            .danger_accept_invalid_certs(cfg.accept_invalid_certs)
            .connect_timeout(cfg.connect_timeout)
            .tcp_nodelay(true)
            .pool_max_idle_per_host(cfg.concurrency)
            .build()
            .map_err(|e| HttpError::Client(record::describe(&e)))?;
        Ok(Transport {
            client,
            scope,
            permits: Semaphore::new(cfg.concurrency),
            limiter: cfg.rate_per_host.map(RateLimiter::new),
            budget: Budget::new(cfg.budget),
            breaker: Breaker::new(cfg.breaker_threshold),
            deadline: cfg.max_duration.and_then(|d| Instant::now().checked_add(d)),
            cancel: CancellationToken::new(),
            user_agent,
            request_timeout: cfg.request_timeout,
            max_response_bytes: cfg.max_response_bytes,
            max_redirects: cfg.max_redirects,
            max_retries: cfg.max_retries,
            max_backoff: cfg.max_backoff,
        })
    }

    /// Sends `req`, following redirects and retrying 429/503 as configured, and records what
    /// happened. A target that does not answer is an `Ok` exchange with `error` set; `Err` means
    /// the request was refused (scope, malformed) or the scan must stop.
    pub async fn send(&self, req: Outgoing) -> Result<Exchange, HttpError> {
        if !self.scope.contains(&req.url) {
            return Err(HttpError::OutOfScope {
                url: req.url.to_string(),
            });
        }
        self.check_stops()?;
        let work = self.exchange(req);
        let bounded = async {
            match self.deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, work)
                    .await
                    .unwrap_or(Err(HttpError::DeadlineReached)),
                None => work.await,
            }
        };
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(HttpError::Cancelled),
            result = bounded => result,
        }
    }

    /// Attempts put on the wire so far (retries and redirect hops included).
    pub fn requests_sent(&self) -> u64 {
        self.budget.sent()
    }

    pub fn in_scope(&self, url: &Url) -> bool {
        self.scope.contains(url)
    }

    /// Ends every in-flight and later `send` with [`HttpError::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The token behind [`cancel`](Self::cancel), to tie the transport to a scan's own token.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// True once the circuit breaker has opened; every later send fails.
    pub fn circuit_open(&self) -> bool {
        self.breaker.is_open()
    }

    fn check_stops(&self) -> Result<(), HttpError> {
        if self.cancel.is_cancelled() {
            return Err(HttpError::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(HttpError::DeadlineReached);
        }
        self.breaker.check()
    }

    async fn exchange(&self, req: Outgoing) -> Result<Exchange, HttpError> {
        let Outgoing {
            method,
            url,
            headers,
            credentials,
            body,
            identity,
            follow_redirects,
        } = req;
        let body = body
            .map(|b| WireBody::encode(b, self.max_response_bytes))
            .transpose()?;
        let mut hop = Hop {
            method,
            url: url.clone(),
            body,
        };
        let mut redirects = Vec::new();
        let mut on_wire = Duration::ZERO;
        loop {
            let credentials: &[(String, String)] = if redirect::keeps_credentials(&url, &hop.url) {
                &credentials
            } else {
                &[]
            };
            let content_type = hop.body.as_ref().map(|b| b.content_type.as_str());
            let map = prepare::header_map(&self.user_agent, &headers, credentials, content_type)?;
            let outcome = self.with_retries(&hop, &map, &mut on_wire).await?;
            let (response, mut error) = match outcome {
                Outcome::Answered(r, note) => (Some(r), note),
                Outcome::Failed(reason) => (None, Some(reason)),
            };
            if follow_redirects && error.is_none() {
                if let Some(r) = &response {
                    match self.next_hop(&hop, r, redirects.len()) {
                        Ok(Some(next)) => {
                            tracing::debug!(from = %hop.url, to = %next.url, "following redirect");
                            redirects.push(std::mem::replace(&mut hop, next).url.to_string());
                            continue;
                        }
                        Ok(None) => {}
                        Err(note) => error = Some(note),
                    }
                }
            }
            let request = RequestRecord {
                method: hop.method,
                url: hop.url.to_string(),
                headers: prepare::record_headers(&map),
                body: hop.body.map(|b| b.record),
            };
            return Ok(Exchange {
                identity,
                request,
                response,
                redirects,
                error,
                elapsed_ms: u64::try_from(on_wire.as_millis()).unwrap_or(u64::MAX),
            });
        }
    }

    /// The hop a redirect asks for: `Ok(None)` when the answer is not a redirect we can follow
    /// (not 3xx, no Location), `Err(note)` when we will not follow it.
    fn next_hop(
        &self,
        hop: &Hop,
        resp: &ResponseRecord,
        followed: usize,
    ) -> Result<Option<Hop>, String> {
        if !redirect::is_redirect(resp.status) {
            return Ok(None);
        }
        let Some(location) = resp.header("location") else {
            return Ok(None);
        };
        let next = redirect::target(&hop.url, location)?;
        if !self.scope.contains(&next) {
            tracing::info!(to = %next, "redirect out of scope not followed");
            return Err(format!("redirect to {next} is out of scope; not followed"));
        }
        if followed >= self.max_redirects {
            return Err(format!(
                "stopped after {followed} redirects (the limit); the next was to {next}"
            ));
        }
        let (method, keep_body) = redirect::next_method(resp.status, hop.method);
        Ok(Some(Hop {
            method,
            url: next,
            body: if keep_body { hop.body.clone() } else { None },
        }))
    }

    /// One hop, retried on 429 and 503. When the wait would outlast the scan's deadline the
    /// last answer is returned instead, so it is recorded rather than lost.
    async fn with_retries(
        &self,
        hop: &Hop,
        map: &HeaderMap,
        on_wire: &mut Duration,
    ) -> Result<Outcome, HttpError> {
        let mut retry = 0;
        loop {
            let outcome = self.attempt(hop, map, on_wire).await?;
            let Outcome::Answered(resp, _) = &outcome else {
                return Ok(outcome);
            };
            if retry >= self.max_retries || !retry::is_retryable(resp.status) {
                return Ok(outcome);
            }
            let wait = retry::wait_for(resp.header("retry-after"), retry, self.max_backoff);
            if self.deadline.is_some_and(|d| Instant::now() + wait >= d) {
                return Ok(outcome);
            }
            tracing::debug!(status = resp.status, url = %hop.url, ?wait, "retrying");
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }

    /// One request on the wire, through every gate.
    async fn attempt(
        &self,
        hop: &Hop,
        map: &HeaderMap,
        on_wire: &mut Duration,
    ) -> Result<Outcome, HttpError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HttpError::Cancelled)?;
        if let Some(limiter) = &self.limiter {
            limiter.wait(&hop.url).await;
        }
        self.check_stops()?;
        self.budget.take()?;
        let mut req = reqwest::Request::new(prepare::method(hop.method), hop.url.clone());
        *req.headers_mut() = map.clone();
        if let Some(body) = &hop.body {
            *req.body_mut() = Some(body.bytes.clone().into());
        }
        let started = Instant::now();
        let mut partial = Partial::default();
        let result = tokio::time::timeout_at(
            started + self.request_timeout,
            record::fetch(&self.client, req, self.max_response_bytes, &mut partial),
        )
        .await
        .ok();
        *on_wire += started.elapsed();
        let outcome = record::conclude(result, partial, self.request_timeout)?;
        match &outcome {
            Outcome::Answered(..) => self.breaker.success(),
            Outcome::Failed(reason) => {
                tracing::debug!(url = %hop.url, %reason, "no answer");
                self.breaker.failure();
            }
        }
        Ok(outcome)
    }
}
