//! Running a scan: the phases in order, progress events, cancellation, and the report.

use crate::config::{IdentityConfig, LoginConfig, ScanConfig, SpecSource};
use crate::discover;
use crate::error::EngineError;
use crate::events::{Event, Phase};
use crate::identity::{Identities, Identity};
use crate::plan::{enabled_checks, plan};
use crate::probe::{path_param_count, primary_identity, EngineProbe};
use crate::score::score;
use futures::stream::{self, StreamExt};
use middlebrick_checks::{Outcome, Probe, RunCtx, RunOrder, Scope};
use middlebrick_http::{Outgoing, Transport, TransportConfig};
use middlebrick_model::{
    CheckId, CheckKind, Coverage, Diagnostic, Finding, IdentityRun, Inventory, Mode, Redactor,
    Report, SpecVersion, ToolInfo, ANONYMOUS, REPORT_SCHEMA_VERSION,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

/// Specs can be large (the Twilio 2010 API is 1.9 MB); the spec fetch gets its own cap.
const SPEC_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Evidence bodies kept in memory per exchange; the report writers cut further.
const EVIDENCE_BODY_CAP: usize = 16 * 1024;
const EVIDENCE_EXCHANGES_CAP: usize = 6;

pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// Runs one scan-wide check.
async fn run_api_check(
    check: &'static dyn middlebrick_checks::Check,
    probe: Arc<EngineProbe>,
    inventory: Arc<Inventory>,
) -> (CheckId, Outcome) {
    let ctx = RunCtx {
        probe: probe.as_ref(),
        inventory: &inventory,
        op: None,
    };
    let id = check.meta().id;
    let started = Instant::now();
    let outcome = crate::ledger::CURRENT_CHECK
        .scope(id, check.run(&ctx))
        .await;
    trace_run(id, None, started);
    (id, outcome)
}

/// One line per check run, at debug level under `middlebrick_engine::timing`: the check, the
/// operation (`-` for a scan-wide run) and its wall time, for finding a scan's critical path
/// (`bench/critical-path.py`). Nothing is formatted unless the trace is on.
fn trace_run(id: CheckId, op: Option<&middlebrick_model::Operation>, started: Instant) {
    tracing::debug!(
        target: "middlebrick_engine::timing",
        check = id.as_str(),
        operation = op.map_or_else(|| "-".to_string(), middlebrick_model::Operation::key),
        ms = started.elapsed().as_millis() as u64,
        "check run"
    );
}

/// Lets a front end stop a running scan: cancelling `cancel` stops the transport (requests in
/// flight end at once, later ones are not sent), the check rounds stop taking work, and the
/// scan returns the report of what it found so far, marked incomplete with
/// `coverage.stopped = "interrupted"` (cancelled before the operations were known, a report
/// with no operations, marked the same way).
#[derive(Debug, Clone, Default)]
pub struct ScanHandle {
    pub cancel: CancellationToken,
}

/// What a scan produced: the report (already redacted) and the redactor every later sink
/// must also apply.
#[derive(Debug)]
pub struct ScanOutput {
    pub report: Report,
    pub redactor: Arc<Redactor>,
}

fn transport(cfg: &TransportConfig) -> Result<Transport, EngineError> {
    Transport::new(cfg.clone()).map_err(|e| EngineError::Transport(e.to_string()))
}

/// The transport for the spec and discovery: a larger body cap (specs can be megabytes) and
/// the spec URL's host in scope when the user named one.
fn spec_transport(cfg: &ScanConfig) -> Result<Transport, EngineError> {
    let mut tc = cfg.transport.clone();
    tc.max_response_bytes = SPEC_MAX_BYTES;
    if let SpecSource::Url(url) = &cfg.spec {
        if let Some(host) = url.host_str() {
            tc.allowed_hosts.push(match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_string(),
            });
        }
    }
    transport(&tc)
}

/// Loads the operation inventory as the configuration says: a file, a URL, discovery, or a
/// crawl. Returns the inventory, where it came from, and how many requests that took.
pub async fn load_inventory(
    cfg: &ScanConfig,
    allow_crawl: bool,
) -> Result<(Inventory, String, u64), EngineError> {
    let t = spec_transport(cfg)?;
    let (inv, source) = load_with(cfg, &t, allow_crawl).await?;
    Ok((inv, source, t.requests_sent()))
}

