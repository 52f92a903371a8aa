//! A fault-injecting device for tests, fuzzers and the bindings' test suites (feature
//! `_testing`; not covered by semver).
//!
//! It wraps a [`VecIo`] and can fail the Nth operation of a kind once or for good, and
//! simulate a crash: from the Nth mutating operation (write or `set_len`) on, nothing more
//! reaches the image and every operation fails. [`FaultyIo::crash_image`] then gives what
//! survived: in [`CrashMode::ProcessCrash`] every write that happened, in
//! [`CrashMode::PowerLoss`] only what was synced.

use alloc::vec::Vec;

use super::{ErrorKind, ErrorType, MemError, ShareIo, VecIo};

/// Operation kinds, for failure injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `read_at` or `len`.
    Read,
    /// `write_at`.
    Write,
    /// `set_len`.
    SetLen,
    /// `sync`.
    Sync,
}

/// What a crash keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// The process dies; the OS keeps every completed write.
    ProcessCrash,
    /// Power is lost; only synced state survives.
    PowerLoss,
}

/// Errors of [`FaultyIo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultError {
    /// An injected failure.
    Injected(OpKind),
    /// The simulated crash happened; the device is gone.
    Crashed,
    /// The underlying buffer failed.
    Mem(MemError),
}

impl embedded_io::Error for FaultError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Injected(_) | Self::Crashed => ErrorKind::Other,
            Self::Mem(m) => embedded_io::Error::kind(m),
        }
    }
}

impl core::fmt::Display for FaultError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Injected(op) => write!(f, "injected failure of {op:?}"),
            Self::Crashed => f.write_str("the simulated crash happened; the device is gone"),
            Self::Mem(m) => write!(f, "{m}"),
        }
    }
}

impl core::error::Error for FaultError {}

/// The fault-injecting device.
#[derive(Debug, Clone)]
pub struct FaultyIo {
    inner: VecIo,
    synced: Vec<u8>,
    mutations: usize,
    crash_at: Option<usize>,
    crashed: bool,
    fail: Option<(OpKind, usize, bool)>,
    counts: [usize; 4],
}

impl FaultyIo {
    /// A device holding `data` (taken as synced).
    #[must_use]
    pub fn new(data: Vec<u8>) -> Self {
        Self {
            synced: data.clone(),
            inner: VecIo::from_vec(data),
            mutations: 0,
            crash_at: None,
            crashed: false,
            fail: None,
            counts: [0; 4],
        }
    }

    /// Crash at the `n`th mutating operation (0-based): it and everything after it is lost.
    #[must_use]
    pub fn crash_at(mut self, n: usize) -> Self {
        self.crash_at = Some(n);
        self
    }

    /// Fail the `n`th operation of `kind` (0-based); `sticky` fails every one after it too.
    #[must_use]
    pub fn fail_nth(mut self, kind: OpKind, n: usize, sticky: bool) -> Self {
        self.fail = Some((kind, n, sticky));
        self
    }

    /// Whether the crash point was reached.
    #[must_use]
    pub fn crashed(&self) -> bool {
        self.crashed
    }

    /// How many mutating operations ran.
    #[must_use]
    pub fn mutations(&self) -> usize {
        self.mutations
    }

    /// The current image (what a process that did not crash sees).
    #[must_use]
    pub fn image(&self) -> &[u8] {
        &self.inner.data
    }

    /// What survives a crash now.
    #[must_use]
    pub fn crash_image(&self, mode: CrashMode) -> Vec<u8> {
        match mode {
            CrashMode::ProcessCrash => self.inner.data.clone(),
            CrashMode::PowerLoss => self.synced.clone(),
        }
    }

    fn check(&mut self, kind: OpKind) -> Result<(), FaultError> {
        if self.crashed {
            return Err(FaultError::Crashed);
        }
        let idx = match kind {
            OpKind::Read => 0,
            OpKind::Write => 1,
            OpKind::SetLen => 2,
            OpKind::Sync => 3,
        };
        let count = self.counts[idx];
        self.counts[idx] += 1;
        if let Some((k, n, sticky)) = self.fail {
            if k == kind && (count == n || (sticky && count > n)) {
                return Err(FaultError::Injected(kind));
            }
        }
        if matches!(kind, OpKind::Write | OpKind::SetLen) {
            if self.crash_at == Some(self.mutations) {
                self.crashed = true;
                return Err(FaultError::Crashed);
            }
            self.mutations += 1;
        }
        Ok(())
    }
}

impl ErrorType for FaultyIo {
    type Error = FaultError;
}

impl ShareIo for FaultyIo {
    fn len(&mut self) -> Result<u64, FaultError> {
        self.check(OpKind::Read)?;
        self.inner.len().map_err(FaultError::Mem)
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), FaultError> {
        self.check(OpKind::Read)?;
        self.inner.read_at(offset, buf).map_err(FaultError::Mem)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), FaultError> {
        self.check(OpKind::Write)?;
        self.inner.write_at(offset, data).map_err(FaultError::Mem)
    }
    fn set_len(&mut self, len: u64) -> Result<(), FaultError> {
        self.check(OpKind::SetLen)?;
        self.inner.set_len(len).map_err(FaultError::Mem)
    }
    fn sync(&mut self) -> Result<(), FaultError> {
        self.check(OpKind::Sync)?;
        self.synced.clone_from(&self.inner.data);
        Ok(())
    }
}
