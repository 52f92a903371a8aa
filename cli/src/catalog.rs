//! `catalog DIR...`: one line per share, the line `tahoe debug catalog-shares` prints.
//!
//! ```text
//! CHK $SI $k/$N $filesize $UEB_hash $expiration $abspath_sharefile
//! SDMF $SI $k/$N $filesize #$seqnum:$roothash $expiration $abspath_sharefile
//! MDMF $SI $k/$N $filesize #$seqnum:$roothash $expiration $abspath_sharefile
//! UNKNOWN really-unknown $abspath_sharefile
//! UNKNOWN mutable $abspath_sharefile
//! ```
//!
//! `$expiration` is the time left on the earliest lease, in seconds from "now" (never
//! below 0). Where Tahoe fails on a share (it prints "Error processing" and a traceback
//! on stderr, and no line), this prints no line either and names the share and the reason
//! on stderr; a share without any lease is such a case.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tahoe_shares::types::base32;

use crate::quote::{abspath, quote_output};
use crate::report::{OutputError, Report};
use crate::share::{Failure, Layout, ShareFile, Sniff};
use crate::walk::{self, Entry};

/// Seconds left on a lease as `catalog-shares` prints them: `max(0, expiry - now)`,
/// truncated.
fn expiration(expiry: u32, now: f64) -> i64 {
    (f64::from(expiry) - now).max(0.0) as i64
}

/// What one share amounts to in the catalog.
struct Described {
    /// The line Tahoe prints, if it prints one.
    line: Option<String>,
    /// The JSON record.
    json: Value,
    /// Why the share is unreadable or corrupt, if it is.
    failure: Option<Failure>,
    /// Why no line is printed although the share is sound.
    no_line: Option<&'static str>,
}

/// Describes one share file (`si`: its directory's name).
fn describe(path: &Path, si: &str, shnum: u8, now: f64) -> Described {
    let quoted = quote_output(path);
    let mut json = json!({
        "record": "share",
        "path": path.to_string_lossy(),
        "storage_index": si,
        "shnum": shnum,
    });
    let fail = |mut json: Value, f: Failure| {
        json["record"] = "error".into();
        json["class"] = f.class().into();
        json["reason"] = f.reason().into();
        Described {
            line: None,
            json,
            failure: Some(f),
            no_line: None,
        }
    };
    let share = match ShareFile::open(path) {
        Ok(s) => s,
        Err(e) => return fail(json, e.into()),
    };
    let sniff = match share.sniff() {
        Ok(s) => s,
        Err(e) => return fail(json, e.into()),
    };
    if let Sniff::Unknown { .. } = sniff {
        json["type"] = "UNKNOWN".into();
        json["line"] = format!("UNKNOWN really-unknown {quoted}").into();
        let reason = share.container(sniff).err().map(|f| f.reason().to_owned());
        return Described {
            line: Some(format!("UNKNOWN really-unknown {quoted}")),
            json,
            failure: reason.map(Failure::Corrupt),
            no_line: None,
        };
    }
    let mut container = match share.container(sniff) {
        Ok(c) => c,
        Err(f) => return fail(json, f),
    };
    json["container"] = container.kind().into();
    json["container_version"] = container.version().into();
    json["data_length"] = container.data_length().into();
    let leases = match container.leases() {
        Ok(l) => l,
        Err(f) => return fail(json, f),
    };
    json["leases"] = leases.count.into();
    json["earliest_expiry"] = leases.earliest.into();
    let expires = leases.earliest.map(|e| expiration(e, now));
    json["expiration"] = expires.into();
    let layout = match container.layout(&share, false) {
        Ok(l) => l,
        Err(e) => return fail(json, e.into()),
    };
    json["type"] = layout.name().into();
    let body = match layout_body(&layout, si, &mut json) {
        Ok(b) => b,
        Err(f) => return fail(json, f),
    };
    let Some(expires) = expires else {
        return Described {
            line: None,
            json,
            failure: None,
            no_line: Some("no lease: not listed (tahoe debug catalog-shares fails on it)"),
        };
    };
    let (line, failure) = match (body, &layout) {
        (Some(body), _) => (format!("{body} {expires} {quoted}"), None),
        (None, Layout::UnknownMutable(first)) => {
            let why = match first {
                Some(b) => format!("mutable share data of unknown type (first byte {b})"),
                None => "mutable share without data".to_owned(),
            };
            (
                format!("UNKNOWN mutable {quoted}"),
                Some(Failure::Corrupt(why)),
            )
        }
        (None, _) => return fail(json, Failure::Corrupt("no layout".into())),
    };
    json["line"] = line.clone().into();
    Described {
        line: Some(line),
        json,
        failure,
        no_line: None,
    }
}

