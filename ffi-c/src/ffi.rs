//! The plumbing every exported function uses: the panic boundary, pointer checks, the
//! registry of live handles (which turns a double free or a stale handle into an error
//! instead of undefined behaviour), and the re-entrancy guard.

use core::cell::RefCell;
use core::panic::AssertUnwindSafe;
use core::ptr::NonNull;
use std::collections::BTreeMap;
use std::panic::catch_unwind;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::{set_last_error, ts_result, Fail};

// ----- panic boundary --------------------------------------------------------------------

/// Runs the body of an exported function that returns a [`ts_result`]: `Ok` becomes
/// `TS_OK`; a failure becomes its code, and is recorded as the thread's last error (its
/// full message for `ts_last_error_message`); a panic becomes `TS_PANIC` (recorded too)
/// instead of unwinding into C. A success leaves the last error as it was.
pub(crate) fn boundary(f: impl FnOnce() -> Result<(), Fail>) -> ts_result {
    let fail = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return ts_result::TS_OK,
        Ok(Err(fail)) => fail,
        Err(_) => Fail::from(ts_result::TS_PANIC),
    };
    set_last_error(&fail);
    fail.code()
}

/// [`boundary`] for the functions that report errors (`ts_result_message` and the last
/// error's own functions): their failures are not recorded, so that asking about the last
/// error never replaces it.
pub(crate) fn quiet_boundary(f: impl FnOnce() -> Result<(), ts_result>) -> ts_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => ts_result::TS_OK,
        Ok(Err(r)) => r,
        Err(_) => ts_result::TS_PANIC,
    }
}

/// The panic boundary of an exported function that returns a plain value: `default` after
/// a panic.
pub(crate) fn boundary_or<T>(default: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

// ----- pointers --------------------------------------------------------------------------

/// The most elements of `T` a slice may have (`slice::from_raw_parts` requires the total
/// size to fit in `isize`).
fn max_elements<T>() -> usize {
    isize::MAX.unsigned_abs() / size_of::<T>().max(1)
}

/// Borrows `len` elements at `ptr`. A zero length gives an empty slice whatever `ptr` is
/// (C callers often pass NULL with 0).
///
/// # Errors
///
/// `TS_NULL_PARAMETER` for NULL with a non-zero length; `TS_INVALID_ARGUMENT` for a
/// misaligned pointer or a length no buffer can have.
///
/// # Safety
///
/// Unless `len` is 0, `ptr` must be NULL or point to `len` initialised elements that stay
/// valid and unmodified for `'a`.
pub(crate) unsafe fn slice_in<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], ts_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(ts_result::TS_NULL_PARAMETER);
    }
    if len > max_elements::<T>() || !ptr.is_aligned() {
        return Err(ts_result::TS_INVALID_ARGUMENT);
    }
    // SAFETY: `ptr` is non-null and aligned, the length fits `isize`, and the caller
    // guarantees `len` initialised elements valid for 'a.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// Borrows the object at `ptr`.
///
/// # Errors
///
/// `TS_NULL_PARAMETER` for NULL; `TS_INVALID_ARGUMENT` for a misaligned pointer.
///
/// # Safety
///
/// `ptr` must be NULL or point to an initialised `T` that stays valid and unmodified for
/// `'a`.
pub(crate) unsafe fn ref_in<'a, T>(ptr: *const T) -> Result<&'a T, ts_result> {
    if ptr.is_null() {
        return Err(ts_result::TS_NULL_PARAMETER);
    }
    if !ptr.is_aligned() {
        return Err(ts_result::TS_INVALID_ARGUMENT);
    }
    // SAFETY: non-null and aligned; the caller guarantees a valid `T` for 'a.
    Ok(unsafe { &*ptr })
}

/// Checks an output pointer before any work is done, so that a NULL output fails the call
/// without side effects. Writing through it stays the caller's unsafe step.
///
/// # Errors
///
/// `TS_NULL_PARAMETER` for NULL; `TS_INVALID_ARGUMENT` for a misaligned pointer.
pub(crate) fn out<T>(ptr: *mut T) -> Result<NonNull<T>, ts_result> {
    let p = NonNull::new(ptr).ok_or(ts_result::TS_NULL_PARAMETER)?;
    if !ptr.is_aligned() {
        return Err(ts_result::TS_INVALID_ARGUMENT);
    }
    Ok(p)
}

