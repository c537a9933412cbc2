//! `transport.dev-server`: the Werkzeug development server, or its interactive debugger, answers
//! clients. Werkzeug's own documentation says the development server is not for production: it
//! is single-process, unhardened, and with `debug=True` it serves a console that runs Python.
//!
//! Evidence: the `Server: Werkzeug/<version>` header on at least two answers the scan already
//! received (firm). Outside passive mode one GET for the debugger's own script
//! (`?__debugger__=yes&cmd=resource&f=debugger.js`), which only a live debugger serves, confirms
//! debug mode and raises the severity. One request per scan at most.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Mode, Operation, Owasp,
    ParamLocation, Remediation, RequestSpec, Severity, Tech, ANONYMOUS,
};

#[derive(Debug)]
pub struct DevServer;

static META: CheckMeta = CheckMeta {
    id: CheckId::TransportDevServer,
    title: "Development server or debugger facing clients",
    description: "Looks for the Werkzeug development server's `Server` header on the answers the \
        scan received, and confirms debug mode by fetching the interactive debugger's own script, \
        which only a live debugger serves.",
    cwe: &[489, 1188],
    owasp: &[Owasp::Api8],
    severity: Severity::Medium,
    kind: CheckKind::Passive,
    remediation: Remediation {
        generic: "Serve the application with a production server behind the usual proxy, and \
            never enable a framework's debug mode where clients can reach it.",
        variants: &[
            (Tech::Flask, "`app.run()` is the Werkzeug development server; run the WSGI app under \
                gunicorn (`gunicorn -w 4 'shop:create_app()'`) and keep debug off:\n\
                ```python\napp = create_app()\napp.config.update(DEBUG=False, PROPAGATE_EXCEPTIONS=False)\n```"),
            (Tech::FastApi, "run uvicorn without `--reload` (or gunicorn with uvicorn workers) and \
                create the app with `debug=False`:\n\
                ```python\napp = FastAPI(debug=False)\n```"),
        ],
    },
};

#[async_trait]
impl Check for DevServer {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn scope(&self) -> Scope {
        Scope::Api
    }

    fn plan(&self, _op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        Vec::new()
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let seen = werkzeug_answers(&ctx.probe.observed());
        if seen.len() < 2 {
            return Outcome::none();
        }
        let version = seen[0]
            .response
            .as_ref()
            .and_then(|r| r.header("server"))
            .unwrap_or("Werkzeug")
            .to_string();
        let mut exchanges: Vec<Exchange> = seen.into_iter().take(2).collect();
        let mut severity = Severity::Medium;
        let mut confidence = Confidence::Firm;
        let mut description = format!(
            "Answers carry `Server: {version}`: the Werkzeug development server faces clients."
        );
        if ctx.probe.mode() != Mode::Passive {
            if let Some(proof) = debugger_asset(ctx).await {
                exchanges.push(proof);
                severity = Severity::High;
                confidence = Confidence::Confirmed;
                description.push_str(
                    " Its interactive debugger is on: it served its own script, and its console \
                     runs Python code for whoever gets past the PIN.",
                );
            }
        }
        let evidence = Evidence::new(exchanges).note(
            "answers with the development server's Server header; then the debugger probe if any",
        );
        Outcome::finding(META.finding(None, "", severity, confidence, description, evidence))
    }
}

fn werkzeug_answers(observed: &[Exchange]) -> Vec<Exchange> {
    observed
        .iter()
        .filter(|e| {
            e.response
                .as_ref()
                .and_then(|r| r.header("server"))
                .is_some_and(|s| s.starts_with("Werkzeug/"))
        })
        .cloned()
        .collect()
}

async fn debugger_asset(ctx: &RunCtx<'_>) -> Option<Exchange> {
    let path = ctx
        .inventory
        .operations
        .iter()
        .find(|o| o.method == Method::Get && o.params_in(ParamLocation::Path).next().is_none())
        .map(|o| o.path.clone())
        .unwrap_or_else(|| "/".to_string());
    let mut req = RequestSpec::new(Method::Get, path).as_identity(ANONYMOUS);
    req.query = vec![
        ("__debugger__".into(), "yes".into()),
        ("cmd".into(), "resource".into()),
        ("f".into(), "debugger.js".into()),
    ];
    let ex = ctx.probe.send(req).await.ok()?;
    let served = ex.response.as_ref().is_some_and(|r| {
        r.is_success() && r.body.text.contains("function") && r.body.text.len() > 200
    });
    served.then_some(ex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{exchange_for, FakeProbe};
    use crate::similarity::response;
    use middlebrick_model::{Inventory, ResponseRecord, SpecVersion};

    fn answer(server: &str) -> Exchange {
        let mut r: ResponseRecord = response(200, "application/json", "{}");
        r.headers.push(("server".into(), server.into()));
        exchange_for(&RequestSpec::new(Method::Get, "/health"), Some(r))
    }

    async fn run(probe: &FakeProbe) -> Outcome {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations.push(Operation::new(Method::Get, "/health"));
        DevServer
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: None,
            })
            .await
    }

    #[tokio::test]
    async fn werkzeug_with_a_live_debugger_is_confirmed() {
        let js = format!("function debugger() {{ {} }}", "x".repeat(300));
        let mut probe = FakeProbe::new().on(
            |r| r.query.iter().any(|(k, _)| k == "__debugger__"),
            response(200, "text/javascript", &js),
        );
        probe.observed = vec![
            answer("Werkzeug/3.1.3 Python/3.11.9"),
            answer("Werkzeug/3.1.3 Python/3.11.9"),
        ];
        let out = run(&probe).await;
        assert_eq!(out.findings[0].severity, Severity::High);
        assert_eq!(out.findings[0].confidence, Confidence::Confirmed);
    }

    #[tokio::test]
    async fn werkzeug_without_debugger_is_medium_and_production_servers_are_silent() {
        let mut probe = FakeProbe::new().on(|_| true, response(404, "text/html", "nope"));
        probe.observed = vec![
            answer("Werkzeug/3.1.3 Python/3.11.9"),
            answer("Werkzeug/3.1.3 Python/3.11.9"),
        ];
        let out = run(&probe).await;
        assert_eq!(out.findings[0].severity, Severity::Medium);
        let mut probe = FakeProbe::new();
        probe.observed = vec![answer("gunicorn"), answer("uvicorn")];
        assert!(run(&probe).await.findings.is_empty());
        assert_eq!(probe.sent_count(), 0);
        let mut probe = FakeProbe::new();
        probe.observed = vec![answer("Werkzeug/3.1.3")];
        assert!(
            run(&probe).await.findings.is_empty(),
            "one answer is not enough"
        );
    }
}
