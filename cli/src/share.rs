//! Opening one share file read-only and reading it as Tahoe's debug commands do: which
//! kind of container it is, the container (through the core), its leases and the share
//! layout inside it.
//!
//! Nothing here writes: files are opened with `File::open` (`O_RDONLY`), mutable
//! containers are opened without recovery, and no store is set up.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use tahoe_shares::container::ContainerError;
use tahoe_shares::container::{ImmutableContainer, MutableContainer};
use tahoe_shares::format::immutable::{ImmutableHeader, ImmutableVersion, SATURATED_LENGTH};
use tahoe_shares::format::lease::Lease;
use tahoe_shares::format::mutable::{MutableVersion, DATA_OFFSET};
use tahoe_shares::io::FileIo;

use crate::layout::{self, Chk, LayoutError, Mutable, Window};

/// Why a share could not be described: kept apart because an operator acts on them
/// differently (a permission or a disk problem, or damaged bytes).
#[derive(Debug)]
pub enum Failure {
    /// The file or directory could not be read (permissions, I/O errors): never called
    /// corrupt.
    Unreadable(String),
    /// The bytes are wrong.
    Corrupt(String),
}

impl Failure {
    /// `unreadable` or `corrupt`.
    #[must_use]
    pub fn class(&self) -> &'static str {
        match self {
            Self::Unreadable(_) => "unreadable",
            Self::Corrupt(_) => "corrupt",
        }
    }

    /// The reason, in words.
    #[must_use]
    pub fn reason(&self) -> &str {
        match self {
            Self::Unreadable(r) | Self::Corrupt(r) => r,
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Self::Unreadable(io_reason(&e))
    }
}

impl From<LayoutError> for Failure {
    fn from(e: LayoutError) -> Self {
        match e {
            LayoutError::Io(e) => Self::Unreadable(io_reason(&e)),
            LayoutError::Corrupt(why) => Self::Corrupt(why),
        }
    }
}

impl From<ContainerError<io::Error>> for Failure {
    fn from(e: ContainerError<io::Error>) -> Self {
        match e {
            ContainerError::Io(e) => Self::Unreadable(io_reason(&e)),
            other => Self::Corrupt(other.to_string()),
        }
    }
}

/// An I/O error in words (the OS message).
#[must_use]
pub fn io_reason(e: &io::Error) -> String {
    format!("I/O error: {e}")
}

/// The two container kinds, told apart as Tahoe tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    /// Starts with a mutable container magic.
    Mutable(MutableVersion),
    /// Starts with immutable container version 1 or 2.
    Immutable(ImmutableVersion),
    /// Shorter than the 4 bytes of a version (Tahoe's sniffing fails on it).
    Short(u64),
    /// Neither: Tahoe's "UNKNOWN really-unknown". `mutable_like` when it starts with the
    /// text of a mutable magic.
    Unknown {
        /// Starts with "Tahoe mutable container" but is no magic Tahoe wrote.
        mutable_like: bool,
        /// The first four bytes, as a big-endian number.
        version: u32,
    },
}

/// An open share file.
#[derive(Debug)]
pub struct ShareFile {
    /// The file, opened read-only.
    pub file: File,
    /// Its size when opened.
    pub len: u64,
}

/// The text every mutable magic starts with.
const MUTABLE_MAGIC_TEXT: &[u8] = b"Tahoe mutable container";

