//! Immutable uploads: allocation, bucket writers, close, abort, idle expiry, and the
//! records that let uploads survive a restart.

use alloc::vec::Vec;
use core::ops::Range;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ranges::RangeSet;
use super::{AllocateRequest, Allocation, AnyShare, Server};
use crate::container::{ContainerError, ImmutableContainer};
use crate::error::{Corruption, Error, Limit, Result};
use crate::format::immutable::ImmutableVersion;
use crate::io::ShareIo;
use crate::store::{ShareStore, StoreError};
use crate::types::{ShareNumber, StorageIndex, UploadSecret};

/// The version of the upload record format (docs/format.md, "Upload records").
pub const UPLOAD_RECORD_VERSION: u8 = 1;

/// The magic that starts an upload record.
const RECORD_MAGIC: &[u8; 8] = b"TSUPLD\r\n";

/// Bytes of the record checksum (a truncated SHA-256 of everything before it).
const RECORD_CHECKSUM: usize = 8;

/// An upload in progress (Tahoe's `BucketWriter`).
#[derive(Debug)]
pub(crate) struct Upload<IO> {
    pub(crate) container: ImmutableContainer<IO>,
    pub(crate) secret: UploadSecret,
    pub(crate) max_size: u64,
    pub(crate) written: RangeSet,
    pub(crate) last_activity: u64,
}

/// A public view of an upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    /// The storage index.
    pub storage_index: StorageIndex,
    /// The share number.
    pub share_number: ShareNumber,
    /// Bytes allocated.
    pub allocated_size: u64,
    /// Bytes written so far (overlaps counted once).
    pub written: u64,
    /// When it was last written (or allocated, or resumed).
    pub last_activity: u64,
}

/// What a record holds (encoded with postcard after the magic and version byte).
#[derive(Serialize, Deserialize)]
struct RecordV1 {
    max_size: u64,
    secret_digest: [u8; 32],
    written: Vec<(u64, u64)>,
    last_activity: u64,
}

fn checksum(bytes: &[u8]) -> [u8; RECORD_CHECKSUM] {
    let digest = Sha256::digest(bytes);
    let mut out = [0u8; RECORD_CHECKSUM];
    out.copy_from_slice(
        digest
            .get(..RECORD_CHECKSUM)
            .unwrap_or(&[0; RECORD_CHECKSUM]),
    );
    out
}

/// The largest record for `max_ranges` ranges: two u64 varints (10 bytes each) per
/// range plus the fixed fields, magic, version and checksum.
fn record_capacity(max_ranges: usize) -> usize {
    max_ranges.saturating_mul(20).saturating_add(128)
}

impl<IO: ShareIo> Upload<IO> {
    fn encode_record(&self, max_ranges: usize) -> Result<Vec<u8>, IO::Error> {
        let rec = RecordV1 {
            max_size: self.max_size,
            secret_digest: *self.secret.digest(),
            written: self.written.as_slice().to_vec(),
            last_activity: self.last_activity,
        };
        let mut buf = alloc::vec![0u8; record_capacity(max_ranges)];
        let head = RECORD_MAGIC.len() + 1;
        buf.get_mut(..RECORD_MAGIC.len())
            .ok_or(Error::Bug("record magic"))?
            .copy_from_slice(RECORD_MAGIC);
        *buf.get_mut(RECORD_MAGIC.len())
            .ok_or(Error::Bug("record version"))? = UPLOAD_RECORD_VERSION;
        let body_len =
            postcard::to_slice(&rec, buf.get_mut(head..).ok_or(Error::Bug("record body"))?)
                .map_err(|_| Error::Bug("upload record exceeds its capacity"))?
                .len();
        let end = head + body_len;
        let sum = checksum(buf.get(..end).ok_or(Error::Bug("record end"))?);
        buf.truncate(end);
        buf.extend_from_slice(&sum);
        Ok(buf)
    }
}