async fn load_with(
    cfg: &ScanConfig,
    t: &Transport,
    allow_crawl: bool,
) -> Result<(Inventory, String), EngineError> {
    match &cfg.spec {
        SpecSource::File(path) => {
            let inv = middlebrick_spec::load_path(path).map_err(|e| EngineError::Spec {
                source_name: path.display().to_string(),
                message: e.to_string(),
            })?;
            Ok((inv, path.display().to_string()))
        }
        SpecSource::Text { name, text } => {
            let inv = middlebrick_spec::load_bytes(text.as_bytes(), name).map_err(|e| {
                EngineError::Spec {
                    source_name: name.clone(),
                    message: e.to_string(),
                }
            })?;
            Ok((inv, name.clone()))
        }
        SpecSource::Url(url) => {
            let spec_error = |message: String| EngineError::Spec {
                source_name: url.to_string(),
                message,
            };
            let ex = t
                .send(discover::get(url.clone()))
                .await
                .map_err(|e| spec_error(e.to_string()))?;
            let resp = ex
                .response
                .ok_or_else(|| spec_error(ex.error.unwrap_or_default()))?;
            if !resp.is_success() {
                return Err(spec_error(format!("HTTP {}", resp.status)));
            }
            let inv = middlebrick_spec::load_bytes(resp.body.text.as_bytes(), url.as_str())
                .map_err(|e| spec_error(e.to_string()))?;
            Ok((inv, url.to_string()))
        }
        SpecSource::Discover => {
            let (found, mut diagnostics) = discover::find_spec(t, &cfg.target).await;
            if let Some((mut inv, source)) = found {
                inv.diagnostics.append(&mut diagnostics);
                return Ok((inv, source));
            }
            if !allow_crawl {
                return Err(EngineError::NoOperations(
                    "no OpenAPI description found at the usual places; pass --spec".into(),
                ));
            }
            let mut inv = discover::crawl(t, &cfg.target, cfg.crawl_limit).await;
            inv.diagnostics.append(&mut diagnostics);
            Ok((inv, "crawl".into()))
        }
    }
}

/// Runs one scan: the engine's entry point for every front end.
///
/// **What a front end passes.** A validated [`ScanConfig`] (target URL, [`SpecSource`],
/// identities, [`Mode`], check selection, transport limits: concurrency, rate, timeouts,
/// request budget, maximum duration), an [`EventSink`] that receives [`Event`]s (each
/// [`crate::Phase`] as it starts, the inventory size, per-operation progress, findings,
/// diagnostics) and a [`ScanHandle`] whose token cancels the scan.
///
/// **What it gets back.** A [`ScanOutput`]: the [`Report`] (findings deduplicated, scored,
/// redacted; `incomplete` and `coverage.stopped` say whether and why it stopped early:
/// budget, time limit, circuit breaker or cancellation) and the redactor every later sink
/// must also apply. `Err` only when there is nothing to report: the target did not answer,
/// the spec could not be read, or it lists no operations. A failure
/// on one operation is a diagnostic in the report, never an error here.
///
/// **How it cancels.** `handle.cancel.cancel()` from any task or thread: the transport ends
/// in-flight requests with a cancellation error, no phase sends anything more, and the scan
/// returns within the time its phases take to unwind (no request waits on the network).
pub async fn scan(
    cfg: ScanConfig,
    events: EventSink,
    handle: ScanHandle,
) -> Result<ScanOutput, EngineError> {
    scan_with(cfg, events, handle, Arc::new(Redactor::new())).await
}

