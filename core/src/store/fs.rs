//! The filesystem store, in exactly Tahoe's layout:
//!
//! ```text
//! <storage>/shares/<2-char prefix>/<26-char base32 SI>/<shnum>
//! <storage>/shares/incoming/<2-char prefix>/<26-char base32 SI>/<shnum>
//! <storage>/corruption-advisories/<name>
//! <storage>/tahoe-shares.lock
//! ```
//!
//! Only names that are share numbers count (`0`..`255`, no leading zeros); anything else
//! is ignored. Symbolic links are never followed and never served.

use core::fmt;
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};

use super::wal::{SharedWal, WalCell, WalLink};
use super::{Durability, ShareStore};
use crate::io::FileIo;
use crate::store::{StoreError, StoreResult};
use crate::types::{ShareNumber, ShareSet, StorageIndex};

/// How often a create or link is tried again when another process removed the directory
/// just made for it.
const DIR_RACE_RETRIES: u32 = 8;

/// The name of the lock file inside the storage directory. Tahoe ignores it: its server
/// and crawlers only look below `shares/`, and at its own state files by name.
pub const LOCK_FILE_NAME: &str = "tahoe-shares.lock";

/// The most bytes of holder text [`FsStore::lock_holder`] reads.
const HOLDER_TEXT_MAX: u64 = 1024;

/// Shares in a Tahoe storage directory.
///
/// # One writer per storage directory
///
/// [`FsStore::open`] opens the directory for writing and takes an exclusive advisory lock
/// (`flock(LOCK_EX | LOCK_NB)`) on `<storage>/tahoe-shares.lock`, held for the life of
/// the store and released when it is dropped or its process dies, however it dies. A
/// second writer, in another process or another `FsStore` of this one (the lock belongs
/// to the open file, not to the process), fails at once with [`StoreError::StorageLocked`];
/// [`FsStore::lock_holder`] tells who holds it (process id, host, start time).
///
/// What this makes safe: while a store lives, nothing else that honours the lock
/// changes the directory, so
/// - a [`crate::server::Server`] over it is the only writer: its startup may discard or
///   resume `incoming/` (no other writer's upload is in there), and mutable
///   test-and-writes, serialised by that one server, cannot interleave with another
///   writer's;
/// - what the store or the server read from the directory stays true until they change
///   it themselves, so caching it (share lists, headers, lease counts) is coherent.
///
/// Readers may run beside the writer: [`FsStore::open_read_only`] takes no lock, creates
/// and removes nothing, and opens every file read-only (so it also works on a read-only
/// mount or as a user who may only read). A reader can see a share mid-update (a mutable
/// share whose journal is not yet replayed), as Tahoe's own tools can.
///
/// The lock is advisory: Tahoe's own server does not know it, so never run Tahoe's server
/// and a tahoe-shares writer on one directory. Immutable uploads would still be safe
/// (creation is exclusive and publishing never replaces a share), but mutable writes and
/// `incoming/` would not. A process that forks without exec shares the lock with its
/// child, which then holds it as long as either lives. Network filesystems may not
/// implement `flock` across machines.
///
/// The store is not `Clone`: one store object is one writer.
#[derive(Debug)]
pub struct FsStore {
    root: PathBuf,
    durability: Durability,
    access: Access,
    /// Whether the previous writer stopped without dropping its store.
    interrupted: bool,
    /// The write-ahead log (docs/format.md §5a) of a writer: recovered at the open, used
    /// by the published shares it opens when durable.
    wal: Option<SharedWal>,
    /// Storage indexes whose `incoming/<pp>/<si>` entries (in `incoming/<pp>` and
    /// `incoming/`) this store has made durable, for upload records (see
    /// [`ShareStore::put_upload_record`]); forgotten when the directory is removed.
    durable_incoming: BTreeSet<StorageIndex>,
}

/// How a store may use its directory.
#[derive(Debug)]
enum Access {
    /// The writer, holding the directory's lock (held, never read, until dropped).
    Writer { lock: DirLock },
    /// Opened read-only: no lock, nothing created, removed or written.
    ReadOnly,
    /// A writer without the lock (tests of what the filesystem arbitrates alone, as
    /// against a writer that does not know the lock).
    #[cfg(feature = "_testing")]
    Unlocked,
}

/// The exclusive lock on a storage directory, with the holder's text in the lock file.
#[derive(Debug)]
struct DirLock {
    // flock(LOCK_UN) when dropped, then close. Unlocking a descriptor this store opened
    // and locked cannot fail (flock's errors are EBADF, EINVAL, and EINTR or
    // EWOULDBLOCK for requests that wait), so Flock's drop, which panics on failure,
    // never does.
    file: Flock<File>,
    /// Whether the lock file held a holder's text when taken: its holder stopped without
    /// dropping the store (a clean drop empties the file).
    previous_holder_died: bool,
    /// Keep the text at the drop: the store is not left clean (its write-ahead log holds
    /// an update it could not apply).
    keep_text: bool,
}