fn decode_record<E>(bytes: &[u8]) -> Result<RecordV1, E> {
    let bad = Error::Corrupt(Corruption::BadRecord);
    let split = bytes
        .len()
        .checked_sub(RECORD_CHECKSUM)
        .ok_or(Error::Corrupt(Corruption::BadRecord))?;
    let (body, sum) = bytes.split_at(split);
    if checksum(body) != sum {
        return Err(bad);
    }
    let rest = body
        .strip_prefix(RECORD_MAGIC.as_slice())
        .ok_or(Error::Corrupt(Corruption::BadRecord))?;
    let (&version, rest) = rest
        .split_first()
        .ok_or(Error::Corrupt(Corruption::BadRecord))?;
    if version != UPLOAD_RECORD_VERSION {
        return Err(Error::Corrupt(Corruption::BadRecord));
    }
    let (rec, tail): (RecordV1, &[u8]) =
        postcard::take_from_bytes(rest).map_err(|_| Error::Corrupt(Corruption::BadRecord))?;
    if !tail.is_empty() {
        return Err(Error::Corrupt(Corruption::BadRecord));
    }
    Ok(rec)
}

impl<S: ShareStore> Server<S> {
    /// Allocates buckets for an immutable upload (Tahoe's `allocate_buckets`).
    ///
    /// In order: the remaining space is the available space less what uploads in
    /// progress reserve; every share already held is reported (and, with
    /// `renew_leases`, given the lease); then each requested share that is neither held
    /// nor being uploaded becomes a new upload if the remaining space covers
    /// `allocated_size`, and is skipped silently otherwise. A share being uploaded with
    /// the same upload secret and size is reported as allocated again (the GBS spec's
    /// idempotence; Tahoe 1.20 reports it in neither set), one being uploaded under
    /// another secret in neither. A new upload's incoming share is created full-size
    /// with its header and the lease, exactly as Tahoe creates it.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownImmutableVersion`] when the storage index holds a mutable (or
    /// unreadable) share; [`Error::NoSpace`] when a new lease record on a held share
    /// does not fit (Tahoe #3823: the call fails), or when the filesystem is full;
    /// [`Limit::Uploads`] when the new uploads would pass the limit (checked before
    /// anything changes); [`Error::ReadOnly`] over a read-only store; store errors. A
    /// failed call leaves none of the uploads it created.
    pub fn allocate_buckets(
        &mut self,
        req: &AllocateRequest,
        now: u64,
    ) -> Result<Allocation, S::Error> {
        self.check_writable()?;
        let si = req.storage_index;
        let before: Vec<ShareNumber> = self.uploads_of(&si);
        let r = self.full_as_no_space(|s| {
            let lease = s.lease_for(req.owner_num, &req.renew_secret, &req.cancel_secret, now);
            let mut remaining: Option<i128> = s
                .available_space()?
                .map(|a| i128::from(a) - i128::from(s.allocated_size()));

            let held = s.store.list(&si)?;
            // Open every held share first, so that a mutable one fails the call before any
            // lease changes.
            let mut opened = Vec::with_capacity(held.len());
            for n in held.iter() {
                let io = s.store.open(&si, n)?.ok_or(Error::NoSuchShare)?;
                opened.push(ImmutableContainer::open(io).map_err(|e| e.in_share(n))?);
            }

            let incoming = s.store.list_incoming(&si)?;
            let mut out = Allocation {
                already_have: held,
                allocated: crate::types::ShareSet::new(),
            };
            let mut to_create = Vec::new();
            for n in req.share_numbers.iter() {
                if held.contains(n) {
                    continue;
                }
                if let Some(u) = s.uploads.get(&(si, n)) {
                    if u.secret.ct_eq(&req.upload_secret) && u.max_size == req.allocated_size {
                        out.allocated.insert(n);
                    }
                    continue;
                }
                if incoming.contains(n) {
                    continue;
                }
                to_create.push(n);
            }
            if s.uploads.len().saturating_add(to_create.len()) > s.config.max_uploads {
                return Err(Error::LimitReached(Limit::Uploads));
            }

            if req.renew_leases {
                for (c, n) in opened.into_iter().zip(held.iter()) {
                    s.add_or_renew_at(&si, n, AnyShare::Immutable(c), &lease)?;
                }
            }

            for n in to_create {
                let fits = remaining.is_none_or(|r| r >= i128::from(req.allocated_size));
                if !fits {
                    continue;
                }
                let io = s.store.create_incoming(&si, n)?;
                let created =
                    ImmutableContainer::create(io, ImmutableVersion::V2, req.allocated_size)
                        .and_then(|mut c| c.add_lease(&lease).map(|()| c));
                let container = match created {
                    Ok(c) => c,
                    Err(e) => {
                        // Leave nothing half-made behind.
                        let _ = s.store.abort(&si, n);
                        return Err(e.into());
                    }
                };
                let upload = Upload {
                    container: container.with_max_size(req.allocated_size),
                    secret: req.upload_secret.clone(),
                    max_size: req.allocated_size,
                    written: RangeSet::new(),
                    last_activity: now,
                };
                if s.config.resume_uploads {
                    if let Err(e) = s.save_record(&si, n, &upload) {
                        let _ = s.store.abort(&si, n);
                        return Err(e);
                    }
                }
                s.uploads.insert((si, n), upload);
                out.allocated.insert(n);
                if let Some(r) = remaining.as_mut() {
                    *r -= i128::from(req.allocated_size);
                }
            }
            Ok(out)
        });
        if r.is_err() {
            // The client gets no writer for them: release their space now.
            for n in self.uploads_of(&si) {
                if !before.contains(&n) {
                    let _ = self.drop_upload(&si, n);
                }
            }
        }
        r
    }