/// [`scan`] with the redactor the caller's other sinks (its log writer) already share, so a
/// secret the scan learns is redacted there too from the moment it is learnt.
pub async fn scan_with(
    cfg: ScanConfig,
    events: EventSink,
    handle: ScanHandle,
    redactor: Arc<Redactor>,
) -> Result<ScanOutput, EngineError> {
    let started = Instant::now();
    let events: EventSink = Arc::new(move |e: Event| {
        if let Event::Phase(p) = &e {
            tracing::debug!(target: "middlebrick_engine::timing", phase = ?p, "phase");
        }
        events(e)
    });
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let cfg = Arc::new(cfg);
    for id in &cfg.identities {
        for s in id.secrets() {
            redactor.add(&s);
        }
        if let Some(l) = &id.login {
            redactor.add_basic(&l.username, &l.password);
        }
    }
    // Discovery first, on its own transport (specs need a larger body cap); the main
    // transport then gets what is left of the request budget and of the time limit, so both
    // stay one cap for the whole scan.
    let spec_t = Arc::new(spec_transport(&cfg)?);
    let _spec_watch = stop_on_cancel(&handle, &spec_t, None);
    events(Event::Phase(Phase::Discovery));
    // Cancelled before the operations are known, the scan still ends with a report: no
    // operations, marked interrupted, so every front end handles one outcome.
    let cancelled = || handle.cancel.is_cancelled();
    let nothing = || {
        (
            Inventory::empty(SpecVersion::Crawled),
            "nothing (cancelled during discovery)".to_string(),
        )
    };
    let first = match spec_t.send(discover::get(cfg.target.clone())).await {
        Ok(ex) if ex.response.is_some() => Some(ex),
        _ if cancelled() => None,
        Ok(ex) => {
            return Err(EngineError::Unreachable {
                url: cfg.target.to_string(),
                reason: ex.error.unwrap_or_else(|| "no answer".into()),
            })
        }
        Err(e) => {
            return Err(EngineError::Unreachable {
                url: cfg.target.to_string(),
                reason: e.to_string(),
            })
        }
    };
    let (mut inventory, source) = match &first {
        None => nothing(),
        Some(_) => match load_with(&cfg, &spec_t, true).await {
            Ok(found) => found,
            Err(_) if cancelled() => nothing(),
            Err(e) => return Err(e),
        },
    };
    // GraphQL endpoints beside (or instead of) the REST API, whatever the spec said.
    let (graphql_pending, graphql_notes) = crate::graphql::discover(
        &spec_t,
        &cfg.target,
        &mut inventory,
        first.as_ref(),
        cfg.mode != Mode::Passive,
        cfg.mode >= Mode::Active,
    )
    .await;
    inventory.diagnostics.extend(graphql_notes);
    let spec_requests = spec_t.requests_sent();
    let mut main_cfg = cfg.transport.clone();
    main_cfg.budget = main_cfg.budget.map(|b| b.saturating_sub(spec_requests));
    main_cfg.max_duration = main_cfg
        .max_duration
        .map(|d| d.saturating_sub(started.elapsed()));
    let transport = Arc::new(transport(&main_cfg)?);
    let _watch = stop_on_cancel(&handle, &transport, Some(events.clone()));
    let mut diagnostics: Vec<Diagnostic> = std::mem::take(&mut inventory.diagnostics);
    // An endpoint whose schema needs a sign-in is read after it (`graphql::read_pending`).
    if inventory.operations.is_empty() && graphql_pending.is_empty() && !cancelled() {
        return Err(EngineError::NoOperations(format!(
            "{source} lists no operations"
        )));
    }
    events(Event::Operations {
        count: inventory.operations.len(),
        source: source.clone(),
    });
    let mut inventory = Arc::new(inventory);
    let base_choice = if inventory.version == SpecVersion::Crawled {
        crate::base::BaseChoice {
            base: cfg.target.clone(),
            not_found: None,
            diagnostics: Vec::new(),
        }
    } else {
        let spec_url = Url::parse(&source).ok();
        crate::base::choose(
            &transport,
            &cfg.target,
            &inventory,
            spec_url.as_ref(),
            cfg.base_path.as_deref(),
        )
        .await
    };
    for d in &base_choice.diagnostics {
        events(Event::Diagnostic(d.clone()));
    }
    diagnostics.extend(base_choice.diagnostics);
    let base = base_choice.base;

    events(Event::Phase(Phase::SignIn));
    let mut identities = Identities::default();
    let mut identity_configs = cfg.identities.clone();
    let mut registered_names: Vec<String> = Vec::new();
    if identity_configs.is_empty() && cfg.mode >= Mode::Active {
        match register_identities(&transport, &base, &inventory, &redactor).await {
            Ok((configs, note)) => {
                registered_names = configs.iter().map(|c| c.name.clone()).collect();
                events(Event::Diagnostic(note.clone()));
                diagnostics.push(note);
                identity_configs = configs;
            }
            Err(Some(d)) => {
                events(Event::Diagnostic(d.clone()));
                diagnostics.push(d);
            }
            Err(None) => {}
        }
    }
    let sign_in_memo = Arc::new(crate::signin::SignInMemo::default());
    let env = crate::signin::SignInEnv {
        transport: &transport,
        base: &base,
        inventory: &inventory,
        redactor: &redactor,
        memo: &sign_in_memo,
    };
    let mut identity_runs = Vec::new();
    for ic in &identity_configs {
        let identity = Identity::new(ic.clone());
        if identity.can_sign_in() && cfg.mode == Mode::Passive {
            // Passive sends GET, HEAD and OPTIONS only: a sign-in is a POST (issue 16).
            let d = Diagnostic::warning(
                "identity.passive-no-sign-in",
                format!(
                    "identity `{}` signs in with a password, which is a POST: passive mode sends \
                     none, so it is left out and its reads are not made",
                    ic.name
                ),
            )
            .hint("use --mode safe to sign in, or give the identity's token as a header");
            events(Event::Diagnostic(d.clone()));
            diagnostics.push(d);
            continue;
        }
        if identity.can_sign_in() {
            if let Err(d) = identity.sign_in(&env).await {
                identity_runs.push(IdentityRun {
                    name: ic.name.clone(),
                    signed_in: false,
                    reason: Some(d.message.clone()),
                });
                events(Event::Diagnostic(d.clone()));
                diagnostics.push(d);
                continue;
            }
        }
        identity_runs.push(IdentityRun {
            name: ic.name.clone(),
            signed_in: true,
            reason: None,
        });
        identities.list.push(Arc::new(identity));
    }
    for note in sign_in_memo.take_notes() {
        events(Event::Diagnostic(note.clone()));
        diagnostics.push(note);
    }
    if !graphql_pending.is_empty() {
        // The second GraphQL pass: schemas refused to anonymous callers, read as each
        // identity now signed in, else rebuilt from suggestions.
        let whos: Vec<crate::graphql::Who> = identities
            .list
            .iter()
            .map(|i| crate::graphql::Who::of(i))
            .collect();
        let notes = crate::graphql::read_pending(
            &transport,
            Arc::make_mut(&mut inventory),
            graphql_pending,
            &whos,
            cfg.mode != Mode::Passive,
        )
        .await;
        for note in notes {
            events(Event::Diagnostic(note.clone()));
            diagnostics.push(note);
        }
    }
    let identities = Arc::new(identities);
    let (callback_env, callback_notes) = crate::callback::prepare(&cfg).await;
    for note in callback_notes {
        events(Event::Diagnostic(note.clone()));
        diagnostics.push(note);
    }
    let probe = Arc::new(
        EngineProbe::new(
            transport.clone(),
            base,
            cfg.clone(),
            identities.clone(),
            inventory.clone(),
            redactor.clone(),
        )
        .with_sign_in_memo(sign_in_memo)
        .with_callback(callback_env),
    );

    probe.set_not_found(base_choice.not_found);
    probe.mark_registered(registered_names.iter().map(String::as_str));
    events(Event::Phase(Phase::SelfKnowledge));
    crate::selfknow::learn(&probe, &inventory, &identities).await;
    events(Event::Phase(Phase::WarmUp));
    warm_up(&probe, &inventory, &identities, cfg.transport.concurrency).await;
    diagnostics.extend(crate::selfknow::report(&probe.selves, &identities));

    probe.supply_objects(&primary_identity(&identities)).await;
    let mut plan_cfg = (*cfg).clone();
    plan_cfg.identities = identity_configs;
    plan_cfg
        .identities
        .retain(|i| identities.get(&i.name).is_some());
    let the_plan = plan(&inventory, &plan_cfg);
    let (checks, left_out) = enabled_checks(&cfg);
    let mut executed = crate::coverage::Executed::new();
    let total = the_plan.entries.len();
    let mut done = 0;
    let mut outcomes: Vec<Outcome> = Vec::new();
    let order_of = |id: CheckId| middlebrick_checks::by_id(id).map(|c| c.order());
    let mut report_outcome = |outcome: Outcome, ran: (CheckId, Option<usize>)| {
        executed.insert(ran);
        let per_op = ran.1.is_some();
        if per_op {
            done += 1;
        }
        for f in &outcome.findings {
            events(Event::Finding {
                severity: f.severity,
                title: f.title.clone(),
                location: f.location(),
            });
        }
        if per_op {
            events(Event::Progress { done, total });
        }
        outcomes.push(outcome);
    };
    for order in [RunOrder::First, RunOrder::Normal, RunOrder::Last] {
        events(Event::Phase(Phase::Checks(order)));
        // Checks on one operation run one after another: several of them write the same
        // object (the identity's own settings, say) and judge it by reading it back, which a
        // concurrent write would spoil. On a read that nothing suspects of changing state
        // (`together`) no check writes or reads back, so its checks run side by side: a slow
        // read no longer sets the round's floor with the sum of its checks' requests.
        // Different operations run concurrently, except in the first and the last round (few
        // checks, on sign-in operations), which go one by one.
        let entries = the_plan
            .entries
            .iter()
            .filter(|e| order_of(e.check) == Some(order));
        let groups = if order == RunOrder::Normal {
            schedule(entries, &inventory.operations, &probe.baseline_times())
        } else {
            schedule(entries, &[], &HashMap::new())
        };
        let parallel = if order == RunOrder::Normal {
            cfg.transport.concurrency.max(1) * 2
        } else {
            1
        };
        let mut runs = stream::iter(groups.into_iter().map(|(op_index, ids)| {
            let probe = probe.clone();
            let inventory = inventory.clone();
            let cancel = handle.cancel.clone();
            async move {
                let mut outcomes = Vec::new();
                for id in ids {
                    if cancel.is_cancelled() {
                        break;
                    }
                    let Some(check) = middlebrick_checks::by_id(id) else {
                        continue;
                    };
                    let ctx = RunCtx {
                        probe: probe.as_ref(),
                        inventory: &inventory,
                        op: inventory.operations.get(op_index),
                    };
                    let run = check.run(&ctx);
                    let started = Instant::now();
                    let outcome = crate::ledger::CURRENT_CHECK.scope(id, run).await;
                    trace_run(id, ctx.op, started);
                    outcomes.push((id, op_index, outcome));
                }
                outcomes
            }
        }))
        .buffer_unordered(parallel);
        while let Some(group) = runs.next().await {
            for (id, op_index, outcome) in group {
                report_outcome(outcome, (id, Some(op_index)));
            }
            if handle.cancel.is_cancelled() {
                break;
            }
        }
        // Scan-wide checks: those that send only reads run together (the transport's
        // concurrency and rate bound them; timing checks send their timed requests alone),
        // then those that change state one by one, then the passive ones, which judge the
        // exchanges the others made.
        let api: Vec<&'static dyn middlebrick_checks::Check> = checks
            .iter()
            .copied()
            .filter(|c| c.scope() == Scope::Api && c.order() == order)
            .filter(|c| c.not_applicable(&inventory).is_none())
            .collect();
        let reads: Vec<&'static dyn middlebrick_checks::Check> = api
            .iter()
            .copied()
            .filter(|c| c.meta().kind == CheckKind::SafeActive)
            .collect();
        let parallel = if order == RunOrder::Normal {
            cfg.transport.concurrency.max(1)
        } else {
            1
        };
        let mut together = stream::iter(
            reads
                .into_iter()
                .map(|c| run_api_check(c, probe.clone(), inventory.clone()))
                .collect::<Vec<_>>(),
        )
        .buffered(parallel);
        while let Some((id, outcome)) = together.next().await {
            report_outcome(outcome, (id, None));
        }
        drop(together);
        let mut one_by_one = api.clone();
        one_by_one.retain(|c| c.meta().kind != CheckKind::SafeActive);
        // State-changing ones first (false sorts first), the passive ones last; stable.
        one_by_one.sort_by_key(|c| c.meta().kind == CheckKind::Passive);
        for check in one_by_one {
            if handle.cancel.is_cancelled() {
                break;
            }
            let (id, outcome) = run_api_check(check, probe.clone(), inventory.clone()).await;
            report_outcome(outcome, (id, None));
        }
    }

    events(Event::Phase(Phase::Scoring));
    let mut findings = Vec::new();
    for o in outcomes {
        findings.extend(o.findings);
        diagnostics.extend(o.diagnostics);
    }
    diagnostics.extend(probe.take_sign_in_notes());
    let (untested, refused) = probe.ledger.untested();
    if refused > 0 {
        diagnostics.push(
            Diagnostic::info(
                "scan.untested",
                format!(
                    "{refused} state-changing requests were not sent: they would have changed \
                     objects or accounts this scan did not create ({mode} mode); the report's \
                     coverage names the checks and operations",
                    mode = cfg.mode
                ),
            )
            .hint("on a throw-away environment, --mode disposable tests them"),
        );
    }
    diagnostics.extend(crate::health::diagnostics(&transport.outages()));
    let mut findings = dedup(findings);
    for f in findings.iter_mut() {
        // Redaction before truncation: a cut must never leave a start of a secret behind.
        redact_finding(f, &redactor);
        trim_evidence(f);
    }
    let stopped = transport_stop_reason(&transport, &main_cfg, &cfg, started, &handle);
    if let Some(why) = &stopped {
        diagnostics.push(Diagnostic::error(
            "scan.incomplete",
            format!("the scan stopped early: {why}; findings so far are reported"),
        ));
    }
    let (score_value, grade) = score(&findings);
    // Counted over the inventory: a crawl's warm-up can reach paths that are no operation.
    let unreached = probe.unreached(&inventory);
    let mut check_runs =
        crate::coverage::records(&inventory, &plan_cfg, &the_plan, &left_out, &executed);
    crate::coverage::add_refusals(&mut check_runs, &untested);
    let mut report = Report {
        schema_version: REPORT_SCHEMA_VERSION.to_string(),
        tool: ToolInfo {
            name: "middlebrick".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        target: cfg.target.to_string(),
        mode: cfg.mode,
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        requests_sent: transport.requests_sent() + spec_requests,
        score: score_value,
        grade,
        coverage: Coverage {
            spec: inventory.version,
            source,
            operations: inventory.operations.len(),
            operations_reached: inventory.operations.len() - unreached.len(),
            partial: inventory.version == SpecVersion::Crawled,
            base_path: probe.base_path(),
            unreached,
            not_reached: probe.not_reached(&inventory),
            checks: check_runs,
            identities: identity_runs,
            stopped: stopped.clone(),
            rates: transport.rates(),
        },
        identities: identities.list.iter().map(|i| i.name.clone()).collect(),
        findings: std::mem::take(&mut findings),
        diagnostics,
        incomplete: stopped.is_some(),
        stack: None,
    };
    apply_stack(&mut report, probe.observed());
    redact_report(&mut report, &redactor);
    Ok(ScanOutput { report, redactor })
}

/// The per-operation runs of a round, in the order they start: each operation's checks in plan
/// order, as one run, or one run per check where they may run side by side ([`together`]).
/// With `ops` given (the main round), runs are split so and the longest start first, as
/// estimated from what the plan sends and how long the operation's valid request took
/// (`baseline_ms`, by operation key): a slow read started late would end the round alone.
/// Linear in the entries, but for the sort.
fn schedule<'a>(
    entries: impl Iterator<Item = &'a crate::plan::PlanEntry>,
    ops: &[middlebrick_model::Operation],
    baseline_ms: &HashMap<String, u64>,
) -> Vec<(usize, Vec<CheckId>)> {
    let mut groups: Vec<(usize, Vec<CheckId>, usize)> = Vec::new();
    let mut index: HashMap<usize, usize> = HashMap::new();
    for e in entries {
        let i = *index.entry(e.operation).or_insert_with(|| {
            groups.push((e.operation, Vec::new(), 0));
            groups.len() - 1
        });
        groups[i].1.push(e.check);
        groups[i].2 += e.requests.len();
    }
    if ops.is_empty() {
        return groups.into_iter().map(|(op, ids, _)| (op, ids)).collect();
    }
    let ms = |op: usize| {
        ops.get(op)
            .and_then(|o| baseline_ms.get(&o.key()))
            .copied()
            .unwrap_or(0)
    };
    let mut runs: Vec<(u64, usize, Vec<CheckId>)> = Vec::new();
    for (op, ids, requests) in groups {
        if ops.get(op).is_some_and(|o| together(o, &ids)) {
            // Each check's share of the requests is not kept per run: the operation's
            // slowness alone orders its runs among the others.
            let cost = requests as u64 * ms(op);
            runs.extend(ids.into_iter().map(|id| (cost, op, vec![id])));
        } else {
            runs.push((requests as u64 * ms(op), op, ids));
        }
    }
    runs.sort_by_key(|(cost, _, _)| std::cmp::Reverse(*cost));
    runs.into_iter().map(|(_, op, ids)| (op, ids)).collect()
}

