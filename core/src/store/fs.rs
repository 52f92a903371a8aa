//! The filesystem store, in exactly Tahoe's layout:
//!
//! ```text
//! <storage>/shares/<2-char prefix>/<26-char base32 SI>/<shnum>
//! <storage>/shares/incoming/<2-char prefix>/<26-char base32 SI>/<shnum>
//! <storage>/corruption-advisories/<name>
//! ```
//!
//! Only names that are share numbers count (`0`..`255`, no leading zeros); anything else
//! is ignored. Symbolic links are never followed and never served.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

use nix::fcntl::OFlag;

use super::{Durability, ShareStore};
use crate::error::{Error, Result};
use crate::io::FileIo;
use crate::types::{ShareNumber, ShareSet, StorageIndex};

/// How often a create or link is tried again when another process removed the directory
/// just made for it.
const DIR_RACE_RETRIES: u32 = 8;

/// Shares in a Tahoe storage directory.
///
/// One server per storage directory: immutable uploads from several processes are safe
/// (creation is exclusive and publishing never replaces a share), but mutable
/// test-and-writes are serialised only within one [`crate::server::Server`], so two
/// servers writing the same slot could both pass the test, and a server starting up
/// discards every upload in progress under `incoming/`. Tahoe's own crawlers and
/// read-only tools may run beside it.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
    durability: Durability,
}

fn io_err(e: io::Error) -> Error<io::Error> {
    match e.kind() {
        ErrorKind::AlreadyExists => Error::AlreadyExists,
        _ => Error::Io(e),
    }
}

fn b32(si: &StorageIndex) -> String {
    si.to_string()
}

impl FsStore {
    /// Opens (creating if needed) the store in `storage_dir` (Tahoe's `storage/`).
    ///
    /// # Errors
    ///
    /// When the directories cannot be created.
    pub fn open(
        storage_dir: impl Into<PathBuf>,
        durability: Durability,
    ) -> Result<Self, io::Error> {
        let root = storage_dir.into();
        let store = Self { root, durability };
        fs::create_dir_all(store.incoming_root()).map_err(Error::Io)?;
        Ok(store)
    }

    /// The storage directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
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

    /// Removes an upload record if there is one, syncing its directory.
    fn remove_record(&self, si: &StorageIndex, shnum: ShareNumber) -> Result<(), io::Error> {
        match fs::remove_file(self.record_path(si, shnum)) {
            Ok(()) => self.sync_dir(&self.incoming_dir(si)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Io(e)),
        }
    }

    fn durable(&self) -> bool {
        self.durability == Durability::Durable
    }

    fn open_file(&self, path: &Path, create_new: bool) -> Result<Option<FileIo>, io::Error> {
        let mut opts = OpenOptions::new();
        opts.read(true)
            .write(true)
            .custom_flags(OFlag::O_NOFOLLOW.bits());
        if create_new {
            opts.create_new(true);
        }
        match opts.open(path) {
            Ok(file) => {
                if !file.metadata().map_err(Error::Io)?.is_file() {
                    return Err(Error::NotAShare);
                }
                Ok(Some(FileIo::new(file).with_durability(self.durable())))
            }
            Err(e) if e.kind() == ErrorKind::NotFound && !create_new => Ok(None),
            // O_NOFOLLOW on a symbolic link fails with ELOOP; a directory opened for
            // writing fails with EISDIR.
            Err(e) if matches!(e.raw_os_error(), Some(nix::libc::ELOOP | nix::libc::EISDIR)) => {
                Err(Error::NotAShare)
            }
            Err(e) => Err(io_err(e)),
        }
    }