    /// The share numbers of a storage index being uploaded.
    fn uploads_of(&self, si: &StorageIndex) -> Vec<ShareNumber> {
        self.uploads
            .range((*si, ShareNumber(0))..=(*si, ShareNumber(u8::MAX)))
            .map(|((_, n), _)| *n)
            .collect()
    }

    fn save_record(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        upload: &Upload<S::Io>,
    ) -> Result<(), S::Error> {
        let record = upload.encode_record(self.config.max_ranges_per_upload)?;
        Ok(self.store.put_upload_record(si, n, &record)?)
    }

    fn upload_mut(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        secret: &UploadSecret,
    ) -> Result<&mut Upload<S::Io>, S::Error> {
        let upload = self.uploads.get_mut(&(*si, n)).ok_or(Error::NoSuchUpload)?;
        if !upload.secret.ct_eq(secret) {
            return Err(Error::BadUploadSecret);
        }
        Ok(upload)
    }

    /// Writes share data to an upload (Tahoe's `BucketWriter.write`); returns whether
    /// every byte of the allocation is now written.
    ///
    /// Bytes that overlap what was written before must be identical (an identical
    /// rewrite is accepted). A write that conflicts, is too large, or would pass the
    /// range limit changes nothing. With [`super::Config::resume_uploads`], the data is
    /// synced and the record updated before this returns. With
    /// [`super::Config::discard_storage`] the data is dropped and the answer is always
    /// `false`, as in Tahoe.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchUpload`], [`Error::BadUploadSecret`] (checked in constant time),
    /// [`Error::DataTooLarge`], [`Error::ConflictingWrite`] (naming the first differing
    /// written range), [`Limit::RangesPerUpload`], store errors. [`Error::NoSpace`] when
    /// the filesystem is full: the upload is then aborted (its incoming share removed,
    /// its space released), and later calls for it fail with [`Error::NoSuchUpload`].
    pub fn write(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        secret: &UploadSecret,
        offset: u64,
        data: &[u8],
        now: u64,
    ) -> Result<bool, S::Error> {
        let r = self.full_as_no_space(|s| {
            let discard = s.config.discard_storage;
            let max_ranges = s.config.max_ranges_per_upload;
            let resume = s.config.resume_uploads;
            let upload = s.upload_mut(si, n, secret)?;
            upload.last_activity = now;
            if discard {
                return Ok(false);
            }
            let length = data.len() as u64;
            // Tahoe compares the overlapping bytes before it checks the size: a write that
            // conflicts and also runs past the end is a ConflictingWrite.
            let overlaps: Vec<Range<u64>> = upload
                .written
                .overlapping(offset, offset.saturating_add(length))
                .collect();
            for r in overlaps {
                let from = (r.start - offset) as usize;
                let to = (r.end - offset) as usize;
                let piece = data.get(from..to).ok_or(Error::Bug("overlap bounds"))?;
                if !upload.container.compare(r.start, piece)? {
                    return Err(Error::ConflictingWrite {
                        start: r.start,
                        end: r.end,
                    });
                }
            }
            let end = offset
                .checked_add(length)
                .filter(|&e| e <= upload.max_size)
                .ok_or(Error::DataTooLarge {
                    max: upload.max_size,
                    offset,
                    length,
                })?;
            if upload.written.len_after_insert(offset, end) > max_ranges {
                return Err(Error::LimitReached(Limit::RangesPerUpload));
            }
            upload.container.write_share_data(offset, data)?;
            upload.written.insert(offset, end);
            let complete = upload.written.covered() == upload.max_size;
            if resume {
                upload.container.sync()?;
                let record = upload.encode_record(max_ranges)?;
                s.store.put_upload_record(si, n, &record)?;
            }
            Ok(complete)
        });
        self.abort_if_no_space(si, n, r)
    }

