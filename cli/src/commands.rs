//! The three commands: `dump-share`, `catalog` and `verify`.
//!
//! Each writes its report to `out` and returns the exit status for the outcome it
//! found (0 or 1); a [`Fatal`] error means the command could not do its work (exit 2).

use core::fmt;
use std::io::{self, Write};
use std::path::Path;

use tahoe_shares::format::lease::Lease;
use tahoe_shares::store::{FsStore, ShareStore};
use tahoe_shares::{ShareNumber, StorageIndex};

use crate::date::Utc;
use crate::share::{describe, open_file, open_storage, Share, ShareError};

/// Why a command stopped without finishing its report.
#[derive(Debug)]
pub enum Fatal {
    /// An input could not be read; the text says which and why.
    Input(String),
    /// Standard output failed (`BrokenPipe` included: the reader went away).
    Output(io::Error),
}

/// Writes a line to stderr, prefixed with the program name. A failing stderr is ignored:
/// there is nowhere left to report it (`eprintln!` would panic).
pub fn say(args: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "tahoe-shares: {args}");
}

/// Writes formatted text to the report.
fn emit(out: &mut dyn Write, args: fmt::Arguments<'_>) -> Result<(), Fatal> {
    out.write_fmt(args).map_err(Fatal::Output)
}

/// Formats one lease line of `dump-share`.
fn lease_line(index: u32, lease: &Lease) -> String {
    let secrets = if lease.secrets.is_hashed() {
        "hashed"
    } else {
        "cleartext"
    };
    let mut line = format!(
        "lease #{index}: owner={}, expire_time={} ({}), secrets={secrets}",
        lease.owner_num,
        lease.expiration_time,
        Utc(lease.expiration_time)
    );
    if let Some(nodeid) = lease.nodeid {
        line = format!("{line}, nodeid={nodeid}");
    }
    line
}

/// `dump-share FILE`: the container's header fields and every lease.
///
/// Exit status 0, or 1 when the container is malformed (the error goes to stderr).
///
/// # Errors
///
/// [`Fatal::Input`] when the file cannot be opened; [`Fatal::Output`].
pub fn dump_share(path: &Path, out: &mut dyn Write) -> Result<u8, Fatal> {
    let io = open_file(path).map_err(|e| Fatal::Input(format!("{}: {e}", path.display())))?;
    let mut share = match Share::open(io) {
        Ok(s) => s,
        Err(e) => {
            say(format_args!("{}: {}", path.display(), describe(&e)));
            return Ok(1);
        }
    };
    match dump_opened(&mut share, out) {
        Ok(()) => Ok(0),
        Err(DumpError::Share(e)) => {
            say(format_args!("{}: {}", path.display(), describe(&e)));
            Ok(1)
        }
        Err(DumpError::Fatal(f)) => Err(f),
    }
}

/// A failure in the middle of a dump: of the container, or of the output.
enum DumpError {
    Share(ShareError),
    Fatal(Fatal),
}

impl From<ShareError> for DumpError {
    fn from(e: ShareError) -> Self {
        Self::Share(e)
    }
}

impl From<Fatal> for DumpError {
    fn from(f: Fatal) -> Self {
        Self::Fatal(f)
    }
}

/// Prints the header fields (after counting the leases) and then every lease.
fn dump_opened(share: &mut Share, out: &mut dyn Write) -> Result<(), DumpError> {
    let mut count = 0u64;
    share.for_each_lease(|_, _| {
        count += 1;
        true
    })?;
    match share {
        Share::Immutable(c) => {
            emit(out, format_args!("share type: immutable\n"))?;
            emit(out, format_args!("version: {}\n", c.version().number()))?;
            emit(out, format_args!("data length: {}\n", c.data_length()))?;
            emit(out, format_args!("lease count: {count}\n"))?;
            let excess = c.layout().excess;
            if excess > 0 {
                emit(out, format_args!("excess bytes: {excess}\n"))?;
            }
        }
        Share::Mutable(c) => {
            let pending = if c.needs_recovery()? { "yes" } else { "no" };
            emit(out, format_args!("share type: mutable\n"))?;
            emit(out, format_args!("version: {}\n", c.version().number()))?;
            emit(out, format_args!("write enabler nodeid: {}\n", c.nodeid()))?;
            emit(out, format_args!("data length: {}\n", c.data_length()))?;
            emit(
                out,
                format_args!("extra-lease offset: {}\n", c.header().extra_lease_offset),
            )?;
            emit(
                out,
                format_args!("extra lease slots: {}\n", c.num_extra_leases()),
            )?;
            emit(out, format_args!("pending recovery: {pending}\n"))?;
            emit(out, format_args!("lease count: {count}\n"))?;
        }
    }
    let mut failed = None;
    share.for_each_lease(|i, lease| {
        match emit(out, format_args!("{}\n", lease_line(i, lease))) {
            Ok(()) => true,
            Err(f) => {
                failed = Some(f);
                false
            }
        }
    })?;
    match failed {
        Some(f) => Err(f.into()),
        None => Ok(()),
    }
}

