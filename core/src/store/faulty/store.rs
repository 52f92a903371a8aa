//! The fault-injecting store: a [`MemStore`] behind a [`FaultPlan`].

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::power::Power;
use super::{Change, FaultPlan, FaultyShare, Pending, Persist, StoreFault, StoreOp, SECTOR};
use crate::io::MemError;
use crate::store::memory::Key;
use crate::store::{MemShare, MemStore, ShareStore};
use crate::store::{StoreError, StoreResult};
use crate::types::{ShareNumber, ShareSet, StorageIndex};

fn mem(e: StoreError<MemError>) -> StoreError<StoreFault> {
    e.map_io(StoreFault::Mem)
}

/// The result of a store operation that may have been hit by an ambiguous fault.
fn outcome<T>(ambiguous: bool, kind: StoreOp, value: T) -> StoreResult<T, StoreFault> {
    if ambiguous {
        Err(StoreError::Io(StoreFault::Injected(kind)))
    } else {
        Ok(value)
    }
}

/// A [`MemStore`] whose operations follow a [`FaultPlan`], and which keeps track of what
/// is durable.
///
/// Clones are handles on the same store and plan, so a test can keep one while a server
/// owns another (and still reach the store after [`crate::server::Server::new`] fails).
/// After a crash every operation fails until the test takes [`Self::crash_image`] or
/// [`Self::power_loss_image`].
///
/// # Durability model
///
/// What the [`ShareStore`] contract makes durable, and nothing more: a device `sync`
/// makes that share's bytes durable; `publish` syncs the share and renames it durably;
/// `abort`, `remove`, `put_upload_record` (which also makes the incoming share's name
/// durable, as syncing its directory does) and `write_advisory` are durable when they
/// return. Everything else is [`Pending`]: device writes and length changes since the
/// share's last sync, and the creation of incoming shares whose names are not durable
/// yet.
#[derive(Debug, Clone)]
pub struct FaultyStore {
    inner: Rc<RefCell<MemStore>>,
    plan: FaultPlan,
}

impl FaultyStore {
    /// Wraps `inner` (taken as durable) with a plan that injects nothing.
    #[must_use]
    pub fn new(inner: MemStore) -> Self {
        Self::with_plan(inner, FaultPlan::new())
    }

    /// Wraps `inner` (taken as durable) with an existing plan, whose counters keep
    /// running.
    #[must_use]
    pub fn with_plan(inner: MemStore, plan: FaultPlan) -> Self {
        *plan.power() = Power::of(&inner);
        Self {
            inner: Rc::new(RefCell::new(inner)),
            plan,
        }
    }

    /// A handle on the plan.
    #[must_use]
    pub fn plan(&self) -> FaultPlan {
        self.plan.clone()
    }

    /// A deep copy of the store as it is now, sharing nothing with this one. After a
    /// crash, this is what survives a *process* crash: every completed change (the
    /// operating system keeps what was written).
    #[must_use]
    pub fn crash_image(&self) -> MemStore {
        self.inner.borrow().deep_clone()
    }

    /// The changes a power loss now could lose, in the order they were made (the write a
    /// crash interrupted included, marked in flight).
    #[must_use]
    pub fn pending(&self) -> Vec<Pending> {
        self.plan.power().pending.clone()
    }

