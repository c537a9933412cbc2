//! The per-host rate: evenly spaced slots whose spacing adapts to how the target copes.
//!
//! Each host (and port) has its own rate. Every caller reserves the next free slot and sleeps
//! until it; there is no burst allowance, so N requests take at least (N-1)/rate seconds at the
//! rate of the moment.
//!
//! When adaptive (the default), the rate starts at [`RatePolicy::start`] and follows the
//! target's answers, in windows of [`WINDOW`] answers, AIMD-style (as TCP's congestion control):
//! - **back off at once** (the rate halves, at most once per [`CUT_SPACING`]) on a 429 or 503
//!   answer and on a request that got no answer; 429s a check provokes on purpose (sent without
//!   retries, to observe a sign-in limiter) are what it measures, not a signal;
//! - **hold** the rate (no raise) when the target got slower, and **back off** by a quarter when
//!   it got much slower. Each answer is compared with the fastest answer the same path gave with
//!   the same status (a sign-in that hashes a password is slow every time, a validation error
//!   fast every time: only a path against itself says whether the target slowed). A window
//!   whose median answer took over twice its path's fastest and [`HOLD_SLACK_MS`] more holds;
//!   over four times and [`CUT_SLACK_MS`] more cuts. Queueing behind the scan's own requests
//!   in flight makes answers a few times slower without harm (that is the target at full
//!   use); a target that slows by a tenth of a second and more is told to slow down, not
//!   pushed. An answer whose path and status were not seen before only sets that path's mark;
//! - **raise** the rate when a window's latency stayed flat and the rate was what held the scan
//!   back (answers came at over [`BUSY_SHARE`] of it): by half while no back-off has happened
//!   yet (a slow start), then by a fifth of the starting rate per window (additive);
//! - never above [`RatePolicy::cap`]; never below a quarter of the start ([`AMBIGUOUS_FLOOR`])
//!   on the ambiguous signals (no answer, latency, an outage) nor on 429/503 from fewer than
//!   [`HOST_WIDE_PATHS`] paths: one endpoint that is slow, drops connections or has a limiter
//!   of its own (a chat endpoint allowing five completions a minute) must not drag the whole
//!   scan down to a request a second. Its own retries honour its Retry-After. Only 429/503
//!   from that many different paths (a limiter in front of the whole host) may take the rate
//!   down to [`MIN_RATE`].
//!
//! Requests the caller marks as timed (deliberately slow answers, `Transport::send_alone`) are
//! left out of the latency figures. The rates used are reported ([`RateUse`]).

use middlebrick_model::RateUse;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// Answers per window.
pub const WINDOW: usize = 16;
/// How many paths (with a status) per host have their fastest answer kept; later ones are
/// not compared.
pub const MAX_PATHS: usize = 4096;
/// A rise in median latency smaller than this never holds the rate, whatever the ratio.
pub const HOLD_SLACK_MS: f64 = 20.0;
/// A rise smaller than this never cuts it.
pub const CUT_SLACK_MS: f64 = 100.0;
/// The share of the rate the answers must reach in a window for a raise.
pub const BUSY_SHARE: f64 = 0.7;
/// Two back-offs for the same cause are at least this far apart (one overload answers many
/// requests in flight with 503 at once; it is one signal).
pub const CUT_SPACING: Duration = Duration::from_millis(500);
/// The rate never goes below this (requests per second).
pub const MIN_RATE: f64 = 1.0;
/// The share of the starting rate that latency, lost answers, outages and one route's own
/// limiter cannot cut below.
pub const AMBIGUOUS_FLOOR: f64 = 0.25;
/// Distinct paths answering 429/503 that show a limiter in front of the whole host.
pub const HOST_WIDE_PATHS: usize = 3;

/// How the rate is set: a fixed cap, adaptation under it, and where adaptation starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatePolicy {
    /// Never more than this per second to one host; `None`: no cap.
    pub cap: Option<f64>,
    /// Follow the target (above); when false the rate is the cap.
    pub adaptive: bool,
    /// The starting rate for hosts that are loopback or private addresses, and for others.
    pub start_local: f64,
    pub start_public: f64,
}