impl DirLock {
    /// Takes the lock and writes this holder's text. Durably when `durable`: the text is
    /// what tells the next writer that this one was interrupted, so it must survive the
    /// crash it is there to tell of. The file is never empty in between (the text is
    /// written over the old one, then the file cut to its length).
    fn acquire(root: &Path, durable: bool) -> StoreResult<Self, io::Error> {
        let path = root.join(LOCK_FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
            .open(&path)
            .map_err(at(&path))?;
        let file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(f) => f,
            Err((_, Errno::EWOULDBLOCK)) => return Err(StoreError::StorageLocked),
            Err((_, errno)) => {
                return Err(StoreError::Io(FsError::wrap(
                    &path,
                    io::Error::from_raw_os_error(errno as i32),
                )))
            }
        };
        if !file.metadata().map_err(at(&path))?.is_file() {
            return Err(StoreError::Io(FsError::wrap(
                &path,
                io::Error::new(
                    ErrorKind::InvalidInput,
                    "the lock file is not a regular file",
                ),
            )));
        }
        let mut previous = Vec::new();
        (&*file)
            .take(HOLDER_TEXT_MAX)
            .read_to_end(&mut previous)
            .map_err(at(&path))?;
        let previous_holder_died = !String::from_utf8_lossy(&previous).trim().is_empty();
        let text = holder_text();
        file.write_all_at(text.as_bytes(), 0)
            .and_then(|()| file.set_len(text.len() as u64))
            .map_err(at(&path))?;
        if durable {
            file.sync_all().map_err(at(&path))?;
            File::open(root)
                .and_then(|d| d.sync_all())
                .map_err(at(root))?;
        }
        Ok(Self {
            file,
            previous_holder_died,
            keep_text: false,
        })
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // The next reader of the file finds no stale holder (a killed holder leaves its
        // text; `lock_holder` then sees the lock free and ignores it).
        if !self.keep_text {
            let _ = self.file.set_len(0);
        }
    }
}

/// What the holder writes into the lock file: who it is and since when.
fn holder_text() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let (y, m, d) = crate::server::time::civil_from_days(days);
    let rem = secs % 86_400;
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown host".to_string());
    std::format!(
        "pid {} on {host}, since {y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z (tahoe-shares {})\n",
        std::process::id(),
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        env!("CARGO_PKG_VERSION"),
    )
}

/// An error of a filesystem operation, with the path it concerns.
///
/// The store returns every filesystem error as a [`std::io::Error`] of the original
/// [`std::io::ErrorKind`] carrying an `FsError`: its `Display` is `"<path>: <error>"`,
/// its [`std::error::Error::source`] the operating system's error. [`FsError::errno`]
/// and [`FsError::path_of`] read the errno and the path back from such an
/// `io::Error` (the bindings set Python's `OSError.errno`/`filename` and C's errno from
/// them); `io::Error::raw_os_error` itself is `None` on the wrapper.
#[derive(Debug)]
pub struct FsError {
    path: PathBuf,
    source: io::Error,
}

impl FsError {
    /// Wraps `source` as an `io::Error` of the same kind that names `path`.
    #[must_use]
    pub fn wrap(path: &Path, source: io::Error) -> io::Error {
        io::Error::new(
            source.kind(),
            Self {
                path: path.to_path_buf(),
                source,
            },
        )
    }

    /// The path the operation was on.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The operating system's error.
    #[must_use]
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }

    /// The `FsError` inside an `io::Error`, if it carries one.
    #[must_use]
    pub fn of(e: &io::Error) -> Option<&Self> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<Self>())
    }

    /// The errno of an `io::Error`, looking through an `FsError` wrapper; `None` for an
    /// error that did not come from the operating system.
    #[must_use]
    pub fn errno(e: &io::Error) -> Option<i32> {
        match Self::of(e) {
            Some(fs) => Self::errno(&fs.source),
            None => e.raw_os_error(),
        }
    }

    /// The path an `io::Error` names, when it carries an `FsError`.
    #[must_use]
    pub fn path_of(e: &io::Error) -> Option<&Path> {
        Self::of(e).map(Self::path)
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

impl core::error::Error for FsError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Maps an error of an operation on `path` to the core's error, naming the path.
fn at(path: &Path) -> impl FnOnce(io::Error) -> StoreError<io::Error> + '_ {
    move |e| StoreError::Io(FsError::wrap(path, e))
}

/// As [`at`], with `AlreadyExists` as [`StoreError::AlreadyExists`] (exclusive creation).
fn at_excl(path: &Path) -> impl FnOnce(io::Error) -> StoreError<io::Error> + '_ {
    move |e| match e.kind() {
        ErrorKind::AlreadyExists => StoreError::AlreadyExists,
        _ => StoreError::Io(FsError::wrap(path, e)),
    }
}

/// Whether an error is the filesystem being full (ENOSPC) or a quota reached (EDQUOT).
fn is_full(e: &io::Error) -> bool {
    matches!(
        FsError::errno(e),
        Some(nix::libc::ENOSPC | nix::libc::EDQUOT)
    )
}

fn b32(si: &StorageIndex) -> String {
    si.to_string()
}