/// The published shares of a store, in catalog order: storage indexes by their base32
/// names (as the store lists them, and as Tahoe's `catalog-shares` sorts directory
/// names), then share numbers.
fn storage_indexes(store: &mut FsStore, dir: &Path) -> Result<Vec<StorageIndex>, Fatal> {
    let mut sis = Vec::new();
    store
        .for_each_storage_index(&mut |si| {
            sis.push(si);
            true
        })
        .map_err(|e| {
            Fatal::Input(format!(
                "{}: cannot list shares: {}",
                dir.display(),
                describe(&e)
            ))
        })?;
    Ok(sis)
}

/// Opens a published share read-only (never following a symbolic link that appeared
/// since the listing, which excludes them).
fn open_published(store: &FsStore, si: &StorageIndex, shnum: ShareNumber) -> Result<Share, String> {
    let path = store.share_path(si, shnum);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(describe(&ShareError::NotAShare)),
        Err(e) => return Err(format!("I/O error: {e}")),
    }
    let io = open_file(&path).map_err(|e| format!("I/O error: {e}"))?;
    Share::open(io).map_err(|e| describe(&e))
}

/// `catalog STORAGE_DIR`: one line per share, `TYPE SI SHNUM SIZE EXPIRIES`, or
/// `CORRUPT SI SHNUM ERROR` for a share that cannot be read.
///
/// Exit status 0, or 1 when a storage index directory could not be listed (the listing is
/// then incomplete; the error goes to stderr). Corrupt shares do not change the status:
/// `verify` is the check.
///
/// # Errors
///
/// [`Fatal::Input`] when `dir` is not a readable storage directory; [`Fatal::Output`].
pub fn catalog(dir: &Path, out: &mut dyn Write) -> Result<u8, Fatal> {
    let mut store = open_storage(dir).map_err(Fatal::Input)?;
    let mut status = 0;
    for si in storage_indexes(&mut store, dir)? {
        let shares = match store.list(&si) {
            Ok(s) => s,
            Err(e) => {
                say(format_args!(
                    "{}: cannot list: {}",
                    store.bucket_dir(&si).display(),
                    describe(&e)
                ));
                status = 1;
                continue;
            }
        };
        for shnum in shares.iter() {
            let line = open_published(&store, &si, shnum).and_then(|mut share| {
                let expiries = share.expiries().map_err(|e| describe(&e))?;
                let expiries = if expiries.is_empty() {
                    "-".to_owned()
                } else {
                    expiries
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                };
                Ok(format!(
                    "{} {si} {shnum} {} {expiries}",
                    share.catalog_type(),
                    share.data_length()
                ))
            });
            match line {
                Ok(line) => emit(out, format_args!("{line}\n"))?,
                Err(e) => emit(out, format_args!("CORRUPT {si} {shnum} {e}\n"))?,
            }
        }
    }
    Ok(status)
}

/// Checks one share structurally; returns a warning for repairable leftovers.
fn check_share(
    store: &FsStore,
    si: &StorageIndex,
    shnum: ShareNumber,
) -> Result<Option<String>, String> {
    let mut share = open_published(store, si, shnum)?;
    share
        .for_each_lease(|_, _| true)
        .map_err(|e| describe(&e))?;
    share.pending_repair().map_err(|e| describe(&e))
}

/// `verify STORAGE_DIR`: opens every container and reads every lease record. Prints
/// `corrupt: PATH: ERROR` per corrupt share (`unreadable: PATH: ERROR` per storage index
/// directory that cannot be listed) and `warning: PATH: ...` per share an interrupted
/// update left for the server to repair; then `ok: N shares` if nothing was wrong.
///
/// Exit status 0, or 1 when something was wrong.
///
/// # Errors
///
/// [`Fatal::Input`] when `dir` is not a readable storage directory; [`Fatal::Output`].
pub fn verify(dir: &Path, out: &mut dyn Write) -> Result<u8, Fatal> {
    let mut store = open_storage(dir).map_err(Fatal::Input)?;
    let (mut checked, mut problems) = (0u64, 0u64);
    for si in storage_indexes(&mut store, dir)? {
        let shares = match store.list(&si) {
            Ok(s) => s,
            Err(e) => {
                let bucket = store.bucket_dir(&si);
                emit(
                    out,
                    format_args!("unreadable: {}: {}\n", bucket.display(), describe(&e)),
                )?;
                problems += 1;
                continue;
            }
        };
        for shnum in shares.iter() {
            checked += 1;
            let path = store.share_path(&si, shnum);
            match check_share(&store, &si, shnum) {
                Ok(None) => {}
                Ok(Some(w)) => emit(out, format_args!("warning: {}: {w}\n", path.display()))?,
                Err(e) => {
                    problems += 1;
                    emit(out, format_args!("corrupt: {}: {e}\n", path.display()))?;
                }
            }
        }
    }
    if problems == 0 {
        emit(out, format_args!("ok: {checked} shares\n"))?;
        Ok(0)
    } else {
        say(format_args!(
            "verify: {problems} problem(s) among {checked} shares"
        ));
        Ok(1)
    }
}
