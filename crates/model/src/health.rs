//! What the transport saw of the target's health: the times it stopped answering, the request
//! most likely to have caused each, and the one re-trigger a check may ask for to prove it.
//!
//! Plain data, so the transport can fill it and a check can judge it without either seeing the
//! other (issue 16, rule 4).

use crate::Exchange;

/// One time the target, having answered before, stopped answering every request (the
/// known-good liveness request included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// The earliest request put on the wire that never got an answer: the likeliest cause.
    pub suspect: Option<String>,
    /// The last requests put on the wire before the outage, oldest first (`METHOD URL`).
    pub last_sent: Vec<String>,
    /// Liveness requests sent while waiting for the target.
    pub probes: u32,
    /// True once a liveness request was answered again.
    pub recovered: bool,
    /// From the moment a request went unanswered (its timeout, refusal or reset) to the first
    /// answered liveness request, or to the last one when the target never came back.
    pub down_ms: u64,
}

/// The single re-send of an outage's suspect, bracketed by the known-good request: answered
/// before it, sent again while it ran, and after it until the target answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retrigger {
    pub control_before: Exchange,
    pub suspect: Exchange,
    pub control_during: Exchange,
    /// The first answered liveness request after it, if the target came back.
    pub control_after: Option<Exchange>,
}

impl Retrigger {
    /// The differential that proves a denial of service by one request: the target answered
    /// the control before, then neither the suspect nor the control sent while it ran got an
    /// answer.
    pub fn target_froze(&self) -> bool {
        self.control_before.response.is_some()
            && self.suspect.response.is_none()
            && self.control_during.response.is_none()
    }
}
