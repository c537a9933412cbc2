//! Cancellation, the scan deadline and request timeouts, for one cheap registration per send.
//!
//! The obvious way, a `select!` on a cancellation token and a tokio timer per attempt, costs a
//! waiter registration, a timer insertion and their removals on every request: about 6% of the
//! transport's CPU on the loopback benchmark. Here a send takes a reusable slot (a short lock,
//! and another to give it back), and a watchdog task, ticking only while sends are in flight,
//! wakes the ones whose attempt ran out of time or whose scan hit its deadline; `cancel` wakes
//! them all. Nothing is allocated per send.
//!
//! The price is granularity: a timeout fires up to one tick late (a tick is a quarter of the
//! request timeout, between 5 ms and 100 ms), which nobody can tell from network jitter.

use crate::error::HttpError;
use futures::task::AtomicWaker;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

const DISARMED: u64 = u64::MAX;
const EXPIRED: u64 = 0;

/// One send's registration: how the watchdog wakes it, and its current attempt's deadline.
#[derive(Debug)]
pub(crate) struct Watch {
    waker: AtomicWaker,
    /// Nanoseconds since the watchdog's epoch (never 0), `DISARMED`, or `EXPIRED`.
    deadline: AtomicU64,
}

/// Watches are reused: a send takes a free slot and gives it back when it ends, so the hot
/// path allocates nothing and the registry never holds more than the sends under way.
#[derive(Debug, Default)]
struct Registry {
    slots: Vec<Arc<Watch>>,
    free: Vec<usize>,
    busy: usize,
}

/// Gives the slot back however the send ends (finished, failed, or dropped by its caller).
pub(crate) struct Slot<'a> {
    dog: &'a Watchdog,
    index: usize,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut registry = self.dog.registry.lock().unwrap_or_else(|e| e.into_inner());
        let watch = &registry.slots[self.index];
        watch.waker.take();
        watch.deadline.store(DISARMED, Ordering::Release);
        registry.free.push(self.index);
        registry.busy -= 1;
    }
}

#[derive(Debug)]
pub(crate) struct Watchdog {
    epoch: Instant,
    tick: Duration,
    deadline: Option<Instant>,
    cancelled: AtomicBool,
    deadline_passed: AtomicBool,
    registry: Mutex<Registry>,
    /// Wakes the watchdog when the first send of a busy period registers, and on shutdown.
    idle: Arc<Notify>,
    running: AtomicBool,
    shutting_down: AtomicBool,
}

impl Watchdog {
    pub(crate) fn new(request_timeout: Duration, deadline: Option<Instant>) -> Arc<Watchdog> {
        Arc::new(Watchdog {
            epoch: Instant::now(),
            tick: (request_timeout / 4).clamp(Duration::from_millis(5), Duration::from_millis(100)),
            deadline,
            cancelled: AtomicBool::new(false),
            deadline_passed: AtomicBool::new(false),
            registry: Mutex::new(Registry::default()),
            idle: Arc::new(Notify::new()),
            running: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
        })
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        self.wake_all();
    }

    /// Stops the watchdog task once the transport is gone.
    pub(crate) fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.idle.notify_one();
    }

    fn wake_all(&self) {
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        for watch in &registry.slots {
            watch.waker.wake();
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        let n = at.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(n).unwrap_or(DISARMED - 1).max(1)
    }

    /// Runs `work`, one send registered as `watch`: it ends early with `Cancelled` or
    /// `DeadlineReached`. The futures are taken pinned, by reference, so each lives once in its
    /// caller's frame rather than being moved into ever larger wrappers on every send.
    pub(crate) async fn watched<T, F>(
        &self,
        watch: &Watch,
        mut work: Pin<&mut F>,
    ) -> Result<T, HttpError>
    where
        F: Future<Output = Result<T, HttpError>>,
    {
        poll_fn(|cx| {
            // Registered before the flags are read, so a wake-up between the two is not lost.
            watch.waker.register(cx.waker());
            if self.cancelled.load(Ordering::Acquire) {
                return Poll::Ready(Err(HttpError::Cancelled));
            }
            if self.deadline_passed.load(Ordering::Acquire) {
                return Poll::Ready(Err(HttpError::DeadlineReached));
            }
            work.as_mut().poll(cx)
        })
        .await
    }

    /// Runs one attempt of the send registered as `watch`; `None` when it was still running at
    /// `until`. Only inside [`watched`](Self::watched), which keeps the task's waker current.
    pub(crate) async fn expiring<F: Future>(
        &self,
        watch: &Watch,
        until: Instant,
        mut attempt: Pin<&mut F>,
    ) -> Option<F::Output> {
        watch.deadline.store(self.nanos(until), Ordering::Release);
        let out = poll_fn(|cx| {
            if watch.deadline.load(Ordering::Acquire) == EXPIRED {
                return Poll::Ready(None);
            }
            attempt.as_mut().poll(cx).map(Some)
        })
        .await;
        watch.deadline.store(DISARMED, Ordering::Release);
        out
    }

    /// Registers a send; it stays registered until the returned slot is dropped.
    pub(crate) fn register(self: &Arc<Self>) -> (Arc<Watch>, Slot<'_>) {
        let (watch, index, was_idle) = {
            let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
            let index = match registry.free.pop() {
                Some(i) => i,
                None => {
                    registry.slots.push(Arc::new(Watch {
                        waker: AtomicWaker::new(),
                        deadline: AtomicU64::new(DISARMED),
                    }));
                    registry.slots.len() - 1
                }
            };
            registry.busy += 1;
            (registry.slots[index].clone(), index, registry.busy == 1)
        };
        if !self.running.load(Ordering::Acquire) {
            self.start();
        }
        if was_idle {
            self.idle.notify_one();
        }
        (watch, Slot { dog: self, index })
    }

    /// Starts the watchdog task on the current runtime (again, if a runtime shut down under it).
    fn start(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            runtime.spawn(run(Arc::downgrade(self), self.idle.clone(), self.tick));
        }
    }

    /// One tick: expires late attempts and applies the deadline. Returns whether any send is
    /// under way.
    fn scan(&self) -> bool {
        let now = Instant::now();
        let passed = self.deadline.is_some_and(|d| now >= d);
        if passed {
            self.deadline_passed.store(true, Ordering::Release);
        }
        let now = self.nanos(now);
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        for watch in &registry.slots {
            let deadline = watch.deadline.load(Ordering::Acquire);
            let expired = deadline != DISARMED
                && deadline != EXPIRED
                && deadline <= now
                && watch
                    .deadline
                    .compare_exchange(deadline, EXPIRED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
            if expired || passed {
                watch.waker.wake();
            }
        }
        registry.busy > 0
    }
}

