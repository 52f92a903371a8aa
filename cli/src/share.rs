//! Opening share files and storage directories for reading only.
//!
//! Nothing here writes: share files are opened read-only (the store's own `open` opens
//! them read-write), mutable containers are opened without recovery, and a storage
//! directory is only handed to [`FsStore`] when that creates nothing in it.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use tahoe_shares::container::{ImmutableContainer, MutableContainer};
use tahoe_shares::format::lease::Lease;
use tahoe_shares::format::mutable::MutableVersion;
use tahoe_shares::io::{FileIo, ShareIo};
use tahoe_shares::store::{Durability, FsStore};
use tahoe_shares::Error;

/// The error of every container operation over a file.
pub type ShareError = Error<io::Error>;

/// The text every mutable magic starts with; a file that starts so but has a magic Tahoe
/// never wrote is reported as an unknown mutable container, not as an immutable one.
const MUTABLE_MAGIC_TEXT: &[u8] = b"Tahoe mutable container";

/// Describes a container error for an operator: I/O errors by their OS message (the core's
/// `Display` shows them with `Debug`), everything else as the core words it.
#[must_use]
pub fn describe(err: &ShareError) -> String {
    match err {
        Error::Io(e) => format!("I/O error: {e}"),
        other => other.to_string(),
    }
}

/// Opens a file read-only as a share device.
///
/// # Errors
///
/// The OS error, or [`io::ErrorKind::InvalidInput`] when `path` is not a regular file.
pub fn open_file(path: &Path) -> io::Result<FileIo> {
    let not_regular = || io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
    // Checked before opening too: opening a FIFO would block until a writer comes.
    if !fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(FileIo::new(file))
}

/// An opened container of either kind, read through a read-only file.
#[derive(Debug)]
pub enum Share {
    /// Tahoe's `ShareFile` (CHK).
    Immutable(ImmutableContainer<FileIo>),
    /// Tahoe's `MutableShareFile` (SDMF/MDMF), opened without recovery.
    Mutable(MutableContainer<FileIo>),
}

impl Share {
    /// Opens a container, telling the kinds apart as Tahoe does: a file that starts with a
    /// mutable magic is mutable, anything else is read as immutable.
    ///
    /// # Errors
    ///
    /// What the container's `open` reports; [`Error::UnknownMutableMagic`] for a file that
    /// starts like a mutable container but carries a magic Tahoe never wrote.
    pub fn open(mut io: FileIo) -> Result<Self, ShareError> {
        let len = io.len().map_err(Error::Io)?;
        let mut magic = [0u8; 32];
        let prefix = magic
            .get_mut(..len.min(32) as usize)
            .ok_or(Error::Bug("magic prefix"))?;
        io.read_at(0, prefix).map_err(Error::Io)?;
        if MutableVersion::from_magic(prefix).is_some() {
            MutableContainer::open_unrecovered(io).map(Self::Mutable)
        } else if prefix.starts_with(MUTABLE_MAGIC_TEXT) {
            Err(Error::UnknownMutableMagic {
                share: None,
                magic: tahoe_shares::Magic::from_start(prefix),
            })
        } else {
            ImmutableContainer::open(io).map(Self::Immutable)
        }
    }

    /// The type `tahoe debug catalog-shares` prints: `CHK` or `MUT`.
    #[must_use]
    pub fn catalog_type(&self) -> &'static str {
        match self {
            Self::Immutable(_) => "CHK",
            Self::Mutable(_) => "MUT",
        }
    }

    /// Bytes of share data.
    #[must_use]
    pub fn data_length(&self) -> u64 {
        match self {
            Self::Immutable(c) => c.data_length(),
            Self::Mutable(c) => c.data_length(),
        }
    }

    /// Visits every lease in order (mutable: every non-empty slot, with its slot number);
    /// stop early by returning `false`.
    ///
    /// # Errors
    ///
    /// Device errors.
    pub fn for_each_lease(&mut self, f: impl FnMut(u32, &Lease) -> bool) -> Result<(), ShareError> {
        match self {
            Self::Immutable(c) => c.for_each_lease(f),
            Self::Mutable(c) => c.for_each_lease(f),
        }
    }

    /// The leases' expiry times in order.
    ///
    /// # Errors
    ///
    /// Device errors.
    pub fn expiries(&mut self) -> Result<Vec<u32>, ShareError> {
        let mut out = Vec::new();
        self.for_each_lease(|_, lease| {
            out.push(lease.expiration_time);
            true
        })?;
        Ok(out)
    }

    /// What an interrupted update left behind, if anything, in words: bytes past the last
    /// immutable lease record, or a mutable update awaiting recovery. The server repairs
    /// either the next time it writes to (immutable) or opens (mutable) the share.
    ///
    /// # Errors
    ///
    /// Device errors.
    pub fn pending_repair(&mut self) -> Result<Option<String>, ShareError> {
        Ok(match self {
            Self::Immutable(c) => {
                let excess = c.layout().excess;
                (excess > 0).then(|| {
                    format!(
                        "{excess} bytes past the last lease record (an interrupted lease \
                         update; the server removes them at its next write)"
                    )
                })
            }
            Self::Mutable(c) => c.needs_recovery()?.then(|| {
                "pending recovery (an interrupted update; the server completes or rolls it \
                 back when it next opens the share)"
                    .to_owned()
            }),
        })
    }
}

/// Opens a Tahoe storage directory (the one holding `shares/`) without creating anything.
///
/// [`FsStore::open`] creates `shares/incoming/` when it is missing, so a directory without
/// it is refused rather than written to.
///
/// # Errors
///
/// A message naming the directory when it is not a storage directory or cannot be read.
pub fn open_storage(dir: &Path) -> Result<FsStore, String> {
    let shares = dir.join("shares");
    let incoming = shares.join("incoming");
    let show = |p: &Path| p.display().to_string();
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("{}: not a directory", show(dir))),
        Err(e) => return Err(format!("{}: {e}", show(dir))),
    }
    match fs::metadata(&shares) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("{}: not a directory", show(&shares))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(format!(
                "{}: no shares/ directory: not a Tahoe storage directory \
                 (give the node's storage/ directory)",
                show(dir)
            ))
        }
        Err(e) => return Err(format!("{}: {e}", show(&shares))),
    }
    // Listing shares/ here turns an unreadable directory into a clear error instead of an
    // empty catalog.
    if let Err(e) = fs::read_dir(&shares) {
        return Err(format!("{}: {e}", show(&shares)));
    }
    match fs::metadata(&incoming) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("{}: not a directory", show(&incoming))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(format!(
                "{}: missing; the store would create it, and this tool never writes \
                 (create it, or point at a complete storage directory)",
                show(&incoming)
            ))
        }
        Err(e) => return Err(format!("{}: {e}", show(&incoming))),
    }
    FsStore::open(PathBuf::from(dir), Durability::Tahoe)
        .map_err(|e| format!("{}: {}", show(dir), describe(&e)))
}
