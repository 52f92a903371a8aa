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
//! The plan can simulate a crash ([`FaultPlan::crash_at`]): the operation with the given
//! index fails with [`StoreFault::Crashed`] and changes nothing, and so does every
//! operation after it, reads included (the process is gone). Two images of what survives
//! can then be taken:
//!
//! - [`FaultyStore::crash_image`], a *process crash*: everything applied before the crash
//!   stays, whole (the operating system keeps it);
//! - [`FaultyStore::power_loss_image`], a *power loss*: what the store had made durable
//!   (see the durability model on [`FaultyStore`]), plus any chosen subset of the
//!   [`Pending`] changes, each lost, kept, or torn at [`SECTOR`] granularity (the write
//!   the crash interrupted included).
//!
//! The plan can also hit the Nth operation of one kind, once or for good
//! ([`FaultPlan::inject`]), with a [`Fault`]: fail and change nothing, apply and then
//! fail (an ambiguous outcome), write half and fail (a short write), or flip a bit of
//! what a read returns. And it can run out of space after a byte budget
//! ([`FaultPlan::no_space_after`]), failing with [`StoreFault::NoSpace`] (ENOSPC).
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

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt;

use crate::error::{Error, Result};
use crate::io::{ErrorKind, ErrorType, MemError, ShareIo};
use crate::store::memory::Key;
use crate::store::{MemShare, MemStore, ShareStore};
use crate::types::{ShareNumber, ShareSet, StorageIndex};

/// The unit in which a power loss tears a write: bytes of one disk sector.
pub const SECTOR: u64 = 512;

/// The kinds of operation a [`FaultPlan`] counts and can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// What an injected fault does to the operation it hits ([`FaultPlan::inject`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// The operation fails with [`StoreFault::Injected`] and changes nothing.
    Fail,
    /// The operation is carried out, then fails with [`StoreFault::Injected`]: the
    /// ambiguous outcome of a callback or network backend that applied a change and lost
    /// the reply. Mutating operations only.
    Ambiguous,
    /// A device write stores the first half of its data (rounded down), then fails with
    /// [`StoreFault::ShortWrite`]. Writes only.
    Short,
    /// A device read succeeds with one bit of its data flipped (a `len` hit by it is
    /// unaffected). Reads only.
    BitFlip,
}

impl Fault {
    /// Every fault, in declaration order.
    pub const ALL: [Self; 4] = [Self::Fail, Self::Ambiguous, Self::Short, Self::BitFlip];

    /// Whether this fault can hit an operation of `kind`.
    #[must_use]
    pub fn applies_to(self, kind: StoreOp) -> bool {
        match self {
            Self::Fail => true,
            Self::Ambiguous => kind.is_mutating(),
            Self::Short => kind == StoreOp::Write,
            Self::BitFlip => kind == StoreOp::Read,
        }
    }
}

/// Errors of [`FaultyStore`] and its devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFault {
    /// The simulated crash happened (at this operation or before it); nothing was changed.
    Crashed,
    /// An injected failure of one operation ([`Fault::Fail`]: nothing was changed;
    /// [`Fault::Ambiguous`]: the change was made).
    Injected(StoreOp),
    /// An injected short write ([`Fault::Short`]): a prefix of the data was written.
    ShortWrite,
    /// The byte budget of [`FaultPlan::no_space_after`] ran out (ENOSPC); a write stored
    /// the part that fitted, anything else changed nothing.
    NoSpace,
    /// The underlying in-memory device failed.
    Mem(MemError),
}

impl embedded_io::Error for StoreFault {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Crashed | Self::Injected(_) | Self::NoSpace => ErrorKind::Other,
            Self::ShortWrite => ErrorKind::WriteZero,
            Self::Mem(m) => embedded_io::Error::kind(m),
        }
    }
}

