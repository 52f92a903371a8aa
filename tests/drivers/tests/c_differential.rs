//! The C driver against the Rust one: `ffi-c/tests/differential.json`, a server script
//! (docs/differential-scripts.md), run through the C API by `ffi-c/tests/differential.c` and
//! through the Rust core by [`tahoe_shares_drivers::server::run`], must give the same
//! results (result codes included) and byte-identical storage directories.
//! `tests/python/test_c_driver.py` compares the C driver with Tahoe-LAFS 1.20.
//!
//! `make test-c` builds the C program and names it in `TS_C_DRIVER`; without that variable
//! (a plain `cargo test`) the test only checks that the Rust side runs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tahoe_shares_drivers::server;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../ffi-c/tests/differential.json"
);

/// Every entry under `root` (directories too), with the contents of files.
/// Every entry below `root`, with each file's bytes; the store's write-ahead log
/// (`tahoe-shares.wal`, docs/format.md §5a) is bookkeeping, not share storage, and is left
/// out (what it holds depends on the durability a driver chose, and on its epochs).
fn tree(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let rel = path.strip_prefix(root).expect("under root").to_path_buf();
            if rel == Path::new("tahoe-shares.wal") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                out.insert(rel, None);
            } else {
                out.insert(rel, Some(fs::read(&path).expect("read")));
            }
        }
    }
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ts-differential-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn c_and_rust_give_identical_storage() {
    let script: Value =
        serde_json::from_str(&fs::read_to_string(SCRIPT).expect("script")).expect("JSON");
    let rust_dir = scratch("rust");
    let rust = server::run(&script, &rust_dir);
    assert!(
        rust.iter().any(|r| r["extra"]["size"] == 96),
        "no upload of 96 bytes was closed: {rust:?}"
    );
    let Some(driver) = std::env::var_os("TS_C_DRIVER") else {
        eprintln!("TS_C_DRIVER is not set: the C half is skipped (make test-c runs it)");
        fs::remove_dir_all(&rust_dir).expect("clean up");
        return;
    };
    let c_dir = scratch("c");
    let c = Command::new(&driver)
        .arg(SCRIPT)
        .arg(&c_dir)
        .output()
        .expect("run the C driver");
    assert!(
        c.status.success(),
        "C driver failed: {}",
        String::from_utf8_lossy(&c.stderr)
    );
    let c_out: Vec<Value> = String::from_utf8(c.stdout)
        .expect("UTF-8 results")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON result per line"))
        .collect();
    assert_eq!(c_out.len(), rust.len(), "not one result per op");
    for (i, (c, r)) in c_out.iter().zip(&rust).enumerate() {
        assert_eq!(c, r, "op {i} ({}) differs", script["ops"][i]);
    }
    let (rust_tree, c_tree) = (tree(&rust_dir), tree(&c_dir));
    assert!(rust_tree
        .keys()
        .any(|p| p.starts_with("corruption-advisories")));
    assert_eq!(
        rust_tree.keys().collect::<Vec<_>>(),
        c_tree.keys().collect::<Vec<_>>(),
        "the directories hold different names"
    );
    for (path, bytes) in &rust_tree {
        assert!(&c_tree[path] == bytes, "{} differs", path.display());
    }
    fs::remove_dir_all(&rust_dir).expect("clean up");
    fs::remove_dir_all(&c_dir).expect("clean up");
}
