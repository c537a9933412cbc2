//! The scan-wide brakes: a concurrency cap, a request budget and a circuit breaker. (The
//! per-host rate is in `rate.rs`, the deadline is kept by the watchdog in `watch.rs`.)
//!
//! All of them count attempts on the wire, not calls to `send`: a retry or a redirect hop costs
//! the target as much as a first request does.

use crate::error::HttpError;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Notify;

/// The global in-flight cap. A counter with a wake-up for waiters rather than tokio's
/// `Semaphore`, whose every release takes a lock: here a permit is one atomic operation each
/// way while permits are free, which is the common case (the engine runs about `concurrency`
/// senders). Waiters are woken one per release; the order among them is not guaranteed.
#[derive(Debug)]
pub(crate) struct Permits {
    available: AtomicUsize,
    capacity: usize,
    released: Notify,
    /// Someone is taking every permit ([`Permits::acquire_all`]): none is given to others.
    draining: AtomicBool,
}

#[derive(Debug)]
pub(crate) struct Permit<'a>(&'a Permits);

impl Permits {
    pub(crate) fn new(n: usize) -> Self {
        Permits {
            available: AtomicUsize::new(n),
            capacity: n,
            released: Notify::new(),
            draining: AtomicBool::new(false),
        }
    }

    fn try_take(&self) -> bool {
        if self.draining.load(Ordering::Acquire) {
            return false;
        }
        self.available
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }

    pub(crate) async fn acquire(&self) -> Permit<'_> {
        loop {
            if self.try_take() {
                return Permit(self);
            }
            // Registered before the second look, so a release in between is not missed.
            let mut released = pin!(self.released.notified());
            released.as_mut().enable();
            if self.try_take() {
                return Permit(self);
            }
            released.await;
        }
    }

    /// Every permit: waits until nothing else is in flight and lets nothing else start until
    /// the guard is dropped. One caller at a time (the transport serialises them), or two
    /// would each hold part and wait for the rest forever.
    pub(crate) async fn acquire_all(&self) -> AllPermits<'_> {
        self.draining.store(true, Ordering::Release);
        let mut held = 0;
        loop {
            held += self.available.swap(0, Ordering::AcqRel);
            if held >= self.capacity {
                return AllPermits(self);
            }
            let mut released = pin!(self.released.notified());
            released.as_mut().enable();
            held += self.available.swap(0, Ordering::AcqRel);
            if held >= self.capacity {
                return AllPermits(self);
            }
            released.await;
        }
    }

    /// How many permits there are in all.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.available.fetch_add(1, Ordering::AcqRel);
        if self.0.draining.load(Ordering::Acquire) {
            // The one who drains must hear of it, whoever else waits.
            self.0.released.notify_waiters();
        } else {
            self.0.released.notify_one();
        }
    }
}

/// Every permit, held by one request that must be alone on the wire.
#[derive(Debug)]
pub(crate) struct AllPermits<'a>(&'a Permits);

impl Drop for AllPermits<'_> {
    fn drop(&mut self) {
        self.0.available.store(self.0.capacity, Ordering::Release);
        self.0.draining.store(false, Ordering::Release);
        self.0.released.notify_waiters();
    }
}

/// Attempts sent so far, refused past `limit`.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: Option<u64>,
    sent: AtomicU64,
}

impl Budget {
    pub(crate) fn new(limit: Option<u64>) -> Self {
        Budget {
            limit,
            sent: AtomicU64::new(0),
        }
    }

    /// Counts one attempt, or refuses it when the budget is spent. Atomic, so concurrent senders
    /// never overshoot the limit.
    pub(crate) fn take(&self) -> Result<(), HttpError> {
        let Some(limit) = self.limit else {
            self.sent.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        self.sent
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < limit).then_some(n + 1)
            })
            .map(|_| ())
            .map_err(|_| HttpError::BudgetExhausted { budget: limit })
    }

    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// Opens after `threshold` connection-level failures in a row and then stays open: a target
/// that stopped answering is not hammered for the rest of the scan, and a straggling answer
/// from before the outage does not close it again.
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    failures: AtomicU32,
    open: AtomicBool,
}

impl Breaker {
    pub(crate) fn new(threshold: u32) -> Self {
        Breaker {
            threshold,
            failures: AtomicU32::new(0),
            open: AtomicBool::new(false),
        }
    }