impl RatePolicy {
    /// The rate a host starts at: its kind's start, under the cap.
    pub fn start_for(&self, url: &Url) -> f64 {
        let start = if is_local(url) {
            self.start_local
        } else {
            self.start_public
        };
        match (self.adaptive, self.cap) {
            (false, Some(cap)) => cap,
            (_, Some(cap)) => start.min(cap),
            (_, None) => start,
        }
    }

    /// Whether a limiter is needed at all.
    pub fn limits(&self) -> bool {
        self.adaptive || self.cap.is_some()
    }
}

/// Loopback, private (RFC 1918, unique-local IPv6) and link-local addresses, and `localhost`.
pub fn is_local(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => {
            let ip = IpAddr::V4(ip);
            ip.is_loopback() || matches!(ip, IpAddr::V4(v) if v.is_private() || v.is_link_local())
        }
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
        None => false,
    }
}

/// What one attempt told the limiter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signal {
    /// The answer's status; `None` when there was no answer.
    pub status: Option<u16>,
    pub elapsed: Duration,
    /// A timed request: its latency is what a check measures, not the target's load.
    pub timed: bool,
    /// A 429 here is what the check observes (sent without retries).
    pub throttle_expected: bool,
}

type Key = (String, u16);

#[derive(Debug)]
struct HostRate {
    next: Instant,
    rate: f64,
    start: f64,
    min: f64,
    max: f64,
    cuts: u32,
    last_cut: Option<Instant>,
    slow_start: bool,
    window_start: Instant,
    /// Each compared answer of the window: (its time, its path's fastest), milliseconds.
    latencies: Vec<(u32, u32)>,
    /// The fastest answer per path and status (looked up by the path as it is, so an answer
    /// costs no allocation once its path is known).
    fastest: HashMap<String, Vec<(u16, u32)>>,
    /// Entries in `fastest`, at most [`MAX_PATHS`].
    marks: usize,
    /// Paths that answered 429/503, up to [`HOST_WIDE_PATHS`].
    throttled: Vec<String>,
}

impl HostRate {
    fn new(start: f64, now: Instant) -> Self {
        HostRate {
            next: now,
            rate: start,
            start,
            min: start,
            max: start,
            cuts: 0,
            last_cut: None,
            slow_start: true,
            window_start: now,
            latencies: Vec::with_capacity(WINDOW),
            fastest: HashMap::new(),
            marks: 0,
            throttled: Vec::new(),
        }
    }

    fn set(&mut self, rate: f64, cap: Option<f64>) {
        let rate = cap.map_or(rate, |c| rate.min(c)).max(MIN_RATE);
        self.rate = rate;
        self.min = self.min.min(rate);
        self.max = self.max.max(rate);
    }

    fn restart_window(&mut self, now: Instant) {
        self.window_start = now;
        self.latencies.clear();
    }

    /// Cuts the rate by `factor`, not below `floor`, unless a cut came less than
    /// [`CUT_SPACING`] ago.
    fn cut(&mut self, factor: f64, floor: f64, cap: Option<f64>, now: Instant) -> bool {
        if self
            .last_cut
            .is_some_and(|t| now.duration_since(t) < CUT_SPACING)
        {
            return false;
        }
        self.last_cut = Some(now);
        self.slow_start = false;
        self.cuts += 1;
        self.set((self.rate * factor).max(floor), cap);
        self.restart_window(now);
        true
    }

    /// [`HostRate::cut`] for a signal that may not be the target's load: not below
    /// [`AMBIGUOUS_FLOOR`] of the start (a rate already there stays where it is).
    fn cut_ambiguous(&mut self, factor: f64, cap: Option<f64>, now: Instant) -> bool {
        let floor = self.start * AMBIGUOUS_FLOOR;
        self.rate > floor && self.cut(factor, floor, cap, now)
    }