impl ShareFile {
    /// Opens a regular file read-only. Checked before opening (a FIFO would block the
    /// open) and after (the path may have changed in between).
    ///
    /// # Errors
    ///
    /// The OS error, or [`io::ErrorKind::InvalidInput`] when `path` is not a regular
    /// file.
    pub fn open(path: &Path) -> io::Result<Self> {
        let not_regular = || io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
        if !fs::metadata(path)?.is_file() {
            return Err(not_regular());
        }
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(not_regular());
        }
        Ok(Self {
            file,
            len: meta.len(),
        })
    }

    /// Reads up to `N` bytes at `offset`; returns how many were read.
    fn read_prefix<const N: usize>(&self, offset: u64) -> io::Result<([u8; N], usize)> {
        let mut buf = [0u8; N];
        let mut done = 0;
        while done < N {
            let dst = buf.get_mut(done..).unwrap_or_default();
            match self.file.read_at(dst, offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((buf, done))
    }

    /// Which container this is (Tahoe's `is_valid_header` checks, mutable first).
    ///
    /// # Errors
    ///
    /// I/O errors.
    pub fn sniff(&self) -> io::Result<Sniff> {
        let (prefix, n) = self.read_prefix::<32>(0)?;
        let prefix = prefix.get(..n).unwrap_or_default();
        if let Some(v) = MutableVersion::from_magic(prefix) {
            return Ok(Sniff::Mutable(v));
        }
        let Some(first) = prefix.first_chunk::<4>() else {
            return Ok(Sniff::Short(n as u64));
        };
        Ok(match u32::from_be_bytes(*first) {
            1 => Sniff::Immutable(ImmutableVersion::V1),
            2 => Sniff::Immutable(ImmutableVersion::V2),
            version => Sniff::Unknown {
                mutable_like: prefix.starts_with(MUTABLE_MAGIC_TEXT),
                version,
            },
        })
    }

    /// Opens the container through the core.
    ///
    /// # Errors
    ///
    /// [`Failure::Corrupt`] for a malformed container or a file that is no container
    /// ([`Sniff::Short`], [`Sniff::Unknown`]); [`Failure::Unreadable`].
    pub fn container(&self, sniff: Sniff) -> Result<Container, Failure> {
        let io = || -> Result<FileIo, Failure> { Ok(FileIo::new(self.file.try_clone()?)) };
        match sniff {
            Sniff::Mutable(_) => Ok(Container::Mutable(MutableContainer::open_unrecovered(
                io()?
            )?)),
            Sniff::Immutable(_) => {
                let c = ImmutableContainer::open(io()?)?;
                let (head, n) = self.read_prefix::<12>(0)?;
                let header = ImmutableHeader::decode(head.get(..n).unwrap_or_default())
                    .map_err(|_| Failure::Corrupt("immutable header changed while read".into()))?;
                Ok(Container::Immutable {
                    c,
                    legacy_length: header.legacy_length,
                })
            }
            Sniff::Short(n) => Err(Failure::Corrupt(format!(
                "{n} bytes: too short for a share container"
            ))),
            Sniff::Unknown {
                mutable_like: true, ..
            } => Err(Failure::Corrupt(
                "unknown mutable container magic (not a share Tahoe can read)".into(),
            )),
            Sniff::Unknown { version, .. } => Err(Failure::Corrupt(format!(
                "not a share container: neither a mutable magic nor immutable version 1 or 2 \
                 (first four bytes: {version:#010x})"
            ))),
        }
    }
}

/// An opened container, read through a read-only file.
#[derive(Debug)]
pub enum Container {
    /// Tahoe's `ShareFile` (CHK).
    Immutable {
        /// The container.
        c: ImmutableContainer<FileIo>,
        /// The header's data length field (`min(size, 2^32 - 1)`).
        legacy_length: u32,
    },
    /// Tahoe's `MutableShareFile` (SDMF/MDMF), opened without recovery.
    Mutable(MutableContainer<FileIo>),
}

/// What the mutable share data holds, by its first byte.
#[derive(Debug, Clone)]
pub enum Layout {
    /// A CHK share (immutable).
    Chk(Chk),
    /// An SDMF share (first byte 0).
    Sdmf(Mutable),
    /// An MDMF share (first byte 1).
    Mdmf(Mutable),
    /// Mutable share data of another kind (the first byte, if there is one): Tahoe's
    /// "UNKNOWN mutable".
    UnknownMutable(Option<u8>),
}

impl Layout {
    /// `CHK`, `SDMF`, `MDMF` or `UNKNOWN`, as `catalog-shares` names them.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Chk(_) => "CHK",
            Self::Sdmf(_) => "SDMF",
            Self::Mdmf(_) => "MDMF",
            Self::UnknownMutable(_) => "UNKNOWN",
        }
    }
}

/// What the leases of a share amount to.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeaseSummary {
    /// Leases (mutable: non-empty slots).
    pub count: u64,
    /// The earliest expiry time.
    pub earliest: Option<u32>,
}