/// An output buffer of `len` elements, checked like [`out`]. NULL is accepted with a zero
/// length (the "how much do I need?" call).
///
/// # Errors
///
/// As [`slice_in`].
pub(crate) fn out_buf<T>(ptr: *mut T, len: usize) -> Result<OutBuf<T>, ts_result> {
    if len == 0 {
        return Ok(OutBuf { ptr, len: 0 });
    }
    if ptr.is_null() {
        return Err(ts_result::TS_NULL_PARAMETER);
    }
    if len > max_elements::<T>() || !ptr.is_aligned() {
        return Err(ts_result::TS_INVALID_ARGUMENT);
    }
    Ok(OutBuf { ptr, len })
}

/// A caller's output buffer: a pointer and its capacity in elements.
#[derive(Debug)]
pub(crate) struct OutBuf<T> {
    ptr: *mut T,
    len: usize,
}

impl<T: Copy> OutBuf<T> {
    /// The capacity in elements.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies `data` to the start of the buffer.
    ///
    /// # Errors
    ///
    /// `TS_BUFFER_TOO_SMALL` when it does not fit; nothing is written then.
    ///
    /// # Safety
    ///
    /// The buffer must be writable for its whole capacity and not overlap `data`.
    pub(crate) unsafe fn fill(&self, data: &[T]) -> Result<(), ts_result> {
        if data.len() > self.len {
            return Err(ts_result::TS_BUFFER_TOO_SMALL);
        }
        if !data.is_empty() {
            // SAFETY: `data.len() <= self.len`, the buffer was checked non-null and aligned
            // by `out_buf`, and the caller guarantees it is writable and disjoint.
            unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr, data.len()) };
        }
        Ok(())
    }
}

/// Writes the needed size to `out_n` and fails with `TS_BUFFER_TOO_SMALL`: the one case
/// where an output is written on failure.
///
/// # Safety
///
/// `out_n` must be valid for writes (it was checked by [`out`]).
pub(crate) unsafe fn too_small(out_n: NonNull<usize>, needed: usize) -> Result<(), Fail> {
    // SAFETY: the caller passes a pointer checked by `out` and valid for writes.
    unsafe { out_n.write(needed) };
    Err(Fail::new(
        ts_result::TS_BUFFER_TOO_SMALL,
        format!("buffer too small: room for {needed} needed (written to out_n)"),
    ))
}

// ----- live handles ----------------------------------------------------------------------

/// The kinds of handle given to C.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `ts_server`.
    Server,
    /// `ts_reader`.
    Reader,
    /// `ts_read_results`.
    ReadResults,
}

/// Every handle given to C and not yet freed, by [`key`].
static LIVE: Mutex<BTreeMap<usize, Kind>> = Mutex::new(BTreeMap::new());

/// The registry's key of a handle: its address with every bit inverted. Leak checkers
/// (`LeakSanitizer`, valgrind) scan memory for pointers; a plain address here would make a
/// handle the program forgot to free look reachable.
fn key<T>(ptr: *const T) -> usize {
    !(ptr as usize)
}

fn live() -> MutexGuard<'static, BTreeMap<usize, Kind>> {
    // The map is never left half-updated (each access is one insert, lookup or removal),
    // so a poisoned lock is still usable.
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records a new handle.
pub(crate) fn register<T>(ptr: *const T, kind: Kind) {
    live().insert(key(ptr), kind);
}

/// Checks that `ptr` is a live handle of `kind`.
///
/// # Errors
///
/// `TS_NULL_PARAMETER` for NULL; `TS_INVALID_HANDLE` for a freed pointer or one that is
/// not a handle of this kind.
pub(crate) fn check_live<T>(ptr: *const T, kind: Kind) -> Result<(), ts_result> {
    if ptr.is_null() {
        return Err(ts_result::TS_NULL_PARAMETER);
    }
    match live().get(&key(ptr)) {
        Some(k) if *k == kind => Ok(()),
        _ => Err(ts_result::TS_INVALID_HANDLE),
    }
}

