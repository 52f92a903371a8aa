#![doc = include_str!("../../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod container;
pub mod error;
pub mod format;
pub mod io;
#[cfg(feature = "alloc")]
pub mod server;
pub mod store;
pub mod types;

pub use error::{Corruption, Error, Limit, Result};
pub use store::{StoreError, StoreResult};
pub use types::{
    AcceptedBy, CancelSecret, LeaseOp, LeaseSchema, Magic, NodeId, RenewSecret, ShareKind,
    ShareNumber, ShareSet, StorageIndex, UploadSecret, WriteEnabler,
};