impl Container {
    /// `immutable` or `mutable`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Immutable { .. } => "immutable",
            Self::Mutable(_) => "mutable",
        }
    }

    /// The container schema version (1 or 2).
    #[must_use]
    pub fn version(&self) -> u32 {
        match self {
            Self::Immutable { c, .. } => c.version().number(),
            Self::Mutable(c) => c.version().number(),
        }
    }

    /// Bytes of share data.
    #[must_use]
    pub fn data_length(&self) -> u64 {
        match self {
            Self::Immutable { c, .. } => c.data_length(),
            Self::Mutable(c) => c.data_length(),
        }
    }

    /// Visits every lease in order (mutable: every non-empty slot, with its slot number);
    /// stop early by returning `false`.
    ///
    /// # Errors
    ///
    /// Device errors.
    pub fn for_each_lease(&mut self, f: impl FnMut(u32, &Lease) -> bool) -> Result<(), Failure> {
        match self {
            Self::Immutable { c, .. } => c.for_each_lease(f)?,
            Self::Mutable(c) => c.for_each_lease(f)?,
        }
        Ok(())
    }

    /// Counts the leases and finds the earliest expiry.
    ///
    /// # Errors
    ///
    /// Device errors.
    pub fn leases(&mut self) -> Result<LeaseSummary, Failure> {
        let mut s = LeaseSummary::default();
        self.for_each_lease(|_, lease| {
            s.count += 1;
            s.earliest = Some(
                s.earliest
                    .map_or(lease.expiration_time, |e| e.min(lease.expiration_time)),
            );
            true
        })?;
        Ok(s)
    }

    /// The share data as Tahoe's `read_share_data` sees it (mutable: clamped to the file).
    #[must_use]
    pub fn data<'a>(&self, share: &'a ShareFile) -> Window<'a> {
        match self {
            Self::Immutable { c, .. } => Window::new(&share.file, 12, c.data_length()),
            Self::Mutable(c) => Window::new(
                &share.file,
                DATA_OFFSET,
                c.data_length().min(share.len.saturating_sub(DATA_OFFSET)),
            ),
        }
    }

    /// The first byte of mutable share data (0 SDMF, 1 MDMF), read from the file as
    /// Tahoe reads it; `None` when the file ends before.
    ///
    /// # Errors
    ///
    /// I/O errors.
    pub fn mutable_type(share: &ShareFile) -> io::Result<Option<u8>> {
        let (first, n) = share.read_prefix::<1>(DATA_OFFSET)?;
        Ok((n == 1).then_some(first[0]))
    }

    /// Reads the share layout. `pieces`: also measure the MDMF pieces (`dump-share`).
    ///
    /// # Errors
    ///
    /// What the layout parsers report.
    pub fn layout(&self, share: &ShareFile, pieces: bool) -> Result<Layout, LayoutError> {
        match self {
            Self::Immutable { .. } => layout::parse_chk(&self.data(share)).map(Layout::Chk),
            Self::Mutable(_) => {
                // Tahoe's debug commands read the mutable pieces from the file itself,
                // not bounded by the data length.
                let raw = Window::new(
                    &share.file,
                    DATA_OFFSET,
                    share.len.saturating_sub(DATA_OFFSET),
                );
                match Self::mutable_type(share)? {
                    Some(0) => layout::parse_sdmf(&self.data(share)).map(Layout::Sdmf),
                    Some(1) => layout::parse_mdmf(&raw, pieces).map(Layout::Mdmf),
                    first => Ok(Layout::UnknownMutable(first)),
                }
            }
        }
    }

    /// What an interrupted update left behind, if anything, in words: bytes past the last
    /// immutable lease record, or a mutable update awaiting recovery. The server repairs
    /// either the next time it writes to (immutable) or opens (mutable) the share.
    ///
    /// # Errors
    ///
    /// Device errors.
    pub fn pending_repair(&mut self) -> Result<Option<String>, Failure> {
        Ok(match self {
            Self::Immutable { c, .. } => {
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

    /// An immutable container holding less data than its header's length field says
    /// (the file was cut short): `(declared, held)`.
    #[must_use]
    pub fn truncation(&self) -> Option<(u64, u64)> {
        match self {
            Self::Immutable { c, legacy_length } if *legacy_length != SATURATED_LENGTH => {
                let declared = u64::from(*legacy_length);
                (c.data_length() < declared).then_some((declared, c.data_length()))
            }
            _ => None,
        }
    }
}
