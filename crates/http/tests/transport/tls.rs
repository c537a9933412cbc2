//! `accept_invalid_certs` must really change what the client accepts: a self-signed server is
//! refused by default and reached when the option is set. HTTP/2 is negotiated by ALPN.

use crate::server::{handle, Handler, Reply, Stats};
use crate::{config, get};
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use middlebrick_http::Transport;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use url::Url;

fn self_signed_acceptor(alpn: &[&[u8]]) -> tokio_rustls::TlsAcceptor {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsAcceptor::from(Arc::new(tls))
}

async fn self_signed_server() -> Url {
    let acceptor = self_signed_acceptor(&[]);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler: Handler = Arc::new(|_, _| Reply::ok("secure hello"));
    let stats = Arc::new(Stats::default());
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let (handler, stats) = (handler.clone(), stats.clone());
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(sock).await {
                    handle(stream, handler, stats).await;
                }
            });
        }
    });
    Url::parse(&format!("https://{addr}/")).unwrap()
}

#[tokio::test]
async fn self_signed_certificates_are_refused_by_default() {
    let base = self_signed_server().await;
    let t = Transport::new(config(base.clone())).unwrap();
    let ex = t.send(get(base)).await.unwrap();
    assert_eq!(ex.response, None);
    let error = ex.error.unwrap();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
}

#[tokio::test]
async fn accept_invalid_certs_is_honoured() {
    let base = self_signed_server().await;
    let mut cfg = config(base.clone());
    cfg.accept_invalid_certs = true;
    let t = Transport::new(cfg).unwrap();
    let ex = t.send(get(base)).await.unwrap();
    assert_eq!(ex.error, None);
    assert_eq!(ex.response.unwrap().body.text, "secure hello");
}

/// An HTTP/2-only TLS server that answers with the protocol version and URI it saw.
async fn h2_server() -> (Url, Arc<AtomicUsize>) {
    let acceptor = self_signed_acceptor(&[b"h2"]);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(sock).await else {
                    return;
                };
                let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    let text = format!("{:?} {}", req.version(), req.uri());
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(text))))
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (
        Url::parse(&format!("https://{addr}/")).unwrap(),
        connections,
    )
}

#[tokio::test]
async fn http2_is_negotiated_and_multiplexed() {
    let (base, connections) = h2_server().await;
    let mut cfg = config(base.clone());
    cfg.accept_invalid_certs = true;
    let t = Transport::new(cfg).unwrap();
    let first = t.send(get(base.join("/first?a=1").unwrap())).await.unwrap();
    assert_eq!(first.error, None);
    assert_eq!(
        first.response.unwrap().body.text,
        format!("HTTP/2.0 {}", base.join("/first?a=1").unwrap())
    );
    let sends = (0..4).map(|i| t.send(get(base.join(&format!("/{i}")).unwrap())));
    for ex in futures::future::join_all(sends).await {
        let ex = ex.unwrap();
        assert!(ex.response.unwrap().body.text.starts_with("HTTP/2.0 "));
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one shared HTTP/2 connection"
    );
}