    fn observe(&mut self, s: Signal, path: &str, cap: Option<f64>, now: Instant) {
        let throttled = match s.status {
            Some(429) => !s.throttle_expected,
            Some(503) => true,
            _ => false,
        };
        if throttled {
            if self.throttled.len() < HOST_WIDE_PATHS && !self.throttled.iter().any(|p| p == path) {
                self.throttled.push(path.to_string());
            }
            let halved = if self.throttled.len() >= HOST_WIDE_PATHS {
                self.cut(0.5, MIN_RATE, cap, now)
            } else {
                self.cut_ambiguous(0.5, cap, now)
            };
            if halved {
                tracing::debug!(rate = self.rate, status = ?s.status, "rate halved");
            }
            return;
        }
        if s.status.is_none() {
            if self.cut_ambiguous(0.5, cap, now) {
                tracing::debug!(rate = self.rate, status = ?s.status, "rate halved");
            }
            return;
        }
        let (Some(status), false) = (s.status, s.timed) else {
            return;
        };
        let ms = u32::try_from(s.elapsed.as_millis()).unwrap_or(u32::MAX);
        let marks = self.fastest.get_mut(path);
        let fastest = match marks
            .as_deref()
            .and_then(|m| m.iter().position(|(st, _)| *st == status))
        {
            Some(i) => {
                let f = &mut marks.expect("found")[i].1;
                let before = *f;
                *f = before.min(ms);
                before
            }
            None => {
                if self.marks < MAX_PATHS {
                    self.marks += 1;
                    match marks {
                        Some(m) => m.push((status, ms)),
                        None => {
                            self.fastest.insert(path.to_string(), vec![(status, ms)]);
                        }
                    }
                }
                return;
            }
        };
        self.latencies.push((ms, fastest));
        if self.latencies.len() < WINDOW {
            return;
        }
        self.latencies.sort_unstable_by_key(|(ms, fastest)| {
            // Ordered by how much slower than its path's fastest each answer was.
            u64::from(*ms).saturating_sub(u64::from(*fastest)) * 1000 / u64::from(*fastest + 1)
        });
        let (median, its_fastest) = self.latencies[self.latencies.len() / 2];
        let (median, its_fastest) = (f64::from(median), f64::from(its_fastest));
        let span = now.duration_since(self.window_start).as_secs_f64();
        let answered_rate = if span > 0.0 {
            WINDOW as f64 / span
        } else {
            f64::INFINITY
        };
        let base = its_fastest.max(1.0);
        if median > 4.0 * base && median > its_fastest + CUT_SLACK_MS {
            if self.cut_ambiguous(0.75, cap, now) {
                tracing::debug!(
                    rate = self.rate,
                    median,
                    its_fastest,
                    "latency rose: rate cut"
                );
            }
            self.restart_window(now);
            return;
        }
        let slower = median > 2.0 * base && median > its_fastest + HOLD_SLACK_MS;
        if answered_rate >= BUSY_SHARE * self.rate && !slower {
            let raised = if self.slow_start {
                self.rate * 1.5
            } else {
                self.rate + self.start * 0.2
            };
            self.set(raised, cap);
        }
        self.restart_window(now);
    }

    fn used(&self, host: &Key, policy: &RatePolicy) -> RateUse {
        RateUse {
            host: format!("{}:{}", host.0, host.1),
            adaptive: policy.adaptive,
            cap: policy.cap.map(whole),
            start: whole(self.start),
            end: whole(self.rate),
            min: whole(self.min),
            max: whole(self.max),
            cuts: self.cuts,
        }
    }
}

/// A rate in whole requests per second, at least 1.
fn whole(r: f64) -> u32 {
    r.round().clamp(1.0, f64::from(u32::MAX)) as u32
}

/// Evenly spaced slots per host and port at each host's current rate.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    policy: RatePolicy,
    /// Per host and port; a scan has one or a few, so a list searched without allocating.
    hosts: Mutex<Vec<(Key, HostRate)>>,
}

