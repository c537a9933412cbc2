//! Loads a spec N times and prints what it found and how long it took, to measure the loader:
//! `cargo run --release -p middlebrick-spec --example load_spec -- PATH [N] [--diagnostics]`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut runs = 10usize;
    let mut show_diagnostics = false;
    for arg in args.by_ref() {
        match arg.as_str() {
            "--diagnostics" => show_diagnostics = true,
            _ if path.is_none() => path = Some(PathBuf::from(arg)),
            n => match n.parse() {
                Ok(n) if n > 0 => runs = n,
                _ => {
                    eprintln!("not a run count: {n}");
                    return ExitCode::from(2);
                }
            },
        }
    }
    let Some(path) = path else {
        eprintln!("usage: load_spec PATH [RUNS] [--diagnostics]");
        return ExitCode::from(2);
    };
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        // Drop the previous result first, so peak memory is that of one load.
        drop(last.take());
        let start = Instant::now();
        match middlebrick_spec::load_path(&path) {
            Ok(inv) => {
                times.push(start.elapsed());
                last = Some(inv);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let Some(inv) = last else {
        return ExitCode::from(1);
    };
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{}: {:?}, {} operations, {} diagnostics, {} runs: min {:.1} ms, median {:.1} ms",
        path.display(),
        inv.version,
        inv.operations.len(),
        inv.diagnostics.len(),
        runs,
        ms(times[0]),
        ms(times[times.len() / 2]),
    );
    if show_diagnostics {
        for d in &inv.diagnostics {
            println!("  {:?} {}: {}", d.level, d.code, d.message);
        }
    }
    ExitCode::SUCCESS
}