/// Whether the checks planned on `op` may run side by side: `op` is a read the spec and its
/// name leave unsuspected of changing state, and none of `checks` changes state (a check
/// that does, on a read, is there to see whether the read changes something, and judges it by
/// reading back).
fn together(op: &middlebrick_model::Operation, checks: &[CheckId]) -> bool {
    op.is_read()
        && !middlebrick_model::danger::is_dangerous_read(op)
        && checks.iter().all(|&id| {
            middlebrick_checks::by_id(id).is_some_and(|c| c.meta().kind != CheckKind::StateChanging)
        })
}

/// Cancels `t` when the scan's token is cancelled (and says so once through `events`). The
/// watcher ends with the returned guard, so a long-lived front end (the monitoring service)
/// keeps no task per finished scan.
#[must_use]
fn stop_on_cancel(
    handle: &ScanHandle,
    t: &Arc<Transport>,
    events: Option<EventSink>,
) -> tokio_util::sync::DropGuard {
    let t = t.clone();
    let token = handle.cancel.clone();
    let done = CancellationToken::new();
    let finished = done.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = token.cancelled() => {
                t.cancel();
                if let Some(events) = events {
                    events(Event::Cancelled);
                }
            }
            () = finished.cancelled() => {}
        }
    });
    done.drop_guard()
}