    fn sync_dir(&self, dir: &Path) -> Result<(), io::Error> {
        if self.durable() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(Error::Io)?;
        }
        Ok(())
    }

    /// Creates `dir` and any missing parents below the storage root, syncing the parent of
    /// each directory created so that the new entries are durable.
    fn make_dirs(&self, dir: &Path) -> Result<(), io::Error> {
        let mut missing = Vec::new();
        let mut at = dir;
        while !at.exists() {
            missing.push(at.to_path_buf());
            match at.parent() {
                Some(p) => at = p,
                None => break,
            }
        }
        for d in missing.iter().rev() {
            match fs::create_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::Io(e)),
            }
            if let Some(p) = d.parent() {
                self.sync_dir(p)?;
            }
        }
        Ok(())
    }

    /// Creates `dir` (as [`Self::make_dirs`]) and runs `create` in it, trying again, a
    /// bounded number of times, when another process removed the directory in between
    /// (it removes directories it empties).
    fn in_new_dir<T>(
        &self,
        dir: &Path,
        mut create: impl FnMut() -> Result<T, io::Error>,
    ) -> Result<T, io::Error> {
        let mut attempts = 0;
        loop {
            match self.make_dirs(dir).and_then(|()| create()) {
                Err(Error::Io(e))
                    if e.kind() == ErrorKind::NotFound && attempts < DIR_RACE_RETRIES =>
                {
                    attempts += 1;
                }
                r => return r,
            }
        }
    }

    fn list_dir(dir: &Path) -> Result<ShareSet, io::Error> {
        let mut set = ShareSet::new();
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Ok(set)
            }
            Err(e) => return Err(Error::Io(e)),
        };
        for entry in entries {
            let entry = entry.map_err(Error::Io)?;
            let Some(n) = ShareNumber::from_file_name(entry.file_name().as_encoded_bytes()) else {
                continue;
            };
            // file_type() does not follow symbolic links: those, and directories, are
            // never shares.
            if entry.file_type().map_err(Error::Io)?.is_file() {
                set.insert(n);
            }
        }
        Ok(set)
    }

    /// Removes `dir` and then its parent if they are empty, stopping below `stop`.
    fn remove_empty_dirs(dir: &Path, levels: usize) {
        let mut at = dir.to_path_buf();
        for _ in 0..levels {
            if fs::remove_dir(&at).is_err() {
                break;
            }
            match at.parent() {
                Some(p) => at = p.to_path_buf(),
                None => break,
            }
        }
    }

    fn for_each_bucket(
        root: &Path,
        f: &mut dyn FnMut(StorageIndex) -> bool,
    ) -> Result<(), io::Error> {
        let mut prefixes: Vec<_> = match fs::read_dir(root) {
            Ok(rd) => rd
                .filter_map(core::result::Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name())
                .filter(|n| n.len() == 2)
                .collect(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::Io(e)),
        };
        prefixes.sort();
        for p in prefixes {
            let mut sis: Vec<StorageIndex> = fs::read_dir(root.join(&p))
                .map_err(Error::Io)?
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
}

impl ShareStore for FsStore {
    type Error = io::Error;
    type Io = FileIo;

    fn open(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<Option<FileIo>, io::Error> {
        self.open_file(&self.share_path(si, shnum), false)
    }

    fn list(&mut self, si: &StorageIndex) -> Result<ShareSet, io::Error> {
        Self::list_dir(&self.bucket_dir(si))
    }

    fn create_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<FileIo, io::Error> {
        if fs::symlink_metadata(self.share_path(si, shnum)).is_ok() {
            return Err(Error::AlreadyExists);
        }
        let dir = self.incoming_dir(si);
        let path = dir.join(shnum.file_name().as_str());
        // Another process publishing or aborting the last upload under the same prefix
        // may remove the directories between their creation and the file's.
        self.in_new_dir(&dir, || self.open_file(&path, true))?
            .ok_or(Error::Bug("create_new returned no file"))
    }

    fn open_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<Option<FileIo>, io::Error> {
        self.open_file(
            &self.incoming_dir(si).join(shnum.file_name().as_str()),
            false,
        )
    }

    fn list_incoming(&mut self, si: &StorageIndex) -> Result<ShareSet, io::Error> {
        Self::list_dir(&self.incoming_dir(si))
    }

    /// Publishes with: fsync the file; create the bucket directory (fsyncing the parent
    /// of each directory created); hard-link incoming to final, which fails rather than
    /// replace an existing share; fsync the bucket directory; unlink the incoming name;
    /// fsync the incoming directory. A crash after the link leaves both names, and the
    /// incoming one is discarded at startup.
    fn publish(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<(), io::Error> {
        let name = shnum.file_name();
        let incoming_dir = self.incoming_dir(si);
        let from = incoming_dir.join(name.as_str());
        let Some(file) = self.open_file(&from, false)? else {
            return Err(Error::NoSuchShare);
        };
        if fs::symlink_metadata(self.share_path(si, shnum)).is_ok() {
            return Err(Error::AlreadyExists);
        }
        // The record goes first: a crash before the link leaves an incoming share
        // without a record, which a restart discards (the close was not acknowledged).
        self.remove_record(si, shnum)?;
        if self.durable() {
            file.file().sync_all().map_err(Error::Io)?;
        }
        drop(file);
        let bucket = self.bucket_dir(si);
        let to = bucket.join(name.as_str());
        // Another process removing the last share of this storage index may remove its
        // directory between its creation and the link.
        self.in_new_dir(&bucket, || fs::hard_link(&from, &to).map_err(io_err))?;
        self.sync_dir(&bucket)?;
        fs::remove_file(&from).map_err(Error::Io)?;
        self.sync_dir(&incoming_dir)?;
        // Tahoe removes the incoming bucket and prefix directories once empty.
        Self::remove_empty_dirs(&incoming_dir, 2);
        Ok(())
    }

    fn abort(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<(), io::Error> {
        let dir = self.incoming_dir(si);
        self.remove_record(si, shnum)?;
        match fs::remove_file(dir.join(shnum.file_name().as_str())) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(Error::NoSuchShare),
            Err(e) => return Err(Error::Io(e)),
        }
        self.sync_dir(&dir)?;
        Self::remove_empty_dirs(&dir, 2);
        Ok(())
    }

    fn remove(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<(), io::Error> {
        let dir = self.bucket_dir(si);
        let path = dir.join(shnum.file_name().as_str());
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(Error::NotAShare),
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(Error::NoSuchShare),
            Err(e) => return Err(Error::Io(e)),
        }
        fs::remove_file(&path).map_err(Error::Io)?;
        self.sync_dir(&dir)?;
        // Tahoe removes the storage index directory once it is empty (not the prefix).
        Self::remove_empty_dirs(&dir, 1);
        Ok(())
    }

    /// Writes `<shnum>.upload.tmp` beside the incoming share, syncs it, renames it over
    /// `<shnum>.upload` and syncs the directory. Tahoe ignores both names (they are not
    /// share numbers).
    fn put_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        record: &[u8],
    ) -> Result<(), io::Error> {
        let dir = self.incoming_dir(si);
        if !dir.join(shnum.file_name().as_str()).is_file() {
            return Err(Error::NoSuchShare);
        }
        let path = self.record_path(si, shnum);
        let tmp = path.with_extension("upload.tmp");
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(&tmp)
            .map_err(io_err)?;
        std::io::Write::write_all(&mut file, record).map_err(Error::Io)?;
        if self.durable() {
            file.sync_all().map_err(Error::Io)?;
        }
        drop(file);
        fs::rename(&tmp, &path).map_err(Error::Io)?;
        self.sync_dir(&dir)
    }

    fn get_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        buf: &mut [u8],
    ) -> Result<Option<usize>, io::Error> {
        let Some(mut io) = self.open_file(&self.record_path(si, shnum), false)? else {
            return Ok(None);
        };
        let len = crate::io::ShareIo::len(&mut io).map_err(Error::Io)?;
        let needed =
            usize::try_from(len).map_err(|_| Error::BufferTooSmall { needed: usize::MAX })?;
        let dst = buf
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed })?;
        crate::io::ShareIo::read_at(&mut io, 0, dst).map_err(Error::Io)?;
        Ok(Some(needed))
    }

    fn available_space(&mut self) -> Result<Option<u64>, io::Error> {
        match nix::sys::statvfs::statvfs(&self.root) {
            Ok(s) => Ok(Some(s.blocks_available().saturating_mul(s.fragment_size()))),
            Err(_) => Ok(None),
        }
    }

    fn write_advisory(&mut self, name: &str, body: &[u8]) -> Result<(), io::Error> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(Error::InvalidArgument("advisory name"));
        }
        let dir = self.root.join("corruption-advisories");
        self.make_dirs(&dir)?;
        let path = dir.join(name);
        let mut io = self
            .open_file(&path, true)?
            .ok_or(Error::Bug("create_new returned no file"))?;
        crate::io::ShareIo::write_at(&mut io, 0, body).map_err(Error::Io)?;
        crate::io::ShareIo::sync(&mut io).map_err(Error::Io)?;
        self.sync_dir(&dir)
    }

    fn for_each_storage_index(
        &mut self,
        f: &mut dyn FnMut(StorageIndex) -> bool,
    ) -> Result<(), io::Error> {
        Self::for_each_bucket(&self.shares_root(), f)
    }

    fn for_each_incoming(
        &mut self,
        f: &mut dyn FnMut(StorageIndex, ShareNumber) -> bool,
    ) -> Result<(), io::Error> {
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
}
