//! Black-box tests of the transport against real sockets on 127.0.0.1: each safety promise
//! (scope, redirects, credentials, limits) is shown by what a listener did or did not see.

mod body;
mod health;
mod limits;
mod pool;
mod record;
mod redirects;
mod scope;
mod server;
mod stops;
mod tls;

use middlebrick_http::{Outgoing, TransportConfig};
use middlebrick_model::{Method, RequestBody, ANONYMOUS};
use url::Url;

/// Defaults aimed at `base`, without the rate limit (tests that need it set it).
pub fn config(base: Url) -> TransportConfig {
    TransportConfig {
        rate_per_host: None,
        ..TransportConfig::new(base)
    }
}

pub fn get(url: Url) -> Outgoing {
    request(Method::Get, url, None)
}

pub fn request(method: Method, url: Url, body: Option<RequestBody>) -> Outgoing {
    Outgoing {
        method,
        url,
        headers: Vec::new(),
        credentials: Vec::new(),
        body,
        identity: ANONYMOUS.to_string(),
        follow_redirects: true,
        retry_throttled: true,
    }
}