impl FsStore {
    /// Opens (creating if needed) the store in `storage_dir` (Tahoe's `storage/`) for
    /// writing, taking the directory's lock (see the type's docs).
    ///
    /// # Errors
    ///
    /// [`StoreError::StorageLocked`] when another writer holds the directory (nothing was
    /// changed; [`Self::lock_holder`] names it); [`StoreError::Io`] when the directories or
    /// the lock file cannot be created.
    pub fn open(
        storage_dir: impl Into<PathBuf>,
        durability: Durability,
    ) -> StoreResult<Self, io::Error> {
        let root = storage_dir.into();
        fs::create_dir_all(&root).map_err(at(&root))?;
        let lock = DirLock::acquire(&root, durability == Durability::Durable)?;
        let interrupted = lock.previous_holder_died;
        let mut store = Self::writer(root, durability, Access::Writer { lock })?;
        store.interrupted = interrupted;
        Ok(store)
    }

    /// Opens the store in `storage_dir` for reading only: no lock is taken (a writer may
    /// be running), nothing is created or removed, and every file is opened `O_RDONLY`.
    /// Every method of [`ShareStore`] that would change something returns
    /// [`StoreError::ReadOnly`]; so does every write to a share it opened, and
    /// [`ShareStore::available_space`] is 0. A directory without `shares/` holds no
    /// shares.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when `storage_dir` is not a directory that can be looked at.
    pub fn open_read_only(storage_dir: impl Into<PathBuf>) -> StoreResult<Self, io::Error> {
        let root = storage_dir.into();
        if !fs::metadata(&root).map_err(at(&root))?.is_dir() {
            return Err(StoreError::Io(FsError::wrap(
                &root,
                io::Error::from_raw_os_error(nix::libc::ENOTDIR),
            )));
        }
        Ok(Self {
            root,
            durability: Durability::NoSync,
            access: Access::ReadOnly,
            interrupted: false,
            wal: None,
            durable_incoming: BTreeSet::new(),
        })
    }

    /// Opens for writing *without* the lock, as a writer that does not know it (Tahoe's
    /// own server) would: for tests of what the filesystem alone arbitrates. Not covered
    /// by semver.
    ///
    /// # Errors
    ///
    /// As [`Self::open`], except [`StoreError::StorageLocked`].
    #[cfg(feature = "_testing")]
    #[doc(hidden)]
    pub fn open_unlocked(
        storage_dir: impl Into<PathBuf>,
        durability: Durability,
    ) -> StoreResult<Self, io::Error> {
        let root = storage_dir.into();
        fs::create_dir_all(&root).map_err(at(&root))?;
        Self::writer(root, durability, Access::Unlocked)
    }

    fn writer(
        root: PathBuf,
        durability: Durability,
        access: Access,
    ) -> StoreResult<Self, io::Error> {
        let mut store = Self {
            root,
            durability,
            access,
            interrupted: false,
            wal: None,
            durable_incoming: BTreeSet::new(),
        };
        // The parent of each directory made is synced: `shares/` holds every share, and
        // nothing later syncs the storage directory.
        store.make_dirs(&store.incoming_root(), true)?;
        // Whatever the durability: a log left by a durable writer that died holds
        // acknowledged updates, which are replayed before anything reads a share.
        let (wal, replayed) =
            WalCell::open(&store.root, &store.shares_root()).map_err(StoreError::Io)?;
        store.wal = Some(wal);
        if replayed > 0 {
            store.interrupted = true;
        }
        Ok(store)
    }

