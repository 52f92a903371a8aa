//! `tahoe-shares recover DIR...`: finish or undo every update an interrupted run left in
//! a storage directory, so that Tahoe's own server and crawlers read every share as it was
//! before or after its last update. The one command that writes.
//!
//! It does what a tahoe-shares server does at startup after a crash (and what it does
//! always, without being asked, whenever the previous writer was interrupted), but for
//! every share even when the previous writer stopped cleanly: a directory Tahoe's own
//! server wrote may hold an immutable lease record its count does not cover (Tahoe's
//! crash window 3, docs/format.md §6). Like a server's startup it discards `incoming/`.
//! It takes the directory's lock, so it refuses to run beside a running node.

use std::path::PathBuf;

use serde_json::json;
use tahoe_shares::server::{Config, Server};
use tahoe_shares::store::{Durability, FsStore, ShareStore, StoreError};
use tahoe_shares::NodeId;

use crate::report::{OutputError, Report};
use crate::walk;

/// Recovers each directory; the exit status (0 all well, 1 a directory could not be
/// recovered or holds damaged shares, 2 a directory that is not a storage directory).
///
/// # Errors
///
/// Standard output failed.
pub fn recover(dirs: &[PathBuf], now: f64, report: &mut Report) -> Result<u8, OutputError> {
    let mut status = 0u8;
    for dir in dirs {
        let Some(storage) = report.storage_dir(dir, walk::storage_dir(dir))? else {
            status = 2;
            continue;
        };
        let shown = storage.display().to_string();
        let failed = |report: &mut Report, reason: String| -> Result<(), OutputError> {
            report.note(&format!("{shown}: {reason}"));
            report.object(&json!({"record": "error", "class": "unrecovered",
                "path": shown, "reason": reason}))
        };
        let store = match FsStore::open(&storage, Durability::Durable) {
            Ok(s) => s,
            Err(StoreError::StorageLocked) => {
                let holder =
                    FsStore::lock_holder(&storage).map_or_else(String::new, |h| format!(" ({h})"));
                failed(
                    report,
                    format!("in use by a running writer{holder}: stop the node first"),
                )?;
                status = status.max(1);
                continue;
            }
            Err(e) => {
                failed(report, e.to_string())?;
                status = status.max(1);
                continue;
            }
        };
        let interrupted = store.previous_writer_interrupted();
        // The nodeid is only written into mutable containers the server creates, and
        // recovery creates none; nor does it look at the time.
        // `now` is finite (main checks it) and clamped to be non-negative; whole seconds
        // are what the server counts in.
        #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
        let now_secs = now.max(0.0) as u64;
        let started = Server::new_with_progress(
            store,
            NodeId([0; 20]),
            Config::default(),
            now_secs,
            &mut |r| report.progress_to(r.shares, r.storage_indexes, r.storage_indexes_total),
        );
        let result = started.and_then(|mut srv| match srv.startup_recovery() {
            Some(done) => Ok(done),
            None => srv.recover_interrupted(&mut |r| {
                report.progress_to(r.shares, r.storage_indexes, r.storage_indexes_total);
            }),
        });
        let done = match result {
            Ok(d) => d,
            Err(e) => {
                failed(report, e.to_string())?;
                status = status.max(1);
                continue;
            }
        };
        if done.damaged > 0 {
            status = status.max(1);
        }
        report.line(&format!(
            "{shown}: {} shares in {} storage indexes, {} recovered, {} damaged (left as \
             they are: run verify){}",
            done.shares,
            done.storage_indexes,
            done.recovered,
            done.damaged,
            if interrupted {
                "; the previous writer had been interrupted"
            } else {
                ""
            }
        ))?;
        report.object(&json!({"record": "recovered", "path": shown,
            "storage_indexes": done.storage_indexes, "shares": done.shares,
            "recovered": done.recovered, "damaged": done.damaged,
            "previous_writer_interrupted": interrupted}))?;
    }
    Ok(status)
}
