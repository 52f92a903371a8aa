//! Mutable slots: `slot_testv_and_readv_and_writev` and `slot_readv`.

use alloc::vec::Vec;

use super::{LeaseUpdate, Server};
use crate::container::{MutableContainer, NewLease, TestVector};
use crate::error::{Error, Result};
use crate::format::mutable::{MutableVersion, NEW_CONTAINER_SIZE};
use crate::store::ShareStore;
use crate::types::{CancelSecret, RenewSecret, ShareNumber, ShareSet, StorageIndex, WriteEnabler};

/// The three secrets of a mutable write.
#[derive(Clone)]
pub struct SlotSecrets {
    /// The slot's write enabler.
    pub write_enabler: WriteEnabler,
    /// The lease renew secret.
    pub renew: RenewSecret,
    /// The lease cancel secret.
    pub cancel: CancelSecret,
}

// The container layer describes one share's tests and writes; `server::SlotWrite` stays
// its public path too (mod.rs re-exports it from here).
pub use crate::container::SlotWrite;

/// Per-share results of a read vector: one byte string per `(offset, length)` read.
pub type ReadResults = Vec<(ShareNumber, Vec<Vec<u8>>)>;

/// The answer of [`Server::slot_testv_and_readv_and_writev`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestWriteOutcome {
    /// Whether every test passed (and so the writes were applied).
    pub passed: bool,
    /// The read vector applied to every share that existed before the writes.
    pub reads: ReadResults,
}

fn read_all<IO: crate::io::ShareIo>(
    c: &mut MutableContainer<IO>,
    readv: &[(u64, u64)],
) -> Result<Vec<Vec<u8>>, IO::Error> {
    let mut out = Vec::with_capacity(readv.len());
    for &(offset, length) in readv {
        let n = length.min(c.data_length().saturating_sub(offset));
        let mut buf = alloc::vec![0u8; usize::try_from(n).map_err(|_| Error::InvalidArgument("read length"))?];
        let got = c.read_share_data(offset, &mut buf)?;
        buf.truncate(got);
        out.push(buf);
    }
    Ok(out)
}

/// Whether adding or renewing the lease with `renew` raises `NoSpace`: no lease matches,
/// no slot is empty, and an extra slot does not fit in `space`.
fn lease_needs_space<IO: crate::io::ShareIo>(
    c: &mut MutableContainer<IO>,
    renew: &RenewSecret,
    space: u64,
) -> Result<bool, IO::Error> {
    if crate::format::lease::MUTABLE_LEASE_SIZE as u64 <= space {
        return Ok(false);
    }
    for i in 0..c.num_slots() {
        match c.lease_slot(i)? {
            None => return Ok(false),
            Some(l) if l.secrets.matches_renew(renew) => return Ok(false),
            Some(_) => {}
        }
    }
    Ok(true)
}

/// The shares of a slot, opened.
type OpenSlots<IO> = Vec<(ShareNumber, MutableContainer<IO>)>;

