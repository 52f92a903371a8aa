//! The module's one locking rule, in one type.
//!
//! No thread may wait for a server's or reader's mutex while holding the GIL: the mutex's
//! holder may be waiting for the GIL to call a Python store or space callable, and the two
//! would wait for each other for ever. [`Locked::with`] is the only way to the value
//! behind a mutex, and it releases the GIL before taking the mutex (and takes the GIL back
//! only after releasing it). It also refuses a call from the thread that already holds
//! the mutex (a Python store calling the server it serves), which would otherwise wait for
//! itself.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use pyo3::Python;

/// Why [`Locked::with`] did not run its function.
pub enum LockError {
    /// The mutex is poisoned: a panic in the core, which never happens by design.
    Poisoned,
    /// The calling thread holds the mutex already.
    Reentrant,
}

/// A value behind a mutex that is only taken with the GIL released.
pub struct Locked<T> {
    value: Mutex<T>,
    /// A token of the thread holding the mutex, 0 when none does.
    holder: AtomicUsize,
}

/// A number that differs between live threads and is never 0: the address of a
/// thread-local.
fn thread_token() -> usize {
    thread_local!(static TOKEN: u8 = const { 0 });
    TOKEN.with(|t| std::ptr::from_ref(t) as usize)
}

impl<T: Send> Locked<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self {
            value: Mutex::new(value),
            holder: AtomicUsize::new(0),
        }
    }

    /// Runs `f` on the value: releases the GIL, takes the mutex, runs `f`, releases the
    /// mutex, then takes the GIL back.
    pub fn with<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut T) -> R + Send,
    ) -> Result<R, LockError> {
        let me = thread_token();
        // Only this thread ever stores its own token, so a relaxed load sees it exactly
        // when this thread is inside `with` already.
        if self.holder.load(Ordering::Relaxed) == me {
            return Err(LockError::Reentrant);
        }
        py.allow_threads(|| {
            let mut guard = self.value.lock().map_err(|_| LockError::Poisoned)?;
            self.holder.store(me, Ordering::Relaxed);
            let out = f(&mut guard);
            self.holder.store(0, Ordering::Relaxed);
            Ok(out)
        })
    }
}
