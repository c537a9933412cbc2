//! The MCP tools over the engine and the history. Every tool answers with structured content
//! (matching its output schema) and a text rendering for assistants that only read text.

use crate::types::*;
use middlebrick_checks::CHECKS;
use middlebrick_core::config::{self, FileConfig, Flags};
use middlebrick_core::{catalogue, record, Allowlist};
use middlebrick_engine::{Event, ScanConfig};
use middlebrick_model::{CheckId, Mode, Redactor, Report, Tech};
use middlebrick_report::{render, Format, RenderOptions};
use middlebrick_store::{Filter, ScanId, Store, StoreError};
use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ProgressNotificationParam, RequestMetaObject,
    ServerCapabilities, ServerConfig,
};
use rmcp::{tool, tool_handler, tool_router, ErrorData, Peer, RoleServer, ServerHandler};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// What the server was started with.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub allow: Allowlist,
    /// `--allow-active`: without it, active mode is refused whatever the tool call asks.
    pub allow_active: bool,
    /// `--allow-disposable`: without it, disposable mode is refused whatever the tool call asks.
    pub allow_disposable: bool,
    /// The redactor the server's log writer shares: every scan adds the secrets it learns to
    /// it, so the log never prints one (issue 16, rule 5).
    pub log_redactor: LogRedactor,
}

/// A shared [`Redactor`] that never prints what it holds.
#[derive(Clone, Default)]
pub struct LogRedactor(pub Arc<Redactor>);

impl std::fmt::Debug for LogRedactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogRedactor")
    }
}

#[derive(Clone)]
pub struct Server {
    store: Arc<Mutex<Store>>,
    opts: Options,
    #[allow(dead_code)] // read by the `tool_handler` macro
    tool_router: ToolRouter<Server>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("opts", &self.opts).finish()
    }
}

fn structured<T: Serialize>(value: &T, text: String) -> CallToolResult {
    let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
    r.structured_content = serde_json::to_value(value).ok();
    r
}

fn refused(text: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text.into())])
}

fn store_error(e: StoreError) -> CallToolResult {
    refused(e.to_string())
}

fn terminal(report: &Report, redactor: &Redactor) -> String {
    let opts = RenderOptions {
        color: false,
        verbose: false,
        spec_file: None,
        rules: catalogue::rules(),
    };
    render(report, Format::Terminal, &opts, redactor)
}

fn headline(r: &ScanResult) -> String {
    let score = match (r.score, &r.grade) {
        (Some(s), Some(g)) => format!("score {s} ({g})"),
        _ => "no score".to_string(),
    };
    format!(
        "scan {} of {} ({}): {score}, {} findings\n",
        r.scan_id,
        r.target,
        r.status,
        r.findings.len()
    )
}

/// A `scan_api` call as the same `scan` flags would be resolved: its `config` file (or, as
/// for the CLI, the one `MIDDLEBRICK_CONFIG` names), then its arguments. No SSRF callback
/// option is ever set here (nor read from a config file): a scan started through MCP binds at
/// most the default loopback listener of injection.ssrf.
fn resolve(input: &ScanApiInput) -> Result<ScanConfig, String> {
    let flags = Flags {
        url: input.url.clone(),
        spec: input.spec.clone(),
        mode: input.mode.map(ModeInput::mode),
        // As `--checks a,b`: each item may itself be a comma-separated list.
        checks: input
            .checks
            .iter()
            .flatten()
            .flat_map(|c| c.split(','))
            .map(str::to_string)
            .collect(),
        ..Flags::default()
    };
    let path = input
        .config
        .clone()
        .or_else(|| std::env::var("MIDDLEBRICK_CONFIG").ok());
    let file = match path {
        Some(p) => config::read_file(std::path::Path::new(&p)).map_err(|e| e.to_string())?,
        None => FileConfig::default(),
    };
    config::resolve(&flags, file).map_err(|e| e.to_string())
}

/// Engine events become MCP progress notifications (when the client asked for them with a
/// progress token); events arrive from the scan's task, so a task forwards them in order.
fn progress_sink(
    meta: &RequestMetaObject,
    peer: Peer<RoleServer>,
) -> Box<dyn FnMut(Event) + Send + 'static> {
    let Some(token) = meta.get_progress_token() else {
        return Box::new(|_| {});
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Option<f64>, String)>();
    tokio::spawn(async move {
        let mut step = 0.0;
        while let Some((total, message)) = rx.recv().await {
            step += 1.0;
            let mut p = ProgressNotificationParam::new(token.clone(), step).with_message(message);
            if let Some(t) = total {
                p = p.with_total(t);
            }
            let _ = peer.notify_progress(p).await;
        }
    });
    Box::new(move |e: Event| {
        let msg = match e {
            Event::Phase(p) => Some((None, p.label().to_string())),
            Event::Cancelled => Some((None, "cancelled".to_string())),
            Event::Operations { count, source } => {
                Some((None, format!("{count} operations from {source}")))
            }
            Event::Progress { done, total } => Some((None, format!("checks {done}/{total}"))),
            Event::Finding {
                severity,
                title,
                location,
            } => Some((None, format!("finding: {severity} {title} at {location}"))),
            Event::Diagnostic(_) => None,
        };
        if let Some(m) = msg {
            let _ = tx.send(m);
        }
    })
}

