//! One malformed-input pass per parameter (issue 21): `info.verbose-error` and the error stage
//! of `injection.sql` both break a parameter's valid value with a quote (`v'`), the one to see
//! what the error answer leaks, the other to see a SQL parser speak. That input is sent once;
//! its answer serves both (stack fingerprinting then reads it among the findings' evidence).
//!
//! The answer is shared by input, not by bytes: the valid request for an operation as an
//! identity, with one parameter or body property set to one value. A write's other fields
//! differ between two synthesised requests (each write gets a fresh salt for its names), yet
//! the answer to the broken field is the same question asked twice.
//!
//! A check gets another check's answer at most once per input, and never its own: when a check
//! sends the same input again (the SQL error stage's reproduction), it means the wire. Checks
//! that run side by side may ask for one input at the same moment: the later waits for the
//! answer already on its way instead of sending the input again.

use crate::probe::ProbeError;
use middlebrick_model::{CheckId, Exchange, Operation, ParamLocation, RequestBody, RequestSpec};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Where an input goes in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Param(ParamLocation, String),
    /// A top-level property of a JSON or form body.
    Body(String),
}

/// One input of an operation's request: the valid request for `operation` as `identity`, with
/// `slot` set to `value` and nothing else changed; sent on behalf of `check`.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub check: CheckId,
    /// The operation's key (`GET /items/{id}`).
    pub operation: String,
    pub identity: String,
    pub slot: Slot,
    pub value: Value,
}

impl Input {
    fn key(&self) -> String {
        format!(
            "{}\u{0}{}\u{0}{:?}\u{0}{}",
            self.operation, self.identity, self.slot, self.value
        )
    }
}

/// Answers to inputs, shared between checks (see the module header). The engine's probe keeps
/// one per scan; so does the fake probe of the checks' tests.
#[derive(Debug, Default)]
pub struct SharedInputs {
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

/// One input's answer: set once by the first check to send it (`Some(None)` when that answer
/// says nothing about the input), and the checks that have had it. The first sender holds the
/// answer's lock while its request is on its way; a check asking meanwhile waits on the lock.
#[derive(Debug, Default)]
struct Entry {
    answer: futures::lock::Mutex<Option<Option<Exchange>>>,
    had_by: Mutex<Vec<CheckId>>,
}

impl Entry {
    /// Notes that `check` has had the answer; false when it had it already.
    fn mark(&self, check: CheckId) -> bool {
        let mut had = self.had_by.lock().unwrap_or_else(|e| e.into_inner());
        if had.contains(&check) {
            return false;
        }
        had.push(check);
        true
    }

    fn had(&self, check: CheckId) -> bool {
        self.had_by
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&check)
    }
}

/// Inputs kept per scan; past this the table stops growing.
const MAX_INPUTS: usize = 8192;

impl SharedInputs {
    /// The answer to `input` for `input.check`: another check's answer to the same input, once
    /// per check, waiting for it while it is on its way; else `wire()`'s. Answers that say
    /// nothing about the input (no answer, throttling, a gateway's error) are not shared.
    pub async fn send<F, Fut>(&self, input: &Input, wire: F) -> Result<Exchange, ProbeError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Exchange, ProbeError>>,
    {
        let entry = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let key = input.key();
            match entries.get(&key) {
                Some(e) => Some(e.clone()),
                None if entries.len() >= MAX_INPUTS => None,
                None => Some(entries.entry(key).or_default().clone()),
            }
        };
        let Some(entry) = entry.filter(|e| !e.had(input.check)) else {
            return wire().await;
        };
        let mut answer = entry.answer.lock().await;
        let shared = match answer.as_ref() {
            Some(shared) => shared.clone(),
            None => {
                let r = wire().await;
                *answer = Some(r.as_ref().ok().filter(|ex| says_something(ex)).cloned());
                drop(answer);
                entry.mark(input.check);
                return r;
            }
        };
        drop(answer);
        match shared {
            Some(ex) if entry.mark(input.check) => Ok(ex),
            _ => wire().await,
        }
    }
}

/// Whether an answer says something about the input it was sent: not a missing answer,
/// throttling or a gateway's error.
fn says_something(ex: &Exchange) -> bool {
    matches!(ex.status(), Some(s) if !matches!(s, 429 | 502 | 503 | 504))
}

/// The quote-broken value both checks send: the valid value with a `'` after it.
pub(crate) fn quote_breaker(value: &str) -> String {
    format!("{value}'")
}

/// The text of a scalar JSON value as it travels in a parameter.
pub(crate) fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The value the valid request `valid` sends in `slot` (decoded for a path parameter), when it
/// sends one that is not empty.
pub(crate) fn sent_value(op: &Operation, valid: &RequestSpec, slot: &Slot) -> Option<String> {
    let value = match slot {
        Slot::Param(ParamLocation::Path, name) => path_value(&op.path, &valid.path, name),
        Slot::Param(ParamLocation::Query, name) => find(&valid.query, name),
        Slot::Param(ParamLocation::Header, name) => find(&valid.headers, name),
        Slot::Param(ParamLocation::Cookie, name) => find(&valid.cookies, name),
        Slot::Body(name) => match &valid.body {
            Some(RequestBody::Json(Value::Object(map))) => map.get(name).and_then(text_of),
            Some(RequestBody::Form(fields)) => find(fields, name),
            _ => None,
        },
    };
    value.filter(|v| !v.is_empty())
}

