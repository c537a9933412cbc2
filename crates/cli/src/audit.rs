//! `middlebrick audit SPEC`: the static rules of `middlebrick-audit` over a spec file, as a
//! `Report` so every format, the gate and the baseline work as for a scan.

use crate::args::AuditArgs;
use crate::gate::Gate;
use crate::{exit, output, Failure};
use anyhow::anyhow;
use middlebrick_model::{CheckRun, Coverage, Inventory, Mode, Redactor, Report, ToolInfo};
use middlebrick_report::{RenderOptions, RuleInfo};
use std::time::Instant;

pub fn rules() -> Vec<RuleInfo> {
    middlebrick_audit::RULES
        .iter()
        .map(|r| RuleInfo {
            id: r.id,
            title: r.title.to_string(),
            severity: r.severity,
            cwe: r.cwe.to_vec(),
            owasp: r.owasp.to_vec(),
            description: r.description.to_string(),
            remediation: r.remediation.to_string(),
        })
        .collect()
}

fn report(inv: &Inventory, source: &str, started: Instant, started_at: String) -> Report {
    let findings = middlebrick_audit::audit(inv);
    let (score, grade) = middlebrick_engine::score(&findings);
    Report {
        schema_version: middlebrick_model::REPORT_SCHEMA_VERSION.into(),
        tool: ToolInfo {
            name: "middlebrick".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        target: source.to_string(),
        mode: Mode::Passive,
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        requests_sent: 0,
        score,
        grade,
        coverage: Coverage {
            spec: inv.version,
            source: source.to_string(),
            operations: inv.operations.len(),
            // Every operation of the description was examined; none was called.
            operations_reached: inv.operations.len(),
            partial: false,
            base_path: String::new(),
            unreached: Vec::new(),
            // Every rule reads the whole description, so each covers every operation.
            checks: middlebrick_audit::RULES
                .iter()
                .map(|r| CheckRun {
                    api_wide: true,
                    ..CheckRun::ran(r.id)
                })
                .collect(),
            ..Coverage::new(inv.version, source, 0)
        },
        identities: Vec::new(),
        findings,
        diagnostics: inv.diagnostics.clone(),
        incomplete: false,
        stack: None,
    }
}

pub fn run(args: AuditArgs) -> Result<i32, Failure> {
    let routes = output::routes(&args.report).map_err(crate::usage)?;
    let gate = Gate::from_args(&args.report).map_err(crate::usage)?;
    output::prepare_dir(&args.report).map_err(crate::usage)?;
    let started = Instant::now();
    let started_at = crate::now_rfc3339();
    let inv = middlebrick_audit::load_path(&args.spec).map_err(|e| Failure {
        code: exit::SCAN_FAILED,
        error: anyhow!("{e}\nhint: middlebrick reads OpenAPI 2.0, 3.0 and 3.1 in JSON or YAML"),
    })?;
    let source = args.spec.display().to_string();
    let mut report = report(&inv, &source, started, started_at);
    eprintln!(
        "audited {} operations of {source} in {} ms: {} findings",
        inv.operations.len(),
        started.elapsed().as_millis(),
        report.findings.len()
    );
    crate::finish(
        &mut report,
        &gate,
        &routes,
        RenderOptions {
            color: output::stdout_color(),
            verbose: args.report.verbose,
            spec_file: Some(output::spec_path_for_sarif(&args.spec)),
            rules: rules(),
        },
        &Redactor::new(),
    )
}