fn same_host(k: &Key, url: &Url) -> bool {
    k.1 == url.port_or_known_default().unwrap_or(0) && k.0 == url.host_str().unwrap_or("")
}

fn key(url: &Url) -> Key {
    (
        url.host_str().unwrap_or("").to_string(),
        url.port_or_known_default().unwrap_or(0),
    )
}

impl RateLimiter {
    pub(crate) fn new(policy: RatePolicy) -> Self {
        RateLimiter {
            policy,
            hosts: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Key, HostRate)>> {
        self.hosts.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) async fn wait(&self, url: &Url) {
        self.wait_n(url, 1).await;
    }

    /// Reserves `n` consecutive slots and sleeps until the last: a burst of `n` requests then
    /// goes out together without raising the average rate.
    pub(crate) async fn wait_n(&self, url: &Url, n: usize) {
        let slot = {
            let mut hosts = self.lock();
            let now = Instant::now();
            let i = match hosts.iter().position(|(k, _)| same_host(k, url)) {
                Some(i) => i,
                None => {
                    hosts.push((key(url), HostRate::new(self.policy.start_for(url), now)));
                    hosts.len() - 1
                }
            };
            let h = &mut hosts[i].1;
            let interval = Duration::from_secs_f64(1.0 / h.rate);
            let slot = h.next.max(now);
            let n = u32::try_from(n.max(1)).unwrap_or(u32::MAX);
            h.next = slot + interval * n;
            slot + interval * (n - 1)
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Tells the limiter how an attempt to `url` went.
    pub(crate) fn observe(&self, url: &Url, signal: Signal) {
        if !self.policy.adaptive {
            return;
        }
        let now = Instant::now();
        if let Some((_, h)) = self.lock().iter_mut().find(|(k, _)| same_host(k, url)) {
            h.observe(signal, url.path(), self.policy.cap, now);
        }
    }

    /// Halves every host's rate: the target stopped answering for a while (an outage).
    pub(crate) fn outage(&self) {
        if !self.policy.adaptive {
            return;
        }
        let now = Instant::now();
        for (_, h) in self.lock().iter_mut() {
            h.last_cut = None;
            h.cut_ambiguous(0.5, self.policy.cap, now);
        }
    }

    /// The rates used so far, per host, in host order.
    pub(crate) fn used(&self) -> Vec<RateUse> {
        let hosts = self.lock();
        let mut out: Vec<RateUse> = hosts.iter().map(|(k, h)| h.used(k, &self.policy)).collect();
        out.sort_by(|a, b| a.host.cmp(&b.host));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(cap: Option<f64>, adaptive: bool) -> RatePolicy {
        RatePolicy {
            cap,
            adaptive,
            start_local: 200.0,
            start_public: 50.0,
        }
    }

    fn answered(ms: u64) -> Signal {
        Signal {
            status: Some(200),
            elapsed: Duration::from_millis(ms),
            timed: false,
            throttle_expected: false,
        }
    }

    /// Feeds `windows` windows of answers taking `ms` each, spaced at the current rate (after
    /// one answer that sets the path's mark when it has none).
    async fn feed(l: &RateLimiter, url: &Url, windows: usize, ms: u64) {
        let known = l.lock().iter().any(|(_, h)| !h.fastest.is_empty());
        if !known {
            l.wait(url).await;
            l.observe(url, answered(ms));
        }
        for _ in 0..windows * WINDOW {
            l.wait(url).await;
            l.observe(url, answered(ms));
        }
    }

    fn rate_of(l: &RateLimiter) -> u32 {
        l.used()[0].end
    }

    #[tokio::test(start_paused = true)]
    async fn slots_are_spaced_per_host() {
        let l = RateLimiter::new(policy(Some(10.0), false));
        let a = Url::parse("http://a.test/").unwrap();
        let b = Url::parse("http://b.test/").unwrap();
        let start = Instant::now();
        for _ in 0..5 {
            l.wait(&a).await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(400));
        l.wait(&b).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(400),
            "another host has its own slots"
        );
    }

    #[test]
    fn loopback_and_private_hosts_start_higher_and_the_cap_bounds_the_start() {
        let p = policy(None, true);
        for local in [
            "http://127.0.0.1:8000/",
            "http://localhost/",
            "http://10.1.2.3/",
            "http://192.168.0.9/",
            "http://[::1]/",
            "http://[fd00::1]/",
        ] {
            assert_eq!(p.start_for(&Url::parse(local).unwrap()), 200.0, "{local}");
        }
        let public = Url::parse("https://api.example.com/").unwrap();
        assert_eq!(p.start_for(&public), 50.0);
        assert_eq!(policy(Some(20.0), true).start_for(&public), 20.0);
        assert_eq!(policy(Some(80.0), false).start_for(&public), 80.0);
        assert!(!policy(None, false).limits());
    }

    #[tokio::test(start_paused = true)]
    async fn a_flat_latency_raises_the_rate_up_to_the_cap() {
        let url = Url::parse("http://127.0.0.1:9/").unwrap();
        let l = RateLimiter::new(policy(Some(600.0), true));
        feed(&l, &url, 1, 3).await;
        assert_eq!(rate_of(&l), 300, "slow start: ×1.5 per window");
        feed(&l, &url, 4, 3).await;
        assert_eq!(rate_of(&l), 600, "never above the cap");
        assert_eq!(l.used()[0].cuts, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_at_once_but_once_per_burst() {
        let url = Url::parse("http://127.0.0.1:9/").unwrap();
        let l = RateLimiter::new(policy(None, true));
        l.wait(&url).await;
        for _ in 0..8 {
            l.observe(
                &url,
                Signal {
                    status: Some(503),
                    ..answered(2)
                },
            );
        }
        assert_eq!(rate_of(&l), 100, "eight 503s at once are one signal");
        tokio::time::advance(CUT_SPACING).await;
        l.observe(
            &url,
            Signal {
                status: None,
                ..answered(2)
            },
        );
        assert_eq!(rate_of(&l), 50, "no answer halves it too");
        // After a back-off the rate grows additively: a fifth of the start per window.
        feed(&l, &url, 1, 3).await;
        assert_eq!(rate_of(&l), 90);
        let used = &l.used()[0];
        assert_eq!((used.cuts, used.min, used.max), (2, 50, 200));
    }

    #[tokio::test(start_paused = true)]
    async fn lost_answers_stop_at_a_quarter_of_the_start_and_only_throttling_goes_lower() {
        let url = Url::parse("http://127.0.0.1:9/").unwrap();
        let l = RateLimiter::new(policy(None, true));
        l.wait(&url).await;
        for status in [None, None, None, None, None] {
            tokio::time::advance(CUT_SPACING).await;
            l.observe(
                &url,
                Signal {
                    status,
                    ..answered(2)
                },
            );
        }
        assert_eq!(
            (rate_of(&l), l.used()[0].cuts),
            (50, 2),
            "200, 100, then 50 and no lower"
        );
        for i in 0..8 {
            tokio::time::advance(CUT_SPACING).await;
            l.observe(
                &url.join(&format!("/p{}", i % HOST_WIDE_PATHS)).unwrap(),
                Signal {
                    status: Some(503),
                    ..answered(2)
                },
            );
        }
        assert_eq!(
            rate_of(&l),
            1,
            "503s from three paths (the whole host's limiter) may bring it down to one a second"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn one_routes_own_limiter_does_not_slow_the_host_below_a_quarter() {
        // A chat endpoint allowing a few completions a minute answers 429 again and again (and
        // its twin for anonymous callers too): the rest of the API is not limited.
        let base = Url::parse("http://127.0.0.1:9/").unwrap();
        let l = RateLimiter::new(policy(None, true));
        l.wait(&base).await;
        for i in 0..20 {
            tokio::time::advance(CUT_SPACING).await;
            let path = if i % 4 == 0 {
                "/chat/anonymous"
            } else {
                "/chat"
            };
            l.observe(
                &base.join(path).unwrap(),
                Signal {
                    status: Some(429),
                    ..answered(2)
                },
            );
        }
        assert_eq!(rate_of(&l), 50, "200, 100, 50, and no lower");
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_the_check_provokes_is_not_a_signal() {
        let url = Url::parse("http://127.0.0.1:9/").unwrap();
        let l = RateLimiter::new(policy(None, true));
        l.wait(&url).await;
        l.observe(
            &url,
            Signal {
                status: Some(429),
                throttle_expected: true,
                ..answered(2)
            },
        );
        assert_eq!(rate_of(&l), 200);
        l.observe(
            &url,
            Signal {
                status: Some(429),
                ..answered(2)
            },
        );
        assert_eq!(rate_of(&l), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slowing_target_is_given_less_and_timed_requests_do_not_count() {
        let url = Url::parse("http://127.0.0.1:9/").unwrap();
        let l = RateLimiter::new(policy(None, true));
        feed(&l, &url, 2, 4).await;
        let before = rate_of(&l);
        // Deliberately slow answers of a timing check are left out.
        for _ in 0..WINDOW * 2 {
            l.wait(&url).await;
            l.observe(
                &url,
                Signal {
                    timed: true,
                    ..answered(900)
                },
            );
        }
        assert_eq!(rate_of(&l), before);
        // Answers four times slower (queueing behind the scan's own requests) hold the rate.
        feed(&l, &url, 1, 30).await;
        assert_eq!(rate_of(&l), before);
        assert_eq!(l.used()[0].cuts, 0);
        feed(&l, &url, 1, 150).await;
        assert_eq!(
            f64::from(rate_of(&l)),
            (f64::from(before) * 0.75).round(),
            "the median rose from 4 to 150 ms"
        );
        // A rise within the slack is noise: the rate still rises.
        let l = RateLimiter::new(policy(None, true));
        feed(&l, &url, 1, 2).await;
        feed(&l, &url, 1, 15).await;
        assert_eq!((l.used()[0].cuts, rate_of(&l)), (0, 450));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_path_is_compared_only_with_itself() {
        let fast = Url::parse("http://127.0.0.1:9/items").unwrap();
        let slow = Url::parse("http://127.0.0.1:9/login").unwrap();
        let l = RateLimiter::new(policy(None, true));
        feed(&l, &fast, 2, 3).await;
        // A sign-in that hashes a password takes 250 ms every time: not a slowing target.
        l.wait(&slow).await;
        l.observe(&slow, answered(250));
        for _ in 0..WINDOW * 2 {
            l.wait(&slow).await;
            l.observe(&slow, answered(260));
        }
        assert_eq!(l.used()[0].cuts, 0);
        // The same path answering with another status has its own mark.
        for _ in 0..WINDOW {
            l.wait(&slow).await;
            l.observe(
                &slow,
                Signal {
                    status: Some(422),
                    ..answered(2)
                },
            );
        }
        assert_eq!(l.used()[0].cuts, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_the_scan_does_not_use_is_not_raised() {
        let url = Url::parse("http://127.0.0.1:9/").unwrap();
        let l = RateLimiter::new(policy(None, true));
        for _ in 0..=WINDOW {
            l.wait(&url).await;
            // The scan itself waits 50 ms between requests: 20/s, far under 200/s.
            tokio::time::advance(Duration::from_millis(50)).await;
            l.observe(&url, answered(3));
        }
        assert_eq!(rate_of(&l), 200);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fixed_rate_never_moves() {
        let url = Url::parse("http://127.0.0.1:9/").unwrap();
        let l = RateLimiter::new(policy(Some(50.0), false));
        feed(&l, &url, 3, 3).await;
        l.observe(
            &url,
            Signal {
                status: Some(503),
                ..answered(2)
            },
        );
        let used = &l.used()[0];
        assert_eq!((used.start, used.end, used.cuts), (50, 50, 0));
    }
}
