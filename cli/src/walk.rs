//! Walking a storage directory read-only: `shares/<prefix>/<storage index>/<shnum>`,
//! in the order Tahoe's `catalog-shares` visits them (prefixes and storage indexes by
//! name, share numbers by value), then `shares/incoming/`.
//!
//! The walk carries on past anything it cannot read and reports it; what is not where
//! a share belongs is reported as stray, never opened as a share.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tahoe_shares::{ShareNumber, StorageIndex};

/// One thing the walk found.
#[derive(Debug)]
pub enum Entry {
    /// A share file where one belongs.
    Share {
        /// Its path.
        path: PathBuf,
        /// The storage index directory's name (base32).
        si: String,
        /// The share number.
        shnum: ShareNumber,
    },
    /// Something that is not where it belongs, or not what belongs there.
    Stray {
        /// Its path.
        path: PathBuf,
        /// What is wrong, in words.
        why: String,
    },
    /// A directory or entry that could not be read.
    Unreadable {
        /// Its path.
        path: PathBuf,
        /// The error.
        error: io::Error,
    },
    /// A file under `shares/incoming/`: an upload in progress or a leftover of one.
    Incoming {
        /// Its path.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// Its modification time (seconds since the epoch), when known.
        mtime: Option<f64>,
    },
}