    /// Who holds the lock of `storage_dir`: the text its holder wrote (process id, host
    /// and start time), for error messages. `None` when nobody holds it, or when the
    /// holder is not known (it has not written its text yet, or the file cannot be
    /// read).
    ///
    /// To tell a held lock from a free one it tries a shared lock for an instant, so a
    /// writer opening the directory at that very instant may fail as if it were held;
    /// call this only to explain an [`StoreError::StorageLocked`].
    #[must_use]
    pub fn lock_holder(storage_dir: impl AsRef<Path>) -> Option<String> {
        let path = storage_dir.as_ref().join(LOCK_FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
            .open(path)
            .ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        let file = match Flock::lock(file, FlockArg::LockSharedNonblock) {
            // Nobody holds it exclusively: any text is a dead holder's.
            Ok(_free) => return None,
            Err((file, Errno::EWOULDBLOCK)) => file,
            Err(_) => return None,
        };
        let mut text = String::new();
        let mut bytes = Vec::new();
        file.take(HOLDER_TEXT_MAX).read_to_end(&mut bytes).ok()?;
        text.push_str(String::from_utf8_lossy(&bytes).trim());
        (!text.is_empty()).then_some(text)
    }

    /// The storage directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the store was opened with [`Self::open_read_only`].
    #[must_use]
    pub fn read_only(&self) -> bool {
        matches!(self.access, Access::ReadOnly)
    }

    /// Whether `e`, an error of this store or of a share it opened, means the filesystem
    /// is full (ENOSPC) or a quota is reached (EDQUOT), also through an [`FsError`].
    #[must_use]
    pub fn error_is_no_space(e: &io::Error) -> bool {
        is_full(e)
    }

    /// Refuses a change in a read-only store.
    fn writable(&self) -> StoreResult<(), io::Error> {
        if self.read_only() {
            Err(StoreError::ReadOnly)
        } else {
            Ok(())
        }
    }

    fn shares_root(&self) -> PathBuf {
        self.root.join("shares")
    }

    fn incoming_root(&self) -> PathBuf {
        self.shares_root().join("incoming")
    }

    /// The directory of a storage index's published shares.
    #[must_use]
    pub fn bucket_dir(&self, si: &StorageIndex) -> PathBuf {
        let name = b32(si);
        self.shares_root().join(&name[..2]).join(name)
    }

    fn incoming_dir(&self, si: &StorageIndex) -> PathBuf {
        let name = b32(si);
        self.incoming_root().join(&name[..2]).join(name)
    }

    /// The path of a published share.
    #[must_use]
    pub fn share_path(&self, si: &StorageIndex, shnum: ShareNumber) -> PathBuf {
        self.bucket_dir(si).join(shnum.file_name().as_str())
    }

    fn record_path(&self, si: &StorageIndex, shnum: ShareNumber) -> PathBuf {
        self.incoming_dir(si)
            .join(std::format!("{}.upload", shnum.file_name().as_str()))
    }

    /// Removes an upload record if there is one, syncing its directory when there was
    /// one (so that an aborted upload is never resumed after a crash).
    fn remove_record(&self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), io::Error> {
        let path = self.record_path(si, shnum);
        match fs::remove_file(&path) {
            Ok(()) => self.sync_dir(&self.incoming_dir(si)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(at(&path)(e)),
        }
    }

    fn durable(&self) -> bool {
        self.durability == Durability::Durable
    }

    /// Opens a share file (or record): read-write, or read-only in a read-only store.
    fn open_file(&self, path: &Path, create_new: bool) -> StoreResult<Option<FileIo>, io::Error> {
        let read_only = self.read_only();
        if create_new {
            self.writable()?;
        }
        let mut opts = OpenOptions::new();
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. It
        // changes nothing for regular files.
        let mut flags = OFlag::O_NOFOLLOW;
        if read_only {
            flags |= OFlag::O_NONBLOCK;
        }
        opts.read(true).write(!read_only).custom_flags(flags.bits());
        if create_new {
            opts.create_new(true);
        }
        match opts.open(path) {
            Ok(file) => {
                // A file this call created is a regular file: only an existing name can
                // be something else.
                if !create_new && !file.metadata().map_err(at(path))?.is_file() {
                    return Err(StoreError::NotAShare);
                }
                let io = FileIo::new(file)
                    .with_durability(self.durability)
                    .with_path(path.to_path_buf());
                Ok(Some(if read_only { io.read_only() } else { io }))
            }
            Err(e) if e.kind() == ErrorKind::NotFound && !create_new => Ok(None),
            // O_NOFOLLOW on a symbolic link fails with ELOOP; a directory opened for
            // writing fails with EISDIR.
            Err(e) if matches!(e.raw_os_error(), Some(nix::libc::ELOOP | nix::libc::EISDIR)) => {
                Err(StoreError::NotAShare)
            }
            Err(e) => Err(at_excl(path)(e)),
        }
    }

    fn sync_dir(&self, dir: &Path) -> StoreResult<(), io::Error> {
        if self.durable() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(at(dir))?;
        }
        Ok(())
    }

    /// Creates `dir` and any missing parents; returns whether `dir` itself was created.
    /// With `sync_parents`, the parent of each directory created is synced, so that the new
    /// entry is durable. The `mkdir` is tried first, so a directory that is there costs one
    /// call and no `stat`; a parent is looked at only when the `mkdir` says it is missing.
    fn make_dirs(&self, dir: &Path, sync_parents: bool) -> StoreResult<bool, io::Error> {
        let mut attempts = 0;
        loop {
            match fs::create_dir(dir) {
                Ok(()) => break,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(false),
                // The parent is missing, or another writer removed it again just after
                // this made it (it removes directories it empties): make it, try again.
                Err(e) if e.kind() == ErrorKind::NotFound && attempts < DIR_RACE_RETRIES => {
                    attempts += 1;
                    let Some(parent) = dir.parent() else {
                        return Err(at(dir)(e));
                    };
                    // Bounded by the depth of the path: `/` exists.
                    self.make_dirs(parent, sync_parents)?;
                }
                Err(e) => return Err(at(dir)(e)),
            }
        }
        if sync_parents {
            if let Some(p) = dir.parent() {
                self.sync_dir(p)?;
            }
        }
        Ok(true)
    }

    /// Runs `create` in `dir`, creating `dir` (as [`Self::make_dirs`]) when `create` fails
    /// with `NotFound` and trying again, a bounded number of times (another process may
    /// remove the directory in between: it removes directories it empties). A `NotFound`
    /// that outlasts the bound is returned as it is.
    fn in_new_dir<T>(
        &self,
        dir: &Path,
        sync_parents: bool,
        mut create: impl FnMut() -> StoreResult<T, io::Error>,
    ) -> StoreResult<T, io::Error> {
        let mut attempts = 0;
        loop {
            match create() {
                Err(StoreError::Io(e))
                    if e.kind() == ErrorKind::NotFound && attempts < DIR_RACE_RETRIES =>
                {
                    attempts += 1;
                    // Even when `dir` is there now (another writer may have just made
                    // it): the bound ends a `NotFound` that is not about `dir`.
                    self.make_dirs(dir, sync_parents)?;
                }
                r => return r,
            }
        }
    }

    /// fdatasyncs the incoming share at `path` (whose own syncs do nothing, see
    /// [`ShareStore::create_incoming`]); [`StoreError::NoSuchShare`] when there is none.
    fn sync_incoming_file(path: &Path) -> StoreResult<(), io::Error> {
        // Read-only is enough for fdatasync; O_NONBLOCK: a FIFO put there by someone else
        // would otherwise block the open. Only this store creates names in `incoming/`,
        // all regular files: no fstat to check.
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(StoreError::NoSuchShare),
            Err(e) => return Err(at(path)(e)),
        };
        file.sync_data().map_err(at(path))
    }

