//! The fault-injecting share store (feature `_testing`), as a module folder: its parts
//! follow in their own files.

mod store;

pub use store::{
    Change, Fault, FaultPlan, FaultyShare, FaultyStore, Pending, Persist, StoreFault, StoreOp,
    SECTOR,
};
