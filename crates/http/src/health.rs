//! Target health (issue 16, rule 4): when a target that answered stops answering, stop sending,
//! ask whether it is alive with a request it answered before (the *known-good* request: the
//! first GET without a body answered 2xx), with bounded back-off, and keep what happened as an
//! [`Outage`]. A target that does not come back trips the circuit breaker, which ends the scan
//! as incomplete.
//!
//! Why a liveness request rather than counting failures: one slow endpoint that times out
//! says nothing about the rest of the API, and a single-process server frozen by one request
//! (catastrophic regex backtracking, say) answers nothing at all, so every in-flight request
//! fails together. Only asking the target a question it answered before tells the two apart.
//!
//! The request most likely to have caused an outage is the earliest one put on the wire that
//! never got an answer, but on a single-process server a request sent just before the culprit
//! can be queued behind it and go unanswered too. A check may ask for the unanswered requests
//! to be sent once more, one at a time, earliest first ([`Transport::retrigger`]), each
//! bracketed by the known-good request, to prove a denial of service by one request.

use crate::client::{Parts, ReqBody};
use crate::error::HttpError;
use crate::prepare::{self, WireBody};
use crate::record::{self, Outcome, Partial};
use crate::transport::Transport;
use hyper::header::HeaderMap;
use middlebrick_model::{Exchange, Method, Outage, RequestRecord, Retrigger};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// Waits before each liveness request: the first goes at once, the last about 15 s after the
/// outage began. Bounded, so a dead target costs the scan well under a minute.
const BACKOFF_MS: [u64; 6] = [0, 500, 1_000, 2_000, 4_000, 8_000];
/// The longest a liveness request waits for its answer (less when the request timeout is).
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long after the re-sent suspect the control goes out, so it queues behind it.
const CONTROL_DELAY: Duration = Duration::from_millis(500);
/// Requests remembered for naming the last ones sent and finding the suspect.
const RECENT: usize = 16;
/// Liveness checks in one scan; past this, failures count towards the breaker as before, so a
/// target that drops every payload connection does not double the scan's requests.
const MAX_CHECKS: u32 = 32;
/// How many of the last requests an outage names.
const NAMED: usize = 8;
/// How many of an outage's unanswered requests are kept to be re-sent, earliest first: as many
/// as the default concurrency puts in flight. A server need not answer in the order requests
/// were sent (DVGA's threads served the culprit, seventh of eight, before static files sent
/// just before it), so the earliest few are not enough.
const SUSPECTS: usize = 8;

/// A request as it went on the wire, kept so it can be sent again exactly.
#[derive(Debug, Clone)]
pub(crate) struct Replay {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<WireBody>,
    pub identity: String,
}