/// How many accounts a scan without identities registers in active mode: two, so that the
/// checks that compare one user with another have both.
const SELF_REGISTERED: usize = 2;

/// Zero configuration in active mode: registers two fresh accounts (random names, strong random
/// passwords) through the API's registration operation and returns them as identities that
/// sign in by password, with a note naming the accounts (so they can be removed afterwards).
/// `Err(None)` when the API has no registration operation; `Err(Some(_))` when registering failed.
async fn register_identities(
    transport: &Transport,
    base: &Url,
    inventory: &Inventory,
    redactor: &Redactor,
) -> Result<(Vec<IdentityConfig>, Diagnostic), Option<Diagnostic>> {
    let sign_in = crate::signin::sign_in_operation(inventory, None);
    let Some(op) = crate::register::find_registration(inventory, sign_in.as_ref()) else {
        return Err(None);
    };
    let mut configs = Vec::new();
    let mut names = Vec::new();
    for n in 1..=SELF_REGISTERED {
        let username = crate::register::random_username();
        let password = crate::register::random_password();
        redactor.add(&password);
        let spec = crate::register::registration_request(op, &username, &password);
        let failed = |why: String| {
            Some(
                Diagnostic::warning(
                    "identity.register-failed",
                    format!(
                        "no identities were given and registering a test account through {} failed: {why}",
                        op.key()
                    ),
                )
                .hint("give identities with --identity or a config file"),
            )
        };
        let out =
            Outgoing::from_spec(base, &spec, Vec::new()).map_err(|e| failed(e.to_string()))?;
        let ex = transport
            .send(out)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !ex.status().is_some_and(|s| (200..300).contains(&s)) {
            return Err(failed(crate::register::why_failed(&ex, redactor)));
        }
        let name = format!("registered-{n}");
        names.push(format!("`{username}` (as {name})"));
        configs.push(IdentityConfig {
            name,
            headers: Vec::new(),
            cookies: Vec::new(),
            login: Some(LoginConfig {
                email: Some(crate::register::email_for(&username)),
                username,
                password,
                ..LoginConfig::default()
            }),
            admin: false,
        });
    }
    let note = Diagnostic::info(
        "identity.registered",
        format!(
            "no identities were given: the scan registered {} through {} and signed in as them; \
             remove them when the scan is done",
            names.join(" and "),
            op.key()
        ),
    );
    Ok((configs, note))
}

