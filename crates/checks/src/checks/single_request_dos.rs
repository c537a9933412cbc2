//! `availability.single-request-dos`: one request stops the whole target from answering (a
//! single-process server frozen by catastrophic regex backtracking, an unbounded loop, a lock
//! held forever).
//!
//! It sends nothing of its own during the scan: the transport notices when a target that
//! answered stops answering, asks it a request it answered before until it comes back, and
//! keeps the earliest unanswered requests as the suspects (`middlebrick_http`'s `health.rs`):
//! on a single-process server a request sent just before the culprit is queued behind it and
//! goes unanswered too. This check, run after every other, proves or clears each outage.
//!
//! Differential: each suspect is sent once more, alone, bracketed by the known-good control,
//! earliest first, until one froze the target. It is a finding only when the control was
//! answered just before, and then neither the suspect nor the control sent while the suspect
//! ran got an answer. A slow endpoint on a server that keeps answering other requests fails
//! this test, and so does an outage that does not repeat. Budget: at most [`MAX_RETRIGGERS`]
//! outages, each of at most eight suspects re-sent once, plus their controls (about half a
//! second per suspect that does not freeze the target).

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, RunOrder, Scope};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Diagnostic, Evidence, Operation, Owasp, Remediation, Severity,
    Tech,
};

#[derive(Debug)]
pub struct SingleRequestDos;

/// Outages whose suspects are re-sent, per scan.
const MAX_RETRIGGERS: usize = 2;

static META: CheckMeta = CheckMeta {
    id: CheckId::AvailabilitySingleRequestDos,
    title: "One request stops the API from answering",
    description: "When the target stopped answering during the scan, sends the requests that \
        went unanswered (up to eight, earliest first) once more, each alone, between two \
        requests the target answered before; reports the first while which the target answers \
        nothing.",
    cwe: &[400, 1333],
    owasp: &[Owasp::Api4],
    severity: Severity::High,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Bound the work one request can cause: validate input length before any \
            regular expression or parser sees it, use regular expressions without nested \
            quantifiers (or an engine with linear-time matching), put time limits on queries \
            and handlers, and run more than one worker so one stuck request cannot stop the \
            service.",
        variants: &[
            (
                Tech::Flask,
                "declare `maxLength` and check `len(value)` before matching; rewrite \
                patterns such as `^([a-z]+)+$` without nested quantifiers, and serve the app \
                with gunicorn (`--workers 4 --timeout 30`) rather than a single process.",
            ),
            (
                Tech::FastApi,
                "give string fields `max_length` in the Pydantic model (it is checked \
                before your validators run), avoid nested quantifiers in `pattern=`/`re` \
                validators, and run several uvicorn workers behind a timeout.",
            ),
        ],
    },
};

#[async_trait]
impl Check for SingleRequestDos {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn scope(&self) -> Scope {
        Scope::Api
    }

    fn order(&self) -> RunOrder {
        RunOrder::Last
    }

    fn plan(&self, _op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        Vec::new()
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let mut out = Outcome::none();
        let candidates: Vec<(usize, String, u64)> = ctx
            .probe
            .outages()
            .into_iter()
            .enumerate()
            .filter(|(_, o)| o.recovered)
            .filter_map(|(i, o)| o.suspect.map(|s| (i, s, o.down_ms)))
            .take(MAX_RETRIGGERS)
            .collect();
        for (index, suspect, down_ms) in candidates {
            let Some(proof) = ctx.probe.retrigger(index).await else {
                continue;
            };
            if !proof.target_froze() {
                out.diagnostics.push(Diagnostic::info(
                    "availability.outage-not-repeated",
                    format!(
                        "the target stopped answering for {}s after {suspect}, but did not when \
                         that request (or another left unanswered then) was sent again alone: \
                         not reported",
                        down_ms / 1000
                    ),
                ));
                continue;
            }
            // The suspect that froze it, which need not be the outage's earliest.
            let suspect = format!(
                "{} {}",
                proof.suspect.request.method, proof.suspect.request.url
            );
            let op = operation_of(ctx, &proof.suspect.request);
            let came_back = match &proof.control_after {
                Some(_) => "then answered again",
                None => "had not answered again when the check gave up waiting",
            };
            let description = format!(
                "`{suspect}` stopped the whole target from answering: the target answered a \
                 request it had answered before, then answered neither this request nor that \
                 same request sent while this one ran, and {came_back}. During the scan the \
                 same request was followed by {}s without an answer. Anyone who can send it can \
                 take the API down.",
                down_ms / 1000
            );
            let mut exchanges = vec![proof.control_before, proof.suspect, proof.control_during];
            exchanges.extend(proof.control_after);
            let evidence = Evidence::new(exchanges).note(
                "the control answered; the suspect and the control sent while it ran got no \
                 answer; then the control again until the target answered",
            );
            let discriminator = if op.is_some() { "" } else { suspect.as_str() };
            out.findings.push(META.finding(
                op,
                discriminator,
                META.severity,
                Confidence::Firm,
                description,
                evidence,
            ));
        }
        out
    }
}

