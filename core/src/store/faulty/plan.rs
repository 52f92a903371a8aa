//! The fault plan: one numbering of the mutating operations of a store and its devices,
//! and the crash, injected fault or space limit planned for them.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::power::Power;
use super::StoreFault;
use crate::store::{StoreError, StoreResult};

/// The kinds of operation a [`FaultPlan`] counts and can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StoreOp {
    /// Device `len` or `read_at` (not mutating; never given a crash index).
    Read,
    /// Device `write_at`.
    Write,
    /// Device `set_len`.
    SetLen,
    /// Device `sync`.
    Sync,
    /// [`ShareStore::create_incoming`](crate::store::ShareStore::create_incoming).
    CreateIncoming,
    /// [`ShareStore::publish`](crate::store::ShareStore::publish).
    Publish,
    /// [`ShareStore::abort`](crate::store::ShareStore::abort).
    Abort,
    /// [`ShareStore::remove`](crate::store::ShareStore::remove).
    Remove,
    /// [`ShareStore::write_advisory`](crate::store::ShareStore::write_advisory).
    WriteAdvisory,
    /// [`ShareStore::put_upload_record`](crate::store::ShareStore::put_upload_record).
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
// Not `#[non_exhaustive]`: the crash tests match every fault to check how it is reported,
// and a new fault must make them decide.
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

#[derive(Debug, Clone, Copy)]
struct Injection {
    kind: StoreOp,
    n: usize,
    sticky: bool,
    fault: Fault,
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
pub(super) enum Gate {
    /// Carry it out.
    Go,
    /// Carry out a fault of it (never [`Fault::Fail`], which is refused).
    Fault(Fault),
    /// The crash happens at this operation: refuse it (a write is recorded as in flight).
    CrashHere,
}

/// The shared fault plan of a [`FaultyStore`](super::FaultyStore) and its devices. Clones
/// are handles on the same plan.
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
    pub(super) fn check(&self, kind: StoreOp) -> core::result::Result<Gate, StoreFault> {
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
    pub(super) fn admit(&self, kind: StoreOp) -> StoreResult<bool, StoreFault> {
        match self.check(kind).map_err(StoreError::Io)? {
            Gate::Go => Ok(false),
            Gate::Fault(_) => Ok(true),
            Gate::CrashHere => Err(StoreError::Io(StoreFault::Crashed)),
        }
    }

    /// Takes `need` bytes from the space budget, or reports how many are left.
    pub(super) fn take_space(&self, need: u64) -> core::result::Result<(), u64> {
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

    pub(super) fn give_space(&self, bytes: u64) {
        let mut p = self.0.borrow_mut();
        if let Some(left) = p.budget {
            p.budget = Some(left.saturating_add(bytes));
        }
    }

    /// Leaves no space in the budget: a write that ran out stored the part that fitted.
    pub(super) fn use_up_space(&self) {
        self.0.borrow_mut().budget = Some(0);
    }

    pub(super) fn power(&self) -> core::cell::RefMut<'_, Power> {
        core::cell::RefMut::map(self.0.borrow_mut(), |p| &mut p.power)
    }
}