/// Fingerprints the stack from what the scan observed plus the findings' evidence, and renders
/// every finding's remediation for it.
fn apply_stack(report: &mut Report, mut exchanges: Vec<middlebrick_model::Exchange>) {
    for f in &report.findings {
        exchanges.extend(f.evidence.exchanges.iter().cloned());
    }
    let stack = middlebrick_checks::fingerprint(&exchanges);
    let techs = stack.techs();
    for f in report.findings.iter_mut() {
        if let Some(check) = middlebrick_checks::by_id(f.check) {
            f.remediation = check.meta().remediation.render(&techs);
        }
    }
    report.stack = (stack != middlebrick_model::Stack::default()).then_some(stack);
}

/// Valid requests for every read (GET operations, GraphQL queries): first those without path
/// parameters or required arguments (lists whose answers provide ids), then the rest, as each
/// identity and anonymously. An operation with
/// optional query parameters is also read without them (`EngineProbe::unfiltered_read`), so
/// that a filter from the spec's examples does not hide an identity's own objects.
async fn warm_up(
    probe: &Arc<EngineProbe>,
    inv: &Inventory,
    identities: &Identities,
    concurrency: usize,
) {
    let mut who: Vec<String> = vec![primary_identity(identities)];
    for i in &identities.list {
        if !who.contains(&i.name) {
            who.push(i.name.clone());
        }
    }
    if !who.iter().any(|w| w == ANONYMOUS) {
        who.push(ANONYMOUS.into());
    }
    // A read named for a state change (`GET /reset`) is no read: left out (`model::danger`).
    let gets: Vec<_> = inv
        .operations
        .iter()
        .filter(|o| o.is_read() && !middlebrick_model::danger::is_dangerous_read(o))
        .filter(|o| probe.config.operation_allowed(o))
        .collect();
    for stage in [0usize, 1] {
        let ops: Vec<_> = gets
            .iter()
            .filter(|o| (path_param_count(o) > 0) as usize == stage)
            .collect();
        let jobs: Vec<_> = ops
            .iter()
            .flat_map(|op| who.iter().map(move |w| (**op, w.clone())))
            .collect();
        stream::iter(jobs)
            .for_each_concurrent(concurrency.max(1), |(op, w)| {
                let probe = probe.clone();
                async move {
                    let _ = probe.baseline(op, &w).await;
                    probe.unfiltered_read(op, &w).await;
                }
            })
            .await;
        if stage == 0 {
            // Who each identity is, from the reads without path parameters, before the reads
            // whose `{userId}` it fills.
            crate::selfknow::learn_from_reads(probe, inv, identities).await;
        }
    }
}