    /// What survives a *power loss* now: everything durable, plus the [`Pending`]
    /// changes as `persist` decides for each (given its index in [`Self::pending`]),
    /// applied in their order. Applying any subset in order covers reordering too: each
    /// change touches its own bytes or names, and later ones win.
    #[must_use]
    pub fn power_loss_image(
        &self,
        mut persist: impl FnMut(usize, &Pending) -> Persist,
    ) -> MemStore {
        let power = self.plan.power();
        let mut contents = power.synced.clone();
        let mut names = power.names.clone();
        for (i, p) in power.pending.iter().enumerate() {
            let how = persist(i, p);
            if how == Persist::Lost {
                continue;
            }
            let buf = contents.entry(p.share).or_default();
            match &p.change {
                Change::Create(si, n) => {
                    names.insert(((*si, *n), true), p.share);
                }
                Change::SetLen(len) => buf.resize(usize::try_from(*len).unwrap_or(0), 0),
                Change::Write { offset, data } => {
                    let first = offset / SECTOR;
                    let end = offset.saturating_add(data.len() as u64);
                    let mut at = *offset;
                    let mut sector = 0usize;
                    while at < end {
                        let next = ((first + sector as u64 + 1) * SECTOR).min(end);
                        let keep = match &how {
                            Persist::Sectors(mask) => mask.get(sector).copied().unwrap_or(false),
                            _ => true,
                        };
                        if keep {
                            let from = (at - offset) as usize;
                            let to = (next - offset) as usize;
                            if let Some(piece) = data.get(from..to) {
                                put(buf, at, piece);
                            }
                        }
                        at = next;
                        sector += 1;
                    }
                }
            }
        }
        let mut store = MemStore::new();
        let inner = self.inner.borrow();
        store.capacity = inner.capacity;
        store.advisories.clone_from(&power.advisories);
        for (&(key, incoming), id) in &names {
            store.put_share(key, incoming, contents.get(id).cloned().unwrap_or_default());
            if incoming {
                if let Some(r) = power.records.get(&key) {
                    store.put_record(key, r.clone());
                }
            }
        }
        store
    }

    /// What survives a power loss that loses every pending change.
    #[must_use]
    pub fn durable_image(&self) -> MemStore {
        self.power_loss_image(|_, _| Persist::Lost)
    }

    /// Calls `f` on the wrapped store, bypassing the plan (for inspection).
    pub fn with_inner<R>(&self, f: impl FnOnce(&MemStore) -> R) -> R {
        f(&self.inner.borrow())
    }

    fn read(&self) -> StoreResult<(), StoreFault> {
        if self.plan.crashed() {
            return Err(StoreError::Io(StoreFault::Crashed));
        }
        Ok(())
    }

    fn wrap(&self, key: Key, incoming: bool, share: MemShare) -> FaultyShare {
        let id = self.plan.power().id(key, incoming, &share);
        FaultyShare {
            inner: share,
            plan: self.plan.clone(),
            id,
        }
    }

    fn share_len(&self, key: Key, incoming: bool) -> u64 {
        let mut inner = self.inner.borrow_mut();
        let share = if incoming {
            inner.open_incoming(&key.0, key.1)
        } else {
            inner.open(&key.0, key.1)
        };
        share.ok().flatten().map_or(0, |s| s.bytes().len() as u64)
    }
}

/// Writes `data` at `offset` of `buf`, growing it with zeros.
fn put(buf: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let Ok(start) = usize::try_from(offset) else {
        return;
    };
    let end = start.saturating_add(data.len());
    if buf.len() < end {
        buf.resize(end, 0);
    }
    if let Some(dst) = buf.get_mut(start..end) {
        dst.copy_from_slice(data);
    }
}

impl ShareStore for FaultyStore {
    type Error = StoreFault;
    type Io = FaultyShare;