impl fmt::Display for StoreFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Crashed => f.write_str("simulated crash"),
            Self::Injected(op) => write!(f, "injected failure of {op:?}"),
            Self::ShortWrite => f.write_str("injected short write"),
            Self::NoSpace => f.write_str("no space left on the device (injected)"),
            Self::Mem(m) => write!(f, "{m}"),
        }
    }
}

impl core::error::Error for StoreFault {}

/// A change that was applied but is not yet durable: at a power loss it may be lost,
/// kept, or (a write) kept in part ([`FaultyStore::power_loss_image`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The share it changes: an identity that is kept when the share is published.
    pub share: u64,
    /// The change.
    pub change: Change,
    /// Whether this is the write the crash interrupted (never reported as done).
    pub in_flight: bool,
}

impl Pending {
    /// The disk sectors a write touches (0 for other changes); a torn write keeps a
    /// subset of them.
    #[must_use]
    pub fn sectors(&self) -> usize {
        match &self.change {
            Change::Write { offset, data } if !data.is_empty() => {
                let end = offset.saturating_add(data.len() as u64);
                (end.div_ceil(SECTOR) - offset / SECTOR) as usize
            }
            _ => 0,
        }
    }
}

/// What a [`Pending`] change is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An incoming share was created; its directory entry is not durable yet.
    Create(StorageIndex, ShareNumber),
    /// A device write.
    Write {
        /// Where.
        offset: u64,
        /// What.
        data: Vec<u8>,
    },
    /// A device length change.
    SetLen(u64),
}

/// What a power loss does to one [`Pending`] change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Persist {
    /// It is lost.
    Lost,
    /// It reached the disk whole.
    Kept,
    /// A write reached the disk in those of its sectors (counted from its first one,
    /// see [`Pending::sectors`]) marked `true`; any other change is kept whole.
    Sectors(Vec<bool>),
}

#[derive(Debug, Clone, Copy)]
struct Injection {
    kind: StoreOp,
    n: usize,
    sticky: bool,
    fault: Fault,
}

/// Where each share lives, now and durably, and what is not durable yet.
#[derive(Debug, Default)]
struct Power {
    next_id: u64,
    /// The share identities behind the names the store has now (`true`: incoming).
    live: BTreeMap<(Key, bool), u64>,
    /// The names a power loss keeps.
    names: BTreeMap<(Key, bool), u64>,
    records: BTreeMap<Key, Vec<u8>>,
    advisories: BTreeMap<String, Vec<u8>>,
    /// The synced bytes of each share.
    synced: BTreeMap<u64, Vec<u8>>,
    pending: Vec<Pending>,
}

impl Power {
    /// Everything in `store` is taken as durable.
    fn of(store: &MemStore) -> Self {
        let mut power = Self::default();
        for (key, incoming, bytes) in store.all_shares() {
            let id = power.fresh();
            power.live.insert((key, incoming), id);
            power.names.insert((key, incoming), id);
            power.synced.insert(id, bytes);
        }
        power.records.clone_from(store.records());
        power.advisories.clone_from(&store.advisories);
        power
    }

    fn fresh(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = id.saturating_add(1);
        id
    }

    /// The identity of a share the store holds now, registering one it did not know
    /// about (as durable).
    fn id(&mut self, key: Key, incoming: bool, share: &MemShare) -> u64 {
        if let Some(&id) = self.live.get(&(key, incoming)) {
            return id;
        }
        let id = self.fresh();
        self.live.insert((key, incoming), id);
        self.names.insert((key, incoming), id);
        self.synced.insert(id, share.bytes());
        id
    }

    /// Drops the pending changes of share `id` that `which` selects (they became durable,
    /// or the share is gone).
    fn forget(&mut self, id: u64, which: fn(&Change) -> bool) {
        self.pending.retain(|p| p.share != id || !which(&p.change));
    }