fn transport_stop_reason(
    t: &Transport,
    limits: &TransportConfig,
    cfg: &ScanConfig,
    started: Instant,
    handle: &ScanHandle,
) -> Option<String> {
    if handle.cancel.is_cancelled() {
        return Some("interrupted".into());
    }
    // An open breaker means the target stopped answering: whatever was not sent after that
    // was not tested, so the report is partial however complete the plan looked.
    if t.circuit_open() {
        return Some(
            "the target stopped answering and did not come back; the circuit breaker opened".into(),
        );
    }
    if let (Some(left), Some(budget)) = (limits.budget, cfg.transport.budget) {
        if t.requests_sent() >= left {
            return Some(format!("the request budget of {budget} was used up"));
        }
    }
    if let Some(max) = cfg.transport.max_duration {
        if started.elapsed() >= max {
            return Some(format!(
                "the maximum scan duration of {}s was reached",
                max.as_secs()
            ));
        }
    }
    None
}

/// One finding per fingerprint: the most severe and most certain wins.
fn dedup(findings: Vec<Finding>) -> Vec<Finding> {
    let mut best: HashMap<String, Finding> = HashMap::new();
    for f in findings {
        match best.get(&f.id) {
            Some(old) if (old.severity, old.confidence) >= (f.severity, f.confidence) => {}
            _ => {
                best.insert(f.id.clone(), f);
            }
        }
    }
    let mut out: Vec<Finding> = best.into_values().collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.location().cmp(&b.location()))
            .then_with(|| a.check.cmp(&b.check))
    });
    out
}