    pub(crate) fn check(&self) -> Result<(), HttpError> {
        if self.open.load(Ordering::Relaxed) {
            return Err(HttpError::CircuitOpen {
                failures: self.threshold,
            });
        }
        Ok(())
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    pub(crate) fn failure(&self) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if self.threshold > 0 && n >= self.threshold && !self.open.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                failures = n,
                "circuit breaker open: the target stopped answering"
            );
        }
    }

    /// Opens the breaker now: the target stopped answering and did not come back (`health.rs`).
    pub(crate) fn trip(&self) {
        if !self.open.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "circuit breaker open: the target stopped answering and did not recover"
            );
        }
    }

    /// Any answer, whatever its status, proves the target is up.
    pub(crate) fn success(&self) {
        // Reading first keeps the hot path from writing a shared cache line on every answer.
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_budget_refuses_past_its_limit() {
        let b = Budget::new(Some(2));
        assert!(b.take().is_ok() && b.take().is_ok());
        assert_eq!(b.take(), Err(HttpError::BudgetExhausted { budget: 2 }));
        assert_eq!(b.sent(), 2);
        let unlimited = Budget::new(None);
        for _ in 0..5 {
            unlimited.take().unwrap();
        }
        assert_eq!(unlimited.sent(), 5);
    }

    #[test]
    fn the_breaker_opens_on_consecutive_failures_only_and_stays_open() {
        let b = Breaker::new(3);
        b.failure();
        b.failure();
        b.success();
        b.failure();
        b.failure();
        assert!(b.check().is_ok());
        b.failure();
        assert_eq!(b.check(), Err(HttpError::CircuitOpen { failures: 3 }));
        b.success();
        assert!(b.is_open());
    }

    #[test]
    fn a_zero_threshold_disables_the_breaker() {
        let b = Breaker::new(0);
        for _ in 0..100 {
            b.failure();
        }
        assert!(b.check().is_ok());
    }

    #[tokio::test]
    async fn permits_cap_concurrency_and_wake_waiters() {
        use std::sync::Arc;
        let permits = Arc::new(Permits::new(2));
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (permits, inside, most) = (permits.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    let _p = permits.acquire().await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(permits.available.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_waiter_dropped_after_its_wake_up_passes_it_on() {
        use std::sync::Arc;
        let permits = Arc::new(Permits::new(1));
        let held = permits.acquire().await;
        let mut first = Box::pin(permits.acquire());
        assert!(futures::poll!(first.as_mut()).is_pending());
        let p2 = permits.clone();
        let second = tokio::spawn(async move {
            let _p = p2.acquire().await;
        });
        tokio::task::yield_now().await;
        assert!(!second.is_finished());
        drop(held); // wakes `first`, which never takes its permit
        drop(first);
        let got = tokio::time::timeout(Duration::from_secs(1), second).await;
        assert!(got.is_ok(), "the release reached the remaining waiter");
    }

    #[tokio::test]
    async fn taking_every_permit_waits_for_those_in_flight_and_holds_back_the_rest() {
        use std::sync::Arc;
        let permits = Arc::new(Permits::new(3));
        let a = permits.acquire().await;
        let b = permits.acquire().await;
        let mut all = Box::pin(permits.acquire_all());
        assert!(futures::poll!(all.as_mut()).is_pending());
        // A newcomer gets nothing while the permits drain, though one is free.
        let p2 = permits.clone();
        let late = tokio::spawn(async move {
            let _p = p2.acquire().await;
        });
        tokio::task::yield_now().await;
        assert!(!late.is_finished());
        drop(a);
        assert!(futures::poll!(all.as_mut()).is_pending());
        drop(b);
        let all = tokio::time::timeout(Duration::from_secs(1), all)
            .await
            .expect("every permit once both came back");
        tokio::task::yield_now().await;
        assert!(
            !late.is_finished(),
            "nothing starts while one request is alone"
        );
        drop(all);
        let got = tokio::time::timeout(Duration::from_secs(1), late).await;
        assert!(
            got.is_ok(),
            "the newcomer goes once the lone request is done"
        );
        assert_eq!(permits.available.load(Ordering::SeqCst), 3);
    }
}
