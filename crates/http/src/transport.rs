//! The one way a probe reaches the target. `send` checks the scope, then runs each attempt
//! through the brakes in this order: a concurrency permit, a rate-limit slot for the host,
//! the stop conditions (cancelled, deadline, circuit open), and the budget, so an attempt is
//! counted only when it is about to go on the wire. Redirects and 429/503 retries are attempts
//! of their own and pass the same gates. Sends already under way are ended by the watchdog
//! (`watch.rs`) on cancellation, at the scan deadline, and when an attempt's time is up.
//!
//! The permit is taken before the rate slot on purpose: a slot is then used the moment it
//! comes, so requests queued for a permit cannot bunch up and exceed the rate. The price is
//! that permits wait on a slow host; a scan targets one API, so that is rarely paid.
//!
//! What an [`Exchange`] holds: `request` is the last request sent (after redirects, the final
//! hop's method, URL, headers and body), `redirects` the URLs requested before it in order,
//! `response` the answer to it, `error` why there is none or why a redirect was not followed,
//! and `elapsed_ms` the time spent on the wire over all attempts, waits for permits, rate slots
//! and back-off excluded (so time-based checks are not fooled by our own queueing).

use crate::client::{self, Client, ReqBody};
use crate::config::TransportConfig;
use crate::error::HttpError;
use crate::health::{Health, Replay};
use crate::limits::{Breaker, Budget, Permits};
use crate::outgoing::Outgoing;
use crate::prepare::{self, WireBody};
use crate::rate::{RateLimiter, Signal};
use crate::record::{self, Outcome, Partial};
use crate::redirect;
use crate::retry;
use crate::scope::Scope;
use crate::watch::{Watch, Watchdog};
use hyper::header::{HeaderMap, HeaderValue};
use middlebrick_model::{Exchange, Method, RequestRecord, ResponseRecord};
use std::fmt;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// A pooled HTTP client (HTTP/1.1, and HTTP/2 where TLS ALPN offers it) behind the scan's
/// scope and limits. Share it (`Arc`) across tasks: pooling and the limits are per transport.
pub struct Transport {
    pub(crate) client: Client,
    scope: Scope,
    permits: Permits,
    pub(crate) limiter: Option<RateLimiter>,
    pub(crate) budget: Budget,
    pub(crate) breaker: Breaker,
    pub(crate) deadline: Option<Instant>,
    dog: Arc<Watchdog>,
    user_agent: HeaderValue,
    pub(crate) request_timeout: Duration,
    pub(crate) max_response_bytes: usize,
    max_redirects: usize,
    max_retries: u32,
    max_backoff: Duration,
    /// Bursts run one at a time (see [`Transport::send_burst`]).
    burst_lock: tokio::sync::Mutex<()>,
    /// Whether the target still answers (`health.rs`).
    pub(crate) health: Health,
}

tokio::task_local! {
    /// Set while a [`Transport::send_alone`] request is sent: it holds every permit already.
    static ALONE: bool;
}

fn alone() -> bool {
    ALONE.try_with(|a| *a).unwrap_or(false)
}

/// The most requests [`Transport::send_burst`] sends at once.
pub const MAX_BURST: usize = 8;