    /// Removes the incoming directory of `si` and its prefix directory if they are empty.
    fn remove_incoming_dirs(&mut self, si: &StorageIndex) {
        Self::remove_empty_dirs(&self.incoming_dir(si), 2);
        // Whether or not it went, the next record syncs the entries again (cheap, and
        // right if it went).
        self.durable_incoming.remove(si);
    }

    fn list_dir(dir: &Path) -> StoreResult<ShareSet, io::Error> {
        let mut set = ShareSet::new();
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Ok(set)
            }
            Err(e) => return Err(at(dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(at(dir))?;
            let Some(n) = ShareNumber::from_file_name(entry.file_name().as_encoded_bytes()) else {
                continue;
            };
            // file_type() does not follow symbolic links: those, and directories, are
            // never shares.
            if entry.file_type().map_err(at(&entry.path()))?.is_file() {
                set.insert(n);
            }
        }
        Ok(set)
    }

    /// Removes `dir` and then its parent if they are empty, stopping below `stop`.
    fn remove_empty_dirs(dir: &Path, levels: usize) {
        let mut at_dir = dir.to_path_buf();
        for _ in 0..levels {
            if fs::remove_dir(&at_dir).is_err() {
                break;
            }
            match at_dir.parent() {
                Some(p) => at_dir = p.to_path_buf(),
                None => break,
            }
        }
    }