    fn synced(&mut self, id: u64, bytes: Vec<u8>) {
        self.synced.insert(id, bytes);
        // Syncing a file does not make its name durable.
        self.forget(id, |c| !matches!(c, Change::Create(..)));
    }

    fn created(&mut self, key: Key) {
        let id = self.fresh();
        self.live.insert((key, true), id);
        self.synced.insert(id, Vec::new());
        self.pending.push(Pending {
            share: id,
            change: Change::Create(key.0, key.1),
            in_flight: false,
        });
    }

    /// Publishing syncs the share, then renames it durably.
    fn published(&mut self, key: Key, bytes: Vec<u8>) {
        let Some(id) = self.live.remove(&(key, true)) else {
            return;
        };
        self.live.insert((key, false), id);
        self.names.remove(&(key, true));
        self.names.insert((key, false), id);
        self.records.remove(&key);
        self.synced.insert(id, bytes);
        self.forget(id, |_| true);
    }

    fn removed(&mut self, key: Key, incoming: bool) {
        if let Some(id) = self.live.remove(&(key, incoming)) {
            self.forget(id, |_| true);
            self.synced.remove(&id);
        }
        self.names.remove(&(key, incoming));
        if incoming {
            self.records.remove(&key);
        }
    }

    /// Saving a record syncs the incoming directory: the share's name becomes durable
    /// (its bytes only as far as they were synced).
    fn recorded(&mut self, key: Key, record: &[u8]) {
        self.records.insert(key, record.into());
        if let Some(&id) = self.live.get(&(key, true)) {
            self.names.insert((key, true), id);
            self.forget(id, |c| matches!(c, Change::Create(..)));
        }
    }
}

#[derive(Debug, Default)]
struct PlanState {
    ops: usize,
    crash_at: Option<usize>,
    crashed: bool,
    fail: Option<Injection>,
    fired: usize,
    budget: Option<u64>,
    low_water: u64,
    no_space: usize,
    counts: [usize; StoreOp::ALL.len()],
    trace: Vec<StoreOp>,
    power: Power,
}

/// How [`FaultPlan::check`] admits an operation.
enum Gate {
    /// Carry it out.
    Go,
    /// Carry out a fault of it (never [`Fault::Fail`], which is refused).
    Fault(Fault),
    /// The crash happens at this operation: refuse it (a write is recorded as in flight).
    CrashHere,
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
    /// one of that kind fails too. Replaces any earlier injection.
    pub fn fail_nth(&self, kind: StoreOp, n: usize, sticky: bool) {
        self.inject(kind, n, sticky, Fault::Fail);
    }

    /// Hits the `n`th operation of `kind` (0-based, counted per kind since the plan was
    /// made) with `fault`; with `sticky`, every later one of that kind too. A fault that
    /// does not apply to `kind` ([`Fault::applies_to`]) never fires. Replaces any earlier
    /// injection.
    pub fn inject(&self, kind: StoreOp, n: usize, sticky: bool, fault: Fault) {
        self.0.borrow_mut().fail = Some(Injection {
            kind,
            n,
            sticky,
            fault,
        });
    }

    /// From now on the store takes `bytes` more bytes (growth of shares, upload records
    /// and advisories; shrinking and removal give space back), then fails with
    /// [`StoreFault::NoSpace`]. `None` removes the limit.
    pub fn no_space_after(&self, bytes: Option<u64>) {
        let mut p = self.0.borrow_mut();
        p.budget = bytes;
        p.low_water = bytes.unwrap_or(u64::MAX);
    }