/// A number of the URI extension block as JSON: a number where JSON's integers reach,
/// else its decimal text (a garbled block may declare anything Python's `int` reads).
fn int_json(n: i128) -> Value {
    i64::try_from(n)
        .map(Value::from)
        .or_else(|_| u64::try_from(n).map(Value::from))
        .unwrap_or_else(|_| n.to_string().into())
}

/// The part of a catalog line that describes the layout (before the expiration and the
/// path), with the layout's fields added to the JSON record; `None` for unknown
/// mutable data.
fn layout_body(layout: &Layout, si: &str, json: &mut Value) -> Result<Option<String>, Failure> {
    Ok(match layout {
        Layout::Chk(chk) => {
            let (k, n, size) = chk.catalog_fields()?;
            let hash = base32(&chk.ueb_hash);
            json["k"] = int_json(k);
            json["n"] = int_json(n);
            json["size"] = int_json(size);
            json["ueb_hash"] = hash.clone().into();
            Some(format!("CHK {si} {k}/{n} {size} {hash}"))
        }
        Layout::Sdmf(m) | Layout::Mdmf(m) => {
            let root = base32(&m.root_hash);
            json["k"] = m.k.into();
            json["n"] = m.n.into();
            json["size"] = m.datalen.into();
            json["seqnum"] = m.seqnum.into();
            json["root_hash"] = root.clone().into();
            Some(format!(
                "{} {si} {}/{} {} #{}:{root}",
                layout.name(),
                m.k,
                m.n,
                m.datalen,
                m.seqnum
            ))
        }
        Layout::UnknownMutable(_) => None,
    })
}

/// `catalog DIR...`: every share of every storage directory (or node directory). Returns
/// the exit status: 0, 1 when a share or directory was unreadable or corrupt, 2 when a
/// `DIR` is not a storage directory.
///
/// # Errors
///
/// Standard output failed.
pub fn catalog(dirs: &[PathBuf], now: f64, report: &mut Report) -> Result<u8, OutputError> {
    let mut status = 0u8;
    for dir in dirs {
        let found = walk::storage_dir(dir)
            .and_then(|s| abspath(&s).map_err(|e| format!("{}: {e}", s.display())));
        let Some(storage) = report.storage_dir(dir, found)? else {
            status = 2;
            continue;
        };
        walk::walk(&storage, &mut |entry| {
            match entry {
                Entry::Share { path, si, shnum } => {
                    report.tick(&si);
                    let d = describe(&path, &si, shnum.0, now);
                    if let Some(line) = &d.line {
                        report.line(line)?;
                    }
                    report.object(&d.json)?;
                    if let Some(f) = d.failure {
                        report.note(&format!(
                            "{}: {}: {}",
                            f.class(),
                            path.display(),
                            f.reason()
                        ));
                        status = status.max(1);
                    }
                    if let Some(why) = d.no_line {
                        report.note(&format!("{}: {why}", path.display()));
                    }
                }
                Entry::Unreadable { path, error } => {
                    let reason = crate::share::io_reason(&error);
                    report.note(&format!("unreadable: {}: {reason}", path.display()));
                    report.object(&json!({"record": "error", "class": "unreadable",
                        "path": path.to_string_lossy(), "reason": reason}))?;
                    status = status.max(1);
                }
                Entry::Stray { path, why } => {
                    report.note(&format!("stray: {}: {why} (not listed)", path.display()));
                    report.object(&json!({"record": "stray",
                        "path": path.to_string_lossy(), "reason": why}))?;
                }
                // Tahoe's catalog skips incoming/ too; `verify` reports it.
                Entry::Incoming { .. } => {}
            }
            Ok(())
        })?;
    }
    Ok(status)
}