    fn for_each_bucket(
        root: &Path,
        f: &mut dyn FnMut(StorageIndex) -> bool,
    ) -> StoreResult<(), io::Error> {
        let mut prefixes: Vec<_> = match fs::read_dir(root) {
            Ok(rd) => rd
                .filter_map(core::result::Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name())
                .filter(|n| n.len() == 2)
                .collect(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(at(root)(e)),
        };
        prefixes.sort();
        for p in prefixes {
            let dir = root.join(&p);
            let mut sis: Vec<StorageIndex> = fs::read_dir(&dir)
                .map_err(at(&dir))?
                .filter_map(core::result::Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| StorageIndex::from_base32(e.file_name().as_encoded_bytes()).ok())
                .filter(|si| si.prefix() == p.as_encoded_bytes())
                .collect();
            sis.sort_by_key(StorageIndex::to_base32);
            for si in sis {
                if !f(si) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Writes `body` into a new file at `path` and syncs it; on any failure the file is
    /// removed again, so that no partial file stays behind.
    fn write_new_file(&self, path: &Path, body: &[u8]) -> StoreResult<(), io::Error> {
        let mut io = self
            .open_file(path, true)?
            .ok_or(StoreError::Bug("create_new returned no file"))?;
        let written = crate::io::ShareIo::write_at(&mut io, 0, body)
            .and_then(|()| crate::io::ShareIo::sync(&mut io));
        drop(io);
        if let Err(e) = written {
            let _ = fs::remove_file(path);
            return Err(StoreError::Io(e));
        }
        Ok(())
    }
}

impl Drop for FsStore {
    /// A clean stop: the log's updates are made durable and its records dropped. If that
    /// fails, the lock file keeps this holder's text, so that the next writer recovers.
    fn drop(&mut self) {
        let clean = match &self.wal {
            Some(wal) => WalCell::lock(wal).and_then(|mut c| c.checkpoint()).is_ok(),
            None => true,
        };
        if let (false, Access::Writer { lock }) = (clean, &mut self.access) {
            lock.keep_text = true;
        }
    }
}

impl ShareStore for FsStore {
    type Error = io::Error;
    type Io = FileIo;

    fn open(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<Option<FileIo>, io::Error> {
        let io = self.open_file(&self.share_path(si, shnum), false)?;
        Ok(match (&self.wal, io) {
            (Some(wal), Some(io)) if self.durable() => {
                Some(io.with_wal(WalLink::new(wal.clone(), *si, shnum)))
            }
            (_, io) => io,
        })
    }

    fn list(&mut self, si: &StorageIndex) -> StoreResult<ShareSet, io::Error> {
        Self::list_dir(&self.bucket_dir(si))
    }

    /// Creates the incoming share, and the final bucket directory as Tahoe does (syncing
    /// its parent when it is new, so that the publish needs only the bucket directory's
    /// sync). The share's own syncs ([`crate::io::ShareIo::sync`] of the returned file) do
    /// nothing, and the incoming directories are made without syncs: nothing in
    /// `incoming/` needs to survive a crash, since a restart discards it (or, with
    /// resumable uploads, trusts only what [`ShareStore::put_upload_record`] made durable),
    /// and [`ShareStore::publish`] syncs the file before linking it.
    fn create_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<FileIo, io::Error> {
        self.writable()?;
        let bucket = self.bucket_dir(si);
        let dir = self.incoming_dir(si);
        let path = dir.join(shnum.file_name().as_str());
        // Tahoe makes the final bucket directory when it allocates a share, so the tree
        // of an upload in progress is Tahoe's; the publish then only links into it. An
        // abort removes it again when it is empty (Tahoe leaves it), as does removing the
        // last share.
        // Another process publishing or aborting the last upload under the same prefix
        // may remove the directories between their creation and the file's.
        let created = self
            .make_dirs(&bucket, true)
            .and_then(|made| {
                // Only a bucket directory that was there can hold the share already.
                if !made && fs::symlink_metadata(self.share_path(si, shnum)).is_ok() {
                    return Err(StoreError::AlreadyExists);
                }
                // A new bucket directory means a new upload: its incoming directory is
                // missing too, so make it at once rather than after a failed create.
                if made {
                    self.make_dirs(&dir, false)?;
                }
                self.in_new_dir(&dir, false, || self.open_file(&path, true))
            })
            .and_then(|f| f.ok_or(StoreError::Bug("create_new returned no file")));
        if matches!(&created, Err(StoreError::Io(_))) {
            // A full disk can fail the file after its directories: leave none behind
            // (a bucket directory that holds shares is not empty and stays).
            self.remove_incoming_dirs(si);
            Self::remove_empty_dirs(&bucket, 2);
        }
        created.map(|io| io.with_durability(Durability::NoSync))
    }

    /// Opens an incoming share; as for [`ShareStore::create_incoming`], its syncs do
    /// nothing (what a resumed upload needs durable, [`ShareStore::put_upload_record`]
    /// and [`ShareStore::publish`] sync).
    fn open_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<Option<FileIo>, io::Error> {
        Ok(self
            .open_file(
                &self.incoming_dir(si).join(shnum.file_name().as_str()),
                false,
            )?
            .map(|io| io.with_durability(Durability::NoSync)))
    }

    fn list_incoming(&mut self, si: &StorageIndex) -> StoreResult<ShareSet, io::Error> {
        Self::list_dir(&self.incoming_dir(si))
    }

    /// Publishes with: fdatasync the incoming file (its data and length; its name needs
    /// no sync); hard-link it to its final name, which fails rather than replace an
    /// existing share (making the bucket directory again, syncing its parent, if it is
    /// gone); fsync the bucket directory (the one sync that makes the share's name
    /// durable); then remove the upload record and the incoming name, without syncs. A
    /// crash after the link leaves both names (and perhaps the record): a restart
    /// discards the incoming one, as a share also published is never resumed. When the
    /// directory or the link cannot be made (a full disk), the directories made for it are
    /// removed again.
    fn publish(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), io::Error> {
        self.writable()?;
        let name = shnum.file_name();
        let from = self.incoming_dir(si).join(name.as_str());
        if self.durable() {
            Self::sync_incoming_file(&from)?;
        }
        let bucket = self.bucket_dir(si);
        let to = bucket.join(name.as_str());
        // Another process removing the last share of this storage index may remove its
        // directory between its creation and the link.
        let linked = self.in_new_dir(&bucket, true, || {
            fs::hard_link(&from, &to).map_err(at_excl(&to))
        });
        if let Err(e) = linked {
            let missing = matches!(&e, StoreError::Io(io) if io.kind() == ErrorKind::NotFound);
            if matches!(e, StoreError::Io(_)) {
                // The bucket and prefix directories (made at allocation or here) go
                // again if this share was to be their first.
                Self::remove_empty_dirs(&bucket, 2);
            }
            // The bucket directory is there: the incoming share is not.
            return Err(if missing { StoreError::NoSuchShare } else { e });
        }
        self.sync_dir(&bucket)?;
        let record = self.record_path(si, shnum);
        match fs::remove_file(&record) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(at(&record)(e)),
        }
        fs::remove_file(&from).map_err(at(&from))?;
        // Tahoe removes the incoming bucket and prefix directories once empty.
        self.remove_incoming_dirs(si);
        Ok(())
    }

    /// Removes the upload record (syncing its directory if there was one, so that a crash
    /// never brings back an aborted upload with resumable uploads), then the incoming
    /// share, without a sync: a restart discards an incoming share without a record.
    fn abort(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), io::Error> {
        self.writable()?;
        let dir = self.incoming_dir(si);
        self.remove_record(si, shnum)?;
        let path = dir.join(shnum.file_name().as_str());
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(StoreError::NoSuchShare),
            Err(e) => return Err(at(&path)(e)),
        }
        self.remove_incoming_dirs(si);
        // The bucket directory made at allocation goes too if no share is in it (Tahoe
        // leaves it, empty; nothing reads an empty one, and `verify` reports it).
        Self::remove_empty_dirs(&self.bucket_dir(si), 1);
        Ok(())
    }

    fn remove(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), io::Error> {
        self.writable()?;
        let dir = self.bucket_dir(si);
        let path = dir.join(shnum.file_name().as_str());
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(StoreError::NotAShare),
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(StoreError::NoSuchShare),
            Err(e) => return Err(at(&path)(e)),
        }
        // A record of the log replayed after the removal would write into whatever
        // share takes the name next: make the share's records dead first.
        if let Some(wal) = &self.wal {
            let mut cell = WalCell::lock(wal).map_err(at(&path))?;
            if cell.is_dirty(si, shnum) {
                cell.checkpoint().map_err(StoreError::Io)?;
            }
        }
        fs::remove_file(&path).map_err(at(&path))?;
        self.sync_dir(&dir)?;
        // Tahoe removes the storage index directory once it is empty (not the prefix).
        Self::remove_empty_dirs(&dir, 1);
        Ok(())
    }

    /// Makes what the record describes durable first: fdatasyncs the incoming share (whose
    /// own syncs do nothing, see [`ShareStore::create_incoming`]) and, the first time for
    /// its storage index, the entries of its incoming directories (`incoming/<pp>` and
    /// `incoming/`, made without syncs). Then writes `<shnum>.upload.tmp` beside the
    /// share, syncs it, renames it over `<shnum>.upload` and syncs the directory (which
    /// also makes the share's name durable). Tahoe ignores both names (they are not share
    /// numbers). A failed write (a full disk) removes the temporary file and keeps the
    /// previous record.
    fn put_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        record: &[u8],
    ) -> StoreResult<(), io::Error> {
        self.writable()?;
        let dir = self.incoming_dir(si);
        let share = dir.join(shnum.file_name().as_str());
        if self.durable() {
            Self::sync_incoming_file(&share)?;
            if !self.durable_incoming.contains(si) {
                let prefix = dir.parent().ok_or(StoreError::Bug("incoming directory"))?;
                self.sync_dir(prefix)?;
                self.sync_dir(&self.incoming_root())?;
                self.durable_incoming.insert(*si);
            }
        } else if !fs::symlink_metadata(&share).is_ok_and(|m| m.is_file()) {
            return Err(StoreError::NoSuchShare);
        }
        let path = self.record_path(si, shnum);
        let tmp = path.with_extension("upload.tmp");
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(&tmp)
            .map_err(at_excl(&tmp))?;
        let written = std::io::Write::write_all(&mut file, record).and_then(|()| {
            if self.durable() {
                file.sync_data()
            } else {
                Ok(())
            }
        });
        drop(file);
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(at(&tmp)(e));
        }
        fs::rename(&tmp, &path).map_err(at(&path))?;
        self.sync_dir(&dir)
    }

