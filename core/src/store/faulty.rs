//! A fault-injecting share store for tests (feature `_testing`; not covered by semver).
//!
//! [`FaultyStore`] wraps a [`MemStore`]. Its devices ([`FaultyShare`]) and its namespace
//! operations share one [`FaultPlan`], which numbers every *mutating* operation in one
//! global sequence (starting at 0):
//!
//! - device `write_at`, `set_len` and `sync`;
//! - store `create_incoming`, `publish`, `abort`, `remove`, `write_advisory` and
//!   `put_upload_record`.
//!
//! The plan can simulate a process crash ([`FaultPlan::crash_at`]): the operation with
//! the given index fails with [`StoreFault::Crashed`] and changes nothing, and so does
//! every operation after it, reads included (the process is gone). Everything applied
//! before the crash stays, whole: a write is never torn, and nothing that was not synced
//! is lost (the operating system keeps it). A test then recovers from a deep copy of the
//! store as the crash left it ([`FaultyStore::crash_image`]).
//!
//! The plan can also fail one operation kind once or for good ([`FaultPlan::fail_nth`]),
//! again changing nothing.
//!
//! Power loss (dropping unsynced writes) is not modelled here; see
//! [`crate::io::faulty::FaultyIo`] for that on one device.
//!
//! A typical crash-point enumeration:
//!
//! ```
//! use tahoe_shares::store::{FaultyStore, MemStore, ShareStore};
//! use tahoe_shares::{ShareNumber, StorageIndex};
//!
//! let si = StorageIndex::new([1; 16]);
//! let op = |s: &mut FaultyStore| -> bool {
//!     s.create_incoming(&si, ShareNumber(0)).is_ok() && s.publish(&si, ShareNumber(0)).is_ok()
//! };
//! // Count the operation's mutating steps on an unfaulted run.
//! let mut store = FaultyStore::new(MemStore::new());
//! let base = store.plan().ops();
//! assert!(op(&mut store));
//! let count = store.plan().ops() - base;
//! assert_eq!(count, 2);
//! // Crash at each of them in turn.
//! for k in 0..count {
//!     let mut store = FaultyStore::new(MemStore::new());
//!     store.plan().crash_at(base + k);
//!     assert!(!op(&mut store));
//!     assert!(store.plan().crashed());
//!     let mut recovered = store.crash_image();
//!     assert!(recovered.list(&si).unwrap().is_empty());
//! }
//! ```

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt;

use super::{MemShare, MemStore, ShareStore};
use crate::error::{Error, Result};
use crate::io::{ErrorKind, ErrorType, MemError, ShareIo};
use crate::types::{ShareNumber, ShareSet, StorageIndex};

/// The kinds of operation a [`FaultPlan`] counts and can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreOp {
    /// Device `len` or `read_at` (not mutating; never given a crash index).
    Read,
    /// Device `write_at`.
    Write,
    /// Device `set_len`.
    SetLen,
    /// Device `sync`.
    Sync,
    /// [`ShareStore::create_incoming`].
    CreateIncoming,
    /// [`ShareStore::publish`].
    Publish,
    /// [`ShareStore::abort`].
    Abort,
    /// [`ShareStore::remove`].
    Remove,
    /// [`ShareStore::write_advisory`].
    WriteAdvisory,
    /// [`ShareStore::put_upload_record`].
    PutUploadRecord,
}

impl StoreOp {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 10] = [
        Self::Read,
        Self::Write,
        Self::SetLen,
        Self::Sync,
        Self::CreateIncoming,
        Self::Publish,
        Self::Abort,
        Self::Remove,
        Self::WriteAdvisory,
        Self::PutUploadRecord,
    ];

    /// Whether operations of this kind change the store (and so take a crash index).
    #[must_use]
    pub fn is_mutating(self) -> bool {
        !matches!(self, Self::Read)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Errors of [`FaultyStore`] and its devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFault {
    /// The simulated crash happened (at this operation or before it); nothing was changed.
    Crashed,
    /// An injected failure of one operation; nothing was changed.
    Injected(StoreOp),
    /// The underlying in-memory device failed.
    Mem(MemError),
}

impl embedded_io::Error for StoreFault {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Crashed | Self::Injected(_) => ErrorKind::Other,
            Self::Mem(m) => embedded_io::Error::kind(m),
        }
    }
}

impl fmt::Display for StoreFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Crashed => f.write_str("simulated crash"),
            Self::Injected(op) => write!(f, "injected failure of {op:?}"),
            Self::Mem(m) => write!(f, "{m}"),
        }
    }
}

