//! The `middlebrick` binary: glue between the command line and the engine. Parsing, config
//! layering, output routing and exit codes live here; everything else is in the library crates.

mod args;
mod audit;
mod baseline;
mod catalogue;
mod config;
mod diff;
mod docs;
mod exit;
mod gate;
mod history;
mod logs;
mod mcp;
mod output;
mod progress;
mod service;

use anyhow::{anyhow, Result};
use args::{Cli, Command, ScanArgs};
use baseline::now_rfc3339;
use clap::Parser;
use gate::Gate;
use middlebrick_core::scan::CancelToken;
use middlebrick_core::CoreError;
use middlebrick_engine::EngineError;
use middlebrick_model::{Redactor, Report};
use middlebrick_report::{Format, RenderOptions};
use std::io::IsTerminal;
use std::path::PathBuf;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    // Colour in log lines only on a terminal: a log file or pipe gets plain text.
    let log_colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // One redactor for the log and the scan: secrets are redacted in the log as they are learnt.
    let redactor = std::sync::Arc::new(Redactor::new());
    tracing_subscriber::fmt()
        .with_writer(logs::RedactingStderr(redactor.clone()))
        .with_ansi(log_colour)
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("MIDDLEBRICK_LOG"))
        .init();
    let code = match cli.command {
        Command::Checks(a) => catalogue::print(&a.format),
        Command::Scan(a) => report_errors(scan(*a, redactor)),
        Command::Audit(a) => report_errors(audit::run(a)),
        Command::Diff(a) => diff::run(&a),
        Command::History(a) => history::run(&a),
        Command::Mcp(a) => mcp::run(&a, redactor),
        Command::Serve(a) => service::serve(&a),
        Command::Worker(a) => service::worker(&a),
        Command::Key(a) => service::key(&a),
        Command::Baseline(a) => report_errors(write_baseline(&a)),
        Command::Explain(a) => explain_check(&a),
        Command::Completions(a) => docs::completions(&a.shell),
        Command::CliDocs => {
            let _ = output::stdout(&docs::markdown());
            exit::OK
        }
    };
    std::process::exit(code);
}

/// An error with the exit code it maps to.
struct Failure {
    code: i32,
    error: anyhow::Error,
}

fn usage(error: anyhow::Error) -> Failure {
    Failure {
        code: exit::USAGE,
        error,
    }
}

fn report_errors(result: Result<i32, Failure>) -> i32 {
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            f.code
        }
    }
}

/// Applies the baseline, writes every output, then judges the gate: the files exist whatever
/// the verdict, so CI can upload them from a failed job.
fn finish(
    report: &mut Report,
    gate: &Gate,
    routes: &[(Format, Option<PathBuf>)],
    opts: RenderOptions,
    redactor: &Redactor,
) -> Result<i32, Failure> {
    if let Some(b) = &gate.baseline {
        b.apply(report, baseline::today(), |r| {
            (r.score, r.grade) = middlebrick_engine::score(&r.findings);
        });
    }
    output::write_all(routes, report, &opts, redactor).map_err(|e| Failure {
        code: exit::SCAN_FAILED,
        error: e,
    })?;
    let why = gate.failures(report);
    for w in &why {
        eprintln!("gate failed: {w}");
    }
    Ok(if why.is_empty() {
        exit::OK
    } else {
        exit::GATE_FAILED
    })
}

fn write_baseline(a: &args::BaselineArgs) -> Result<i32, Failure> {
    let run = || -> Result<()> {
        if let Some(x) = &a.expires {
            baseline::parse_date(x)?;
        }
        if a.reason.trim().is_empty() {
            anyhow::bail!("--reason must say why the findings are accepted");
        }
        let text = std::fs::read_to_string(&a.report)
            .map_err(|e| anyhow!("reading {}: {e}", a.report.display()))?;
        let report: Report = serde_json::from_str(&text).map_err(|e| {
            anyhow!(
                "{} is not a middlebrick JSON report: {e}",
                a.report.display()
            )
        })?;
        let mut b = match &a.output {
            Some(p) if p.exists() => baseline::Baseline::read(p)?,
            _ => baseline::Baseline::default(),
        };
        let before = b.accept.len();
        b.extend_from(&report, &a.reason, a.expires.as_deref());
        match &a.output {
            Some(p) => {
                std::fs::write(p, b.to_toml())
                    .map_err(|e| anyhow!("writing {}: {e}", p.display()))?;
                eprintln!(
                    "wrote {} ({} new entries, {} in all)",
                    p.display(),
                    b.accept.len() - before,
                    b.accept.len()
                );
            }
            None => output::stdout(&b.to_toml())?,
        }
        Ok(())
    };
    run().map(|()| exit::OK).map_err(usage)
}

