//! The device of one share of a [`super::FaultyStore`].

use alloc::vec::Vec;

use super::plan::{FaultPlan, Gate};
use super::{Change, Fault, Pending, StoreFault, StoreOp};
use crate::io::{ErrorType, ShareIo};
use crate::store::MemShare;

/// A device of a [`FaultyStore`](super::FaultyStore): a [`MemShare`] whose operations go
/// through the plan.
#[derive(Debug, Clone)]
pub struct FaultyShare {
    pub(super) inner: MemShare,
    pub(super) plan: FaultPlan,
    pub(super) id: u64,
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
                self.plan.use_up_space();
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