/// Finds the storage directory in `dir`: `dir` itself when it holds `shares/`, or
/// `dir/storage` when `dir` is a node directory (what `tahoe debug catalog-shares`
/// takes).
///
/// # Errors
///
/// A message naming `dir` when neither holds `shares/`.
pub fn storage_dir(dir: &Path) -> Result<PathBuf, String> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("{}: not a directory", dir.display())),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    }
    for candidate in [dir.to_path_buf(), dir.join("storage")] {
        match fs::symlink_metadata(candidate.join("shares")) {
            Ok(m) if m.is_dir() => return Ok(candidate),
            Ok(_) => {
                return Err(format!(
                    "{}: not a directory",
                    candidate.join("shares").display()
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", candidate.join("shares").display())),
        }
    }
    Err(format!(
        "{}: no shares/ directory: not a Tahoe storage directory (give the node's \
         directory or its storage/ directory)",
        dir.display()
    ))
}

/// The names in a directory, sorted by their bytes (as Python sorts ASCII names).
fn sorted_names(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        names.push(entry?.file_name());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// The sorted names in `dir`, or `None` once `dir` is reported as
/// [`Entry::Unreadable`] (the walk carries on past it).
///
/// # Errors
///
/// What `visit` returns.
fn names_or_unreadable<E>(
    dir: &Path,
    visit: &mut dyn FnMut(Entry) -> Result<(), E>,
) -> Result<Option<Vec<OsString>>, E> {
    match sorted_names(dir) {
        Ok(names) => Ok(Some(names)),
        Err(error) => visit(Entry::Unreadable {
            path: dir.to_path_buf(),
            error,
        })
        .map(|()| None),
    }
}

/// Whether `name` could be a prefix directory: two characters of Tahoe's base32.
fn is_prefix_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    b.len() == 2
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(c))
}

/// A stray: `found` (an entry of the wrong kind, in words) where `belongs` belongs.
fn misplaced(path: PathBuf, found: &str, belongs: &str) -> Entry {
    Entry::Stray {
        path,
        why: format!("{found} where {belongs} belongs"),
    }
}

/// What kind of entry a path is, without following a symbolic link.
enum Kind {
    Dir,
    File(fs::Metadata),
    Other(&'static str),
}

fn kind(path: &Path) -> io::Result<Kind> {
    let m = fs::symlink_metadata(path)?;
    let t = m.file_type();
    Ok(if t.is_dir() {
        Kind::Dir
    } else if t.is_file() {
        Kind::File(m)
    } else if t.is_symlink() {
        Kind::Other("a symbolic link")
    } else {
        Kind::Other("not a regular file")
    })
}

/// Walks `storage` (a directory holding `shares/`), handing each entry to `visit`;
/// stops early when `visit` returns an error.
///
/// # Errors
///
/// What `visit` returns.
pub fn walk<E>(storage: &Path, visit: &mut dyn FnMut(Entry) -> Result<(), E>) -> Result<(), E> {
    let shares = storage.join("shares");
    let Some(names) = names_or_unreadable(&shares, visit)? else {
        return Ok(());
    };
    let mut has_incoming = false;
    for name in names {
        let path = shares.join(&name);
        if name == "incoming" {
            has_incoming = true;
            continue;
        }
        match kind(&path) {
            Err(error) => visit(Entry::Unreadable { path, error })?,
            Ok(Kind::Dir) if is_prefix_name(&name) => walk_prefix(&path, &name, visit)?,
            Ok(Kind::Dir) => visit(Entry::Stray {
                path,
                why: "not a prefix directory (two base32 characters)".into(),
            })?,
            Ok(Kind::File(_)) => visit(misplaced(path, "a file", "a prefix directory"))?,
            Ok(Kind::Other(what)) => visit(misplaced(path, what, "a prefix directory"))?,
        }
    }
    if has_incoming {
        walk_incoming(&shares.join("incoming"), 0, visit)?;
    }
    Ok(())
}

/// One prefix directory: its storage index directories.
fn walk_prefix<E>(
    dir: &Path,
    prefix: &OsStr,
    visit: &mut dyn FnMut(Entry) -> Result<(), E>,
) -> Result<(), E> {
    let Some(names) = names_or_unreadable(dir, visit)? else {
        return Ok(());
    };
    for name in names {
        let path = dir.join(&name);
        let canonical = StorageIndex::from_base32(name.as_bytes()).is_ok()
            && name.as_bytes().starts_with(prefix.as_bytes());
        match kind(&path) {
            Err(error) => visit(Entry::Unreadable { path, error })?,
            Ok(Kind::Dir) if canonical => walk_bucket(&path, &name, visit)?,
            Ok(Kind::Dir) => visit(Entry::Stray {
                path,
                why: format!(
                    "not a storage index directory of prefix {} (canonical base32 \
                     starting with the prefix)",
                    prefix.to_string_lossy()
                ),
            })?,
            Ok(Kind::File(_)) => visit(misplaced(path, "a file", "a storage index directory"))?,
            Ok(Kind::Other(what)) => visit(misplaced(path, what, "a storage index directory"))?,
        }
    }
    Ok(())
}

/// One storage index directory: its share files, by share number, then its strays.
fn walk_bucket<E>(
    dir: &Path,
    si: &OsStr,
    visit: &mut dyn FnMut(Entry) -> Result<(), E>,
) -> Result<(), E> {
    let Some(names) = names_or_unreadable(dir, visit)? else {
        return Ok(());
    };
    if names.is_empty() {
        return visit(Entry::Stray {
            path: dir.to_path_buf(),
            why: "an empty storage index directory (Tahoe removes it with its last share)".into(),
        });
    }
    let mut shares: Vec<(ShareNumber, PathBuf)> = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let Some(shnum) = ShareNumber::from_file_name(name.as_bytes()) else {
            visit(Entry::Stray {
                path,
                why: "not a canonical share number (0 to 255, no leading zero)".into(),
            })?;
            continue;
        };
        match kind(&path) {
            Err(error) => visit(Entry::Unreadable { path, error })?,
            Ok(Kind::File(_)) => shares.push((shnum, path)),
            Ok(Kind::Dir) => visit(misplaced(path, "a directory", "a share file"))?,
            Ok(Kind::Other(what)) => visit(misplaced(path, what, "a share file"))?,
        }
    }
    shares.sort_by_key(|(n, _)| *n);
    for (shnum, path) in shares {
        visit(Entry::Share {
            path,
            si: si.to_string_lossy().into_owned(),
            shnum,
        })?;
    }
    Ok(())
}

/// `shares/incoming/` and below (prefix, storage index, share: three levels), every
/// file reported with its age.
fn walk_incoming<E>(
    dir: &Path,
    depth: u32,
    visit: &mut dyn FnMut(Entry) -> Result<(), E>,
) -> Result<(), E> {
    let Some(names) = names_or_unreadable(dir, visit)? else {
        return Ok(());
    };
    for name in names {
        let path = dir.join(&name);
        match kind(&path) {
            Err(error) => visit(Entry::Unreadable { path, error })?,
            Ok(Kind::Dir) if depth < 2 => walk_incoming(&path, depth + 1, visit)?,
            Ok(Kind::File(m)) => {
                let mtime = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs_f64());
                visit(Entry::Incoming {
                    path,
                    size: m.len(),
                    mtime,
                })?;
            }
            Ok(Kind::Dir) => visit(misplaced(path, "a directory", "an incoming share file"))?,
            Ok(Kind::Other(what)) => visit(Entry::Stray {
                path,
                why: format!("{what} under incoming/"),
            })?,
        }
    }
    Ok(())
}