    /// Aborts an upload whose write or close found the filesystem full: nothing
    /// half-written stays, and its reserved space is released.
    fn abort_if_no_space<T>(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        r: Result<T, S::Error>,
    ) -> Result<T, S::Error> {
        if matches!(r, Err(Error::NoSpace)) {
            let _ = self.drop_upload(si, n);
        }
        r
    }

    /// The ranges of an upload not yet written (Tahoe's `required_ranges()`; GBS's
    /// `required` list).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchUpload`], [`Error::BadUploadSecret`].
    pub fn required_ranges(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        secret: &UploadSecret,
    ) -> Result<Vec<Range<u64>>, S::Error> {
        let upload = self.upload_mut(si, n, secret)?;
        Ok(upload.written.missing(upload.max_size).collect())
    }

    /// Finishes an upload (Tahoe's `BucketWriter.close`): the incoming share is synced
    /// and published atomically. As in Tahoe, completeness is not checked (unwritten
    /// bytes read as zeros). Returns the size of the published container.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchUpload`], [`Error::BadUploadSecret`], store errors (the upload
    /// stays in progress, so the close can be retried or the upload aborted).
    /// [`Error::NoSpace`] when the filesystem is full: the upload is then aborted, as by
    /// [`Self::write`].
    pub fn close(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        secret: &UploadSecret,
    ) -> Result<u64, S::Error> {
        let r = self.full_as_no_space(|s| {
            let upload = s.upload_mut(si, n, secret)?;
            upload.container.sync()?;
            let size = upload.container.layout().container_size();
            s.store.publish(si, n)?;
            s.uploads.remove(&(*si, n));
            Ok(size)
        });
        self.abort_if_no_space(si, n, r)
    }

    /// Abandons an upload (Tahoe's `BucketWriter.abort`): the incoming share is
    /// deleted and its space released.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchUpload`], [`Error::BadUploadSecret`], store errors.
    pub fn abort(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        secret: &UploadSecret,
    ) -> Result<(), S::Error> {
        self.upload_mut(si, n, secret)?;
        self.drop_upload(si, n)
    }

    fn drop_upload(&mut self, si: &StorageIndex, n: ShareNumber) -> Result<(), S::Error> {
        match self.store.abort(si, n) {
            Ok(()) | Err(StoreError::NoSuchShare) => {}
            Err(e) => return Err(e.into()),
        }
        self.uploads.remove(&(*si, n));
        Ok(())
    }

    /// Aborts every upload idle for at least the configured timeout at `now` (Tahoe's
    /// 30-minute `BucketWriter` timer, driven by the caller's clock), calling
    /// `on_expired` for each. Returns how many were aborted.
    ///
    /// # Errors
    ///
    /// Store errors (uploads handled before the failure stay aborted).
    pub fn expire_stale_uploads(
        &mut self,
        now: u64,
        mut on_expired: impl FnMut(StorageIndex, ShareNumber),
    ) -> Result<usize, S::Error> {
        let timeout = self.config.upload_idle_timeout;
        let stale: Vec<_> = self
            .uploads
            .iter()
            .filter(|(_, u)| now.saturating_sub(u.last_activity) >= timeout)
            .map(|(k, _)| *k)
            .collect();
        for (si, n) in &stale {
            self.drop_upload(si, *n)?;
            on_expired(*si, *n);
        }
        Ok(stale.len())
    }

    /// Whether an upload is in progress for a share.
    #[must_use]
    pub fn upload_in_progress(&self, si: &StorageIndex, n: ShareNumber) -> bool {
        self.uploads.contains_key(&(*si, n))
    }

