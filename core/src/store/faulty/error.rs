//! The errors of the fault-injecting store and its devices.

use core::fmt;

use crate::io::{ErrorKind, MemError};

use super::StoreOp;

/// Errors of [`FaultyStore`](super::FaultyStore) and its devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFault {
    /// The simulated crash happened (at this operation or before it); nothing was changed.
    Crashed,
    /// An injected failure of one operation ([`Fault::Fail`](super::Fault::Fail): nothing
    /// was changed; [`Fault::Ambiguous`](super::Fault::Ambiguous): the change was made).
    Injected(StoreOp),
    /// An injected short write ([`Fault::Short`](super::Fault::Short)): a prefix of the
    /// data was written.
    ShortWrite,
    /// The byte budget of [`FaultPlan::no_space_after`](super::FaultPlan::no_space_after)
    /// ran out (ENOSPC); a write stored the part that fitted, anything else changed
    /// nothing.
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