fn scan(args: ScanArgs, redactor: std::sync::Arc<Redactor>) -> Result<i32, Failure> {
    let file = match &args.config {
        Some(path) => config::read_file(path).map_err(usage)?,
        None => config::FileConfig::default(),
    };
    let cfg = config::resolve(&args, file).map_err(usage)?;
    let routes = output::routes(&args.report).map_err(usage)?;
    let gate = Gate::from_args(&args.report).map_err(usage)?;
    let accept = gate::Accept {
        failed_sign_in: args.allow_failed_sign_in,
        unreached: args.allow_unreached,
    };
    output::prepare_dir(&args.report).map_err(usage)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            code: exit::SCAN_FAILED,
            error: e.into(),
        })?;

    if args.dry_run {
        return runtime.block_on(dry_run(&cfg));
    }

    let cancel = CancelToken::new();
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    let progress = progress::Progress::new(show_progress);
    let sink = progress.sink();
    let interrupted = {
        let c = cancel.clone();
        runtime.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ninterrupted: finishing with the findings so far…");
                c.cancel();
            }
        })
    };
    let spec_file = match &cfg.spec {
        middlebrick_engine::SpecSource::File(p) => Some(output::spec_path_for_sarif(p)),
        _ => None,
    };
    let mut recording = if args.no_history {
        None
    } else {
        Some(history::Recording::start(&args.history, &cfg).map_err(usage)?)
    };
    let result = runtime.block_on(middlebrick_core::scan::run_config(
        cfg,
        cancel.clone(),
        move |e| sink(e),
        redactor,
    ));
    interrupted.abort();
    progress.finish();
    let mut output = match result {
        Ok(o) => o,
        Err(e) => {
            if let Some(r) = &recording {
                r.fail(&e.to_string());
            }
            return Err(Failure {
                code: exit::SCAN_FAILED,
                error: explain_core(e),
            });
        }
    };
    let opts = RenderOptions {
        color: output::stdout_color(),
        verbose: args.report.verbose,
        spec_file,
        rules: catalogue::rules(),
    };
    let verdict = finish(&mut output.report, &gate, &routes, opts, &output.redactor);
    if let Some(r) = recording.as_mut() {
        r.finish(&output.report, &output.redactor, cancel.is_cancelled());
        eprintln!(
            "recorded as scan {} (middlebrick history show {})",
            r.id(),
            r.id()
        );
        if args.compare_last {
            r.compare_last(&output.report);
        }
    }
    let verdict = verdict?;
    if cancel.is_cancelled() {
        return Ok(exit::INTERRUPTED);
    }
    if output.report.incomplete {
        return Ok(exit::INCOMPLETE);
    }
    let not_tested = gate::not_tested(&output.report, accept);
    for why in &not_tested {
        eprintln!("error: the scan did not test what it was set up to: {why}");
    }
    if !not_tested.is_empty() {
        return Ok(exit::NOT_TESTED);
    }
    Ok(verdict)
}

fn explain_core(e: CoreError) -> anyhow::Error {
    match e {
        CoreError::Engine(e) => explain(e),
        other => other.into(),
    }
}

fn explain(e: EngineError) -> anyhow::Error {
    let hint = match &e {
        EngineError::Unreachable { .. } => {
            "\nhint: is the API running, and is the URL (scheme, host, port) right?"
        }
        EngineError::NoOperations(_) => "\nhint: pass --spec with the API's OpenAPI description",
        EngineError::Spec { .. } => {
            "\nhint: middlebrick reads OpenAPI 2.0, 3.0 and 3.1 in JSON or YAML"
        }
        _ => "",
    };
    anyhow!("{e}{hint}")
}

async fn dry_run(cfg: &middlebrick_engine::ScanConfig) -> Result<i32, Failure> {
    let (inventory, source, requests) = middlebrick_engine::load_inventory(cfg, false)
        .await
        .map_err(|e| Failure {
            code: exit::SCAN_FAILED,
            error: explain(e),
        })?;
    let plan = middlebrick_engine::plan(&inventory, cfg);
    let names: Vec<String> = cfg.identities.iter().map(|i| i.name.clone()).collect();
    let _ = output::stdout(&format!(
        "Operations from {source} ({} spec requests sent; no probe sent). Mode: {}.\n{}",
        requests,
        cfg.mode,
        plan.render(&inventory, &names)
    ));
    for d in &inventory.diagnostics {
        eprintln!("{:?}: {} {}", d.level, d.code, d.message);
    }
    Ok(exit::OK)
}

fn explain_check(args: &args::ExplainArgs) -> i32 {
    let id = match args.check.parse::<middlebrick_model::CheckId>() {
        Ok(id) => id,
        Err(e) => {
            eprintln!("error: {e}; `middlebrick checks` lists the ids");
            return exit::USAGE;
        }
    };
    // Audit rules read the description, not a running API: their entry has no stack variants.
    if let Some(rule) = middlebrick_audit::RULES.iter().find(|r| r.id == id) {
        let _ = output::stdout(&format!(
            "{} — {} (audit rule, severity {})\n\n{}\n\nRemediation:\n{}\n",
            rule.id, rule.title, rule.severity, rule.description, rule.remediation
        ));
        return exit::OK;
    }
    if middlebrick_checks::by_id(id).is_none() {
        eprintln!("error: {id} is not in the check catalogue; `middlebrick checks` lists the ids");
        return exit::USAGE;
    }
    let mut stack = Vec::new();
    for t in &args.stack {
        match t.parse::<middlebrick_model::Tech>() {
            Ok(t) => stack.push(t),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
    }
    let _ = output::stdout(&middlebrick_checks::explain(id, &stack));
    exit::OK
}
