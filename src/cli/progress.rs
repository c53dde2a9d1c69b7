//! Progress of long jobs on the command line: a live line on a terminal (indicatif), and
//! plain lines, at most one every few seconds, when stderr is a file or a pipe.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::backup::Progress;

/// Shows what a job is doing on stderr until dropped.
pub struct Display {
    bar: Option<ProgressBar>,
    plain: Mutex<Plain>,
}

struct Plain {
    stage: String,
    last: Instant,
}

/// Plain lines are printed at most this often within one stage.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl Display {
    /// A display for a job called `what`.
    pub fn new(what: &str) -> Arc<Display> {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Arc::new(Display {
            bar,
            plain: Mutex::new(Plain {
                stage: String::new(),
                last: Instant::now(),
            }),
        })
    }

    /// Shows that the job reached `n` in `stage` (rows of a table, bytes of an archive).
    pub fn show(&self, stage: &str, n: u64) {
        let amount = match stage {
            "pack" | "unpack" => format!("{:.1} MB", n as f64 / 1e6),
            _ if n == 0 => "…".to_string(),
            _ => format!("{n} rows"),
        };
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{stage} {amount}"));
            return;
        }
        let mut plain = self.plain.lock().unwrap_or_else(|p| p.into_inner());
        if plain.stage != stage || plain.last.elapsed() >= PLAIN_EVERY {
            eprintln!("{stage} {amount}");
            plain.stage = stage.to_string();
            plain.last = Instant::now();
        }
    }

    /// The display as a `Progress` callback.
    pub fn callback(self: &Arc<Self>) -> Progress {
        let display = self.clone();
        Arc::new(move |stage, n| display.show(stage, n))
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