impl Replay {
    fn line(&self) -> String {
        format!("{} {}", self.method, self.url)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    InFlight,
    Answered,
    Failed,
    /// Failed, but a liveness check since showed the target up: not an outage's suspect.
    Settled,
}

#[derive(Debug)]
struct Sent {
    seq: u64,
    replay: Arc<Replay>,
    state: State,
}

#[derive(Debug, Default)]
pub(crate) struct Health {
    seq: AtomicU64,
    checks: AtomicU32,
    known_good: Mutex<Option<Arc<Replay>>>,
    recent: Mutex<VecDeque<Sent>>,
    /// Each outage, with its unanswered requests (the suspects), earliest first.
    outages: Mutex<Vec<(Outage, Vec<Arc<Replay>>)>>,
    /// Held for writing while the target's liveness is in question: no attempt starts then.
    pub(crate) pause: tokio::sync::RwLock<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Health {
    /// Remembers an attempt about to go on the wire.
    pub(crate) fn begin(&self, replay: Arc<Replay>) -> u64 {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut recent = lock(&self.recent);
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(Sent {
            seq,
            replay,
            state: State::InFlight,
        });
        seq
    }

    /// Records how attempt `seq` ended; the first GET without a body answered 2xx becomes the
    /// known-good request.
    pub(crate) fn end(&self, seq: u64, status: Option<u16>) {
        let mut recent = lock(&self.recent);
        let Some(sent) = recent.iter_mut().find(|s| s.seq == seq) else {
            return;
        };
        sent.state = if status.is_some() {
            State::Answered
        } else {
            State::Failed
        };
        let good = status.is_some_and(|s| (200..300).contains(&s))
            && sent.replay.method == Method::Get
            && sent.replay.body.is_none();
        if good {
            let mut known = lock(&self.known_good);
            if known.is_none() {
                *known = Some(sent.replay.clone());
            }
        }
    }

    /// True once there is a known-good request to ask the target with.
    pub(crate) fn watching(&self) -> bool {
        lock(&self.known_good).is_some()
    }

    fn known_good(&self) -> Option<Arc<Replay>> {
        lock(&self.known_good).clone()
    }

    /// The earliest unanswered requests (the suspects, at most [`SUSPECTS`]) and the last
    /// requests sent; every unanswered request is settled, so the next outage starts afresh.
    fn take_unanswered(&self) -> (Vec<Arc<Replay>>, Vec<String>) {
        let mut recent = lock(&self.recent);
        let suspects = recent
            .iter()
            .filter(|s| matches!(s.state, State::InFlight | State::Failed))
            .map(|s| s.replay.clone())
            .take(SUSPECTS)
            .collect();
        let skip = recent.len().saturating_sub(NAMED);
        let last = recent.iter().skip(skip).map(|s| s.replay.line()).collect();
        settle(&mut recent);
        (suspects, last)
    }

    fn settle(&self) {
        settle(&mut lock(&self.recent));
    }

    pub(crate) fn outages(&self) -> Vec<Outage> {
        lock(&self.outages).iter().map(|(o, _)| o.clone()).collect()
    }

    /// The suspects of outage `index`, handed out once.
    fn take_suspects(&self, index: usize) -> Vec<Arc<Replay>> {
        lock(&self.outages)
            .get_mut(index)
            .map(|(_, s)| std::mem::take(s))
            .unwrap_or_default()
    }
}

fn settle(recent: &mut VecDeque<Sent>) {
    for s in recent.iter_mut() {
        if matches!(s.state, State::InFlight | State::Failed) {
            s.state = State::Settled;
        }
    }
}

/// What the liveness loop found.
struct Knocked {
    probes: u32,
    answer: Option<Exchange>,
    /// The answer came, but late (over half the liveness timeout): the target was stalled, as a
    /// single-process server is while one request holds it, and caught up during the wait.
    stalled: bool,
    /// A stop (deadline, budget, cancel) ended the loop before the target answered.
    stopped: bool,
}

/// Whether an answer took over half of `limit`.
fn is_late(ex: &Exchange, limit: Duration) -> bool {
    u128::from(ex.elapsed_ms) * 2 > limit.as_millis()
}

impl Transport {
    /// Called when an attempt got no answer from a target that answered before. One caller
    /// runs the liveness check while every other attempt waits; the rest wait for its verdict.
    pub(crate) async fn on_silence(&self) {
        let Ok(guard) = self.health.pause.try_write() else {
            drop(self.health.pause.read().await);
            return;
        };
        let known = self.health.known_good();
        let over = self.health.checks.fetch_add(1, Ordering::Relaxed) >= MAX_CHECKS;
        let Some(known) = known.filter(|_| !over) else {
            drop(guard);
            self.breaker.failure();
            return;
        };
        let started = Instant::now();
        let knocked = self.knock_until_answered(&known).await;
        if knocked.answer.is_some() && knocked.probes == 1 && !knocked.stalled {
            // The target answers at once: that request alone failed (a slow endpoint).
            self.health.settle();
            return;
        }
        let (suspects, last_sent) = self.health.take_unanswered();
        let recovered = knocked.answer.is_some();
        let outage = Outage {
            suspect: suspects.first().map(|s| s.line()),
            last_sent,
            probes: knocked.probes,
            recovered,
            down_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        tracing::warn!(
            recovered,
            probes = knocked.probes,
            suspect = outage.suspect.as_deref().unwrap_or("-"),
            "the target stopped answering"
        );
        lock(&self.health.outages).push((outage, suspects));
        if let Some(limiter) = &self.limiter {
            // A target that went silent under load is given less when it is back.
            limiter.outage();
        }
        if !recovered && !knocked.stopped {
            self.breaker.trip();
        }
        drop(guard);
    }

    /// Liveness requests with back-off until one is answered or the schedule ends.
    async fn knock_until_answered(&self, known: &Replay) -> Knocked {
        let limit = self.request_timeout.min(LIVENESS_TIMEOUT);
        let mut out = Knocked {
            probes: 0,
            answer: None,
            stalled: false,
            stopped: false,
        };
        for wait in BACKOFF_MS.map(Duration::from_millis) {
            if self.deadline.is_some_and(|d| Instant::now() + wait >= d) {
                out.stopped = true;
                break;
            }
            tokio::time::sleep(wait).await;
            out.probes += 1;
            match self.knock(known, limit).await {
                Ok(ex) if ex.response.is_some() => {
                    out.stalled = is_late(&ex, limit);
                    out.answer = Some(ex);
                    break;
                }
                Ok(_) => {}
                Err(_) => {
                    out.stopped = true;
                    break;
                }
            }
        }
        out
    }

    /// Sends `r` once, outside the pause (the caller holds it), counted in the budget.
    async fn knock(&self, r: &Replay, limit: Duration) -> Result<Exchange, HttpError> {
        self.check_stops()?;
        self.budget.take()?;
        let body = r
            .body
            .as_ref()
            .map_or_else(ReqBody::default, |b| ReqBody::new(b.bytes.clone()));
        let req = Parts {
            method: prepare::method(r.method),
            headers: &r.headers,
            body,
        };
        let started = Instant::now();
        let mut partial = Partial::default();
        let fetched = tokio::time::timeout(
            limit,
            record::fetch(
                &self.client,
                &r.url,
                &req,
                self.max_response_bytes,
                &mut partial,
            ),
        )
        .await
        .ok();
        let (response, error) = match record::conclude(fetched, partial, limit)? {
            Outcome::Answered(resp, note) => (Some(resp), note),
            Outcome::Failed(why) => (None, Some(why)),
        };
        Ok(Exchange {
            identity: r.identity.clone(),
            request: RequestRecord {
                method: r.method,
                url: r.url.to_string(),
                headers: prepare::record_headers(&r.headers),
                body: r.body.as_ref().map(|b| b.record.clone()),
            },
            response,
            redirects: Vec::new(),
            error,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Every time the target stopped answering during the scan, in order.
    pub fn outages(&self) -> Vec<Outage> {
        self.health.outages()
    }

    /// Sends outage `index`'s suspects once more, one at a time, earliest first, until one
    /// froze the target (see [`Self::resend`]); the proof of that one, or of the last one tried.
    /// `None` when there is nothing to re-send (already re-sent, no suspect) or the target does
    /// not answer a first control. At most once per outage.
    pub async fn retrigger(&self, index: usize) -> Option<Retrigger> {
        let known = self.health.known_good()?;
        let mut last = None;
        for suspect in self.health.take_suspects(index) {
            let proof = self.resend(&suspect, &known).await?;
            if proof.target_froze() {
                return Some(proof);
            }
            last = Some(proof);
        }
        last
    }

    /// Sends `suspect` once more, alone: the known-good request first (it must be answered),
    /// then the suspect with the full request timeout and, a moment later while it runs, the
    /// known-good request again; then liveness requests until the target answers.
    async fn resend(&self, suspect: &Replay, known: &Replay) -> Option<Retrigger> {
        let _paused = self.health.pause.write().await;
        let limit = self.request_timeout.min(LIVENESS_TIMEOUT);
        let control_before = self.knock(known, limit).await.ok()?;
        if control_before.response.is_none() || is_late(&control_before, limit) {
            // Not answered promptly, so a silence after the suspect would prove nothing.
            return None;
        }
        let control = async {
            tokio::time::sleep(CONTROL_DELAY).await;
            self.knock(known, limit).await
        };
        let (suspect, control_during) =
            tokio::join!(self.knock(suspect, self.request_timeout), control);
        let (suspect, control_during) = (suspect.ok()?, control_during.ok()?);
        let control_after = if control_during.response.is_some() {
            None
        } else {
            self.knock_until_answered(known).await.answer
        };
        self.health.settle();
        Some(Retrigger {
            control_before,
            suspect,
            control_during,
            control_after,
        })
    }
}
