//! The `middlebrick` binary: glue between the command line and the engine. Parsing, config
//! layering, output routing and exit codes live here; everything else is in the library crates.

mod args;
mod catalogue;
mod config;
mod exit;
mod progress;

use anyhow::{anyhow, Context, Result};
use args::{Cli, Command, ScanArgs};
use clap::Parser;
use middlebrick_engine::{EngineError, ScanHandle};
use middlebrick_model::{Redactor, Severity};
use middlebrick_report::{render, Format, RenderOptions};
use std::io::{IsTerminal, Write};
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
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("MIDDLEBRICK_LOG"))
        .init();
    let code = match cli.command {
        Command::Checks(a) => catalogue::print(&a.format),
        Command::Scan(a) => run_scan(*a),
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

fn run_scan(args: ScanArgs) -> i32 {
    match scan(args) {
        Ok(code) => code,
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            f.code
        }
    }
}

/// Where each requested format goes: a file, or stdout (at most one).
fn outputs(args: &ScanArgs) -> Result<Vec<(Format, Option<PathBuf>)>> {
    let formats: Vec<Format> = if args.formats.is_empty() {
        vec![Format::Terminal]
    } else {
        args.formats
            .iter()
            .map(|f| f.parse::<Format>().map_err(|e| anyhow!("{e}")))
            .collect::<Result<_>>()?
    };
    if args.outputs.len() > formats.len() {
        anyhow::bail!("more -o files than --format values; pair each -o with a --format");
    }
    let routed: Vec<(Format, Option<PathBuf>)> = formats
        .into_iter()
        .enumerate()
        .map(|(i, f)| (f, args.outputs.get(i).cloned()))
        .collect();
    if routed.iter().filter(|(_, o)| o.is_none()).count() > 1 {
        anyhow::bail!("only one format can go to stdout; give the others a file with -o");
    }
    Ok(routed)
}

fn scan(args: ScanArgs) -> Result<i32, Failure> {
    let file = match &args.config {
        Some(path) => config::read_file(path).map_err(usage)?,
        None => config::FileConfig::default(),
    };
    let cfg = config::resolve(&args, file).map_err(usage)?;
    let routes = outputs(&args).map_err(usage)?;
    let fail_on = args
        .fail_on
        .as_deref()
        .map(|s| s.parse::<Severity>().map_err(|e| usage(anyhow!(e))))
        .transpose()?;
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

    let handle = ScanHandle::default();
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    let progress = progress::Progress::new(show_progress);
    let sink = progress.sink();
    let interrupted = {
        let h = handle.clone();
        runtime.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ninterrupted: finishing with the findings so far…");
                h.cancel.cancel();
            }
        })
    };
    let spec_file = match &cfg.spec {
        middlebrick_engine::SpecSource::File(p) => Some(p.clone()),
        _ => None,
    };
    let result = runtime.block_on(middlebrick_engine::scan(cfg, sink, handle.clone()));
    interrupted.abort();
    progress.finish();
    let output = result.map_err(|e| Failure {
        code: exit::SCAN_FAILED,
        error: explain(e),
    })?;
    let report = &output.report;

    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let opts = RenderOptions {
        color,
        verbose: args.verbose,
        spec_file,
        rules: catalogue::rules(),
    };
    write_outputs(&routes, report, &opts, &output.redactor).map_err(|e| Failure {
        code: exit::SCAN_FAILED,
        error: e,
    })?;

    if handle.cancel.is_cancelled() {
        return Ok(exit::INTERRUPTED);
    }
    if report.incomplete {
        return Ok(exit::INCOMPLETE);
    }
    if let Some(threshold) = fail_on {
        if report.findings.iter().any(|f| f.severity >= threshold) {
            return Ok(exit::GATE_FAILED);
        }
    }
    Ok(exit::OK)
}

fn write_outputs(
    routes: &[(Format, Option<PathBuf>)],
    report: &middlebrick_model::Report,
    opts: &RenderOptions,
    redactor: &Redactor,
) -> Result<()> {
    for (format, path) in routes {
        match path {
            Some(p) => {
                let file_opts = RenderOptions {
                    color: false,
                    ..opts.clone()
                };
                let text = render(report, *format, &file_opts, redactor);
                std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
                eprintln!("wrote {format} report to {}", p.display());
            }
            None => {
                let text = render(report, *format, opts, redactor);
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())?;
                out.flush()?;
            }
        }
    }
    Ok(())
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
    println!(
        "Operations from {source} ({} spec requests sent; no probe sent). Mode: {}.",
        requests, cfg.mode
    );
    print!("{}", plan.render(&inventory, &names));
    for d in &inventory.diagnostics {
        eprintln!("{:?}: {} {}", d.level, d.code, d.message);
    }
    Ok(exit::OK)
}
