//! `accept_invalid_certs` must really change what the client accepts: a self-signed server is
//! refused by default and reached when the option is set.

use crate::server::{handle, Handler, Reply, Stats};
use crate::{config, get};
use middlebrick_http::Transport;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use url::Url;

async fn self_signed_server() -> Url {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
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