/// Forgets a handle; `false` when it was not live (NULL, freed already, or foreign), in
/// which case the caller must not free it.
pub(crate) fn unregister<T>(ptr: *const T, kind: Kind) -> bool {
    if ptr.is_null() {
        return false;
    }
    let mut map = live();
    match map.get(&key(ptr)) {
        Some(k) if *k == kind => {
            map.remove(&key(ptr));
            if map.is_empty() {
                // An emptied map keeps its root node: release it, so that a program that
                // freed every handle holds no memory of the library (leak checkers agree).
                *map = BTreeMap::new();
            }
            true
        }
        _ => false,
    }
}

// ----- re-entrancy -----------------------------------------------------------------------

std::thread_local! {
    /// The servers (by address) whose lock this thread holds: a callback that calls back
    /// into the same server would otherwise deadlock.
    static ACTIVE: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Marks this thread as inside a call on one server until dropped.
#[derive(Debug)]
pub(crate) struct Entry(usize);

impl Entry {
    /// Enters the server at `addr`.
    ///
    /// # Errors
    ///
    /// `TS_REENTRANT_CALL` when this thread is already inside a call on it (from one of its
    /// callbacks).
    pub(crate) fn enter(addr: usize) -> Result<Self, ts_result> {
        ACTIVE.with(|a| {
            let mut a = a.borrow_mut();
            if a.contains(&addr) {
                return Err(ts_result::TS_REENTRANT_CALL);
            }
            a.push(addr);
            Ok(Self(addr))
        })
    }

    /// Whether this thread is inside a call on the server at `addr`.
    pub(crate) fn is_inside(addr: usize) -> bool {
        ACTIVE.with(|a| a.borrow().contains(&addr))
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        ACTIVE.with(|a| {
            let mut a = a.borrow_mut();
            if let Some(i) = a.iter().rposition(|&x| x == self.0) {
                a.swap_remove(i);
            }
            if a.is_empty() {
                // Give the memory back, so that no allocation outlives the calls (leak
                // checkers see thread-locals of the main thread as still reachable).
                *a = Vec::new();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_results() {
        assert_eq!(boundary(|| panic!("boom")), ts_result::TS_PANIC);
        assert_eq!(
            boundary(|| Err(ts_result::TS_NO_SPACE.into())),
            ts_result::TS_NO_SPACE
        );
        assert_eq!(
            quiet_boundary(|| Err(ts_result::TS_NO_SPACE)),
            ts_result::TS_NO_SPACE
        );
        assert_eq!(boundary(|| Ok(())), ts_result::TS_OK);
        assert_eq!(boundary_or(7, || -> i32 { panic!("boom") }), 7);
    }

    #[test]
    fn pointer_checks() {
        // SAFETY: NULL and zero lengths are always accepted or refused without access.
        unsafe {
            assert_eq!(slice_in::<u8>(core::ptr::null(), 0), Ok(&[][..]));
            assert_eq!(
                slice_in::<u8>(core::ptr::null(), 1),
                Err(ts_result::TS_NULL_PARAMETER)
            );
            let x = 5u64;
            assert_eq!(
                slice_in(&raw const x, usize::MAX),
                Err(ts_result::TS_INVALID_ARGUMENT)
            );
            assert_eq!(
                ref_in::<u64>(core::ptr::null()),
                Err(ts_result::TS_NULL_PARAMETER)
            );
        }
        assert_eq!(
            out::<u8>(core::ptr::null_mut()),
            Err(ts_result::TS_NULL_PARAMETER)
        );
    }

    #[test]
    fn registry_and_reentrancy() {
        let x = 1u8;
        let p = &raw const x;
        assert_eq!(
            check_live(p, Kind::Reader),
            Err(ts_result::TS_INVALID_HANDLE)
        );
        register(p, Kind::Reader);
        assert_eq!(check_live(p, Kind::Reader), Ok(()));
        assert_eq!(
            check_live(p, Kind::Server),
            Err(ts_result::TS_INVALID_HANDLE)
        );
        assert!(!unregister(p, Kind::Server));
        assert!(unregister(p, Kind::Reader));
        assert!(!unregister(p, Kind::Reader));

        let e = Entry::enter(42).unwrap();
        assert!(Entry::is_inside(42));
        assert_eq!(Entry::enter(42).unwrap_err(), ts_result::TS_REENTRANT_CALL);
        drop(e);
        assert!(!Entry::is_inside(42));
    }
}
