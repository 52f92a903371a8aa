//! `tahoe-shares`: the operator tool of tahoe-shares, for Tahoe-LAFS storage directories.
//!
//! - `tahoe-shares dump-share FILE` shows one share container: type, version, data
//!   length and every lease (what `tahoe debug dump-share` shows of the container).
//! - `tahoe-shares catalog STORAGE_DIR` lists every share, one line each, like
//!   `tahoe debug catalog-shares`.
//! - `tahoe-shares verify STORAGE_DIR` checks every container's structure and names each
//!   corrupt one.
//!
//! The tool never writes: files are opened read-only, mutable containers are read without
//! recovering an interrupted update (that is reported instead), and a directory that is
//! not a complete storage directory is refused rather than set up. Exit status: 0 when
//! all is well, 1 when a share is corrupt, 2 for usage errors and unreadable inputs.

mod commands;
mod date;
mod share;

use std::ffi::OsString;
use std::io::{self, BufWriter, ErrorKind, Write};
use std::path::Path;
use std::process::ExitCode;

use commands::{say, Fatal};

/// The text of `--help`.
const USAGE: &str = "\
tahoe-shares: inspect Tahoe-LAFS 1.20 share storage (read-only: it never writes)

usage:
  tahoe-shares dump-share FILE       show one share: type, version, data length, leases
  tahoe-shares catalog STORAGE_DIR   list every share: TYPE SI SHNUM SIZE EXPIRIES
  tahoe-shares verify STORAGE_DIR    check the structure of every share container
  tahoe-shares --help                show this text

STORAGE_DIR is the node's storage directory, the one that holds shares/.

dump-share: header fields, then one line per lease. Mutable leases are numbered by
slot (cancelled slots are empty and skipped); 'pending recovery: yes' marks an update a
crash interrupted, which the server completes or rolls back when it next opens the share.

catalog: one line per share, sorted by storage index (base32), then share number.
TYPE is CHK (immutable) or MUT (mutable), SIZE the data length in bytes, EXPIRIES the
lease expiry times (seconds since the epoch) separated by commas, or - when there is no
lease. A share that cannot be read is listed as: CORRUPT SI SHNUM ERROR.

verify: prints 'corrupt: PATH: ERROR' for each corrupt share, 'warning: PATH: ...' for
each share an interrupted update left for the server to repair, then 'ok: N shares'
when nothing is corrupt.

exit status: 0 success; 1 a corrupt share (verify, dump-share) or an incomplete listing
(catalog); 2 a usage error, or a file or directory that cannot be read.
";

/// Exit status for usage errors and unreadable inputs.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    ExitCode::from(run(&args))
}

/// Whether an argument asks for help.
fn is_help(arg: &OsString) -> bool {
    matches!(arg.to_str(), Some("--help" | "-h" | "help"))
}

/// Reports a usage error: the reason and the usage text on stderr.
fn usage_error(reason: &str) -> u8 {
    say(format_args!("{reason}"));
    let _ = write!(io::stderr().lock(), "\n{USAGE}");
    EXIT_USAGE
}

/// Runs the command line (without the program name); returns the exit status.
fn run(args: &[OsString]) -> u8 {
    let Some(command) = args.first() else {
        return usage_error("no command given");
    };
    if is_help(command) || args.get(1).is_some_and(is_help) {
        let _ = io::stdout().lock().write_all(USAGE.as_bytes());
        return 0;
    }
    let name = command.to_string_lossy();
    let action: fn(&Path, &mut dyn Write) -> Result<u8, Fatal> = match &*name {
        "dump-share" => commands::dump_share,
        "catalog" => commands::catalog,
        "verify" => commands::verify,
        _ => return usage_error(&format!("unknown command {name:?}")),
    };
    let operand = match args {
        [_, operand] => Path::new(operand),
        [_] => return usage_error(&format!("{name}: missing operand")),
        _ => return usage_error(&format!("{name}: takes exactly one operand")),
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = action(operand, &mut out).and_then(|status| {
        out.flush().map_err(Fatal::Output)?;
        Ok(status)
    });
    match result {
        Ok(status) => status,
        Err(Fatal::Input(message)) => {
            say(format_args!("{message}"));
            EXIT_USAGE
        }
        // The reader went away (`| head`): nothing to say, and no one to say it to.
        Err(Fatal::Output(e)) if e.kind() == ErrorKind::BrokenPipe => EXIT_USAGE,
        Err(Fatal::Output(e)) => {
            say(format_args!("writing output: {e}"));
            EXIT_USAGE
        }
    }
}