#[tool_router]
impl Server {
    pub fn new(store: Store, opts: Options) -> Server {
        Server {
            store: Arc::new(Mutex::new(store)),
            opts,
            tool_router: Self::tool_router(),
        }
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[tool(
        description = "Scan a running API for security flaws (BOLA, injection, missing auth, CORS, ...). Only loopback and private hosts unless the server allows more. Returns score, grade, findings and a scan_id for get_scan.",
        output_schema = schema_for_output::<ScanResult>()
    )]
    async fn scan_api(
        &self,
        Parameters(input): Parameters<ScanApiInput>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
        cancel: CancellationToken,
    ) -> Result<CallToolResult, ErrorData> {
        let cfg = match resolve(&input) {
            Ok(c) => c,
            Err(e) => return Ok(refused(e)),
        };
        if let Err(why) = self.opts.allow.check(&cfg) {
            return Ok(refused(why));
        }
        if cfg.mode == Mode::Disposable && !self.opts.allow_disposable {
            return Ok(refused(
                "refused: disposable mode writes to any object, the identities' own data \
                 included, and needs the server to be started with --allow-disposable; nothing \
                 was sent",
            ));
        }
        if cfg.mode == Mode::Active && !self.opts.allow_active {
            return Ok(refused(
                "refused: active mode sends state-changing requests and needs the server to be \
                 started with --allow-active; nothing was sent",
            ));
        }
        let id = match self.db().start(&record::new_scan(&cfg)) {
            Ok(id) => id,
            Err(e) => return Ok(store_error(e)),
        };
        let sink = progress_sink(&meta, peer);
        let redactor = self.opts.log_redactor.0.clone();
        let scan = middlebrick_core::scan::run_config(cfg, cancel.child_token(), sink, redactor);
        let out = match scan.await {
            Ok(out) => out,
            Err(e) => {
                let _ = self.db().fail(id, &e.to_string());
                return Ok(refused(format!("scan {id} failed: {e}")));
            }
        };
        let json = out.report_json();
        let summary = {
            let mut db = self.db();
            db.finish(id, &out.report, &json, out.status)
                .and_then(|()| db.get(id))
        };
        let summary = match summary {
            Ok(s) => s,
            Err(e) => return Ok(store_error(e)),
        };
        let result = ScanResult::new(&summary, Some(&out.report));
        let text = headline(&result) + &terminal(&out.report, &out.redactor);
        Ok(structured(&result, text))
    }

    #[tool(
        description = "A recorded scan by id: status, score, grade and findings.",
        output_schema = schema_for_output::<ScanResult>()
    )]
    async fn get_scan(
        &self,
        Parameters(input): Parameters<GetScanInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let (summary, report) = {
            let db = self.db();
            match db
                .get(input.scan_id)
                .and_then(|s| Ok((s, db.report(input.scan_id)?)))
            {
                Ok(x) => x,
                Err(e) => return Ok(store_error(e)),
            }
        };
        let result = ScanResult::new(&summary, report.as_ref());
        let mut text = headline(&result);
        if let Some(r) = &report {
            text += &terminal(r, &Redactor::new());
        }
        Ok(structured(&result, text))
    }

    #[tool(
        description = "Recorded scans, newest first.",
        output_schema = schema_for_output::<ScanList>()
    )]
    async fn list_scans(
        &self,
        Parameters(input): Parameters<ListScansInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let filter = Filter {
            target: input.target,
            limit: input.limit.unwrap_or(20).min(500),
            offset: input.offset.unwrap_or(0),
        };
        let rows = match self.db().list(&filter) {
            Ok(rows) => rows,
            Err(e) => return Ok(store_error(e)),
        };
        let list = ScanList {
            scans: rows.iter().map(ScanRow::from).collect(),
        };
        let mut text = String::new();
        for r in &list.scans {
            text += &format!(
                "{:>5}  {}  {:<28} {:<12} {}\n",
                r.scan_id,
                r.started_at,
                r.target,
                r.status,
                r.grade.as_deref().unwrap_or("-")
            );
        }
        if text.is_empty() {
            text = "no scans recorded\n".into();
        }
        Ok(structured(&list, text))
    }

    #[tool(
        description = "The check catalogue: id, title, severity, kind, CWE and OWASP API Top 10 mappings.",
        output_schema = schema_for_output::<CheckList>()
    )]
    async fn list_checks(&self) -> Result<CallToolResult, ErrorData> {
        let checks: Vec<CheckOut> = CHECKS
            .iter()
            .map(|c| {
                let m = c.meta();
                CheckOut {
                    id: m.id.to_string(),
                    title: m.title.to_string(),
                    severity: m.severity.as_str().to_string(),
                    kind: catalogue::kind_name(m.kind),
                    cwe: m.cwe.to_vec(),
                    owasp: m.owasp.iter().map(|o| o.code().to_string()).collect(),
                }
            })
            .collect();
        let text = checks
            .iter()
            .map(|c| format!("{:<32} {:<8} {}\n", c.id, c.severity, c.title))
            .collect();
        Ok(structured(&CheckList { checks }, text))
    }

    #[tool(
        description = "Explain a check or a finding (by its id): what it means and how to fix it for the given stack.",
        output_schema = schema_for_output::<Explanation>()
    )]
    async fn explain_finding(
        &self,
        Parameters(input): Parameters<ExplainInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let check = match input.id.parse::<CheckId>() {
            Ok(c) => c,
            Err(_) => match self.db().check_of_finding(&input.id) {
                Ok(Some(c)) => match c.parse::<CheckId>() {
                    Ok(c) => c,
                    Err(e) => return Ok(refused(e)),
                },
                Ok(None) => {
                    return Ok(refused(format!(
                        "{} is neither a check id (see list_checks) nor a recorded finding id",
                        input.id
                    )))
                }
                Err(e) => return Ok(store_error(e)),
            },
        };
        let mut stack = Vec::new();
        for t in input.stack.unwrap_or_default() {
            match t.parse::<Tech>() {
                Ok(t) => stack.push(t),
                Err(e) => return Ok(refused(e)),
            }
        }
        let text = middlebrick_checks::explain(check, &stack);
        let out = Explanation {
            check: check.to_string(),
            text: text.clone(),
        };
        Ok(structured(&out, text))
    }

    #[tool(
        description = "Compare two recorded scans: findings new in the later one, fixed since the earlier one.",
        output_schema = schema_for_output::<DiffResult>()
    )]
    async fn diff_scans(
        &self,
        Parameters(input): Parameters<DiffInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let load = |id: ScanId| -> Result<(ScanRef, Report), String> {
            let db = self.db();
            let s = db.get(id).map_err(|e| e.to_string())?;
            let r = db
                .report(id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("scan {id} recorded no report (killed or failed)"))?;
            Ok((
                ScanRef {
                    scan_id: id,
                    score: s.score,
                    grade: s.grade,
                },
                r,
            ))
        };
        let ((old_ref, old), (new_ref, new)) = match (load(input.old), load(input.new)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return Ok(refused(e)),
        };
        // Fixed only where the new scan looked again (`Report::not_retested`); a finding whose
        // severity rose counts as unchanged here, as it always has for this tool.
        let d = middlebrick_core::diff::compare(&old, &new);
        let out = |v: &[&middlebrick_model::Finding]| -> Vec<FindingOut> {
            v.iter().map(|f| FindingOut::from(*f)).collect()
        };
        let d = DiffResult {
            old: old_ref,
            new: new_ref,
            new_findings: out(&d.new),
            fixed_findings: out(&d.fixed),
            not_retested_findings: d
                .not_retested
                .iter()
                .map(|(f, _)| FindingOut::from(*f))
                .collect(),
            unchanged: d.unchanged.len() + d.regressed.len(),
        };
        let mut text = format!(
            "scan {} -> {}: {} new, {} fixed, {} not re-tested, {} unchanged\n",
            input.old,
            input.new,
            d.new_findings.len(),
            d.fixed_findings.len(),
            d.not_retested_findings.len(),
            d.unchanged
        );
        for (label, list) in [
            ("new", &d.new_findings),
            ("fixed", &d.fixed_findings),
            ("not re-tested", &d.not_retested_findings),
        ] {
            for f in list {
                text += &format!(
                    "  {label:<6} {:<8} {} {}\n",
                    f.severity, f.location, f.title
                );
            }
        }
        Ok(structured(&d, text))
    }
}

#[tool_handler]
impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "middlebrick",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "middlebrick scans a running API (usually the dev server you are working on) \
                 and proves each finding with the requests that show it. Use scan_api, then \
                 explain_finding for remediation, and diff_scans after a fix.",
            )
    }
}
