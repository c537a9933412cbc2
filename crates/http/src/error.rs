//! Why a send did not produce an [`Exchange`](middlebrick_model::Exchange).
//!
//! Only policy stops and malformed requests are errors. A target that refuses, resets or times
//! out is an observation, recorded as an exchange without a response, because a check may care
//! (a crash after a payload is evidence) and because one dead endpoint must not end a scan.

/// A send that was stopped before or instead of being recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The URL's host and port are neither the target's nor an allowed host; nothing was sent.
    #[error("{url} is out of scope; add its host with --allow-host to include it")]
    OutOfScope { url: String },
    /// The scan's request budget is spent; nothing more will be sent.
    #[error("the request budget of {budget} is used up")]
    BudgetExhausted { budget: u64 },
    /// The scan's time limit passed; in-flight requests were abandoned.
    #[error("the scan's time limit was reached")]
    DeadlineReached,
    /// Too many consecutive connection failures: the target looks down or is blocking us.
    #[error("stopped after {failures} consecutive connection failures; is the target up?")]
    CircuitOpen { failures: u32 },
    /// The scan was cancelled; in-flight requests were abandoned.
    #[error("cancelled")]
    Cancelled,
    /// The request (or the transport configuration) cannot be expressed: a bad header name,
    /// a URL that is not http(s), an allowed host that does not parse.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The HTTP client itself failed to start (TLS roots, resolver).
    #[error("HTTP client error: {0}")]
    Client(String),
}

impl HttpError {
    /// True for the errors that end a scan rather than one request.
    pub fn is_stop(&self) -> bool {
        matches!(
            self,
            HttpError::BudgetExhausted { .. }
                | HttpError::DeadlineReached
                | HttpError::CircuitOpen { .. }
                | HttpError::Cancelled
        )
    }
}
