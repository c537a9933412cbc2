//! Output routing: which format goes to which file (or stdout), and writing them. Shared by
//! `scan` and `audit`, which produce the same `Report`.

use crate::args::ReportArgs;
use anyhow::{anyhow, bail, Context, Result};
use middlebrick_model::{Redactor, Report};
use middlebrick_report::{render, Format, RenderOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The formats `--output-dir` writes when no `--format` is given; the terminal summary then
/// still goes to stdout.
const DIR_DEFAULTS: [Format; 5] = [
    Format::Json,
    Format::Sarif,
    Format::Markdown,
    Format::Junit,
    Format::Html,
];

/// The file name a format gets in `--output-dir`.
pub fn default_file_name(format: Format) -> String {
    format!("report.{}", format.extension())
}

/// Where each requested format goes: a file, or stdout (at most one).
pub fn routes(args: &ReportArgs) -> Result<Vec<(Format, Option<PathBuf>)>> {
    let mut formats: Vec<Format> = args
        .formats
        .iter()
        .map(|f| f.parse::<Format>().map_err(|e| anyhow!("{e}")))
        .collect::<Result<_>>()?;
    if args.outputs.len() > formats.len() {
        bail!("more -o files than --format values; pair each -o with a --format");
    }
    let mut routed: Vec<(Format, Option<PathBuf>)> = Vec::new();
    match &args.output_dir {
        Some(dir) if formats.is_empty() => {
            routed.push((Format::Terminal, None));
            routed.extend(
                DIR_DEFAULTS
                    .iter()
                    .map(|f| (*f, Some(dir.join(default_file_name(*f))))),
            );
        }
        dir => {
            if formats.is_empty() {
                formats.push(Format::Terminal);
            }
            for (i, f) in formats.into_iter().enumerate() {
                let path = args
                    .outputs
                    .get(i)
                    .cloned()
                    .or_else(|| dir.as_ref().map(|d| d.join(default_file_name(f))));
                routed.push((f, path));
            }
        }
    }
    if routed.iter().filter(|(_, o)| o.is_none()).count() > 1 {
        bail!("only one format can go to stdout; give the others a file with -o or --output-dir");
    }
    let mut seen = std::collections::HashSet::new();
    for (_, p) in routed
        .iter()
        .filter_map(|(f, p)| p.as_ref().map(|p| (f, p)))
    {
        if !seen.insert(p.clone()) {
            bail!("two formats would be written to {}", p.display());
        }
    }
    Ok(routed)
}

/// Creates `--output-dir` (and its parents) before the scan, so a typo fails in a second and
/// not after a ten-minute scan.
pub fn prepare_dir(args: &ReportArgs) -> Result<()> {
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

/// Writes `text` to stdout. A reader that went away (`| head`) is not an error: the output
/// was for it, and the command's exit code keeps its meaning (`print!` would panic, exit 101).
pub fn stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Colour on stdout only when it is a terminal and `NO_COLOR` is unset.
pub fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

pub fn write_all(
    routes: &[(Format, Option<PathBuf>)],
    report: &Report,
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
                stdout(&render(report, *format, opts, redactor))?;
            }
        }
    }
    Ok(())
}

/// The spec path as SARIF should name it: relative to the working directory when it is under
/// it (code scanning resolves `%SRCROOT%`-relative paths against the checkout, where CI runs),
/// else as given.
pub fn spec_path_for_sarif(path: &Path) -> PathBuf {
    let Ok(cwd) = std::env::current_dir() else {
        return path.to_path_buf();
    };
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    match canon(&absolute).strip_prefix(canon(&cwd)) {
        Ok(rel) => rel.to_path_buf(),
        Err(_) => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(formats: &[&str], outputs: &[&str], dir: Option<&str>) -> ReportArgs {
        ReportArgs {
            formats: formats.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.iter().map(PathBuf::from).collect(),
            output_dir: dir.map(PathBuf::from),
            ..ReportArgs::default()
        }
    }

    fn shown(r: Vec<(Format, Option<PathBuf>)>) -> Vec<String> {
        r.into_iter()
            .map(|(f, p)| format!("{f}>{}", p.map_or("-".into(), |p| p.display().to_string())))
            .collect()
    }

    #[test]
    fn formats_pair_with_outputs_then_the_dir() {
        assert_eq!(
            shown(routes(&args(&[], &[], None)).unwrap()),
            ["terminal>-"]
        );
        assert_eq!(
            shown(routes(&args(&["json", "sarif"], &["a.json"], Some("out"))).unwrap()),
            ["json>a.json", "sarif>out/report.sarif"]
        );
        assert_eq!(
            shown(routes(&args(&[], &[], Some("out"))).unwrap()),
            [
                "terminal>-",
                "json>out/report.json",
                "sarif>out/report.sarif",
                "markdown>out/report.md",
                "junit>out/report.xml",
                "html>out/report.html"
            ]
        );
    }

    #[test]
    fn ambiguous_routes_are_usage_errors() {
        assert!(routes(&args(&["json", "sarif"], &[], None)).is_err());
        assert!(routes(&args(&["json"], &["a", "b"], None)).is_err());
        assert!(routes(&args(&["json", "json"], &[], Some("d"))).is_err());
        assert!(routes(&args(&["pdf"], &[], None)).is_err());
    }
}