    /// Removes the planned crash, injection and space limit (a crash that happened
    /// stays).
    pub fn clear(&self) {
        let mut p = self.0.borrow_mut();
        p.crash_at = None;
        p.fail = None;
        p.budget = None;
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

    /// Bytes left before the space budget of [`Self::no_space_after`] runs out.
    #[must_use]
    pub fn space_left(&self) -> Option<u64> {
        self.0.borrow().budget
    }

    /// The least that [`Self::space_left`] has been since [`Self::no_space_after`]: the
    /// budget less this is the most space the store has taken at once.
    #[must_use]
    pub fn space_low_water(&self) -> u64 {
        self.0.borrow().low_water
    }

    /// How many times an injected fault fired.
    #[must_use]
    pub fn fired(&self) -> usize {
        self.0.borrow().fired
    }

    /// How many operations failed for want of space.
    #[must_use]
    pub fn no_space_hits(&self) -> usize {
        self.0.borrow().no_space
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
    fn check(&self, kind: StoreOp) -> core::result::Result<Gate, StoreFault> {
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
                return Ok(Gate::CrashHere);
            }
        }
        if let Some(inj) = p.fail {
            if inj.kind == kind
                && inj.fault.applies_to(kind)
                && (count == inj.n || (inj.sticky && count > inj.n))
            {
                p.fired = p.fired.saturating_add(1);
                return match inj.fault {
                    Fault::Fail => Err(StoreFault::Injected(kind)),
                    other => Ok(Gate::Fault(other)),
                };
            }
        }
        Ok(Gate::Go)
    }

    /// Admits a store operation: `Ok(true)` to carry it out and then report an
    /// ambiguous failure.
    fn admit(&self, kind: StoreOp) -> Result<bool, StoreFault> {
        match self.check(kind).map_err(Error::Io)? {
            Gate::Go => Ok(false),
            Gate::Fault(_) => Ok(true),
            Gate::CrashHere => Err(Error::Io(StoreFault::Crashed)),
        }
    }

