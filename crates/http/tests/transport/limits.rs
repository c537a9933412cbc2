use crate::server::{serve, Reply};
use crate::{config, get};
use futures::future::join_all;
use middlebrick_http::{HttpError, Transport};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_budget_stops_the_scan_and_nothing_more_is_sent() {
    let target = serve(|_, _| Reply::ok("x")).await;
    let mut cfg = config(target.url("/"));
    cfg.budget = Some(3);
    let t = Transport::new(cfg).unwrap();
    for _ in 0..3 {
        assert_eq!(
            t.send(get(target.url("/"))).await.unwrap().status(),
            Some(200)
        );
    }
    let err = t.send(get(target.url("/"))).await.unwrap_err();
    assert_eq!(err, HttpError::BudgetExhausted { budget: 3 });
    assert_eq!(target.stats.request_count(), 3);
    assert_eq!(t.requests_sent(), 3);
}

#[tokio::test]
async fn retries_and_redirect_hops_spend_the_budget() {
    let target = serve(|req, _| match req.target.as_str() {
        "/busy" => Reply::status(503).header("Retry-After", "0"),
        "/a" => Reply::redirect(302, "/b"),
        _ => Reply::ok("b"),
    })
    .await;
    let mut cfg = config(target.url("/"));
    cfg.budget = Some(3);
    cfg.max_retries = 5;
    let t = Transport::new(cfg).unwrap();
    let ex = t.send(get(target.url("/a"))).await.unwrap();
    assert_eq!(ex.status(), Some(200));
    assert_eq!(t.requests_sent(), 2);
    let err = t.send(get(target.url("/busy"))).await.unwrap_err();
    assert_eq!(err, HttpError::BudgetExhausted { budget: 3 });
    assert_eq!(target.stats.request_count(), 3);
}

#[tokio::test]
async fn concurrency_is_capped_across_tasks() {
    let target = serve(|_, _| Reply::ok("slow").delay(Duration::from_millis(150))).await;
    let mut cfg = config(target.url("/"));
    cfg.concurrency = 3;
    let t = Transport::new(cfg).unwrap();
    let sends = (0..12).map(|_| t.send(get(target.url("/"))));
    for r in join_all(sends).await {
        assert_eq!(r.unwrap().status(), Some(200));
    }
    assert_eq!(target.stats.max_active.load(Ordering::SeqCst), 3);
    assert!(target.stats.connections.load(Ordering::SeqCst) <= 3);
}

#[tokio::test]
async fn the_rate_per_host_is_respected() {
    let target = serve(|_, _| Reply::ok("x")).await;
    let mut cfg = config(target.url("/"));
    cfg.rate_per_host = Some(20.0);
    let t = Transport::new(cfg).unwrap();
    let start = Instant::now();
    let sends = (0..11).map(|_| t.send(get(target.url("/"))));
    for r in join_all(sends).await {
        r.unwrap();
    }
    let took = start.elapsed();
    // 11 requests at 20/s: 10 intervals of 50 ms.
    assert!(took >= Duration::from_millis(500), "took {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let target = serve(|_, i| match i {
        0 => Reply::status(429).header("Retry-After", "1"),
        _ => Reply::ok("now"),
    })
    .await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    let start = Instant::now();
    let mut out = get(target.url("/"));
    out.headers = vec![("X-Probe".into(), "p1".into())];
    out.credentials = vec![("Authorization".into(), "Bearer retry-token".into())];
    let ex = t.send(out).await.unwrap();
    let took = start.elapsed();
    assert_eq!(ex.status(), Some(200));
    let reqs = target.stats.requests();
    assert_eq!(
        reqs[0].headers, reqs[1].headers,
        "a retry sends the same request"
    );
    assert_eq!(reqs[1].header("authorization"), Some("Bearer retry-token"));
    assert!(took >= Duration::from_secs(1), "took {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(t.requests_sent(), 2);
    assert!(
        ex.elapsed_ms < 1000,
        "the wait is not time on the wire: {}",
        ex.elapsed_ms
    );
}

#[tokio::test]
async fn a_retry_after_longer_than_max_backoff_is_kept_not_retried() {
    let target = serve(|_, i| match i {
        0 => Reply::status(429).header("Retry-After", "3600"),
        _ => Reply::ok("now"),
    })
    .await;
    let mut cfg = config(target.url("/"));
    cfg.max_backoff = Duration::from_millis(200);
    let t = Transport::new(cfg).unwrap();
    let start = Instant::now();
    let ex = t.send(get(target.url("/"))).await.unwrap();
    assert_eq!(ex.status(), Some(429), "the limiter's answer is the result");
    assert_eq!(
        t.requests_sent(),
        1,
        "retrying before the server allows it is pointless"
    );
    assert!(start.elapsed() < Duration::from_millis(200));
}

#[tokio::test]
async fn without_retry_after_the_backoff_is_exponential_and_the_last_answer_kept() {
    let target = serve(|_, _| Reply::status(503).body("down")).await;
    let mut cfg = config(target.url("/"));
    cfg.max_retries = 2;
    let t = Transport::new(cfg).unwrap();
    let start = Instant::now();
    let ex = t.send(get(target.url("/"))).await.unwrap();
    let took = start.elapsed();
    // 0.5 s then 1 s.
    assert!(took >= Duration::from_millis(1500), "took {took:?}");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_eq!(ex.status(), Some(503));
    assert_eq!(ex.response.unwrap().body.text, "down");
    assert_eq!(t.requests_sent(), 3);
}

#[tokio::test]
async fn other_statuses_are_not_retried() {
    let target = serve(|_, _| Reply::status(500)).await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    assert_eq!(
        t.send(get(target.url("/"))).await.unwrap().status(),
        Some(500)
    );
    assert_eq!(t.requests_sent(), 1);
}
