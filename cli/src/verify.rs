//! `verify DIR...`: checks every share and every entry of a storage directory.
//!
//! Problems (exit status 1): unreadable files and directories, corrupt containers and
//! layouts, truncated immutable shares, implausible lease records, stray entries.
//! Warnings (exit status unchanged): interrupted updates the server repairs by itself,
//! and files in `incoming/` (an upload in progress, or a leftover of one), with their age.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tahoe_shares::format::lease::Lease;
use tahoe_shares::NodeId;

use crate::layout::{self, LayoutError};
use crate::report::{OutputError, Report};
use crate::share::{io_reason, Container, Failure, Layout, ShareFile};
use crate::walk::{self, Entry};

/// Expiry times before this (2008-01-10) predate Tahoe-LAFS's first release.
const EARLIEST_PLAUSIBLE: u32 = 1_200_000_000;
/// Tahoe grants leases for 31 days; an expiry more than this far ahead of now is
/// implausible.
const LATEST_AHEAD: f64 = 366.0 * 86_400.0;

/// One finding.
struct Finding {
    /// `corrupt`, `unreadable`, `truncated`, `lease`, `stray`, `pending-repair`,
    /// `incoming`.
    problem: &'static str,
    /// Problems fail the check; warnings do not.
    warning: bool,
    detail: String,
    extra: Option<(&'static str, Value)>,
}

impl Finding {
    fn problem(problem: &'static str, detail: impl Into<String>) -> Self {
        Self {
            problem,
            warning: false,
            detail: detail.into(),
            extra: None,
        }
    }
    fn warning(problem: &'static str, detail: impl Into<String>) -> Self {
        Self {
            problem,
            warning: true,
            detail: detail.into(),
            extra: None,
        }
    }
}

impl From<Failure> for Finding {
    fn from(f: Failure) -> Self {
        Self::problem(f.class(), f.reason())
    }
}

/// What is implausible about a lease record, if anything.
fn implausible(lease: &Lease, now: f64) -> Option<String> {
    let t = lease.expiration_time;
    if t < EARLIEST_PLAUSIBLE {
        return Some(format!(
            "expiry time {t} ({}) is before any Tahoe-LAFS release",
            crate::date::Utc(t)
        ));
    }
    let ahead = f64::from(t) - now;
    if ahead > LATEST_AHEAD {
        return Some(format!(
            "expiry time {t} ({}) is {} days from now; Tahoe grants 31 days",
            crate::date::Utc(t),
            (ahead / 86_400.0).floor() as i64
        ));
    }
    if lease.nodeid == Some(NodeId([0; 20])) {
        return Some("the node id of the lease's secrets is all zero".into());
    }
    None
}

/// Checks the layout inside a container: problems where it does not parse or does not
/// fit in the share data.
fn check_layout(container: &Container, share: &ShareFile, findings: &mut Vec<Finding>) {
    let data_length = container.data_length();
    if let (Container::Mutable(_), 0) = (container, data_length) {
        findings.push(Finding::warning("empty", "a mutable share without data"));
        return;
    }
    // A CHK layout reaching past the data is truncation, whatever the cut-off bytes
    // would parse as.
    if let Container::Immutable { .. } = container {
        if let Ok(h) = layout::parse_chk_header(&container.data(share)) {
            if h.end() > data_length {
                findings.push(Finding::problem(
                    "truncated",
                    format!(
                        "the CHK layout ends at byte {} of the share data, which holds \
                         {data_length}",
                        h.end()
                    ),
                ));
                return;
            }
        }
    }
    match container.layout(share, true) {
        Err(LayoutError::Io(e)) => findings.push(Finding::problem("unreadable", io_reason(&e))),
        Err(LayoutError::Corrupt(why)) => findings.push(Finding::problem(
            "corrupt",
            format!(
                "{} share layout: {why}",
                if container.kind() == "immutable" {
                    "CHK"
                } else {
                    "mutable"
                }
            ),
        )),
        Ok(Layout::Chk(chk)) => {
            if let Err(e) = chk.catalog_fields() {
                findings.push(Finding::problem(
                    "corrupt",
                    format!("CHK share layout: {e}"),
                ));
            }
        }
        Ok(Layout::Mdmf(m)) => {
            let eof = m
                .offsets
                .iter()
                .find(|(k, _)| *k == "EOF")
                .map_or(0, |(_, v)| *v);
            if eof > data_length {
                findings.push(Finding::problem(
                    "truncated",
                    format!("the MDMF layout ends at byte {eof} of the share data, which holds {data_length}"),
                ));
            }
        }
        Ok(Layout::Sdmf(_)) => {}
        Ok(Layout::UnknownMutable(first)) => {
            findings.push(Finding::problem(
                "corrupt",
                format!(
                    "mutable share data of unknown type (first byte {})",
                    first.map_or_else(|| "missing".to_owned(), |b| b.to_string())
                ),
            ));
        }
    }
}

/// Checks one share file.
fn check_share(path: &Path, now: f64) -> Vec<Finding> {
    let mut findings = Vec::new();
    let share = match ShareFile::open(path) {
        Ok(s) => s,
        Err(e) => return vec![Failure::from(e).into()],
    };
    let sniff = match share.sniff() {
        Ok(s) => s,
        Err(e) => return vec![Failure::from(e).into()],
    };
    let mut container = match share.container(sniff) {
        Ok(c) => c,
        Err(f) => return vec![f.into()],
    };
    if let Some((declared, held)) = container.truncation() {
        findings.push(Finding::problem(
            "truncated",
            format!("the header says {declared} bytes of share data, the file holds {held}"),
        ));
    }
    let mut bad_leases = Vec::new();
    if let Err(f) = container.for_each_lease(|slot, lease| {
        if let Some(why) = implausible(lease, now) {
            bad_leases.push(Finding {
                problem: "lease",
                warning: false,
                detail: format!("lease #{slot}: {why}"),
                extra: Some((
                    "lease",
                    json!({"slot": slot, "owner": lease.owner_num,
                    "expiration_time": lease.expiration_time}),
                )),
            });
        }
        true
    }) {
        findings.push(f.into());
    }
    findings.extend(bad_leases);
    check_layout(&container, &share, &mut findings);
    match container.pending_repair() {
        Ok(Some(w)) => findings.push(Finding::warning("pending-repair", w)),
        Ok(None) => {}
        Err(f) => findings.push(f.into()),
    }
    findings
}

/// Counts of one run.
#[derive(Default)]
struct Tally {
    shares: u64,
    problems: u64,
    warnings: u64,
}

/// Reports a finding.
fn emit(
    report: &mut Report,
    tally: &mut Tally,
    path: &Path,
    f: &Finding,
) -> Result<(), OutputError> {
    let label = if f.warning { "warning" } else { f.problem };
    report.line(&format!("{label}: {}: {}", path.display(), f.detail))?;
    let mut v = json!({
        "record": "finding",
        "severity": if f.warning { "warning" } else { "problem" },
        "problem": f.problem,
        "path": path.to_string_lossy(),
        "detail": f.detail,
    });
    if let Some((k, extra)) = &f.extra {
        v[*k] = extra.clone();
    }
    report.object(&v)?;
    if f.warning {
        tally.warnings += 1;
    } else {
        tally.problems += 1;
    }
    Ok(())
}

/// `verify DIR...`. Returns the exit status: 0, 1 when there was a problem, 2 when a
/// `DIR` is not a storage directory.
///
/// # Errors
///
/// Standard output failed.
pub fn verify(dirs: &[PathBuf], now: f64, report: &mut Report) -> Result<u8, OutputError> {
    let mut tally = Tally::default();
    let mut status = 0u8;
    for dir in dirs {
        let Some(storage) = report.storage_dir(dir, walk::storage_dir(dir))? else {
            status = 2;
            continue;
        };
        walk::walk(&storage, &mut |entry| {
            match entry {
                Entry::Share { path, si, .. } => {
                    report.tick(&si);
                    tally.shares += 1;
                    for f in check_share(&path, now) {
                        emit(report, &mut tally, &path, &f)?;
                    }
                }
                Entry::Unreadable { path, error } => {
                    let f = Finding::problem("unreadable", io_reason(&error));
                    emit(report, &mut tally, &path, &f)?;
                }
                Entry::Stray { path, why } => {
                    emit(report, &mut tally, &path, &Finding::problem("stray", why))?;
                }
                Entry::Incoming { path, size, mtime } => {
                    let age = mtime.map(|m| (now - m).max(0.0));
                    let detail = match age {
                        Some(a) => format!(
                            "{size} bytes, last written {}s ago ({}): an upload in progress \
                             or the leftover of one",
                            a as i64,
                            human_age(a)
                        ),
                        None => format!("{size} bytes, of unknown age"),
                    };
                    let mut f = Finding::warning("incoming", detail);
                    f.extra = Some(("age_seconds", json!(age.map(|a| a as i64))));
                    emit(report, &mut tally, &path, &f)?;
                }
            }
            Ok(())
        })?;
    }
    report.object(&json!({"record": "summary", "shares": tally.shares,
        "problems": tally.problems, "warnings": tally.warnings}))?;
    if status != 0 {
        // A DIR was not a storage directory: nothing to call ok.
    } else if tally.problems == 0 {
        report.line(&format!("ok: {} shares", tally.shares))?;
    } else {
        report.note(&format!(
            "verify: {} problem(s) among {} shares",
            tally.problems, tally.shares
        ));
        status = status.max(1);
    }
    Ok(status)
}

/// An age in the largest whole unit.
fn human_age(secs: f64) -> String {
    // Ages are never negative (clamped at 0 by the caller).
    let s = secs.max(0.0) as i64;
    match s {
        0..=119 => format!("{s} seconds"),
        120..=7199 => format!("{} minutes", s / 60),
        7200..=172_799 => format!("{} hours", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}