impl core::error::Error for StoreFault {}

#[derive(Debug, Default)]
struct PlanState {
    ops: usize,
    crash_at: Option<usize>,
    crashed: bool,
    fail: Option<(StoreOp, usize, bool)>,
    counts: [usize; StoreOp::ALL.len()],
    trace: Vec<StoreOp>,
}

/// The shared fault plan of a [`FaultyStore`] and its devices. Clones are handles on
/// the same plan.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan(Rc<RefCell<PlanState>>);

impl FaultPlan {
    /// A plan that injects nothing.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Crashes at the mutating operation with global index `n` (0-based, counted since
    /// the plan was made): it and every later operation fail with
    /// [`StoreFault::Crashed`] and change nothing. An index already passed crashes at
    /// the next mutating operation.
    pub fn crash_at(&self, n: usize) {
        self.0.borrow_mut().crash_at = Some(n);
    }

    /// Crashes at the next mutating operation (`crash_at(self.ops())`).
    pub fn crash_now(&self) {
        let mut p = self.0.borrow_mut();
        p.crash_at = Some(p.ops);
    }

    /// Fails the `n`th operation of `kind` (0-based, counted per kind since the plan was
    /// made) with [`StoreFault::Injected`], changing nothing; with `sticky`, every later
    /// one of that kind fails too. Replaces any earlier `fail_nth`.
    pub fn fail_nth(&self, kind: StoreOp, n: usize, sticky: bool) {
        self.0.borrow_mut().fail = Some((kind, n, sticky));
    }

    /// Removes the planned crash and failure (a crash that happened stays).
    pub fn clear(&self) {
        let mut p = self.0.borrow_mut();
        p.crash_at = None;
        p.fail = None;
    }

    /// Mutating operations attempted so far, failed ones included: the index the next
    /// one will get.
    #[must_use]
    pub fn ops(&self) -> usize {
        self.0.borrow().ops
    }

    /// Operations of `kind` attempted so far, failed ones included.
    #[must_use]
    pub fn count(&self, kind: StoreOp) -> usize {
        self.0
            .borrow()
            .counts
            .get(kind.index())
            .copied()
            .unwrap_or(0)
    }

    /// Whether the crash happened.
    #[must_use]
    pub fn crashed(&self) -> bool {
        self.0.borrow().crashed
    }

    /// The kinds of the mutating operations attempted so far, by index.
    #[must_use]
    pub fn trace(&self) -> Vec<StoreOp> {
        self.0.borrow().trace.clone()
    }

    /// Admits or refuses one operation.
    fn check(&self, kind: StoreOp) -> core::result::Result<(), StoreFault> {
        let mut p = self.0.borrow_mut();
        if p.crashed {
            return Err(StoreFault::Crashed);
        }
        let count = p.counts.get(kind.index()).copied().unwrap_or(0);
        if let Some(c) = p.counts.get_mut(kind.index()) {
            *c = count.saturating_add(1);
        }
        if kind.is_mutating() {
            let index = p.ops;
            p.ops = index.saturating_add(1);
            p.trace.push(kind);
            if p.crash_at.is_some_and(|c| c <= index) {
                p.crashed = true;
                return Err(StoreFault::Crashed);
            }
        }
        if let Some((k, n, sticky)) = p.fail {
            if k == kind && (count == n || (sticky && count > n)) {
                return Err(StoreFault::Injected(kind));
            }
        }
        Ok(())
    }

    fn admit(&self, kind: StoreOp) -> Result<(), StoreFault> {
        self.check(kind).map_err(Error::Io)
    }
}

fn mem(e: Error<MemError>) -> Error<StoreFault> {
    e.map_io(StoreFault::Mem)
}

/// A device of a [`FaultyStore`]: a [`MemShare`] whose operations go through the plan.
#[derive(Debug, Clone)]
pub struct FaultyShare {
    inner: MemShare,
    plan: FaultPlan,
}

impl FaultyShare {
    /// A copy of the share's bytes (not counted, and allowed after a crash).
    #[must_use]
    pub fn bytes(&self) -> Vec<u8> {
        self.inner.bytes()
    }
}

impl ErrorType for FaultyShare {
    type Error = StoreFault;
}