    fn open(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<Option<FaultyShare>, StoreFault> {
        self.read()?;
        let share = self.inner.borrow_mut().open(si, shnum).map_err(mem)?;
        Ok(share.map(|s| self.wrap((*si, shnum), false, s)))
    }

    fn list(&mut self, si: &StorageIndex) -> StoreResult<ShareSet, StoreFault> {
        self.read()?;
        self.inner.borrow_mut().list(si).map_err(mem)
    }

    fn create_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<FaultyShare, StoreFault> {
        let ambiguous = self.plan.admit(StoreOp::CreateIncoming)?;
        let share = self
            .inner
            .borrow_mut()
            .create_incoming(si, shnum)
            .map_err(mem)?;
        self.plan.power().created((*si, shnum));
        let share = self.wrap((*si, shnum), true, share);
        outcome(ambiguous, StoreOp::CreateIncoming, share)
    }

    fn open_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<Option<FaultyShare>, StoreFault> {
        self.read()?;
        let share = self
            .inner
            .borrow_mut()
            .open_incoming(si, shnum)
            .map_err(mem)?;
        Ok(share.map(|s| self.wrap((*si, shnum), true, s)))
    }

    fn list_incoming(&mut self, si: &StorageIndex) -> StoreResult<ShareSet, StoreFault> {
        self.read()?;
        self.inner.borrow_mut().list_incoming(si).map_err(mem)
    }

    fn publish(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), StoreFault> {
        let ambiguous = self.plan.admit(StoreOp::Publish)?;
        self.inner.borrow_mut().publish(si, shnum).map_err(mem)?;
        let bytes = self
            .inner
            .borrow_mut()
            .open(si, shnum)
            .map_err(mem)?
            .map(|s| s.bytes())
            .unwrap_or_default();
        self.plan.power().published((*si, shnum), bytes);
        outcome(ambiguous, StoreOp::Publish, ())
    }

    fn abort(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), StoreFault> {
        let ambiguous = self.plan.admit(StoreOp::Abort)?;
        let freed = self.share_len((*si, shnum), true);
        self.inner.borrow_mut().abort(si, shnum).map_err(mem)?;
        self.plan.give_space(freed);
        self.plan.power().removed((*si, shnum), true);
        outcome(ambiguous, StoreOp::Abort, ())
    }

    fn remove(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), StoreFault> {
        let ambiguous = self.plan.admit(StoreOp::Remove)?;
        let freed = self.share_len((*si, shnum), false);
        self.inner.borrow_mut().remove(si, shnum).map_err(mem)?;
        self.plan.give_space(freed);
        self.plan.power().removed((*si, shnum), false);
        outcome(ambiguous, StoreOp::Remove, ())
    }

    fn put_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        record: &[u8],
    ) -> StoreResult<(), StoreFault> {
        let ambiguous = self.plan.admit(StoreOp::PutUploadRecord)?;
        let old = self
            .inner
            .borrow()
            .records()
            .get(&(*si, shnum))
            .map_or(0, |r| r.len() as u64);
        let new = record.len() as u64;
        if new > old {
            self.plan
                .take_space(new - old)
                .map_err(|_| StoreError::Io(StoreFault::NoSpace))?;
        }
        self.inner
            .borrow_mut()
            .put_upload_record(si, shnum, record)
            .map_err(mem)?;
        self.plan.give_space(old.saturating_sub(new));
        self.plan.power().recorded((*si, shnum), record);
        outcome(ambiguous, StoreOp::PutUploadRecord, ())
    }

    fn get_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        buf: &mut [u8],
    ) -> StoreResult<Option<usize>, StoreFault> {
        self.read()?;
        self.inner
            .borrow_mut()
            .get_upload_record(si, shnum, buf)
            .map_err(mem)
    }

    fn available_space(&mut self) -> StoreResult<Option<u64>, StoreFault> {
        self.read()?;
        self.inner.borrow_mut().available_space().map_err(mem)
    }

    fn write_advisory(&mut self, name: &str, body: &[u8]) -> StoreResult<(), StoreFault> {
        let ambiguous = self.plan.admit(StoreOp::WriteAdvisory)?;
        self.plan
            .take_space(body.len() as u64)
            .map_err(|_| StoreError::Io(StoreFault::NoSpace))?;
        self.inner
            .borrow_mut()
            .write_advisory(name, body)
            .map_err(mem)?;
        self.plan
            .power()
            .advisories
            .insert(name.into(), body.into());
        outcome(ambiguous, StoreOp::WriteAdvisory, ())
    }

    fn for_each_storage_index(
        &mut self,
        f: &mut dyn FnMut(StorageIndex) -> bool,
    ) -> StoreResult<(), StoreFault> {
        self.read()?;
        // Collected first, so that `f` may use another handle on this store.
        let mut sis = Vec::new();
        self.inner
            .borrow_mut()
            .for_each_storage_index(&mut |si| {
                sis.push(si);
                true
            })
            .map_err(mem)?;
        for si in sis {
            if !f(si) {
                break;
            }
        }
        Ok(())
    }

    fn for_each_incoming(
        &mut self,
        f: &mut dyn FnMut(StorageIndex, ShareNumber) -> bool,
    ) -> StoreResult<(), StoreFault> {
        self.read()?;
        let mut keys = Vec::new();
        self.inner
            .borrow_mut()
            .for_each_incoming(&mut |si, n| {
                keys.push((si, n));
                true
            })
            .map_err(mem)?;
        for (si, n) in keys {
            if !f(si, n) {
                break;
            }
        }
        Ok(())
    }
}
