//! Progress on stderr: a bar when stderr is a terminal, nothing otherwise (CI logs stay clean;
//! diagnostics still reach the report).

use indicatif::{ProgressBar, ProgressStyle};
use middlebrick_engine::{Event, EventSink, Phase};
use std::sync::Arc;

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        let bar = enabled.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {prefix} {msg} [{bar:30}] {pos}/{len} {elapsed}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Progress { bar }
    }

    pub fn sink(&self) -> EventSink {
        let bar = self.bar.clone();
        Arc::new(move |event| {
            let Some(bar) = &bar else { return };
            match event {
                Event::Phase(p) => {
                    bar.set_prefix(format!("phase {}/{}", p.number(), Phase::ALL.len()));
                    bar.set_message(p.label());
                }
                Event::Cancelled => bar.println("cancelled: stopping the transport"),
                Event::Operations { count, source } => {
                    bar.println(format!("{count} operations from {source}"))
                }
                Event::Progress { done, total } => {
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                }
                Event::Finding {
                    severity,
                    title,
                    location,
                } => bar.println(format!("[{severity}] {title} — {location}")),
                Event::Diagnostic(d) => bar.println(format!("{:?}: {}", d.level, d.message)),
            }
        })
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