async fn run(dog: std::sync::Weak<Watchdog>, idle: Arc<Notify>, tick: Duration) {
    /// Marks the watchdog stopped however this task ends, so the next send starts another.
    struct Running(std::sync::Weak<Watchdog>);
    impl Drop for Running {
        fn drop(&mut self) {
            if let Some(dog) = self.0.upgrade() {
                dog.running.store(false, Ordering::Release);
            }
        }
    }
    let _running = Running(dog.clone());
    loop {
        let busy = match dog.upgrade() {
            Some(dog) if !dog.shutting_down.load(Ordering::Acquire) => dog.scan(),
            _ => return,
        };
        if busy {
            tokio::time::sleep(tick).await;
        } else {
            idle.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;

    /// One send that runs `attempts` (futures of `Option<u32>` results) in turn.
    async fn send_with<F, Fut>(dog: &Arc<Watchdog>, body: F) -> Result<Vec<Option<u32>>, HttpError>
    where
        F: FnOnce(Arc<Watchdog>, Arc<Watch>) -> Fut,
        Fut: Future<Output = Result<Vec<Option<u32>>, HttpError>>,
    {
        let (watch, _slot) = dog.register();
        let work = pin!(body(dog.clone(), watch.clone()));
        dog.watched(&watch, work).await
    }

    async fn attempt<F: Future<Output = u32>>(
        dog: &Watchdog,
        watch: &Watch,
        limit: Duration,
        fut: F,
    ) -> Option<u32> {
        dog.expiring(watch, Instant::now() + limit, pin!(fut)).await
    }

    #[tokio::test]
    async fn an_attempt_expires_within_a_tick_of_its_deadline() {
        let dog = Watchdog::new(Duration::from_millis(40), None);
        let start = std::time::Instant::now();
        let out = send_with(&dog, |dog, w| async move {
            let never = std::future::pending::<u32>();
            Ok(vec![
                attempt(&dog, &w, Duration::from_millis(40), never).await,
            ])
        })
        .await;
        assert_eq!(out, Ok(vec![None]));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(40) && took < Duration::from_millis(500),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn a_finished_attempt_is_not_expired_later() {
        let dog = Watchdog::new(Duration::from_millis(20), None);
        let out = send_with(&dog, |dog, w| async move {
            let first = attempt(&dog, &w, Duration::from_millis(20), async { 1 }).await;
            tokio::time::sleep(Duration::from_millis(60)).await;
            let second = attempt(&dog, &w, Duration::from_secs(10), async { 2 }).await;
            Ok(vec![first, second])
        })
        .await;
        assert_eq!(out, Ok(vec![Some(1), Some(2)]));
    }

    #[tokio::test]
    async fn a_reused_slot_starts_clean() {
        let dog = Watchdog::new(Duration::from_millis(20), None);
        for _ in 0..2 {
            let timed_out = send_with(&dog, |dog, w| async move {
                let never = std::future::pending::<u32>();
                Ok(vec![
                    attempt(&dog, &w, Duration::from_millis(20), never).await,
                ])
            })
            .await;
            assert_eq!(timed_out, Ok(vec![None]));
            let quick = send_with(&dog, |dog, w| async move {
                Ok(vec![
                    attempt(&dog, &w, Duration::from_secs(10), async { 7 }).await,
                ])
            })
            .await;
            assert_eq!(quick, Ok(vec![Some(7)]));
        }
        assert_eq!(dog.registry.lock().unwrap().slots.len(), 1);
    }

    #[tokio::test]
    async fn cancel_wakes_a_waiting_send() {
        let dog = Watchdog::new(Duration::from_secs(15), None);
        let d2 = dog.clone();
        let waiting =
            tokio::spawn(async move { send_with(&d2, |_, _| std::future::pending()).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        dog.cancel();
        assert_eq!(waiting.await.unwrap(), Err(HttpError::Cancelled));
    }

    #[tokio::test]
    async fn the_deadline_ends_a_waiting_send() {
        let deadline = Instant::now() + Duration::from_millis(50);
        let dog = Watchdog::new(Duration::from_millis(40), Some(deadline));
        let out = send_with(&dog, |_, _| std::future::pending()).await;
        assert_eq!(out, Err(HttpError::DeadlineReached));
    }

    #[tokio::test]
    async fn the_watchdog_goes_idle_and_stops_with_its_owner() {
        let dog = Watchdog::new(Duration::from_millis(20), None);
        send_with(&dog, |_, _| async { Ok(vec![]) }).await.unwrap();
        assert!(dog.running.load(Ordering::Acquire));
        assert_eq!(
            dog.registry.lock().unwrap().busy,
            0,
            "a finished send gives its slot back"
        );
        let weak = Arc::downgrade(&dog);
        dog.shut_down();
        drop(dog);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(weak.upgrade().is_none());
    }
}
