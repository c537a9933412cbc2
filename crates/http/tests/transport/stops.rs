use crate::server::{closed_port, serve, Reply};
use crate::{config, get};
use middlebrick_http::{HttpError, Transport};
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

#[tokio::test]
async fn the_deadline_ends_in_flight_and_later_sends() {
    let target = serve(|_, _| Reply::ok("late").delay(Duration::from_secs(5))).await;
    let mut cfg = config(target.url("/"));
    cfg.max_duration = Some(Duration::from_millis(300));
    let t = Transport::new(cfg).unwrap();
    let start = Instant::now();
    let err = t.send(get(target.url("/"))).await.unwrap_err();
    assert_eq!(err, HttpError::DeadlineReached);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "took {took:?}"
    );
    assert_eq!(
        t.send(get(target.url("/"))).await.unwrap_err(),
        HttpError::DeadlineReached
    );
    assert_eq!(target.stats.request_count(), 1);
    assert_eq!(t.requests_sent(), 1);
}

#[tokio::test]
async fn the_breaker_opens_after_consecutive_refusals() {
    let addr = closed_port().await;
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let mut cfg = config(base.clone());
    cfg.breaker_threshold = 3;
    let t = Transport::new(cfg).unwrap();
    for _ in 0..3 {
        let ex = t.send(get(base.clone())).await.unwrap();
        assert_eq!(ex.response, None);
        let error = ex.error.unwrap();
        assert!(
            error.contains("connection failed") && error.contains("refused"),
            "{error}"
        );
    }
    assert!(t.circuit_open());
    let err = t.send(get(base.clone())).await.unwrap_err();
    assert_eq!(err, HttpError::CircuitOpen { failures: 3 });
    assert_eq!(t.requests_sent(), 3);
}

#[tokio::test]
async fn an_answer_resets_the_breaker_count() {
    let target = serve(|_, _| Reply::status(500)).await;
    let down = Url::parse(&format!("http://{}/", closed_port().await)).unwrap();
    let mut cfg = config(target.url("/"));
    cfg.allowed_hosts = vec![down.authority().to_string()];
    cfg.breaker_threshold = 2;
    let t = Transport::new(cfg).unwrap();
    for _ in 0..3 {
        assert!(t.send(get(down.clone())).await.unwrap().response.is_none());
        assert_eq!(
            t.send(get(target.url("/"))).await.unwrap().status(),
            Some(500)
        );
    }
    assert!(!t.circuit_open());
}

#[tokio::test]
async fn a_request_timeout_is_a_failed_exchange_not_an_error() {
    let target = serve(|_, _| Reply::ok("late").delay(Duration::from_secs(3))).await;
    let mut cfg = config(target.url("/"));
    cfg.request_timeout = Duration::from_millis(200);
    let t = Transport::new(cfg).unwrap();
    let start = Instant::now();
    let ex = t.send(get(target.url("/"))).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(ex.response, None);
    assert_eq!(ex.error.as_deref(), Some("timed out after 200ms"));
    assert!(ex.elapsed_ms >= 200);
}

#[tokio::test]
async fn cancel_ends_in_flight_and_later_sends() {
    let target = serve(|_, _| Reply::ok("late").delay(Duration::from_secs(5))).await;
    let t = Arc::new(Transport::new(config(target.url("/"))).unwrap());
    let t2 = t.clone();
    let url = target.url("/");
    let in_flight = tokio::spawn(async move { t2.send(get(url)).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let start = Instant::now();
    t.cancel();
    let err = in_flight.await.unwrap().unwrap_err();
    assert_eq!(err, HttpError::Cancelled);
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(
        t.send(get(target.url("/"))).await.unwrap_err(),
        HttpError::Cancelled
    );
    assert_eq!(target.stats.request_count(), 1);
    assert!(t.is_cancelled());
}
