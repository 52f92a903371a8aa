//! Reading shares: bucket readers (Tahoe's `BucketReader`) and the queries on held
//! shares.

use alloc::vec::Vec;

use super::{AnyShare, Server, ShareStat};
use crate::error::{Error, Result};
use crate::format::lease::Lease;
use crate::format::ShareKind;
use crate::store::ShareStore;
use crate::types::{ShareNumber, ShareSet, StorageIndex};

/// A reader of one immutable share (Tahoe's `BucketReader`): which share, and its data
/// length when it was opened. It holds no device: each [`Server::read_bucket`] opens the
/// share through the store and closes it again, as Tahoe's `BucketReader` opens its file
/// per read, so that any number of readers pins no file descriptor and a share deleted
/// since (by an operator, by lease expiry) is no longer served: its readers then fail with
/// [`Error::NoSuchShare`] (Tahoe's raise `FileNotFoundError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketReader {
    storage_index: StorageIndex,
    share_number: ShareNumber,
    length: u64,
}

impl BucketReader {
    /// The storage index.
    #[must_use]
    pub fn storage_index(&self) -> StorageIndex {
        self.storage_index
    }

    /// The share number.
    #[must_use]
    pub fn share_number(&self) -> ShareNumber {
        self.share_number
    }

    /// Bytes of share data when the reader was opened (Tahoe's `get_length`, which also
    /// answers from what it read at opening).
    #[must_use]
    pub fn length(&self) -> u64 {
        self.length
    }
}

impl<S: ShareStore> Server<S> {
    /// The share numbers held for a storage index, of either kind (Tahoe's
    /// `get_shares`, and both `enumerate` queries: Tahoe does not check the kind).
    ///
    /// # Errors
    ///
    /// Store errors.
    pub fn shares(&mut self, si: &StorageIndex) -> Result<ShareSet, S::Error> {
        Ok(self.store.list(si)?)
    }

    /// Opens a reader on one immutable share: checks the share and takes its length,
    /// then closes it again (the reader holds no device; see [`BucketReader`]).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchShare`]; [`Error::UnknownImmutableVersion`] when the share is not
    /// immutable; [`Error::Corrupt`]; store errors.
    pub fn open_bucket(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<BucketReader, S::Error> {
        Ok(BucketReader {
            storage_index: *si,
            share_number: shnum,
            length: self.open_immutable(si, shnum)?.data_length(),
        })
    }

    /// Reads the reader's share at `offset` into `buf`, truncated at the end of the data
    /// (a read starting past the end reads nothing); returns the bytes read. The share is
    /// opened for this read and closed after it.
    ///
    /// Reads are bounded by the length the reader saw at opening, and by the share's
    /// current length. As in Tahoe, a read that can return nothing by that first bound
    /// does not look at the share, so it succeeds even after the share is gone.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchShare`] when the share was deleted since the reader was opened
    /// (Tahoe's reader raises `FileNotFoundError`); as [`Self::open_bucket`] when the file
    /// now there is not an immutable share; device errors. A share cut short reads what
    /// it holds, as in Tahoe ([`Self::stat_share`] reports the damage).
    pub fn read_bucket(
        &mut self,
        reader: &BucketReader,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, S::Error> {
        let n = (buf.len() as u64).min(reader.length.saturating_sub(offset));
        let Some(dst) = buf.get_mut(..usize::try_from(n).unwrap_or(0)) else {
            return Err(Error::Bug("read_bucket bounds"));
        };
        if dst.is_empty() {
            return Ok(0);
        }
        Ok(self
            .open_immutable(&reader.storage_index, reader.share_number)?
            .read_share_data(offset, dst)?)
    }

    /// Reads up to `length` bytes at `offset` of the reader's share into a new vector,
    /// allocating only what the share held when the reader was opened.
    ///
    /// # Errors
    ///
    /// As [`Self::read_bucket`].
    pub fn read_bucket_vec(
        &mut self,
        reader: &BucketReader,
        offset: u64,
        length: u64,
    ) -> Result<Vec<u8>, S::Error> {
        let n = length.min(reader.length.saturating_sub(offset));
        let mut buf = alloc::vec![0u8; usize::try_from(n).map_err(|_| Error::InvalidArgument("read length"))?];
        let got = self.read_bucket(reader, offset, &mut buf)?;
        buf.truncate(got);
        Ok(buf)
    }

    /// Readers for every share of a storage index (Tahoe's `get_buckets`, which fails as
    /// a whole when one share is not immutable).
    ///
    /// # Errors
    ///
    /// As [`Self::open_bucket`].
    pub fn get_buckets(&mut self, si: &StorageIndex) -> Result<Vec<BucketReader>, S::Error> {
        let set = self.store.list(si)?;
        let mut out = Vec::with_capacity(set.len());
        for n in set.iter() {
            out.push(self.open_bucket(si, n)?);
        }
        Ok(out)
    }

    /// Bytes of data in an immutable share.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchShare`] when absent (Tahoe raises `FileNotFoundError`); as
    /// [`Self::open_bucket`].
    pub fn immutable_share_length(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<u64, S::Error> {
        Ok(self.open_immutable(si, shnum)?.data_length())
    }

    /// Bytes of data in a mutable share.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchShare`] when absent (Tahoe raises `KeyError`);
    /// [`Error::UnknownMutableMagic`] when the share is not mutable; store errors.
    pub fn mutable_share_length(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<u64, S::Error> {
        Ok(self.open_mutable(si, shnum)?.data_length())
    }

    /// Facts about one share of either kind.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchShare`]; container and store errors.
    pub fn stat_share(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<ShareStat, S::Error> {
        let share = self.open_any(si, shnum)?.ok_or(Error::NoSuchShare)?;
        let mut stat = ShareStat {
            kind: ShareKind::Immutable,
            data_length: 0,
            container_size: 0,
            num_leases: 0,
            earliest_expiration: None,
            latest_expiration: None,
            damage: None,
        };
        let mut visit = |_: u32, l: &Lease| {
            stat.num_leases = stat.num_leases.saturating_add(1);
            stat.earliest_expiration = Some(
                stat.earliest_expiration
                    .map_or(l.expiration_time, |e| e.min(l.expiration_time)),
            );
            stat.latest_expiration = Some(
                stat.latest_expiration
                    .map_or(l.expiration_time, |e| e.max(l.expiration_time)),
            );
            true
        };
        let (kind, data_length, size) = match share {
            AnyShare::Immutable(mut c) => {
                c.for_each_lease(&mut visit)?;
                stat.damage = c.damage();
                (
                    ShareKind::Immutable,
                    c.data_length(),
                    c.layout().container_size(),
                )
            }
            AnyShare::Mutable(mut c) => {
                c.for_each_lease(&mut visit)?;
                (ShareKind::Mutable, c.data_length(), c.container_end())
            }
        };
        stat.kind = kind;
        stat.data_length = data_length;
        stat.container_size = size;
        Ok(stat)
    }
}