pub(crate) fn find(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// The value of a path parameter in a filled path, by lining it up with the template, decoded:
/// the path holds it percent-encoded, and a request built from it encodes it again.
pub(crate) fn path_value(template: &str, path: &str, name: &str) -> Option<String> {
    let wanted = format!("{{{name}}}");
    template
        .split('/')
        .zip(path.split('/'))
        .find(|(t, _)| t.contains(&wanted))
        .and_then(|(t, p)| {
            let (prefix, suffix) = t.split_once(&wanted)?;
            p.strip_prefix(prefix)?.strip_suffix(suffix).map(|v| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_model::Method;

    fn input(check: CheckId) -> Input {
        Input {
            check,
            operation: "GET /items/{id}".into(),
            identity: "alice".into(),
            slot: Slot::Param(ParamLocation::Path, "id".into()),
            value: Value::String("7'".into()),
        }
    }

    fn answer(status: u16) -> Exchange {
        crate::fake::exchange_for(
            &RequestSpec::new(Method::Get, "/items/7%27"),
            Some(crate::similarity::response(status, "text/plain", "")),
        )
    }

    /// Sends `input` through `shared`, the wire answering `status` (and counted in `sent`).
    async fn send(
        shared: &SharedInputs,
        input: &Input,
        status: u16,
        sent: &AtomicUsize,
    ) -> Option<u16> {
        shared
            .send(input, || async {
                sent.fetch_add(1, Ordering::SeqCst);
                Ok(answer(status))
            })
            .await
            .ok()
            .and_then(|e| e.status())
    }

    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn an_answer_serves_another_check_once_and_never_the_check_that_sent_it() {
        let shared = SharedInputs::default();
        let sent = AtomicUsize::new(0);
        let verbose = input(CheckId::InfoVerboseError);
        let sql = input(CheckId::InjectionSql);
        assert_eq!(send(&shared, &verbose, 500, &sent).await, Some(500));
        assert_eq!(sent.load(Ordering::SeqCst), 1);
        send(&shared, &verbose, 500, &sent).await;
        assert_eq!(
            sent.load(Ordering::SeqCst),
            2,
            "its own input again: the wire"
        );
        // The other check gets the kept answer (the wire would have said 200).
        assert_eq!(send(&shared, &sql, 200, &sent).await, Some(500));
        assert_eq!(sent.load(Ordering::SeqCst), 2);
        assert_eq!(send(&shared, &sql, 200, &sent).await, Some(200));
        assert_eq!(
            sent.load(Ordering::SeqCst),
            3,
            "the reproduction goes on the wire"
        );
    }

    #[tokio::test]
    async fn an_input_on_its_way_is_awaited_not_sent_again() {
        let shared = SharedInputs::default();
        let sent = AtomicUsize::new(0);
        let verbose = input(CheckId::InfoVerboseError);
        let sql = input(CheckId::InjectionSql);
        let slow = shared.send(&verbose, || async {
            sent.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Ok(answer(500))
        });
        let (a, b) = tokio::join!(slow, send(&shared, &sql, 200, &sent));
        assert_eq!(a.ok().and_then(|e| e.status()), Some(500));
        assert_eq!(b, Some(500), "the answer on its way");
        assert_eq!(sent.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn another_value_slot_identity_or_operation_is_another_input() {
        let shared = SharedInputs::default();
        let sent = AtomicUsize::new(0);
        send(&shared, &input(CheckId::InfoVerboseError), 500, &sent).await;
        let mut others = Vec::new();
        let mut other = input(CheckId::InjectionSql);
        other.value = Value::String("7\"".into());
        others.push(other);
        let mut other = input(CheckId::InjectionSql);
        other.slot = Slot::Param(ParamLocation::Query, "id".into());
        others.push(other);
        let mut other = input(CheckId::InjectionSql);
        other.identity = "bob".into();
        others.push(other);
        let mut other = input(CheckId::InjectionSql);
        other.operation = "GET /orders/{id}".into();
        others.push(other);
        for other in &others {
            assert_eq!(
                send(&shared, other, 200, &sent).await,
                Some(200),
                "{other:?}"
            );
        }
        assert_eq!(sent.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn throttled_and_gateway_answers_are_not_shared() {
        for status in [429, 502, 503, 504] {
            let shared = SharedInputs::default();
            let sent = AtomicUsize::new(0);
            send(&shared, &input(CheckId::InfoVerboseError), status, &sent).await;
            assert_eq!(
                send(&shared, &input(CheckId::InjectionSql), 500, &sent).await,
                Some(500)
            );
            assert_eq!(sent.load(Ordering::SeqCst), 2);
        }
    }

    #[test]
    fn the_sent_value_is_read_from_each_place_of_the_valid_request() {
        assert_eq!(
            path_value("/items/{id}/x", "/items/a%20b/x", "id").as_deref(),
            Some("a b")
        );
        let op = Operation::new(Method::Get, "/items/{id}");
        let mut valid = RequestSpec::new(Method::Get, "/items/7");
        valid.query.push(("q".into(), "mug".into()));
        valid.body = Some(RequestBody::Json(serde_json::json!({"n": 3, "s": ""})));
        let path = Slot::Param(ParamLocation::Path, "id".into());
        assert_eq!(sent_value(&op, &valid, &path).as_deref(), Some("7"));
        let query = Slot::Param(ParamLocation::Query, "Q".into());
        assert_eq!(sent_value(&op, &valid, &query).as_deref(), Some("mug"));
        let n = Slot::Body("n".into());
        assert_eq!(sent_value(&op, &valid, &n).as_deref(), Some("3"));
        assert_eq!(sent_value(&op, &valid, &Slot::Body("s".into())), None);
        assert_eq!(quote_breaker("7"), "7'");
    }
}
