//! A fault-injecting share store for tests (feature `_testing`; not covered by semver).
//!
//! [`FaultyStore`] wraps a [`MemStore`](crate::store::MemStore). Its devices
//! ([`FaultyShare`]) and its namespace operations share one [`FaultPlan`], which numbers
//! every *mutating* operation in one global sequence (starting at 0):
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
//!
//! The parts, one a file: `plan` (what is counted and injected: [`FaultPlan`],
//! [`StoreOp`], [`Fault`]), `power` (what a power loss keeps: [`Pending`], [`Change`],
//! [`Persist`], [`SECTOR`]), `error` ([`StoreFault`]), `device` ([`FaultyShare`]) and
//! `store` ([`FaultyStore`]).

mod device;
mod error;
mod plan;
mod power;
mod store;

pub use device::FaultyShare;
pub use error::StoreFault;
pub use plan::{Fault, FaultPlan, StoreOp};
pub use power::{Change, Pending, Persist, SECTOR};
pub use store::FaultyStore;

#[cfg(test)]
mod tests;