    /// The uploads in progress, ordered by storage index and share number.
    pub fn uploads(&self) -> impl Iterator<Item = UploadInfo> + '_ {
        self.uploads.iter().map(|((si, n), u)| UploadInfo {
            storage_index: *si,
            share_number: *n,
            allocated_size: u.max_size,
            written: u.written.covered(),
            last_activity: u.last_activity,
        })
    }

    /// Startup: discard incoming shares, or resume those with a valid record.
    pub(super) fn recover_incoming(&mut self, now: u64) -> Result<(), S::Error> {
        let mut found = Vec::new();
        self.store.for_each_incoming(&mut |si, n| {
            found.push((si, n));
            true
        })?;
        for (si, n) in found {
            let resumed =
                if self.config.resume_uploads && self.uploads.len() < self.config.max_uploads {
                    self.try_resume(&si, n, now)?
                } else {
                    None
                };
            match resumed {
                Some(upload) => {
                    self.uploads.insert((si, n), upload);
                }
                None => match self.store.abort(&si, n) {
                    Ok(()) | Err(StoreError::NoSuchShare) => {}
                    Err(e) => return Err(e.into()),
                },
            }
        }
        Ok(())
    }

    /// Rebuilds an upload from its record, or `None` if it cannot be trusted: no
    /// record, a corrupt one, a share also published (a crash inside publish), or a
    /// container that does not match the record.
    fn try_resume(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        now: u64,
    ) -> Result<Option<Upload<S::Io>>, S::Error> {
        if self.store.list(si)?.contains(n) {
            return Ok(None);
        }
        let mut buf = alloc::vec![0u8; record_capacity(self.config.max_ranges_per_upload)];
        let len = match self.store.get_upload_record(si, n, &mut buf) {
            Ok(Some(len)) => len,
            Ok(None) | Err(StoreError::BufferTooSmall { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Ok(rec) = decode_record::<S::Error>(buf.get(..len).unwrap_or_default()) else {
            return Ok(None);
        };
        let Some(io) = self.store.open_incoming(si, n)? else {
            return Ok(None);
        };
        let container = match ImmutableContainer::open(io) {
            Ok(c) => c,
            Err(ContainerError::Io(e)) => return Err(Error::Io(e)),
            Err(_) => return Ok(None),
        };
        let written = RangeSet::from_ranges(rec.written.iter().copied());
        let sane = container.data_length() == rec.max_size
            && container.num_leases() >= 1
            && written.len() <= self.config.max_ranges_per_upload
            && written
                .as_slice()
                .last()
                .is_none_or(|r| r.1 <= rec.max_size);
        if !sane {
            return Ok(None);
        }
        Ok(Some(Upload {
            container: container.with_max_size(rec.max_size),
            secret: UploadSecret::from_digest(rec.secret_digest),
            max_size: rec.max_size,
            written,
            last_activity: now.max(rec.last_activity),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{MemError, VecIo};

    #[test]
    fn record_round_trip_and_rejections() {
        let c = ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, 100).unwrap();
        let u = Upload {
            container: c,
            secret: UploadSecret::new(b"s").unwrap(),
            max_size: 100,
            written: RangeSet::from_ranges([(0, 10), (20, 30)]),
            last_activity: 77,
        };
        let bytes = u.encode_record(4).unwrap();
        assert!(bytes.starts_with(RECORD_MAGIC));
        let rec = decode_record::<MemError>(&bytes).unwrap();
        assert_eq!(rec.max_size, 100);
        assert_eq!(rec.written, [(0, 10), (20, 30)]);
        assert_eq!(rec.last_activity, 77);
        assert_eq!(&rec.secret_digest, u.secret.digest());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode_record::<MemError>(&bad).is_err(), "flip at {i}");
        }
        for cut in 0..bytes.len() {
            assert!(decode_record::<MemError>(&bytes[..cut]).is_err());
        }
        // Capacity holds the worst case: max_ranges ranges of huge numbers.
        let u2 = Upload {
            written: RangeSet::from_ranges(
                (0..4u64).map(|i| (u64::MAX - 100 + i * 10, u64::MAX - 95 + i * 10)),
            ),
            max_size: u64::MAX,
            ..u
        };
        assert!(u2.encode_record(4).is_ok());
    }
}