/// The missing share's test (Tahoe's `EmptyShare.check_testv`): every read is empty.
fn empty_share_passes(tests: &[TestVector<'_>]) -> bool {
    tests.iter().all(|t| t.specimen.is_empty())
}

impl<S: ShareStore> Server<S> {
    /// Opens every share of a storage index as mutable and checks the write enabler
    /// against each (Tahoe's `_collect_mutable_shares_for_storage_index`).
    fn collect_mutable(
        &mut self,
        si: &StorageIndex,
        we: &WriteEnabler,
    ) -> Result<OpenSlots<S::Io>, S::Error> {
        let set = self.store.list(si)?;
        let mut shares = Vec::with_capacity(set.len());
        for n in set.iter() {
            let c = self.open_mutable(si, n)?;
            c.check_write_enabler(we)?;
            shares.push((n, c));
        }
        Ok(shares)
    }

    /// Tahoe's `slot_testv_and_readv_and_writev`, in Tahoe's order:
    ///
    /// 1. every existing share is opened as mutable and its write enabler checked, even
    ///    when `writes` is empty;
    /// 2. the tests of each entry of `writes` run, in order, against its share (a missing
    ///    share reads as empty), stopping at the first failure;
    /// 3. `readv` is read from every existing share;
    /// 4. only if every test passed, each entry is applied in order: `new_length == 0`
    ///    deletes the share (and its storage index's directory once empty), otherwise the
    ///    share is created if missing and the writes applied;
    /// 5. with [`LeaseUpdate::AddOrRenew`], each share written and still present gets the
    ///    lease (owner 1) added or renewed.
    ///
    /// Unlike Tahoe, every write vector of every share is checked before any is applied
    /// (so [`Error::DataTooLarge`] changes nothing), each share's update is crash-atomic
    /// (journaled), and a new share is built as an incoming share and published whole.
    /// Across several shares of one call there is no atomicity: after a crash each share
    /// is independently old or new (docs/format.md).
    ///
    /// # Errors
    ///
    /// [`Error::BadWriteEnabler`]; [`Error::UnknownMutableMagic`] when the storage index
    /// holds an immutable share; [`Error::InvalidArgument`] for a share number listed
    /// twice; [`Error::DataTooLarge`]; [`Error::AlreadyExists`] when an immutable upload
    /// of a share to be created is in progress; [`Error::NoSpace`] for a lease that does
    /// not fit (after the writes, as in Tahoe); with
    /// [`super::Config::mutable_writes_respect_space`], [`Error::ReadOnly`] and
    /// [`Error::NoSpace`] before writing; [`Error::ReadOnly`] over a read-only store
    /// when `writes` is not empty (a call that only tests and reads is answered);
    /// [`Error::NoSpace`] when the filesystem is full (the share being written stays
    /// old, a new one is not created; shares of the call written before stay new);
    /// container and store errors.
    pub fn slot_testv_and_readv_and_writev(
        &mut self,
        si: &StorageIndex,
        secrets: &SlotSecrets,
        writes: &[SlotWrite<'_>],
        readv: &[(u64, u64)],
        leases: LeaseUpdate,
        now: u64,
    ) -> Result<TestWriteOutcome, S::Error> {
        if !writes.is_empty() {
            self.check_writable()?;
        }
        let renew_leases = leases == LeaseUpdate::AddOrRenew;
        self.full_as_no_space(|s| {
            let mut seen = ShareSet::new();
            for w in writes {
                if !seen.insert(w.share_number) {
                    return Err(Error::InvalidArgument("share number listed twice"));
                }
            }
            let mut shares = s.collect_mutable(si, &secrets.write_enabler)?;

            let mut passed = true;
            for w in writes {
                let ok = match shares.iter_mut().find(|(n, _)| *n == w.share_number) {
                    Some((_, c)) => c.check_testv(w.tests)?,
                    None => empty_share_passes(w.tests),
                };
                if !ok {
                    passed = false;
                    break;
                }
            }

            let mut results = Vec::with_capacity(shares.len());
            for (n, c) in &mut shares {
                results.push((*n, read_all(c, readv)?));
            }
            if !passed {
                return Ok(TestWriteOutcome {
                    passed,
                    reads: results,
                });
            }

            s.check_slot_writes(si, &shares, writes)?;

            let lease = s.lease_for(1, &secrets.renew, &secrets.cancel, now);
            let space = s.available_space()?.unwrap_or(u64::MAX);
            // Tahoe adds the leases after every write, in order, and stops at the first share
            // that raises NoSpace: a new share after that one must be published without.
            let mut lease_blocked = false;
            let mut survivors = Vec::new();
            for w in writes {
                let n = w.share_number;
                let pos = shares.iter().position(|(m, _)| *m == n);
                if w.new_length == Some(0) {
                    if let Some(p) = pos {
                        shares.swap_remove(p);
                        s.store.remove(si, n)?;
                    }
                    continue;
                }
                match pos {
                    Some(p) => {
                        let (_, c) = shares.get_mut(p).ok_or(Error::Bug("share position"))?;
                        if let Err(e) = c.writev(w.writes, w.new_length) {
                            let e = Error::from(e);
                            shares.swap_remove(p);
                            s.recover_after_no_space(si, n, &e);
                            return Err(e);
                        }
                        lease_blocked = lease_blocked
                            || (renew_leases && lease_needs_space(c, &secrets.renew, space)?);
                    }
                    None => s.create_slot_share(
                        si,
                        n,
                        &secrets.write_enabler,
                        w,
                        (renew_leases && !lease_blocked).then_some(&lease),
                    )?,
                }
                survivors.push(n);
            }
            drop(shares);
            if renew_leases {
                for n in survivors {
                    let c = s.open_mutable(si, n)?;
                    s.add_or_renew_at(si, n, super::AnyShare::Mutable(c), &lease)?;
                }
            }
            Ok(TestWriteOutcome {
                passed,
                reads: results,
            })
        })
    }

    /// Validates every write of a call before any is applied.
    fn check_slot_writes(
        &mut self,
        si: &StorageIndex,
        shares: &[(ShareNumber, MutableContainer<S::Io>)],
        writes: &[SlotWrite<'_>],
    ) -> Result<(), S::Error> {
        let max = crate::format::mutable::MAX_MUTABLE_SHARE_SIZE;
        let incoming = self.store.list_incoming(si)?;
        let mut growth: u64 = 0;
        for w in writes {
            // Tahoe deletes without looking at the data vector (no DataTooLarge).
            if w.new_length == Some(0) {
                continue;
            }
            let mut end = 0u64;
            for (offset, data) in w.writes {
                let length = data.len() as u64;
                let e = offset.checked_add(length).filter(|&e| e <= max).ok_or(
                    Error::DataTooLarge {
                        max,
                        offset: *offset,
                        length,
                    },
                )?;
                end = end.max(e);
            }
            if let Some((_, c)) = shares.iter().find(|(n, _)| *n == w.share_number) {
                growth = growth.saturating_add(end.saturating_sub(c.data_length()));
            } else {
                if incoming.contains(w.share_number) {
                    return Err(Error::AlreadyExists);
                }
                growth = growth.saturating_add(NEW_CONTAINER_SIZE.saturating_add(end));
            }
        }
        let wants_write = writes.iter().any(|w| w.new_length != Some(0));
        if self.config.mutable_writes_respect_space && wants_write {
            if self.config.readonly {
                return Err(Error::ReadOnly);
            }
            if let Some(space) = self.available_space()? {
                if growth > space {
                    return Err(Error::NoSpace);
                }
            }
        }
        Ok(())
    }

    /// Creates a mutable share whole: built as an incoming share, with its lease when
    /// one is to be added (so that a crash never publishes it without; the bytes are
    /// those of Tahoe's create, write, then add in the first slot), then published.
    fn create_slot_share(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        we: &WriteEnabler,
        w: &SlotWrite<'_>,
        lease: Option<&NewLease>,
    ) -> Result<(), S::Error> {
        let io = self.store.create_incoming(si, n)?;
        let built = MutableContainer::create(io, MutableVersion::V2, self.nodeid, we.clone())
            .and_then(|mut c| c.writev(w.writes, w.new_length).map(|()| c))
            .and_then(|mut c| match lease {
                // A new container has a free header slot: no space is needed.
                Some(l) => c.add_lease(u64::MAX, l).map(|()| c),
                None => Ok(c),
            });
        match built {
            Ok(c) => {
                drop(c);
                let published = self.store.publish(si, n);
                if published.is_err() {
                    let _ = self.store.abort(si, n);
                }
                Ok(published?)
            }
            Err(e) => {
                let _ = self.store.abort(si, n);
                Err(e.into())
            }
        }
    }

    /// Tahoe's `slot_readv`: the read vector from the listed shares (all shares when
    /// `shares` is empty); shares not held are left out, and an unknown storage index
    /// gives an empty answer.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownMutableMagic`] when a share read is not mutable; container and
    /// store errors.
    pub fn slot_readv(
        &mut self,
        si: &StorageIndex,
        shares: &ShareSet,
        readv: &[(u64, u64)],
    ) -> Result<ReadResults, S::Error> {
        let held = self.store.list(si)?;
        let mut out = Vec::new();
        for n in held.iter() {
            if shares.is_empty() || shares.contains(n) {
                let mut c = self.open_mutable(si, n)?;
                out.push((n, read_all(&mut c, readv)?));
            }
        }
        Ok(out)
    }
}