/// Lets the watchdog task end with the transport instead of idling until the runtime stops.
impl Drop for Transport {
    fn drop(&mut self) {
        self.dog.shut_down();
    }
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
    identity: String,
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
        let client = Client::new(
            cfg.accept_invalid_certs,
            cfg.connect_timeout,
            cfg.concurrency,
        )
        .map_err(HttpError::Client)?;
        let deadline = cfg.max_duration.and_then(|d| Instant::now().checked_add(d));
        Ok(Transport {
            client,
            scope,
            permits: Permits::new(cfg.concurrency),
            limiter: {
                let policy = cfg.rate_policy();
                policy.limits().then(|| RateLimiter::new(policy))
            },
            budget: Budget::new(cfg.budget),
            breaker: Breaker::new(cfg.breaker_threshold),
            deadline,
            dog: Watchdog::new(cfg.request_timeout, deadline),
            user_agent,
            request_timeout: cfg.request_timeout,
            max_response_bytes: cfg.max_response_bytes,
            max_redirects: cfg.max_redirects,
            max_retries: cfg.max_retries,
            max_backoff: cfg.max_backoff,
            burst_lock: tokio::sync::Mutex::new(()),
            health: Health::default(),
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
        let (watch, _slot) = self.dog.register();
        let work = pin!(self.exchange(req, &watch));
        self.dog.watched(&watch, work).await
    }

    /// Sends `req` with nothing else in flight: every other send waits until its answer is
    /// read, so the time it takes is the target's alone (timing checks: a request made slow
    /// by its input, compared with a control). Otherwise as [`Transport::send`]; its latency
    /// is left out of the adaptive rate's figures.
    pub async fn send_alone(&self, req: Outgoing) -> Result<Exchange, HttpError> {
        let _one_at_a_time = self.burst_lock.lock().await;
        let _all = self.permits.acquire_all().await;
        ALONE.scope(true, self.send(req)).await
    }

    /// The rate each host was sent requests at so far (`rate.rs`); empty when unlimited.
    pub fn rates(&self) -> Vec<middlebrick_model::RateUse> {
        self.limiter
            .as_ref()
            .map(RateLimiter::used)
            .unwrap_or_default()
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
        self.dog.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.dog.is_cancelled()
    }

    /// True once the circuit breaker has opened; every later send fails.
    pub fn circuit_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// The stops checked before each attempt (the watchdog ends sends already under way).
    pub(crate) fn check_stops(&self) -> Result<(), HttpError> {
        if self.dog.is_cancelled() {
            return Err(HttpError::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(HttpError::DeadlineReached);
        }
        self.breaker.check()
    }

    async fn exchange(&self, req: Outgoing, watch: &Watch) -> Result<Exchange, HttpError> {
        let Outgoing {
            method,
            url,
            headers,
            credentials,
            body,
            identity,
            follow_redirects,
            retry_throttled,
        } = req;
        let body = body
            .map(|b| WireBody::encode(b, self.max_response_bytes))
            .transpose()?;
        let mut hop = Hop {
            method,
            url,
            body,
            identity: identity.clone(),
        };
        // The URL the credentials were meant for; kept only once a redirect moves away from it.
        let mut original: Option<Url> = None;
        let mut redirects = Vec::new();
        let mut on_wire = Duration::ZERO;
        loop {
            let credentials: &[(String, String)] = match &original {
                Some(o) if !redirect::keeps_credentials(o, &hop.url) => &[],
                _ => &credentials,
            };
            let content_type = hop.body.as_ref().map(|b| b.content_type.as_str());
            let mut map =
                prepare::header_map(&self.user_agent, &headers, credentials, content_type)?;
            prepare::close_after_large_body(
                &mut map,
                hop.body.as_ref().map_or(0, |b| b.bytes.len()),
            );
            let sent_headers = prepare::record_headers(&map);
            let outcome = self
                .with_retries(
                    watch,
                    &hop,
                    map,
                    &sent_headers,
                    &mut on_wire,
                    retry_throttled,
                )
                .await?;
            let (response, mut error) = match outcome {
                Outcome::Answered(r, note) => (Some(r), note),
                Outcome::Failed(reason) => (None, Some(reason)),
            };
            if follow_redirects && error.is_none() {
                if let Some(r) = &response {
                    match self.next_hop(&hop, r, redirects.len()) {
                        Ok(Some(next)) => {
                            tracing::debug!(from = %hop.url, to = %next.url, "following redirect");
                            let previous = std::mem::replace(&mut hop, next).url;
                            redirects.push(previous.to_string());
                            original.get_or_insert(previous);
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
                headers: sent_headers,
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
            identity: hop.identity.clone(),
        }))
    }

    /// One hop, retried on 429 and 503. When the wait would outlast the scan's deadline the
    /// last answer is returned instead, so it is recorded rather than lost.
    ///
    /// The header map goes to the first attempt as it is; a retry rebuilds it from the record
    /// (which is exact), so the common case does not pay for a copy it will not use.
    async fn with_retries(
        &self,
        watch: &Watch,
        hop: &Hop,
        map: HeaderMap,
        sent_headers: &[(String, String)],
        on_wire: &mut Duration,
        retry_throttled: bool,
    ) -> Result<Outcome, HttpError> {
        let mut map = Some(map);
        let mut retry = 0;
        loop {
            let headers = match map.take() {
                Some(m) => m,
                None => prepare::rebuild(sent_headers)?,
            };
            let outcome = self
                .attempt(watch, hop, headers, on_wire, !retry_throttled)
                .await?;
            let Outcome::Answered(resp, _) = &outcome else {
                return Ok(outcome);
            };
            if !retry_throttled || retry >= self.max_retries || !retry::is_retryable(resp.status) {
                return Ok(outcome);
            }
            let Some(wait) = retry::wait_for(resp.header("retry-after"), retry, self.max_backoff)
            else {
                return Ok(outcome);
            };
            if self.deadline.is_some_and(|d| Instant::now() + wait >= d) {
                return Ok(outcome);
            }
            tracing::debug!(status = resp.status, url = %hop.url, ?wait, "retrying");
            Box::pin(tokio::time::sleep(wait)).await;
            retry += 1;
        }
    }

    /// One request on the wire, through every gate.
    async fn attempt(
        &self,
        watch: &Watch,
        hop: &Hop,
        headers: HeaderMap,
        on_wire: &mut Duration,
        throttle_expected: bool,
    ) -> Result<Outcome, HttpError> {
        // Nothing starts while the target's liveness is in question (`health.rs`).
        drop(self.health.pause.read().await);
        let timed = alone();
        // A lone request holds every permit already.
        let _permit = if timed {
            None
        } else {
            Some(self.permits.acquire().await)
        };
        if let Some(limiter) = &self.limiter {
            // Boxed, like every wait off the hot path, to keep this future (moved on every
            // send) small; at a limited rate an allocation is nothing.
            Box::pin(limiter.wait(&hop.url)).await;
        }
        self.check_stops()?;
        self.budget.take()?;
        let started = *on_wire;
        let outcome = self.wire(watch, hop, headers, on_wire).await?;
        if let Some(limiter) = &self.limiter {
            let status = match &outcome {
                Outcome::Answered(r, _) => Some(r.status),
                Outcome::Failed(_) => None,
            };
            let signal = Signal {
                status,
                elapsed: on_wire.saturating_sub(started),
                timed,
                throttle_expected,
            };
            limiter.observe(&hop.url, signal);
        }
        Ok(outcome)
    }

    /// The attempt itself, once its gates are passed: the request on the wire, the answer read
    /// under the cap, the breaker told.
    async fn wire(
        &self,
        watch: &Watch,
        hop: &Hop,
        headers: HeaderMap,
        on_wire: &mut Duration,
    ) -> Result<Outcome, HttpError> {
        let body = hop
            .body
            .as_ref()
            .map_or_else(ReqBody::default, |b| ReqBody::new(b.bytes.clone()));
        // One copy of the headers, shared by the health log and the client, which makes the
        // request hyper consumes from it.
        let replay = Arc::new(Replay {
            method: hop.method,
            url: hop.url.clone(),
            headers,
            body: hop.body.clone(),
            identity: hop.identity.clone(),
        });
        let seq = self.health.begin(replay.clone());
        let req = client::Parts {
            method: prepare::method(hop.method),
            headers: &replay.headers,
            body,
        };
        let started = Instant::now();
        let mut partial = Partial::default();
        let until = started + self.request_timeout;
        let result = {
            let cap = self.max_response_bytes;
            let fetch = pin!(record::fetch(
                &self.client,
                &hop.url,
                &req,
                cap,
                &mut partial
            ));
            self.dog.expiring(watch, until, fetch).await
        };
        *on_wire += started.elapsed();
        let outcome = record::conclude(result, partial, self.request_timeout);
        let status = match &outcome {
            Ok(Outcome::Answered(r, _)) => Some(r.status),
            _ => None,
        };
        self.health.end(seq, status);
        let outcome = outcome?;
        match &outcome {
            Outcome::Answered(..) => self.breaker.success(),
            Outcome::Failed(reason) => {
                tracing::debug!(url = %hop.url, %reason, "no answer");
                if self.health.watching() {
                    // Boxed: the liveness check holds whole requests of its own, and inline
                    // they would be part of (and moved with) every send's future.
                    Box::pin(self.on_silence()).await;
                } else {
                    self.breaker.failure();
                }
            }
        }
        Ok(outcome)
    }
}

impl Transport {
    /// Sends `reqs` at the same instant, for race-condition checks: every gate is passed for the
    /// whole burst first (one permit and one rate slot per request, taken in a row, so the
    /// burst waits for the last slot and the average rate still holds; the budget counts each
    /// request; stops are checked), then all requests are written together from one task over
    /// separate pooled connections. No redirects are followed and nothing is retried (a retry
    /// would arrive late and prove nothing); each answer is recorded like any other.
    ///
    /// At most [`MAX_BURST`] requests, and never more than the concurrency cap; one burst at a
    /// time per transport, so two bursts cannot each hold half the permits. Results come back
    /// in the order of `reqs`; `Err` for a request out of scope or when the scan must stop.
    pub async fn send_burst(&self, reqs: Vec<Outgoing>) -> Vec<Result<Exchange, HttpError>> {
        let _one_at_a_time = self.burst_lock.lock().await;
        let limit = MAX_BURST.min(self.permits.capacity());
        if reqs.len() > limit {
            let why = format!("a burst is at most {limit} requests");
            return reqs
                .iter()
                .map(|_| Err(HttpError::InvalidRequest(why.clone())))
                .collect();
        }
        let mut permits = Vec::with_capacity(reqs.len());
        for _ in &reqs {
            permits.push(self.permits.acquire().await);
        }
        if let (Some(limiter), Some(first)) = (&self.limiter, reqs.first()) {
            Box::pin(limiter.wait_n(&first.url, reqs.len())).await;
        }
        let gated: Vec<Result<Outgoing, HttpError>> = reqs
            .into_iter()
            .map(|r| {
                if !self.scope.contains(&r.url) {
                    return Err(HttpError::OutOfScope {
                        url: r.url.to_string(),
                    });
                }
                self.check_stops()?;
                self.budget.take()?;
                Ok(r)
            })
            .collect();
        // Plain-HTTP bursts go out with their final bytes held back and released together
        // (src/lastbyte.rs); over TLS they are sent concurrently on fresh pooled connections.
        if gated.iter().flatten().next().is_some()
            && gated.iter().flatten().all(|r| r.url.scheme() == "http")
        {
            let out = self.burst_synchronised(gated).await;
            drop(permits);
            return out;
        }
        let sends = gated.into_iter().map(|r| async move {
            let r = r?;
            let (watch, _slot) = self.dog.register();
            let work = pin!(self.burst_one(r, &watch));
            self.dog.watched(&watch, work).await
        });
        let out = futures::future::join_all(sends).await;
        drop(permits);
        out
    }

    /// A plain-HTTP burst with last-byte synchronisation, its gates already passed.
    async fn burst_synchronised(
        &self,
        gated: Vec<Result<Outgoing, HttpError>>,
    ) -> Vec<Result<Exchange, HttpError>> {
        let mut records: Vec<Result<(Outgoing, RequestRecord), HttpError>> = Vec::new();
        let mut wire = Vec::new();
        for r in gated {
            let prepared = r.and_then(|req| {
                let body = req
                    .body
                    .clone()
                    .map(|b| WireBody::encode(b, self.max_response_bytes))
                    .transpose()?;
                let content_type = body.as_ref().map(|b| b.content_type.as_str());
                let map = prepare::header_map(
                    &self.user_agent,
                    &req.headers,
                    &req.credentials,
                    content_type,
                )?;
                let record = RequestRecord {
                    method: req.method,
                    url: req.url.to_string(),
                    headers: prepare::record_headers(&map),
                    body: body.as_ref().map(|b| b.record.clone()),
                };
                wire.push(crate::lastbyte::Prepared {
                    method: req.method,
                    url: req.url.clone(),
                    headers: map,
                    body: body.map(|b| (b.content_type, b.bytes)),
                });
                Ok((req, record))
            });
            records.push(prepared);
        }
        let connect = self.request_timeout.min(Duration::from_secs(5));
        let mut answers =
            crate::lastbyte::send_all(wire, connect, self.request_timeout, self.max_response_bytes)
                .await
                .into_iter();
        records
            .into_iter()
            .map(|r| {
                let (req, record) = r?;
                let (answer, took) = answers
                    .next()
                    .unwrap_or((Err("no answer".into()), Duration::ZERO));
                let (response, error) = match answer {
                    Ok(resp) => (Some(resp), None),
                    Err(e) => (None, Some(e)),
                };
                Ok(Exchange {
                    identity: req.identity,
                    request: record,
                    response,
                    redirects: Vec::new(),
                    error,
                    elapsed_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
                })
            })
            .collect()
    }

    /// One request of a burst, its gates already passed.
    async fn burst_one(&self, req: Outgoing, watch: &Watch) -> Result<Exchange, HttpError> {
        let body = req
            .body
            .map(|b| WireBody::encode(b, self.max_response_bytes))
            .transpose()?;
        let hop = Hop {
            method: req.method,
            url: req.url,
            body,
            identity: req.identity.clone(),
        };
        let content_type = hop.body.as_ref().map(|b| b.content_type.as_str());
        let map = prepare::header_map(
            &self.user_agent,
            &req.headers,
            &req.credentials,
            content_type,
        )?;
        let sent_headers = prepare::record_headers(&map);
        let mut on_wire = Duration::ZERO;
        let outcome = self.wire(watch, &hop, map, &mut on_wire).await?;
        let (response, error) = match outcome {
            Outcome::Answered(r, note) => (Some(r), note),
            Outcome::Failed(reason) => (None, Some(reason)),
        };
        Ok(Exchange {
            identity: req.identity,
            request: RequestRecord {
                method: hop.method,
                url: hop.url.to_string(),
                headers: sent_headers,
                body: hop.body.map(|b| b.record),
            },
            response,
            redirects: Vec::new(),
            error,
            elapsed_ms: u64::try_from(on_wire.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transport_is_built_outside_a_runtime() {
        // The engine may build it before entering tokio; the watchdog starts on the first send.
        let t = Transport::new(TransportConfig::default()).unwrap();
        assert_eq!(t.requests_sent(), 0);
        assert!(!t.circuit_open() && !t.is_cancelled());
        assert!(format!("{t:?}").contains("Transport"));
    }

    #[test]
    fn transports_and_sends_cross_threads() {
        // The engine shares one transport across spawned tasks and awaits sends in them.
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: &T) {}
        let t = Transport::new(TransportConfig::default()).unwrap();
        send_sync(&t);
        let out = Outgoing::from_spec(
            &Url::parse("http://localhost/").unwrap(),
            &middlebrick_model::RequestSpec::new(Method::Get, "/"),
            Vec::new(),
        )
        .unwrap();
        send(&t.send(out));
    }

    #[test]
    fn bad_configuration_is_refused() {
        let cfg = TransportConfig {
            allowed_hosts: vec!["not a host/".into()],
            ..TransportConfig::default()
        };
        assert!(matches!(
            Transport::new(cfg),
            Err(HttpError::InvalidRequest(_))
        ));
        let cfg = TransportConfig {
            user_agent: "bad\nagent".into(),
            ..TransportConfig::default()
        };
        assert!(Transport::new(cfg).is_err());
    }
}