    fn get_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        buf: &mut [u8],
    ) -> StoreResult<Option<usize>, io::Error> {
        let Some(mut io) = self.open_file(&self.record_path(si, shnum), false)? else {
            return Ok(None);
        };
        let len = crate::io::ShareIo::len(&mut io).map_err(StoreError::Io)?;
        let needed =
            usize::try_from(len).map_err(|_| StoreError::BufferTooSmall { needed: usize::MAX })?;
        let dst = buf
            .get_mut(..needed)
            .ok_or(StoreError::BufferTooSmall { needed })?;
        crate::io::ShareIo::read_at(&mut io, 0, dst).map_err(StoreError::Io)?;
        Ok(Some(needed))
    }

    /// statvfs's space available to unprivileged users; 0 in a read-only store.
    fn available_space(&mut self) -> StoreResult<Option<u64>, io::Error> {
        if self.read_only() {
            return Ok(Some(0));
        }
        match nix::sys::statvfs::statvfs(&self.root) {
            Ok(s) => Ok(Some(s.blocks_available().saturating_mul(s.fragment_size()))),
            Err(_) => Ok(None),
        }
    }

    /// Creates the advisory file exclusively, writes and syncs it; on a failure (a full
    /// disk) the partial file is removed.
    fn write_advisory(&mut self, name: &str, body: &[u8]) -> StoreResult<(), io::Error> {
        self.writable()?;
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(StoreError::InvalidArgument("advisory name"));
        }
        let dir = self.root.join("corruption-advisories");
        self.make_dirs(&dir, true)?;
        self.write_new_file(&dir.join(name), body)?;
        self.sync_dir(&dir)
    }

    fn for_each_storage_index(
        &mut self,
        f: &mut dyn FnMut(StorageIndex) -> bool,
    ) -> StoreResult<(), io::Error> {
        let root = self.shares_root();
        // A bucket directory can stay, empty (Tahoe leaves one after an abort): only
        // those holding a share are storage indexes with published shares.
        let mut failed = None;
        Self::for_each_bucket(
            &root,
            &mut |si| match Self::list_dir(&self.bucket_dir(&si)) {
                Ok(shares) if shares.is_empty() => true,
                Ok(_) => f(si),
                Err(e) => {
                    failed = Some(e);
                    false
                }
            },
        )?;
        failed.map_or(Ok(()), Err)
    }

    fn for_each_incoming(
        &mut self,
        f: &mut dyn FnMut(StorageIndex, ShareNumber) -> bool,
    ) -> StoreResult<(), io::Error> {
        let root = self.incoming_root();
        let mut sis = Vec::new();
        Self::for_each_bucket(&root, &mut |si| {
            sis.push(si);
            true
        })?;
        for si in sis {
            for n in Self::list_dir(&self.incoming_dir(&si))?.iter() {
                if !f(si, n) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// True when the lock file still held its previous holder's text: that writer did
    /// not drop its store (it crashed, was killed, or the machine lost power).
    fn previous_writer_interrupted(&self) -> bool {
        self.interrupted
    }

    fn is_read_only(&self) -> bool {
        self.read_only()
    }

    fn is_no_space(err: &io::Error) -> bool {
        is_full(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fs_error_keeps_kind_errno_path_and_source() {
        let os = io::Error::from_raw_os_error(nix::libc::ENOSPC);
        let e = FsError::wrap(Path::new("/x/y"), os);
        assert_eq!(
            e.kind(),
            io::Error::from_raw_os_error(nix::libc::ENOSPC).kind()
        );
        assert_eq!(e.raw_os_error(), None);
        assert_eq!(FsError::errno(&e), Some(nix::libc::ENOSPC));
        assert_eq!(FsError::path_of(&e), Some(Path::new("/x/y")));
        assert!(e.to_string().starts_with("/x/y: "), "{e}");
        let inner = FsError::of(&e).unwrap();
        let src = core::error::Error::source(inner).unwrap();
        assert_eq!(src.to_string(), inner.io_error().to_string());
        assert!(is_full(&e));
        let quota = FsError::wrap(
            Path::new("/q"),
            io::Error::from_raw_os_error(nix::libc::EDQUOT),
        );
        assert!(is_full(&quota));
        assert!(is_full(&io::Error::from_raw_os_error(nix::libc::EDQUOT)));
        assert!(!is_full(&io::Error::from_raw_os_error(nix::libc::EIO)));
        assert!(!is_full(&io::Error::other("no errno")));
        assert_eq!(FsError::errno(&io::Error::other("x")), None);
        assert_eq!(FsError::path_of(&io::Error::from_raw_os_error(2)), None);
    }

    /// Tahoe's allocation makes the final bucket directory; so does `create_incoming`, so
    /// that Rust and C users get Tahoe's tree during an upload; an abort removes it again
    /// when no share is in it (Tahoe leaves it, empty).
    #[test]
    #[cfg_attr(miri, ignore)]
    fn create_incoming_makes_the_bucket_directory_and_abort_removes_it_when_empty() {
        let root =
            std::env::temp_dir().join(std::format!("ts-fs-unit-bucket-dir-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let mut store = FsStore::open(&root, Durability::NoSync).unwrap();
        let si = StorageIndex::new([9; 16]);
        let bucket = store.bucket_dir(&si);
        assert!(!bucket.exists());
        drop(store.create_incoming(&si, ShareNumber(3)).unwrap());
        assert!(bucket.is_dir(), "allocation makes {}", bucket.display());
        assert!(store.list(&si).unwrap().is_empty());
        store.abort(&si, ShareNumber(3)).unwrap();
        assert!(!bucket.exists(), "an abort removes {}", bucket.display());
        assert!(!store.incoming_dir(&si).exists());
        // The empty directory names no storage index with published shares.
        let mut seen = std::vec::Vec::new();
        store
            .for_each_storage_index(&mut |s| {
                seen.push(s);
                true
            })
            .unwrap();
        assert!(seen.is_empty(), "{seen:?}");
        drop(store.create_incoming(&si, ShareNumber(3)).unwrap());
        store.publish(&si, ShareNumber(3)).unwrap();
        assert!(store.list(&si).unwrap().contains(ShareNumber(3)));
        store
            .for_each_storage_index(&mut |s| {
                seen.push(s);
                true
            })
            .unwrap();
        assert_eq!(seen, [si]);
        // An abort beside a published share leaves the directory holding it.
        drop(store.create_incoming(&si, ShareNumber(4)).unwrap());
        store.abort(&si, ShareNumber(4)).unwrap();
        assert!(store.list(&si).unwrap().contains(ShareNumber(3)));
        store.remove(&si, ShareNumber(3)).unwrap();
        assert!(
            !bucket.exists(),
            "removing the last share removes the bucket directory"
        );
        drop(store);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    // Miri cannot call gethostname (a foreign function).
    #[cfg_attr(miri, ignore)]
    fn holder_text_names_this_process() {
        let t = holder_text();
        assert!(
            t.starts_with(&std::format!("pid {} on ", std::process::id())),
            "{t}"
        );
        assert!(t.contains(" since 2"), "{t}");
    }
}
