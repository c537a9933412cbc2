//! The probe's shared baselines.

use super::*;
use middlebrick_http::TransportConfig;
use middlebrick_model::{Method, SpecVersion};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A loopback server that drops its first connection unanswered once the request is read,
/// then answers every request 200; with the number of requests it read.
async fn drops_the_first_request() -> (Url, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                if sock.read(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                if count.fetch_add(1, Ordering::SeqCst) == 0 {
                    return;
                }
                let body = r#"{"items":[]}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    (Url::parse(&format!("http://{addr}/")).unwrap(), seen)
}

#[tokio::test]
async fn a_baseline_that_got_no_answer_is_asked_again_and_an_answer_is_kept() {
    let (base, seen) = drops_the_first_request().await;
    let mut tc = TransportConfig::new(base.clone());
    tc.rate_per_host = None;
    let transport = Arc::new(Transport::new(tc.clone()).unwrap());
    let op = Operation::new(Method::Get, "/items".to_string());
    let mut inv = Inventory::empty(SpecVersion::OpenApi30);
    inv.operations = vec![op.clone()];
    let probe = EngineProbe::new(
        transport,
        base.clone(),
        Arc::new(ScanConfig::new(base, tc)),
        Arc::new(Identities { list: Vec::new() }),
        Arc::new(inv),
        Arc::new(Redactor::new()),
    );
    let lost = probe.baseline(&op, ANONYMOUS).await.unwrap();
    assert_eq!(lost.status(), None, "the first request is dropped");
    let answered = probe.baseline(&op, ANONYMOUS).await.unwrap();
    assert_eq!(
        answered.status(),
        Some(200),
        "asked again, not the lost one"
    );
    let kept = probe.baseline(&op, ANONYMOUS).await.unwrap();
    assert_eq!(kept.status(), Some(200));
    assert_eq!(
        seen.load(Ordering::SeqCst),
        2,
        "an answer is kept and shared"
    );
}
