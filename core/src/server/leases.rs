//! Leases: adding, renewing, cancelling and visiting them on every share of a storage
//! index.

use super::{AnyShare, Server};
use crate::container::{Backdate, ContainerError, NewLease};
use crate::error::{Error, Result};
use crate::format::lease::Lease;
use crate::format::ShareKind;
use crate::store::ShareStore;
use crate::types::{CancelSecret, LeaseOp, RenewSecret, ShareNumber, StorageIndex};

/// No share held a lease to renew or cancel: Tahoe's "no such lease to renew".
fn no_shares<E>(op: LeaseOp) -> Error<E> {
    Error::NoSuchLease {
        op,
        share: None,
        kind: None,
        accepted_by: crate::types::AcceptedBy::default(),
    }
}

impl<S: ShareStore> Server<S> {
    /// Visits every lease on every share of a storage index, with memory independent of
    /// the number of leases; stop early by returning `false`.
    ///
    /// # Errors
    ///
    /// Container and store errors. A share file that is neither kind of container fails
    /// this and every other lease operation as it fails a read: a file of 0 to 3 bytes,
    /// or an immutable header cut short, with [`Error::Corrupt`]
    /// ([`crate::Corruption::TruncatedHeader`]; Tahoe raises `struct.error`); a file whose
    /// first four bytes are neither version 1 or 2 nor a mutable magic (garbage, or a
    /// newer Tahoe's container) with [`Error::UnknownImmutableVersion`], where Tahoe's
    /// lease operations skip it silently. So a damaged share never reads as one without
    /// leases.
    pub fn for_each_lease(
        &mut self,
        si: &StorageIndex,
        mut f: impl FnMut(ShareNumber, ShareKind, &Lease) -> bool,
    ) -> Result<(), S::Error> {
        let mut go_on = true;
        for n in self.store.list(si)?.iter() {
            match self.open_lease_holder(si, n)? {
                Some(AnyShare::Immutable(mut c)) => c.for_each_lease(|_, l| {
                    go_on = f(n, ShareKind::Immutable, l);
                    go_on
                })?,
                Some(AnyShare::Mutable(mut c)) => c.for_each_lease(|_, l| {
                    go_on = f(n, ShareKind::Mutable, l);
                    go_on
                })?,
                None => {}
            }
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    /// Opens a share for a lease operation: as [`Self::open_any`] (Tahoe's
    /// `_iter_share_files` skips files of neither kind; see [`Self::for_each_lease`]).
    fn open_lease_holder(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<Option<AnyShare<S::Io>>, S::Error> {
        self.open_any(si, shnum)
    }

    /// Adds a lease to every share of a storage index, or renews the one whose renew
    /// secret matches, to expire at `now` + the lease duration (Tahoe's `add_lease`;
    /// Foolscap passes owner 1). Returns how many shares now carry the lease; 0 when
    /// there are none (GBS answers 404).
    ///
    /// # Errors
    ///
    /// [`Error::NoSpace`] when a new record does not fit the available space, or the
    /// filesystem is full (shares visited before keep their new lease, as in Tahoe);
    /// [`Error::ReadOnly`] over a read-only store; container and store errors.
    pub fn add_lease(
        &mut self,
        si: &StorageIndex,
        renew: &RenewSecret,
        cancel: &CancelSecret,
        owner_num: u32,
        now: u64,
    ) -> Result<usize, S::Error> {
        self.check_writable()?;
        self.full_as_no_space(|s| {
            let lease = s.lease_for(owner_num, renew, cancel, now);
            let mut count = 0;
            for n in s.store.list(si)?.iter() {
                if let Some(share) = s.open_lease_holder(si, n)? {
                    s.add_or_renew_at(si, n, share, &lease)?;
                    count += 1;
                }
            }
            Ok(count)
        })
    }

    /// [`Self::add_or_renew`] on share `n` of `si`, recovering the share at once when
    /// the filesystem filled up part-way.
    pub(crate) fn add_or_renew_at(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        share: AnyShare<S::Io>,
        lease: &NewLease,
    ) -> Result<(), S::Error> {
        let r = self.add_or_renew(share, lease);
        if let Err(e) = &r {
            self.recover_after_no_space(si, n, e);
        }
        r
    }

    /// After the filesystem filled up in the middle of an update of a published share
    /// (a lease record or a journal written in part past its end), reopens the share to
    /// run its recovery now, which removes those bytes: the file is as before the update.
    pub(crate) fn recover_after_no_space(
        &mut self,
        si: &StorageIndex,
        n: ShareNumber,
        e: &Error<S::Error>,
    ) {
        if !matches!(e, Error::Io(io) if S::is_no_space(io)) {
            return;
        }
        // A mutable container recovers as it opens; an immutable one when asked.
        if let Ok(Some(AnyShare::Immutable(mut c))) = self.open_any(si, n) {
            let _ = c.recover();
        }
    }

    pub(crate) fn add_or_renew(
        &mut self,
        share: AnyShare<S::Io>,
        lease: &NewLease,
    ) -> Result<(), S::Error> {
        let space = self.available_space()?.unwrap_or(u64::MAX);
        match share {
            AnyShare::Immutable(mut c) => {
                match c.renew_lease(&lease.renew, lease.expiration_time, Backdate::Forbid) {
                    Err(ContainerError::NoSuchLease { .. }) => {
                        if crate::format::lease::IMMUTABLE_LEASE_SIZE as u64 > space {
                            return Err(Error::NoSpace);
                        }
                        Ok(c.add_lease(lease)?)
                    }
                    other => Ok(other?),
                }
            }
            AnyShare::Mutable(mut c) => Ok(c.add_or_renew_lease(space, lease)?),
        }
    }

    /// Renews the lease whose renew secret matches on every share of a storage index
    /// (Tahoe's `renew_lease`, which never back-dates).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchLease`] when there are no shares, or a share has no matching lease
    /// (shares visited before stay renewed, as in Tahoe); [`Error::ReadOnly`] over a
    /// read-only store; [`Error::NoSpace`] when the filesystem is full; container and
    /// store errors.
    pub fn renew_lease(
        &mut self,
        si: &StorageIndex,
        renew: &RenewSecret,
        now: u64,
    ) -> Result<(), S::Error> {
        self.check_writable()?;
        self.full_as_no_space(|s| {
            let expiry = s.expiry(now);
            let mut found = false;
            for n in s.store.list(si)?.iter() {
                let renewed = match s.open_lease_holder(si, n)? {
                    Some(AnyShare::Immutable(mut c)) => {
                        c.renew_lease(renew, expiry, Backdate::Forbid)
                    }
                    Some(AnyShare::Mutable(mut c)) => {
                        c.renew_lease(renew, expiry, Backdate::Forbid)
                    }
                    None => continue,
                };
                renewed.map_err(|e| e.in_share(n))?;
                found = true;
            }
            if found {
                Ok(())
            } else {
                Err(no_shares(LeaseOp::Renew))
            }
        })
    }

    /// Cancels the leases whose cancel secret matches on every share of a storage index;
    /// a share left without leases is deleted (Tahoe's internal `cancel_lease`, used by
    /// the lease expirer; not a client operation). Returns the bytes freed.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchLease`] when no share had a matching lease; [`Error::ReadOnly`]
    /// over a read-only store; [`Error::NoSpace`] when the filesystem is full; container
    /// and store errors.
    pub fn cancel_lease(
        &mut self,
        si: &StorageIndex,
        cancel: &CancelSecret,
    ) -> Result<u64, S::Error> {
        self.check_writable()?;
        self.full_as_no_space(|s| {
            let mut freed = 0u64;
            let mut found = false;
            for n in s.store.list(si)?.iter() {
                let Some(mut share) = s.open_lease_holder(si, n)? else {
                    continue;
                };
                // When every lease matches, the share goes in one step: rewriting the lease
                // records first would let a crash leave a published share with no lease,
                // which nothing would ever collect.
                let (mut total, mut matching) = (0u64, 0u64);
                let mut count = |_: u32, l: &Lease| {
                    total += 1;
                    matching += u64::from(l.secrets.matches_cancel(cancel));
                    true
                };
                match &mut share {
                    AnyShare::Immutable(c) => c.for_each_lease(&mut count)?,
                    AnyShare::Mutable(c) => c.for_each_lease(&mut count)?,
                }
                if matching == 0 {
                    continue;
                }
                found = true;
                if matching == total {
                    freed = freed.saturating_add(match &share {
                        AnyShare::Immutable(c) => c.layout().container_size(),
                        AnyShare::Mutable(c) => c.container_end(),
                    });
                    drop(share);
                    s.store.remove(si, n)?;
                    continue;
                }
                match share {
                    AnyShare::Immutable(mut c) => {
                        freed = freed.saturating_add(c.cancel_lease(cancel)?.freed);
                    }
                    AnyShare::Mutable(mut c) => {
                        c.cancel_lease(cancel)?;
                    }
                }
            }
            if found {
                Ok(freed)
            } else {
                Err(no_shares(LeaseOp::Cancel))
            }
        })
    }
}