fn redact_finding(f: &mut Finding, r: &Redactor) {
    for ex in f.evidence.exchanges.iter_mut() {
        r.redact_exchange(ex);
    }
    for c in f.evidence.curl.iter_mut() {
        r.redact_in_place(c);
    }
    for n in f.evidence.notes.iter_mut() {
        r.redact_in_place(n);
    }
    r.redact_in_place(&mut f.description);
    r.redact_in_place(&mut f.title);
    if let Some(p) = f.parameter.as_mut() {
        r.redact_in_place(p);
    }
}

fn trim_evidence(f: &mut Finding) {
    f.evidence.exchanges.truncate(EVIDENCE_EXCHANGES_CAP);
    f.evidence.curl.truncate(EVIDENCE_EXCHANGES_CAP);
    for ex in f.evidence.exchanges.iter_mut() {
        if let Some(r) = ex.response.as_mut() {
            cut(&mut r.body);
        }
        if let Some(b) = ex.request.body.as_mut() {
            cut(b);
        }
    }
}

fn cut(body: &mut middlebrick_model::BodyRecord) {
    if body.text.len() > EVIDENCE_BODY_CAP {
        let mut end = EVIDENCE_BODY_CAP;
        while !body.text.is_char_boundary(end) {
            end -= 1;
        }
        body.text.truncate(end);
        body.truncated = true;
    }
}

/// Redacts every secret the scan was given or obtained from everything the report carries.
pub fn redact_report(report: &mut Report, r: &Redactor) {
    for f in report.findings.iter_mut() {
        redact_finding(f, r);
    }
    for d in report.diagnostics.iter_mut() {
        r.redact_in_place(&mut d.message);
        if let Some(h) = d.hint.as_mut() {
            r.redact_in_place(h);
        }
    }
    if let Some(stack) = report.stack.as_mut() {
        stack.redact_with(|s| r.redact_in_place(s));
    }
    for i in report.coverage.identities.iter_mut() {
        if let Some(why) = i.reason.as_mut() {
            r.redact_in_place(why);
        }
    }
    for c in report.coverage.checks.iter_mut() {
        for s in c.skipped_on.iter_mut() {
            r.redact_in_place(&mut s.reason);
            r.redact_in_place(&mut s.operation);
        }
    }
    r.redact_in_place(&mut report.target);
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_model::{Method, Operation};

    #[test]
    fn checks_on_a_read_nothing_suspects_run_side_by_side() {
        let read = [CheckId::InjectionSql, CheckId::InfoVerboseError];
        let search = Operation::new(Method::Get, "/api/search");
        assert!(together(&search, &read));
        // A check that changes state on it (does the read change something?) keeps the order.
        let with_write = [CheckId::InjectionSql, CheckId::CsrfStateChangeOnGet];
        assert!(!together(&search, &with_write));
        // A read named for a state change, and a write, keep it too.
        let cancel = Operation::new(Method::Get, "/api/orders/{id}/cancel");
        assert!(!together(&cancel, &read));
        let create = Operation::new(Method::Post, "/api/orders");
        assert!(!together(&create, &read));
    }

    #[test]
    fn the_slowest_operation_starts_first_and_its_read_checks_run_apart() {
        use crate::plan::PlanEntry;
        use middlebrick_checks::Planned;
        let ops = vec![
            Operation::new(Method::Post, "/api/orders"),
            Operation::new(Method::Get, "/api/products"),
            Operation::new(Method::Get, "/api/suggest"),
        ];
        let planned = |n: usize| {
            vec![
                Planned {
                    method: Method::Get,
                    identity: "*",
                    purpose: "x",
                };
                n
            ]
        };
        let entry = |operation, check, n| PlanEntry {
            operation,
            check,
            requests: planned(n),
        };
        let entries = [
            entry(0, CheckId::InfoVerboseError, 4),
            entry(0, CheckId::InjectionSql, 4),
            entry(1, CheckId::InjectionSql, 8),
            entry(2, CheckId::InjectionSql, 8),
            entry(2, CheckId::InfoVerboseError, 4),
        ];
        let ms: HashMap<String, u64> = [("GET /api/products", 5), ("GET /api/suggest", 700)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let runs = schedule(entries.iter(), &ops, &ms);
        assert_eq!(
            runs,
            vec![
                (2, vec![CheckId::InjectionSql]),
                (2, vec![CheckId::InfoVerboseError]),
                (1, vec![CheckId::InjectionSql]),
                (0, vec![CheckId::InfoVerboseError, CheckId::InjectionSql]),
            ]
        );
        // Without the operations (the first and last rounds): plan order, one run each.
        let plain = schedule(entries.iter(), &[], &ms);
        assert_eq!(plain.len(), 3);
        assert_eq!(
            plain[0].1,
            vec![CheckId::InfoVerboseError, CheckId::InjectionSql]
        );
    }
}
