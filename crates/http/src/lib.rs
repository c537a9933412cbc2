//! middlebrick's transport: every request a scan makes goes through [`Transport::send`].
//!
//! The transport is where the scanner's promises to the target's owner are kept, so they are
//! kept in one place: nothing outside the scope is contacted (redirects are followed by hand
//! and each hop is checked before connecting), credentials never follow a redirect to another
//! origin, and the rate, concurrency, budget and time limits hold for every attempt, retries
//! and redirect hops included. It also records what was really sent and received, as an
//! [`Exchange`](middlebrick_model::Exchange), with response bodies read only up to a cap.
//!
//! Redaction is not done here: exchanges carry credentials verbatim and the sinks redact at
//! write time (see `middlebrick_model::Redactor`).

mod client;
mod config;
mod error;
mod health;
mod lastbyte;
mod limits;
mod outgoing;
mod prepare;
pub mod rate;
mod record;
mod redirect;
mod retry;
mod scope;
mod tls;
mod transport;
mod watch;

pub use config::{
    TransportConfig, DEFAULT_BREAKER_THRESHOLD, DEFAULT_BUDGET, DEFAULT_CONCURRENCY,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BACKOFF, DEFAULT_MAX_DURATION, DEFAULT_MAX_REDIRECTS,
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRIES, DEFAULT_REQUEST_TIMEOUT, DEFAULT_START_RATE,
    DEFAULT_START_RATE_LOCAL, DEFAULT_USER_AGENT,
};
pub use error::HttpError;
pub use outgoing::Outgoing;
pub use transport::{Transport, MAX_BURST};
