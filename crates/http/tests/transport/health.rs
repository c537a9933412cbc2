//! Target health (issue 16, rule 4): a slow endpoint is no outage, a target frozen by one
//! request is waited out and its suspect named and re-sent once, a dead target trips the breaker.

use crate::server::{handle, serve, Handler, Reply, Stats};
use crate::{config, get};
use middlebrick_http::Transport;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use url::Url;

#[tokio::test]
async fn a_slow_endpoint_on_a_live_target_is_no_outage() {
    let target = serve(|r, _| {
        let reply = Reply::ok("{}");
        if r.target == "/slow" {
            reply.delay(Duration::from_secs(3))
        } else {
            reply
        }
    })
    .await;
    let mut cfg = config(target.url("/"));
    cfg.request_timeout = Duration::from_millis(300);
    let t = Transport::new(cfg).unwrap();
    assert_eq!(
        t.send(get(target.url("/"))).await.unwrap().status(),
        Some(200)
    );
    assert!(!answered(&t, target.url("/slow")).await);
    assert!(t.outages().is_empty());
    assert!(!t.circuit_open());
    assert_eq!(
        t.requests_sent(),
        3,
        "the request, the slow one, one liveness request"
    );
}

/// Whether a GET of `url` got an answer.
async fn answered(t: &Transport, url: Url) -> bool {
    t.send(get(url)).await.unwrap().response.is_some()
}

/// Every request waits until the freeze `/freeze` started is over, as on a single-process
/// server busy with one request.
fn freezing_server(freeze: Duration) -> impl Fn(&crate::server::Req, usize) -> Reply {
    let until: Arc<Mutex<Option<Instant>>> = Arc::default();
    move |r, _| {
        let now = Instant::now();
        let mut until = until.lock().unwrap();
        if r.target == "/freeze" && until.is_none_or(|u| u <= now) {
            *until = Some(now + freeze);
        }
        let wait = until.map_or(Duration::ZERO, |u| u.saturating_duration_since(now));
        Reply::ok("{}").delay(wait)
    }
}

#[tokio::test]
async fn a_target_frozen_by_one_request_is_waited_out_and_its_suspect_resent_once() {
    let target = serve(freezing_server(Duration::from_millis(1_500))).await;
    let mut cfg = config(target.url("/"));
    cfg.request_timeout = Duration::from_millis(300);
    let t = Transport::new(cfg).unwrap();
    assert!(answered(&t, target.url("/")).await);
    assert!(!answered(&t, target.url("/freeze")).await);
    let outages = t.outages();
    assert_eq!(outages.len(), 1, "{outages:?}");
    let o = &outages[0];
    assert!(o.recovered && o.probes >= 2, "{o:?}");
    let freeze = format!("GET {}", target.url("/freeze"));
    assert_eq!(o.suspect.as_deref(), Some(freeze.as_str()));
    assert!(o.last_sent.contains(&freeze));
    assert!(!t.circuit_open());
    // Later requests go through again.
    assert!(answered(&t, target.url("/")).await);

    let proof = t.retrigger(0).await.expect("re-sent once");
    assert!(proof.target_froze(), "{proof:?}");
    assert!(proof.control_after.is_some_and(|e| e.response.is_some()));
    assert!(t.retrigger(0).await.is_none(), "never a second time");
    let freezes = target
        .stats
        .requests()
        .iter()
        .filter(|r| r.target == "/freeze")
        .count();
    assert_eq!(freezes, 2, "the suspect went out twice in all");
}

#[tokio::test]
async fn a_request_queued_behind_the_culprit_is_cleared_and_the_culprit_proven() {
    // `/innocent` is always slower than the timeout but freezes nothing; `/freeze`, sent just
    // after it, freezes the target. The earliest unanswered request is the innocent one:
    // re-sent alone, it does not freeze the target, so the next suspect is tried and proven.
    let freezing = freezing_server(Duration::from_millis(1_500));
    let target = serve(move |r, n| {
        if r.target == "/innocent" {
            Reply::ok("{}").delay(Duration::from_millis(600))
        } else {
            freezing(r, n)
        }
    })
    .await;
    let mut cfg = config(target.url("/"));
    cfg.request_timeout = Duration::from_millis(300);
    let t = Transport::new(cfg).unwrap();
    assert!(answered(&t, target.url("/")).await);
    let late = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        t.send(get(target.url("/freeze"))).await
    };
    let (innocent, freeze) = tokio::join!(t.send(get(target.url("/innocent"))), late);
    assert!(innocent.unwrap().response.is_none() && freeze.unwrap().response.is_none());
    let outages = t.outages();
    assert_eq!(outages.len(), 1, "{outages:?}");
    let innocent = format!("GET {}", target.url("/innocent"));
    assert_eq!(outages[0].suspect.as_deref(), Some(innocent.as_str()));

    let proof = t.retrigger(0).await.expect("re-sent");
    assert!(proof.target_froze(), "{proof:?}");
    assert_eq!(proof.suspect.request.url, target.url("/freeze").to_string());
    let sent = |path: &str| {
        target
            .stats
            .requests()
            .iter()
            .filter(|r| r.target == path)
            .count()
    };
    assert_eq!(
        (sent("/innocent"), sent("/freeze")),
        (2, 2),
        "each re-sent once"
    );
}

#[tokio::test]
async fn a_target_that_dies_trips_the_breaker_after_bounded_liveness_requests() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let stats = Arc::new(Stats::default());
    let handler: Handler = Arc::new(|_, _| Reply::ok("{}").close());
    let s = stats.clone();
    tokio::spawn(async move {
        // Answers one connection, then stops listening: every later connection is refused.
        if let Ok((sock, _)) = listener.accept().await {
            handle(sock, handler, s).await;
        }
    });
    let t = Transport::new(config(base.clone())).unwrap();
    assert!(t.send(get(base.clone())).await.unwrap().response.is_some());
    let started = Instant::now();
    let ex = t.send(get(base.join("/next").unwrap())).await.unwrap();
    assert!(ex.response.is_none());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded back-off"
    );
    assert!(
        t.circuit_open(),
        "a target that did not come back opens the breaker"
    );
    let o = &t.outages()[0];
    assert!(!o.recovered && o.probes == 6, "{o:?}");
    assert_eq!(o.last_sent.len(), 2);
    assert!(t.send(get(base)).await.is_err(), "nothing more is sent");
}

#[tokio::test]
async fn a_target_that_answers_the_first_liveness_request_late_was_stalled() {
    // Frozen for 1.7 s: the suspect times out at 1 s, the first liveness request is answered
    // about 0.7 s later, over half its 1 s limit: the target was stalled for everybody.
    let target = serve(freezing_server(Duration::from_millis(1_700))).await;
    let mut cfg = config(target.url("/"));
    cfg.request_timeout = Duration::from_secs(1);
    let t = Transport::new(cfg).unwrap();
    assert!(answered(&t, target.url("/")).await);
    assert!(!answered(&t, target.url("/freeze")).await);
    let outages = t.outages();
    assert_eq!(outages.len(), 1, "{outages:?}");
    assert!(
        outages[0].recovered && outages[0].probes == 1,
        "{outages:?}"
    );
}
