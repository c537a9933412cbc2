//! `middlebrick.toml` and the layering of settings: built-in defaults, then the config file
//! (only when `--config` or `MIDDLEBRICK_CONFIG` names one), then command-line flags. The
//! layering itself is `middlebrick_core::config`, shared with the other front ends; this file
//! turns the parsed flags into its typed [`Flags`]. The format is documented in
//! `docs/config.md`.

use crate::args::{ModeArg, ScanArgs};
use anyhow::Result;
use middlebrick_core::config::{self as core, Flags, Limits};
use middlebrick_engine::ScanConfig;
use middlebrick_model::Mode;
use std::path::Path;

pub use middlebrick_core::config::FileConfig;

pub fn read_file(path: &Path) -> Result<FileConfig> {
    Ok(core::read_file(path)?)
}

/// The `scan` flags as the core layer takes them.
pub fn flags(args: &ScanArgs) -> Flags {
    let l = &args.limits;
    Flags {
        url: args.url.clone(),
        spec: args.spec.clone(),
        spec_text: None,
        mode: args.mode.map(|m| match m {
            ModeArg::Passive => Mode::Passive,
            ModeArg::Safe => Mode::Safe,
            ModeArg::Active => Mode::Active,
            ModeArg::Disposable => Mode::Disposable,
        }),
        allow_delete: args.allow_delete,
        headers: args.headers.clone(),
        cookies: args.cookies.clone(),
        checks: args.checks.clone(),
        skip_checks: args.skip_checks.clone(),
        jwt_max_lifetime: args.jwt_max_lifetime.clone(),
        base_path: args.base_path.clone(),
        allow_hosts: args.allow_hosts.clone(),
        callback_listen: args.callback_listen.clone(),
        callback_url: args.callback_url.clone(),
        callback_collector: args.callback_collector.clone(),
        limits: Limits {
            concurrency: l.concurrency,
            rate: l.rate,
            fixed_rate: l.fixed_rate.then_some(true),
            timeout: l.timeout,
            connect_timeout: l.connect_timeout,
            budget: l.budget,
            max_duration: l.max_duration,
            max_response_bytes: l.max_response_bytes,
            insecure: l.insecure,
        },
    }
}

/// Layers defaults, the file and the flags into the engine's configuration.
pub fn resolve(args: &ScanArgs, file: FileConfig) -> Result<ScanConfig> {
    Ok(core::resolve(&flags(args), file)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use clap::Parser;

    fn scan_args(argv: &[&str]) -> ScanArgs {
        match Cli::parse_from(argv).command {
            crate::args::Command::Scan(a) => *a,
            _ => panic!("scan expected"),
        }
    }

    #[test]
    fn every_scan_flag_reaches_the_configuration() {
        let a = scan_args(&[
            "middlebrick",
            "scan",
            "http://127.0.0.1:5000",
            "--mode",
            "active",
            "--allow-delete",
            "--checks",
            "authz.bola,info.verbose-error",
            "--skip-checks",
            "info.verbose-error",
            "-H",
            "Authorization: Bearer abc",
            "--jwt-max-lifetime",
            "2h",
            "--base-path",
            "api/",
            "--allow-host",
            "10.0.0.9:80",
            "--callback-listen",
            "127.0.0.1:8099",
            "--concurrency",
            "3",
            "--rate",
            "0",
            "--budget",
            "40",
            "--insecure",
        ]);
        let cfg = resolve(&a, FileConfig::default()).unwrap();
        assert_eq!(cfg.mode, Mode::Active);
        assert!(cfg.allow_delete);
        assert_eq!(cfg.only_checks.len(), 2);
        assert_eq!(cfg.skip_checks.len(), 1);
        assert_eq!(cfg.identities[0].name, "cli");
        assert_eq!(cfg.settings.jwt_max_lifetime_secs, 7200);
        assert_eq!(cfg.base_path.as_deref(), Some("/api"));
        assert_eq!(cfg.transport.allowed_hosts, ["10.0.0.9:80"]);
        assert!(cfg.callback.listen.is_some());
        assert_eq!(cfg.transport.concurrency, 3);
        assert_eq!(cfg.transport.rate_per_host, None);
        assert_eq!(cfg.transport.budget, Some(40));
        assert!(cfg.transport.accept_invalid_certs);
        let bad = scan_args(&["middlebrick", "scan", "http://h", "--allow-delete"]);
        assert!(resolve(&bad, FileConfig::default()).is_err());
    }
}
