//! `tahoe-shares`: the operator tool of tahoe-shares, for Tahoe-LAFS storage directories.
//!
//! - `tahoe-shares catalog DIR...` prints, for every share, the line `tahoe debug
//!   catalog-shares` prints.
//! - `tahoe-shares dump-share FILE` prints what `tahoe debug dump-share` prints, then
//!   what the container holds besides.
//! - `tahoe-shares verify DIR...` checks every share and every entry of the directory.
//! - `tahoe-shares recover DIR...` finishes or undoes every update an interrupted run
//!   left, so that Tahoe's own server reads every share.
//!
//! Every command takes `--json` (one JSON object per line; docs/cli.md lists the
//! fields). Only `recover` writes. The others never do: files and directories are opened
//! read-only, mutable containers are read without recovering an interrupted update (that
//! is reported instead), and nothing is created. Exit status: 0 when all is well, 1 when something
//! was unreadable or corrupt, 2 for usage errors and inputs that are not what the
//! command takes.

mod catalog;
mod date;
mod dump;
mod layout;
mod quote;
mod recover;
mod report;
mod share;
mod verify;
mod walk;

use std::io::{ErrorKind, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Parser, Subcommand};

use report::{say, OutputError, Report};

/// Inspect Tahoe-LAFS 1.20 share storage (only `recover` writes).
#[derive(Parser, Debug)]
#[command(
    name = "tahoe-shares",
    version,
    propagate_version = true,
    // A missing command is a usage error like any other: one line of usage, not the help.
    subcommand_required = true,
    arg_required_else_help = false
)]
struct Cli {
    /// Print one JSON object per line (per share, finding or dump) instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The time (seconds since the epoch) lease times are counted from, instead of the
    /// clock: makes the output reproducible.
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    now: Option<f64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// One line per share, as `tahoe debug catalog-shares` prints it.
    ///
    /// Each line is `CHK SI k/N size UEB-hash expiration PATH`,
    /// `SDMF|MDMF SI k/N size #seqnum:roothash expiration PATH` or
    /// `UNKNOWN really-unknown|mutable PATH`. Shares that cannot be read, and shares
    /// without a lease, print no line (Tahoe fails on them): they are named on stderr.
    Catalog {
        /// Storage directories (holding shares/) or node directories (holding
        /// storage/shares/).
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
    /// Everything `tahoe debug dump-share` shows of one share, then the container's own
    /// fields.
    DumpShare {
        /// The share file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Also print the offset of each section (as Tahoe's --offsets).
        #[arg(long)]
        offsets: bool,
        /// Leases only, not the CHK contents (as Tahoe's --leases-only).
        #[arg(long)]
        leases_only: bool,
    },
    /// Finish or undo every update an interrupted run left, so that Tahoe's own server
    /// reads every share (the one command that writes: it takes the directory's lock,
    /// and discards incoming/ as a server's startup does). Run it before switching a
    /// node back to Tahoe's own server.
    Recover {
        /// Storage directories (holding shares/) or node directories.
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
    /// Check every share and every entry: corrupt, unreadable and truncated shares,
    /// implausible leases, stray entries, leftovers in incoming/.
    Verify {
        /// Storage directories (holding shares/) or node directories.
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
}

/// The clock, as Tahoe's `time.time()`.
fn clock() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Help and --version go to stdout with status 0; usage errors print the
            // error, one line of usage and where to find help, with status 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let now = cli.now.unwrap_or_else(clock);
    if !now.is_finite() {
        say("--now: not a finite number");
        return ExitCode::from(2);
    }
    let progress = std::io::stderr().is_terminal();
    let mut report = Report::new(
        cli.json,
        progress && !matches!(cli.command, Command::DumpShare { .. }),
    );
    let status = match &cli.command {
        Command::Catalog { dirs } => catalog::catalog(dirs, now, &mut report),
        Command::Verify { dirs } => verify::verify(dirs, now, &mut report),
        Command::Recover { dirs } => recover::recover(dirs, now, &mut report),
        Command::DumpShare {
            file,
            offsets,
            leases_only,
        } => dump::dump_share(
            file,
            dump::DumpOptions {
                now,
                offsets: *offsets,
                leases_only: *leases_only,
            },
            &mut report,
        ),
    };
    let result = status.and_then(|s| report.finish().map(|()| s));
    match result {
        Ok(s) => ExitCode::from(s),
        // The reader went away (`| head`): nothing to say, and no one to say it to.
        Err(OutputError(e)) if e.kind() == ErrorKind::BrokenPipe => ExitCode::from(2),
        Err(OutputError(e)) => {
            say(&format!("writing output: {e}"));
            ExitCode::from(2)
        }
    }
}
