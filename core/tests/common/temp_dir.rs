//! A scratch directory for tests. One file, included by `core/tests/common/mod.rs` and, by
//! path, by `cli/tests/cli.rs`: the two are different crates and have no library of test
//! helpers in common.

use core::sync::atomic::{AtomicUsize, Ordering};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A scratch directory under the system's temporary directory, removed on drop (also when
/// a test fails, and when a test made directories in it read-only). Its name holds the test
/// crate's name, `name`, the process id and a counter, so tests running in parallel, or one
/// test making several, never share one.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates an empty directory (removing any left by an earlier run of that name).
    pub fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let crate_name = env!("CARGO_CRATE_NAME");
        let path =
            std::env::temp_dir().join(format!("ts-{crate_name}-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = make_removable(&self.0);
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Gives the owner every permission on `dir` and the directories below it (not following
/// links), so that what a test made read-only can be removed.
fn make_removable(dir: &Path) -> std::io::Result<()> {
    let meta = fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Ok(());
    }
    let mut permissions = meta.permissions();
    permissions.set_mode(permissions.mode() | 0o700);
    fs::set_permissions(dir, permissions)?;
    for entry in fs::read_dir(dir)? {
        make_removable(&entry?.path())?;
    }
    Ok(())
}