    /// Takes `need` bytes from the space budget, or reports how many are left.
    fn take_space(&self, need: u64) -> core::result::Result<(), u64> {
        let mut p = self.0.borrow_mut();
        match p.budget {
            Some(left) if need > left => {
                p.no_space = p.no_space.saturating_add(1);
                Err(left)
            }
            Some(left) => {
                p.budget = Some(left - need);
                p.low_water = p.low_water.min(left - need);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn give_space(&self, bytes: u64) {
        let mut p = self.0.borrow_mut();
        if let Some(left) = p.budget {
            p.budget = Some(left.saturating_add(bytes));
        }
    }

    fn power(&self) -> core::cell::RefMut<'_, Power> {
        core::cell::RefMut::map(self.0.borrow_mut(), |p| &mut p.power)
    }
}

fn mem(e: Error<MemError>) -> Error<StoreFault> {
    e.map_io(StoreFault::Mem)
}

/// The result of a store operation that may have been hit by an ambiguous fault.
fn outcome<T>(ambiguous: bool, kind: StoreOp, value: T) -> Result<T, StoreFault> {
    if ambiguous {
        Err(Error::Io(StoreFault::Injected(kind)))
    } else {
        Ok(value)
    }
}

/// A device of a [`FaultyStore`]: a [`MemShare`] whose operations go through the plan.
#[derive(Debug, Clone)]
pub struct FaultyShare {
    inner: MemShare,
    plan: FaultPlan,
    id: u64,
}

impl FaultyShare {
    /// A copy of the share's bytes (not counted, and allowed after a crash).
    #[must_use]
    pub fn bytes(&self) -> Vec<u8> {
        self.inner.bytes()
    }

    fn pending(&self, change: Change, in_flight: bool) {
        self.plan.power().pending.push(Pending {
            share: self.id,
            change,
            in_flight,
        });
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> core::result::Result<(), StoreFault> {
        self.inner.write_at(offset, data).map_err(StoreFault::Mem)?;
        self.pending(
            Change::Write {
                offset,
                data: data.into(),
            },
            false,
        );
        Ok(())
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
        let gate = self.plan.check(StoreOp::Read)?;
        self.inner.read_at(offset, buf).map_err(StoreFault::Mem)?;
        if matches!(gate, Gate::Fault(Fault::BitFlip)) {
            let at = buf.len() / 2;
            if let Some(b) = buf.get_mut(at) {
                *b ^= 1 << (offset.wrapping_add(at as u64) % 8);
            }
        }
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> core::result::Result<(), StoreFault> {
        let gate = self.plan.check(StoreOp::Write)?;
        if matches!(gate, Gate::CrashHere) {
            // In flight at the crash: not in the process's view, but a power loss may
            // have let some of it through.
            self.pending(
                Change::Write {
                    offset,
                    data: data.into(),
                },
                true,
            );
            return Err(StoreFault::Crashed);
        }
        let len = self.inner.len().map_err(StoreFault::Mem)?;
        let end = offset.saturating_add(data.len() as u64);
        if let Err(left) = self.plan.take_space(end.saturating_sub(len)) {
            // ENOSPC: the part that fits is written.
            let fits = len.saturating_add(left).saturating_sub(offset);
            let part = data
                .get(..(fits.min(data.len() as u64) as usize))
                .unwrap_or(&[]);
            if !part.is_empty() {
                self.write(offset, part)?;
                self.plan.0.borrow_mut().budget = Some(0);
            }
            return Err(StoreFault::NoSpace);
        }
        match gate {
            Gate::Fault(Fault::Short) => {
                let half = data.get(..data.len() / 2).unwrap_or(&[]);
                if !half.is_empty() {
                    self.write(offset, half)?;
                }
                Err(StoreFault::ShortWrite)
            }
            Gate::Fault(Fault::Ambiguous) => {
                self.write(offset, data)?;
                Err(StoreFault::Injected(StoreOp::Write))
            }
            _ => self.write(offset, data),
        }
    }

    fn set_len(&mut self, new: u64) -> core::result::Result<(), StoreFault> {
        let gate = self.plan.check(StoreOp::SetLen)?;
        if matches!(gate, Gate::CrashHere) {
            return Err(StoreFault::Crashed);
        }
        let len = self.inner.len().map_err(StoreFault::Mem)?;
        if new > len {
            self.plan
                .take_space(new - len)
                .map_err(|_| StoreFault::NoSpace)?;
        } else {
            self.plan.give_space(len - new);
        }
        self.inner.set_len(new).map_err(StoreFault::Mem)?;
        self.pending(Change::SetLen(new), false);
        if matches!(gate, Gate::Fault(Fault::Ambiguous)) {
            return Err(StoreFault::Injected(StoreOp::SetLen));
        }
        Ok(())
    }

    fn sync(&mut self) -> core::result::Result<(), StoreFault> {
        let gate = self.plan.check(StoreOp::Sync)?;
        if matches!(gate, Gate::CrashHere) {
            return Err(StoreFault::Crashed);
        }
        self.inner.sync().map_err(StoreFault::Mem)?;
        let bytes = self.inner.bytes();
        self.plan.power().synced(self.id, bytes);
        if matches!(gate, Gate::Fault(Fault::Ambiguous)) {
            return Err(StoreFault::Injected(StoreOp::Sync));
        }
        Ok(())
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

    fn read(&self) -> Result<(), StoreFault> {
        if self.plan.crashed() {
            return Err(Error::Io(StoreFault::Crashed));
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
    ) -> Result<Option<FaultyShare>, StoreFault> {
        self.read()?;
        let share = self.inner.borrow_mut().open(si, shnum).map_err(mem)?;
        Ok(share.map(|s| self.wrap((*si, shnum), false, s)))
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
    ) -> Result<Option<FaultyShare>, StoreFault> {
        self.read()?;
        let share = self
            .inner
            .borrow_mut()
            .open_incoming(si, shnum)
            .map_err(mem)?;
        Ok(share.map(|s| self.wrap((*si, shnum), true, s)))
    }

    fn list_incoming(&mut self, si: &StorageIndex) -> Result<ShareSet, StoreFault> {
        self.read()?;
        self.inner.borrow_mut().list_incoming(si).map_err(mem)
    }

    fn publish(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<(), StoreFault> {
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

    fn abort(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<(), StoreFault> {
        let ambiguous = self.plan.admit(StoreOp::Abort)?;
        let freed = self.share_len((*si, shnum), true);
        self.inner.borrow_mut().abort(si, shnum).map_err(mem)?;
        self.plan.give_space(freed);
        self.plan.power().removed((*si, shnum), true);
        outcome(ambiguous, StoreOp::Abort, ())
    }

    fn remove(&mut self, si: &StorageIndex, shnum: ShareNumber) -> Result<(), StoreFault> {
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
    ) -> Result<(), StoreFault> {
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
                .map_err(|_| Error::Io(StoreFault::NoSpace))?;
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
        let ambiguous = self.plan.admit(StoreOp::WriteAdvisory)?;
        self.plan
            .take_space(body.len() as u64)
            .map_err(|_| Error::Io(StoreFault::NoSpace))?;
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
    use alloc::vec;

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

    #[test]
    fn power_loss_keeps_what_was_made_durable() {
        let mut store = FaultyStore::new(MemStore::new());
        let plan = store.plan();
        let mut io = share(&mut store);
        io.write_at(0, b"synced").unwrap();
        io.sync().unwrap();
        io.write_at(0, b"SYN").unwrap();
        // The create is not durable yet: a power loss loses the share, name and all.
        let mut lost = store.durable_image();
        assert!(lost.open_incoming(&SI, ShareNumber(0)).unwrap().is_none());
        assert_eq!(
            store
                .pending()
                .iter()
                .map(|p| &p.change)
                .collect::<Vec<_>>(),
            [
                &Change::Create(SI, ShareNumber(0)),
                &Change::Write {
                    offset: 0,
                    data: b"SYN".to_vec()
                }
            ]
        );
        // A saved record makes the name durable, with the synced bytes only.
        store.put_upload_record(&SI, ShareNumber(0), b"r").unwrap();
        let mut image = store.durable_image();
        let got = image.open_incoming(&SI, ShareNumber(0)).unwrap().unwrap();
        assert_eq!(got.bytes(), b"synced");
        let mut buf = [0u8; 4];
        assert_eq!(
            image
                .get_upload_record(&SI, ShareNumber(0), &mut buf)
                .unwrap(),
            Some(1)
        );
        // Keeping the pending write gives the process's view.
        let mut kept = store.power_loss_image(|_, _| Persist::Kept);
        let got = kept.open_incoming(&SI, ShareNumber(0)).unwrap().unwrap();
        assert_eq!(got.bytes(), b"SYNced");
        // Publishing syncs and renames durably.
        store.publish(&SI, ShareNumber(0)).unwrap();
        assert!(store.pending().is_empty());
        let mut image = store.durable_image();
        assert_eq!(
            image.open(&SI, ShareNumber(0)).unwrap().unwrap().bytes(),
            b"SYNced"
        );
        assert!(image.open_incoming(&SI, ShareNumber(0)).unwrap().is_none());
        // A write to the published share, interrupted by the crash, may be torn.
        let mut io = store.open(&SI, ShareNumber(0)).unwrap().unwrap();
        plan.crash_now();
        let data = vec![7u8; 1000];
        assert_eq!(io.write_at(100, &data), Err(StoreFault::Crashed));
        assert_eq!(io.bytes(), b"SYNced");
        let pending = store.pending();
        assert_eq!(pending.len(), 1);
        assert!(pending[0].in_flight);
        assert_eq!(pending[0].sectors(), 3);
        let mut torn = store.power_loss_image(|_, _| Persist::Sectors(vec![false, true, false]));
        let bytes = torn.open(&SI, ShareNumber(0)).unwrap().unwrap().bytes();
        // Sector 1 (bytes 512..1024) only, with the hole before it zero-filled.
        assert_eq!(bytes.len(), 1024);
        assert_eq!(&bytes[..6], b"SYNced");
        assert!(bytes[6..512].iter().all(|&b| b == 0));
        assert!(bytes[512..].iter().all(|&b| b == 7));
    }

    #[test]
    fn removals_are_durable_and_drop_pending_changes() {
        let mut store = FaultyStore::new(MemStore::new());
        let mut io = share(&mut store);
        io.write_at(0, b"abc").unwrap();
        store.abort(&SI, ShareNumber(0)).unwrap();
        assert!(store.pending().is_empty());
        let mut kept = store.power_loss_image(|_, _| Persist::Kept);
        assert!(kept.open_incoming(&SI, ShareNumber(0)).unwrap().is_none());
        let mut io = share(&mut store);
        io.write_at(0, b"abc").unwrap();
        store.publish(&SI, ShareNumber(0)).unwrap();
        store.remove(&SI, ShareNumber(0)).unwrap();
        let mut image = store.durable_image();
        assert!(image.list(&SI).unwrap().is_empty());
    }

    #[test]
    fn short_ambiguous_and_flipped_operations() {
        let mut store = FaultyStore::new(MemStore::new());
        let plan = store.plan();
        let mut io = share(&mut store);
        plan.inject(StoreOp::Write, 0, false, Fault::Short);
        assert_eq!(io.write_at(0, b"abcd"), Err(StoreFault::ShortWrite));
        assert_eq!(io.bytes(), b"ab");
        plan.inject(StoreOp::Write, 1, false, Fault::Ambiguous);
        assert_eq!(
            io.write_at(0, b"wxyz"),
            Err(StoreFault::Injected(StoreOp::Write))
        );
        assert_eq!(io.bytes(), b"wxyz");
        plan.inject(StoreOp::Read, 0, false, Fault::BitFlip);
        let mut buf = [0u8; 4];
        io.read_at(0, &mut buf).unwrap();
        assert_eq!(buf, [b'w', b'x', b'y' ^ 4, b'z']);
        io.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"wxyz");
        assert_eq!(plan.fired(), 3);
        // A fault that cannot hit the kind never fires.
        plan.inject(StoreOp::Sync, 0, true, Fault::Short);
        io.sync().unwrap();
        assert_eq!(plan.fired(), 3);
        // An ambiguous publish publishes.
        plan.inject(StoreOp::Publish, 0, false, Fault::Ambiguous);
        assert!(matches!(
            store.publish(&SI, ShareNumber(0)),
            Err(Error::Io(StoreFault::Injected(StoreOp::Publish)))
        ));
        assert_eq!(store.list(&SI).unwrap().len(), 1);
    }

    #[test]
    fn no_space_after_a_byte_budget() {
        let mut store = FaultyStore::new(MemStore::new());
        let plan = store.plan();
        let mut io = share(&mut store);
        plan.no_space_after(Some(10));
        io.write_at(0, b"12345678").unwrap();
        // Rewriting in place takes nothing; growing past the budget stores what fits.
        io.write_at(0, b"abcdefgh").unwrap();
        assert_eq!(io.write_at(8, b"ijklmn"), Err(StoreFault::NoSpace));
        assert_eq!(io.bytes(), b"abcdefghij");
        assert_eq!(io.set_len(11), Err(StoreFault::NoSpace));
        assert!(matches!(
            store.put_upload_record(&SI, ShareNumber(0), b"r"),
            Err(Error::Io(StoreFault::NoSpace))
        ));
        // Shrinking gives space back.
        io.set_len(4).unwrap();
        store
            .put_upload_record(&SI, ShareNumber(0), b"rec")
            .unwrap();
        io.write_at(4, b"xyz").unwrap();
        assert_eq!(plan.no_space_hits(), 3);
        assert_eq!(io.bytes(), b"abcdxyz");
    }
}
