//! Where the commands' output goes: the report on stdout (text lines, or one JSON object
//! per line with `--json`), notes on stderr, and a progress spinner on stderr that
//! indicatif draws only when stderr is a terminal.

use core::time::Duration;
use std::io::{self, BufWriter, IsTerminal, Stdout, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

/// Standard output failed (`BrokenPipe` included: the reader went away).
#[derive(Debug)]
pub struct OutputError(pub io::Error);

/// The report of one command.
pub struct Report {
    out: BufWriter<Stdout>,
    /// `--json`: objects on stdout instead of text lines.
    pub json: bool,
    /// Flush after each line (stdout is a terminal, where a spinner may also draw).
    interactive: bool,
    progress: ProgressBar,
    seen: u64,
}

impl Report {
    /// A report on stdout; `progress` shows a spinner (only drawn on a terminal).
    #[must_use]
    pub fn new(json: bool, progress: bool) -> Self {
        let bar = if progress {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {pos} shares  {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        } else {
            ProgressBar::hidden()
        };
        Self {
            out: BufWriter::new(io::stdout()),
            json,
            interactive: io::stdout().is_terminal(),
            progress: bar,
            seen: 0,
        }
    }

    fn write(&mut self, text: &str) -> Result<(), OutputError> {
        let (out, interactive) = (&mut self.out, self.interactive);
        self.progress
            .suspend(|| {
                writeln!(out, "{text}")?;
                if interactive {
                    out.flush()?;
                }
                Ok(())
            })
            .map_err(OutputError)
    }

    /// A text line of the report (ignored with `--json`).
    ///
    /// # Errors
    ///
    /// Standard output failed.
    pub fn line(&mut self, text: &str) -> Result<(), OutputError> {
        if self.json {
            return Ok(());
        }
        self.write(text)
    }

    /// A JSON object of the report (ignored without `--json`).
    ///
    /// # Errors
    ///
    /// Standard output failed.
    pub fn object(&mut self, value: &Value) -> Result<(), OutputError> {
        if !self.json {
            return Ok(());
        }
        self.write(&value.to_string())
    }

    /// A note on stderr, prefixed with the program name. A failing stderr is ignored:
    /// there is nowhere left to report it.
    pub fn note(&self, text: &str) {
        self.progress.suspend(|| {
            let _ = writeln!(io::stderr().lock(), "tahoe-shares: {text}");
        });
    }

    /// The storage directory found for the argument `dir`, or `None` once the reason it
    /// was not found is reported: as a note on stderr, and as an `unreadable` error
    /// record naming `dir`. A command that gets `None` skips `dir` and exits 2.
    ///
    /// # Errors
    ///
    /// Standard output failed.
    pub fn storage_dir(
        &mut self,
        dir: &Path,
        found: Result<PathBuf, String>,
    ) -> Result<Option<PathBuf>, OutputError> {
        match found {
            Ok(storage) => Ok(Some(storage)),
            Err(message) => {
                self.note(&message);
                self.object(&json!({"record": "error", "class": "unreadable",
                    "path": dir.to_string_lossy(), "reason": message}))?;
                Ok(None)
            }
        }
    }

    /// Counts one more share for the spinner and shows where the walk is.
    pub fn tick(&mut self, at: &str) {
        self.seen += 1;
        self.progress.set_position(self.seen);
        if self.seen % 64 == 1 {
            self.progress.set_message(at.to_owned());
        }
    }

    /// Shows `shares` done, in storage index `at` of `total`.
    pub fn progress_to(&mut self, shares: u64, at: u64, total: u64) {
        self.seen = shares;
        self.progress.set_position(shares);
        self.progress
            .set_message(format!("storage index {at} of {total}"));
    }

    /// Flushes the report and removes the spinner.
    ///
    /// # Errors
    ///
    /// Standard output failed.
    pub fn finish(mut self) -> Result<(), OutputError> {
        self.progress.finish_and_clear();
        self.out.flush().map_err(OutputError)
    }
}

/// Writes a note on stderr outside any report.
pub fn say(text: &str) {
    let _ = writeln!(io::stderr().lock(), "tahoe-shares: {text}");
}