/// The documented operation a recorded request was sent to: same method, and the URL's path
/// ends with the operation's path template (a `{param}` matches any one segment).
fn operation_of<'a>(
    ctx: &RunCtx<'a>,
    req: &middlebrick_model::RequestRecord,
) -> Option<&'a Operation> {
    let after_scheme = req
        .url
        .split_once("://")
        .map_or(req.url.as_str(), |(_, r)| r);
    let path = after_scheme
        .find('/')
        .map_or("", |i| &after_scheme[i..])
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // Every operation of a GraphQL endpoint shares its path: the document names the one.
    let root_field = req
        .body
        .as_ref()
        .and_then(|b| serde_json::from_str::<serde_json::Value>(&b.text).ok())
        .and_then(|v| {
            v["query"]
                .as_str()
                .and_then(middlebrick_model::document_root_field)
        });
    ctx.inventory
        .operations
        .iter()
        .filter(|o| o.method == req.method)
        .filter(|o| match &o.graphql {
            Some(g) => root_field.as_deref() == Some(g.field.as_str()),
            None => true,
        })
        .find(|o| {
            let template: Vec<&str> = o.path.split('/').filter(|s| !s.is_empty()).collect();
            template.len() <= segments.len()
                && template
                    .iter()
                    .zip(&segments[segments.len() - template.len()..])
                    .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}')))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{
        Exchange, Inventory, Method, Outage, RequestRecord, Retrigger, SpecVersion,
    };
    use std::sync::Mutex;

    fn ex(method: Method, url: &str, answered: bool) -> Exchange {
        Exchange {
            identity: "anonymous".into(),
            request: RequestRecord {
                method,
                url: url.into(),
                headers: Vec::new(),
                body: None,
            },
            response: answered.then(|| response(200, "application/json", "{}")),
            redirects: Vec::new(),
            error: (!answered).then(|| "timed out after 2s".into()),
            elapsed_ms: 1,
        }
    }

    /// A probe that reports one recovered outage and answers the re-trigger as scripted.
    struct Outaged {
        inner: FakeProbe,
        proof: Mutex<Option<Retrigger>>,
    }

    #[async_trait]
    impl crate::probe::Probe for Outaged {
        async fn send(
            &self,
            req: middlebrick_model::RequestSpec,
        ) -> Result<Exchange, crate::ProbeError> {
            self.inner.send(req).await
        }
        fn request(
            &self,
            op: &Operation,
            identity: &str,
            o: &crate::Overrides,
        ) -> middlebrick_model::RequestSpec {
            self.inner.request(op, identity, o)
        }
        async fn baseline(&self, op: &Operation, id: &str) -> Result<Exchange, crate::ProbeError> {
            self.inner.baseline(op, id).await
        }
        fn identities(&self) -> Vec<crate::IdentityInfo> {
            self.inner.identities()
        }
        fn mode(&self) -> middlebrick_model::Mode {
            self.inner.mode()
        }
        async fn sign_in_account(
            &self,
            name: &str,
            username: &str,
            password: &str,
        ) -> Result<Exchange, crate::ProbeError> {
            self.inner.sign_in_account(name, username, password).await
        }
        fn observed(&self) -> Vec<Exchange> {
            Vec::new()
        }
        fn known_values(&self, _: &Operation, _: &str) -> Vec<(serde_json::Value, Vec<String>)> {
            Vec::new()
        }
        fn outages(&self) -> Vec<Outage> {
            vec![Outage {
                suspect: Some("GET http://t/names/mmmm".into()),
                last_sent: vec!["GET http://t/names/mmmm".into()],
                probes: 3,
                recovered: true,
                down_ms: 4_000,
            }]
        }
        async fn retrigger(&self, index: usize) -> Option<Retrigger> {
            assert_eq!(index, 0);
            self.proof.lock().unwrap().take()
        }
    }

    async fn run(during_answered: bool) -> Outcome {
        let proof = Retrigger {
            control_before: ex(Method::Get, "http://t/health", true),
            suspect: ex(Method::Get, "http://t/names/mmmm", false),
            control_during: ex(Method::Get, "http://t/health", during_answered),
            control_after: (!during_answered).then(|| ex(Method::Get, "http://t/health", true)),
        };
        let probe = Outaged {
            inner: FakeProbe::new(),
            proof: Mutex::new(Some(proof)),
        };
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations
            .push(Operation::new(Method::Get, "/names/{name}"));
        SingleRequestDos
            .run(&RunCtx {
                probe: &probe,
                inventory: &inv,
                op: None,
            })
            .await
    }

    #[tokio::test]
    async fn a_request_that_freezes_the_target_twice_is_reported_on_its_operation() {
        let out = run(false).await;
        assert_eq!(out.findings.len(), 1);
        let f = &out.findings[0];
        assert_eq!(f.path.as_deref(), Some("/names/{name}"));
        assert_eq!(f.cwe, vec![400, 1333]);
        assert_eq!(f.evidence.exchanges.len(), 4);
    }

    #[tokio::test]
    async fn a_slow_request_while_the_target_keeps_answering_is_not() {
        let out = run(true).await;
        assert!(out.findings.is_empty());
        assert_eq!(out.diagnostics.len(), 1);
    }

    #[test]
    fn a_graphql_request_is_the_operation_its_document_names() {
        let gql = |field: &str| {
            let mut op = Operation::new(Method::Post, "/graphql");
            op.graphql = Some(middlebrick_model::GraphqlOperation {
                kind: middlebrick_model::GraphqlKind::Query,
                field: field.into(),
                arguments: Vec::new(),
                selection: String::new(),
                returns: String::new(),
            });
            op
        };
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = vec![gql("pastes"), gql("systemUpdate")];
        let probe = FakeProbe::new();
        let ctx = RunCtx {
            probe: &probe,
            inventory: &inv,
            op: None,
        };
        let req = RequestRecord {
            method: Method::Post,
            url: "http://127.0.0.1:5013/graphql".into(),
            headers: Vec::new(),
            body: Some(middlebrick_model::BodyRecord {
                text: r#"{"query":"query { systemUpdate }","variables":{}}"#.into(),
                size: 49,
                truncated: false,
            }),
        };
        let op = operation_of(&ctx, &req).expect("an operation");
        assert_eq!(op.key(), "POST /graphql query systemUpdate");
    }
}