impl ShareIo for FaultyShare {
    fn len(&mut self) -> core::result::Result<u64, StoreFault> {
        self.plan.check(StoreOp::Read)?;
        self.inner.len().map_err(StoreFault::Mem)
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> core::result::Result<(), StoreFault> {
        self.plan.check(StoreOp::Read)?;
        self.inner.read_at(offset, buf).map_err(StoreFault::Mem)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> core::result::Result<(), StoreFault> {
        self.plan.check(StoreOp::Write)?;
        self.inner.write_at(offset, data).map_err(StoreFault::Mem)
    }
    fn set_len(&mut self, len: u64) -> core::result::Result<(), StoreFault> {
        self.plan.check(StoreOp::SetLen)?;
        self.inner.set_len(len).map_err(StoreFault::Mem)
    }
    fn sync(&mut self) -> core::result::Result<(), StoreFault> {
        self.plan.check(StoreOp::Sync)?;
        self.inner.sync().map_err(StoreFault::Mem)
    }
}

/// A [`MemStore`] whose mutating operations follow a [`FaultPlan`].
///
/// Clones are handles on the same store and plan, so a test can keep one while a server
/// owns another (and still reach the store after [`crate::server::Server::new`] fails).
/// After a crash every operation fails until the test takes [`Self::crash_image`].
#[derive(Debug, Clone)]
pub struct FaultyStore {
    inner: Rc<RefCell<MemStore>>,
    plan: FaultPlan,
}

impl FaultyStore {
    /// Wraps `inner` with a plan that injects nothing.
    #[must_use]
    pub fn new(inner: MemStore) -> Self {
        Self::with_plan(inner, FaultPlan::new())
    }

    /// Wraps `inner` with an existing plan (whose counters keep running).
    #[must_use]
    pub fn with_plan(inner: MemStore, plan: FaultPlan) -> Self {
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

    /// A deep copy of the store as it is now (after a crash: what survived it), sharing
    /// nothing with this one.
    #[must_use]
    pub fn crash_image(&self) -> MemStore {
        self.inner.borrow().deep_clone()
    }

    /// Calls `f` on the wrapped store, bypassing the plan (for inspection).
    pub fn with_inner<R>(&self, f: impl FnOnce(&MemStore) -> R) -> R {
        f(&self.inner.borrow())
    }

    fn read(&self) -> Result<(), StoreFault> {
        if self.plan.crashed() {
            return Err(Error::Io(StoreFault::Crashed));
        }
        Ok(())
    }

    fn wrap(&self, share: MemShare) -> FaultyShare {
        FaultyShare {
            inner: share,
            plan: self.plan.clone(),
        }
    }
}

impl ShareStore for FaultyStore {
    type Error = StoreFault;
    type Io = FaultyShare;

    fn open(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<Option<FaultyShare>, StoreFault> {
        self.read()?;
        let share = self.inner.borrow_mut().open(si, shnum).map_err(mem)?;
        Ok(share.map(|s| self.wrap(s)))
    }

    fn list(&mut self, si: &StorageIndex) -> Result<ShareSet, StoreFault> {
        self.read()?;
        self.inner.borrow_mut().list(si).map_err(mem)
    }

    fn create_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<FaultyShare, StoreFault> {
        self.plan.admit(StoreOp::CreateIncoming)?;
        let share = self
            .inner
            .borrow_mut()
            .create_incoming(si, shnum)
            .map_err(mem)?;
        Ok(self.wrap(share))
    }

    fn open_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> Result<Option<FaultyShare>, StoreFault> {
        self.read()?;
        let share = self
            .inner
            .borrow_mut()
            .open_incoming(si, shnum)
            .map_err(mem)?;
        Ok(share.map(|s| self.wrap(s)))
    }

    fn list_incoming(&mut self, si: &StorageIndex) -> Result<ShareSet, StoreFault> {
        self.read()?;
        self.inner.borrow_mut().list_incoming(si).map_err(mem)
    }

    fn publish(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<(), StoreFault> {
        self.plan.admit(StoreOp::Publish)?;
        self.inner.borrow_mut().publish(si, shnum).map_err(mem)
    }

    fn abort(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<(), StoreFault> {
        self.plan.admit(StoreOp::Abort)?;
        self.inner.borrow_mut().abort(si, shnum).map_err(mem)
    }

    fn remove(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<(), StoreFault> {
        self.plan.admit(StoreOp::Remove)?;
        self.inner.borrow_mut().remove(si, shnum).map_err(mem)
    }

    fn put_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        record: &[u8],
    ) -> Result<(), StoreFault> {
        self.plan.admit(StoreOp::PutUploadRecord)?;
        self.inner
            .borrow_mut()
            .put_upload_record(si, shnum, record)
            .map_err(mem)
    }

    fn get_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        buf: &mut [u8],
    ) -> Result<Option<usize>, StoreFault> {
        self.read()?;
        self.inner
            .borrow_mut()
            .get_upload_record(si, shnum, buf)
            .map_err(mem)
    }

    fn available_space(&mut self) -> Result<Option<u64>, StoreFault> {
        self.read()?;
        self.inner.borrow_mut().available_space().map_err(mem)
    }

    fn write_advisory(&mut self, name: &str, body: &[u8]) -> Result<(), StoreFault> {
        self.plan.admit(StoreOp::WriteAdvisory)?;
        self.inner
            .borrow_mut()
            .write_advisory(name, body)
            .map_err(mem)
    }

    fn for_each_storage_index(
        &mut self,
        f: &mut dyn FnMut(StorageIndex) -> bool,
    ) -> Result<(), StoreFault> {
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
    ) -> Result<(), StoreFault> {
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

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    const SI: StorageIndex = StorageIndex::new([5; 16]);

    fn share(store: &mut FaultyStore) -> FaultyShare {
        store.create_incoming(&SI, ShareNumber(0)).unwrap()
    }

    #[test]
    fn operations_are_numbered_in_one_sequence() {
        let mut store = FaultyStore::new(MemStore::new());
        let plan = store.plan();
        let mut io = share(&mut store);
        io.write_at(0, b"abc").unwrap();
        let _ = io.len().unwrap();
        io.sync().unwrap();
        store.publish(&SI, ShareNumber(0)).unwrap();
        assert_eq!(plan.ops(), 4);
        assert_eq!(
            plan.trace(),
            [
                StoreOp::CreateIncoming,
                StoreOp::Write,
                StoreOp::Sync,
                StoreOp::Publish
            ]
        );
        assert_eq!(plan.count(StoreOp::Read), 1);
        assert_eq!(plan.count(StoreOp::Write), 1);
    }

    #[test]
    fn a_crash_changes_nothing_and_stops_everything() {
        let mut store = FaultyStore::new(MemStore::new());
        let plan = store.plan();
        let mut io = share(&mut store);
        io.write_at(0, b"abc").unwrap();
        plan.crash_at(2);
        assert_eq!(io.write_at(0, b"xyz"), Err(StoreFault::Crashed));
        assert!(plan.crashed());
        // Reads fail too, and nothing more is counted.
        assert_eq!(io.len(), Err(StoreFault::Crashed));
        assert!(matches!(
            store.list(&SI),
            Err(Error::Io(StoreFault::Crashed))
        ));
        assert_eq!(plan.ops(), 3);
        let mut image = store.crash_image();
        let survived = image.open_incoming(&SI, ShareNumber(0)).unwrap().unwrap();
        assert_eq!(survived.bytes(), b"abc");
        // The image shares nothing with the crashed store.
        let mut copy = survived;
        copy.write_at(0, b"zzz").unwrap();
        assert_eq!(io.bytes(), b"abc");
    }

    #[test]
    fn fail_nth_once_or_sticky_changes_nothing() {
        let mut store = FaultyStore::new(MemStore::new());
        let plan = store.plan();
        let mut io = share(&mut store);
        plan.fail_nth(StoreOp::Write, 1, false);
        io.write_at(0, b"a").unwrap();
        assert_eq!(
            io.write_at(1, b"b"),
            Err(StoreFault::Injected(StoreOp::Write))
        );
        io.write_at(1, b"c").unwrap();
        assert_eq!(io.bytes(), b"ac");

        plan.fail_nth(StoreOp::PutUploadRecord, 0, true);
        for _ in 0..3 {
            assert!(matches!(
                store.put_upload_record(&SI, ShareNumber(0), b"r"),
                Err(Error::Io(StoreFault::Injected(StoreOp::PutUploadRecord)))
            ));
        }
        let mut buf = [0u8; 4];
        assert_eq!(
            store
                .get_upload_record(&SI, ShareNumber(0), &mut buf)
                .unwrap(),
            None
        );
        assert!(!plan.crashed());
        plan.clear();
        store.put_upload_record(&SI, ShareNumber(0), b"r").unwrap();
        // Store errors pass through unchanged.
        assert!(matches!(
            store.create_incoming(&SI, ShareNumber(0)),
            Err(Error::AlreadyExists)
        ));
    }
}
