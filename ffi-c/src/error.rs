//! The result codes of every exported function, their messages, and the last error of
//! each thread (the full message of the last call that failed).

use core::cell::RefCell;
use core::ffi::c_char;
use core::fmt;
use std::panic::catch_unwind;

use tahoe_shares::{Error, Limit, StoreError};

use crate::ffi::{out, out_buf, quiet_boundary, too_small};

/// The result of every function that can fail. `TS_OK` (0) is success; every other value
/// is an error. The numbers are stable: a code is never renumbered or reused (a retired
/// one stays listed as a comment), and new codes are added at the end.
///
/// Functions return their outputs only with `TS_OK`; the one exception is
/// `TS_BUFFER_TOO_SMALL`, which writes the size needed to the function's `out_n`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ts_result {
    /// Success.
    TS_OK = 0,
    /// The library panicked (a bug: please report it). Nothing unwound into the caller. A
    /// server whose call panicked answers `TS_PANIC` from then on: free it.
    TS_PANIC = 1,
    /// A required pointer argument was NULL (or a buffer pointer was NULL with a non-zero
    /// length).
    TS_NULL_PARAMETER = 2,
    /// A handle was freed already, or is not a handle of the expected type.
    TS_INVALID_HANDLE = 3,
    /// An argument is out of its domain: a share number above 255, an empty upload
    /// secret, a misaligned pointer, a length no buffer can have, an index out of range,
    /// text that is not UTF-8...
    TS_INVALID_ARGUMENT = 4,
    /// The caller's buffer is too small; the function wrote the size needed to its `out_n`
    /// and nothing else.
    TS_BUFFER_TOO_SMALL = 5,
    /// A callback called back into the server that called it (or its readers), which
    /// would deadlock. Nothing was done.
    TS_REENTRANT_CALL = 6,
    /// The storage failed: a file system error, a store callback that returned a failure
    /// status, or a callback that returned an impossible value (a length larger than its
    /// buffer, a read or write that made no progress).
    TS_IO = 7,
    /// A share container's bytes are malformed.
    TS_CORRUPT = 8,
    /// An immutable container of an unknown version, or an immutable operation on a
    /// mutable share (Tahoe's `UnknownImmutableContainerVersionError`).
    TS_UNKNOWN_IMMUTABLE_VERSION = 9,
    /// A mutable container of an unknown magic, or a mutable operation on an immutable
    /// share (Tahoe's `UnknownMutableContainerVersionError`).
    TS_UNKNOWN_MUTABLE_MAGIC = 10,
    /// Something other than a regular share file stands where a share should be.
    TS_NOT_A_SHARE = 11,
    /// A write would pass the share's maximum size (Tahoe's `DataTooLargeError`).
    TS_DATA_TOO_LARGE = 12,
    /// A write overlaps bytes already written with different bytes (Tahoe's
    /// `ConflictingWriteError`); nothing of it was applied.
    TS_CONFLICTING_WRITE = 13,
    /// The write enabler does not match the slot's (Tahoe's `BadWriteEnablerError`).
    TS_BAD_WRITE_ENABLER = 14,
    /// Not enough space (Tahoe's `NoSpace`).
    TS_NO_SPACE = 15,
    /// No lease matches the secret given.
    TS_NO_SUCH_LEASE = 16,
    /// The share does not exist.
    TS_NO_SUCH_SHARE = 17,
    /// The share, or an upload of it, exists already.
    TS_ALREADY_EXISTS = 18,
    /// A test vector used an operator other than `TS_TEST_EQ`.
    TS_UNSUPPORTED_OPERATOR = 19,
    /// Adding a lease would overflow the container's lease count.
    TS_TOO_MANY_LEASES = 20,
    /// An earlier sync of this share failed; it accepts nothing more until reopened.
    TS_POISONED = 21,
    /// The upload secret does not match the one the upload was allocated with.
    TS_BAD_UPLOAD_SECRET = 22,
    /// No upload is in progress for that share (never allocated, closed, aborted or
    /// expired).
    TS_NO_SUCH_UPLOAD = 23,
    /// The configured limit of uploads in progress is reached; nothing was changed.
    TS_LIMIT_UPLOADS = 24,
    /// The configured limit of separate ranges written in one upload is reached; nothing
    /// was changed.
    TS_LIMIT_RANGES_PER_UPLOAD = 25,
    /// The corruption advisory is larger than the configured limit; nothing was stored.
    TS_LIMIT_ADVISORY_SIZE = 26,
    /// The server is read-only and the operation would write.
    TS_READ_ONLY = 27,
    /// An internal invariant failed (a bug: please report it).
    TS_BUG = 28,
    /// An error of a newer core version that has no code of its own yet.
    TS_ERROR = 29,
    /// The storage directory is held by another writer (another process, or another
    /// server in this one): one writer per storage directory. Nothing was changed.
    TS_STORAGE_LOCKED = 30,
}

impl ts_result {
    /// Every code, in order (for tests and `ts_result_message`).
    pub const ALL: [Self; 31] = [
        Self::TS_OK,
        Self::TS_PANIC,
        Self::TS_NULL_PARAMETER,
        Self::TS_INVALID_HANDLE,
        Self::TS_INVALID_ARGUMENT,
        Self::TS_BUFFER_TOO_SMALL,
        Self::TS_REENTRANT_CALL,
        Self::TS_IO,
        Self::TS_CORRUPT,
        Self::TS_UNKNOWN_IMMUTABLE_VERSION,
        Self::TS_UNKNOWN_MUTABLE_MAGIC,
        Self::TS_NOT_A_SHARE,
        Self::TS_DATA_TOO_LARGE,
        Self::TS_CONFLICTING_WRITE,
        Self::TS_BAD_WRITE_ENABLER,
        Self::TS_NO_SPACE,
        Self::TS_NO_SUCH_LEASE,
        Self::TS_NO_SUCH_SHARE,
        Self::TS_ALREADY_EXISTS,
        Self::TS_UNSUPPORTED_OPERATOR,
        Self::TS_TOO_MANY_LEASES,
        Self::TS_POISONED,
        Self::TS_BAD_UPLOAD_SECRET,
        Self::TS_NO_SUCH_UPLOAD,
        Self::TS_LIMIT_UPLOADS,
        Self::TS_LIMIT_RANGES_PER_UPLOAD,
        Self::TS_LIMIT_ADVISORY_SIZE,
        Self::TS_READ_ONLY,
        Self::TS_BUG,
        Self::TS_ERROR,
        Self::TS_STORAGE_LOCKED,
    ];

    /// The code with number `n`, if any.
    #[must_use]
    pub fn from_u32(n: u32) -> Option<Self> {
        Self::ALL.get(usize::try_from(n).ok()?).copied()
    }

    /// The English description of the code.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            Self::TS_OK => "success",
            Self::TS_PANIC => "internal panic (a bug in tahoe-shares; please report it)",
            Self::TS_NULL_PARAMETER => "a required pointer argument was NULL",
            Self::TS_INVALID_HANDLE => "handle freed already or of the wrong type",
            Self::TS_INVALID_ARGUMENT => "invalid argument",
            Self::TS_BUFFER_TOO_SMALL => "buffer too small (the size needed was reported)",
            Self::TS_REENTRANT_CALL => "a callback called back into the server calling it",
            Self::TS_IO => "storage I/O error (or a store callback failed)",
            Self::TS_CORRUPT => "corrupt share container",
            Self::TS_UNKNOWN_IMMUTABLE_VERSION => "unknown immutable container version",
            Self::TS_UNKNOWN_MUTABLE_MAGIC => "unknown mutable container magic",
            Self::TS_NOT_A_SHARE => "not a share file",
            Self::TS_DATA_TOO_LARGE => "data too large for the share",
            Self::TS_CONFLICTING_WRITE => "write conflicts with data already written",
            Self::TS_BAD_WRITE_ENABLER => "bad write enabler",
            Self::TS_NO_SPACE => "no space",
            Self::TS_NO_SUCH_LEASE => "no matching lease",
            Self::TS_NO_SUCH_SHARE => "no such share",
            Self::TS_ALREADY_EXISTS => "share already exists",
            Self::TS_UNSUPPORTED_OPERATOR => "unsupported test operator (only eq)",
            Self::TS_TOO_MANY_LEASES => "lease count would overflow",
            Self::TS_POISONED => "share poisoned by an earlier sync failure",
            Self::TS_BAD_UPLOAD_SECRET => "wrong upload secret",
            Self::TS_NO_SUCH_UPLOAD => "no upload in progress for that share",
            Self::TS_LIMIT_UPLOADS => "limit reached: too many uploads in progress",
            Self::TS_LIMIT_RANGES_PER_UPLOAD => {
                "limit reached: too many separate ranges written in one upload"
            }
            Self::TS_LIMIT_ADVISORY_SIZE => "limit reached: corruption advisory too large",
            Self::TS_READ_ONLY => "the server is read-only",
            Self::TS_BUG => "internal error (a bug in tahoe-shares; please report it)",
            Self::TS_ERROR => "error",
            Self::TS_STORAGE_LOCKED => "the storage directory is in use by another server",
        }
    }
}

impl<E> From<Error<E>> for ts_result {
    fn from(e: Error<E>) -> Self {
        Self::from(&e)
    }
}

impl<E> From<&Error<E>> for ts_result {
    fn from(e: &Error<E>) -> Self {
        match e {
            Error::Io(_) => Self::TS_IO,
            Error::Corrupt(_) => Self::TS_CORRUPT,
            Error::UnknownImmutableVersion { .. } => Self::TS_UNKNOWN_IMMUTABLE_VERSION,
            Error::UnknownMutableMagic { .. } => Self::TS_UNKNOWN_MUTABLE_MAGIC,
            Error::NotAShare => Self::TS_NOT_A_SHARE,
            Error::DataTooLarge { .. } => Self::TS_DATA_TOO_LARGE,
            Error::ConflictingWrite { .. } => Self::TS_CONFLICTING_WRITE,
            Error::BadWriteEnabler { .. } => Self::TS_BAD_WRITE_ENABLER,
            Error::NoSpace => Self::TS_NO_SPACE,
            Error::NoSuchLease { .. } => Self::TS_NO_SUCH_LEASE,
            Error::NoSuchShare => Self::TS_NO_SUCH_SHARE,
            Error::AlreadyExists => Self::TS_ALREADY_EXISTS,
            Error::UnsupportedOperator => Self::TS_UNSUPPORTED_OPERATOR,
            Error::TooManyLeases => Self::TS_TOO_MANY_LEASES,
            Error::InvalidArgument(_) | Error::NotUtf8 { .. } => Self::TS_INVALID_ARGUMENT,
            Error::BufferTooSmall { .. } => Self::TS_BUFFER_TOO_SMALL,
            Error::Poisoned => Self::TS_POISONED,
            Error::BadUploadSecret => Self::TS_BAD_UPLOAD_SECRET,
            Error::NoSuchUpload => Self::TS_NO_SUCH_UPLOAD,
            Error::LimitReached(Limit::Uploads) => Self::TS_LIMIT_UPLOADS,
            Error::LimitReached(Limit::RangesPerUpload) => Self::TS_LIMIT_RANGES_PER_UPLOAD,
            Error::LimitReached(Limit::AdvisorySize) => Self::TS_LIMIT_ADVISORY_SIZE,
            Error::ReadOnly => Self::TS_READ_ONLY,
            Error::Bug(_) => Self::TS_BUG,
            Error::StorageLocked => Self::TS_STORAGE_LOCKED,
            // Variants added to the core later, until they get their own code.
            _ => Self::TS_ERROR,
        }
    }
}

/// How an exported function failed: its result code and the full message that
/// `ts_last_error_message` reports for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fail {
    code: ts_result,
    /// `None`: the code's own description is the whole message.
    message: Option<String>,
}

impl Fail {
    /// A failure with a message more precise than the code's description.
    pub(crate) fn new(code: ts_result, message: impl Into<String>) -> Self {
        Self {
            code,
            message: Some(message.into()),
        }
    }

    /// An invalid argument, described by `message`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ts_result::TS_INVALID_ARGUMENT, message)
    }

    /// The result code.
    #[must_use]
    pub(crate) fn code(&self) -> ts_result {
        self.code
    }

    /// The full message.
    #[must_use]
    pub(crate) fn message(&self) -> &str {
        self.message.as_deref().unwrap_or(self.code.message())
    }
}

impl From<ts_result> for Fail {
    fn from(code: ts_result) -> Self {
        Self {
            code,
            message: None,
        }
    }
}

/// The code of the core's error, and its `Display` text as the message. (Bounded on the
/// `Display` of `Error<E>` itself, so that whatever the core needs of `E` to display it
/// is what is needed here.)
impl<E> From<Error<E>> for Fail
where
    Error<E>: fmt::Display,
{
    fn from(e: Error<E>) -> Self {
        Self {
            code: ts_result::from(&e),
            message: Some(e.to_string()),
        }
    }
}

/// A store's error (from opening a filesystem store) is mapped as the server's error of
/// the same variant.
impl<E> From<StoreError<E>> for Fail
where
    Error<E>: fmt::Display,
{
    fn from(e: StoreError<E>) -> Self {
        Self::from(Error::from(e))
    }
}

/// The last failure of a thread: `TS_OK` and an empty message before any.
struct LastError {
    code: ts_result,
    message: String,
}

std::thread_local! {
    static LAST_ERROR: RefCell<LastError> = const {
        RefCell::new(LastError { code: ts_result::TS_OK, message: String::new() })
    };
}

/// Records a failure as the calling thread's last error.
pub(crate) fn set_last_error(fail: &Fail) {
    // `try_with`: nothing to record into while the thread is being torn down.
    let _ = LAST_ERROR.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            last.code = fail.code;
            last.message.clear();
            last.message.push_str(fail.message());
        }
    });
}

/// Runs `f` on the calling thread's last error (`None` while the thread is torn down).
fn with_last_error<T>(f: impl FnOnce(&mut LastError) -> T) -> Option<T> {
    LAST_ERROR
        .try_with(|last| last.try_borrow_mut().ok().map(|mut l| f(&mut l)))
        .ok()
        .flatten()
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn utf8_prefix(text: &str, max: usize) -> &[u8] {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.as_bytes().get(..end).unwrap_or_default()
}

/// Copies the full message of the last call that failed on the calling thread into `buf`
/// (`cap` bytes), NUL-terminated, UTF-8. It is the core's complete description: which
/// argument is wrong and why, what is corrupt, the operating system's text of an I/O
/// error (and the path, where the core names one). It never contains a secret.
///
/// The message is cut when it does not fit, like `snprintf`: at most `cap - 1` bytes, cut
/// at a UTF-8 character boundary, then a NUL (nothing is written when `cap` is 0).
/// `*needed` (when `needed` is not NULL) is the size of buffer that holds the whole
/// message, NUL included; the message was cut if and only if `*needed > cap`. So
/// `ts_last_error_message(NULL, 0, &n)` asks for the size.
///
/// With no failure recorded on this thread (none yet, or cleared by
/// `ts_last_error_clear`), the message is empty (`*needed` is 1). See the header's
/// conventions for when the last error is set.
///
/// # Errors
///
/// `TS_NULL_PARAMETER` when `buf` is NULL and `cap` is not 0. This function never changes
/// the last error, not even when it fails.
///
/// # Safety
///
/// `buf` must be NULL (with `cap` 0) or writable for `cap` bytes; `needed` NULL or valid
/// for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_last_error_message(
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> ts_result {
    // Not `boundary`: this function must not record its own failures.
    quiet_boundary(|| {
        let buf = out_buf(buf.cast::<u8>(), cap)?;
        let needed = if needed.is_null() {
            None
        } else {
            Some(out(needed)?)
        };
        let (whole, mut bytes) = with_last_error(|last| {
            let fits = utf8_prefix(&last.message, cap.saturating_sub(1));
            let mut bytes = Vec::with_capacity(fits.len() + 1);
            bytes.extend_from_slice(fits);
            (last.message.len() + 1, bytes)
        })
        .unwrap_or((1, Vec::new()));
        if cap > 0 {
            bytes.push(0);
            // SAFETY: the caller guarantees `buf` writable for `cap` bytes, and `bytes`
            // (ours) holds at most `cap`.
            unsafe { buf.fill(&bytes)? };
        }
        if let Some(needed) = needed {
            // SAFETY: checked by `out`; the caller guarantees it writable.
            unsafe { needed.write(whole) };
        }
        Ok(())
    })
}

/// The result code of the last call that failed on the calling thread (the code that call
/// returned), or `TS_OK` when none is recorded. It never changes the last error.
#[unsafe(no_mangle)]
pub extern "C" fn ts_last_error_code() -> ts_result {
    catch_unwind(|| with_last_error(|last| last.code))
        .ok()
        .flatten()
        .unwrap_or(ts_result::TS_OK)
}

/// Forgets the calling thread's last error: `ts_last_error_code` returns `TS_OK` and the
/// message is empty until a call fails again. Other threads' last errors are untouched.
#[unsafe(no_mangle)]
pub extern "C" fn ts_last_error_clear() {
    let _ = catch_unwind(|| {
        with_last_error(|last| {
            last.code = ts_result::TS_OK;
            // Give the memory back: a thread that cleared its last error holds none.
            last.message = String::new();
        })
    });
}

/// Writes the English description of a result code into `buf`, NUL-terminated (UTF-8;
/// in practice ASCII). `result` may be any number: unknown codes have a description too.
///
/// On `TS_OK`, `*out_n` is the length of the description without the NUL. On
/// `TS_BUFFER_TOO_SMALL`, `*out_n` is the size needed including the NUL, and `buf` is
/// untouched: `ts_result_message(r, NULL, 0, &n)` asks for the size. No message is longer
/// than 128 bytes.
///
/// # Safety
///
/// `buf` must be NULL (with `len` 0) or writable for `len` bytes; `out_n` must be valid
/// for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_result_message(
    result: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> ts_result {
    // Not `boundary`: describing a code must not replace the last error's message.
    quiet_boundary(|| {
        let out_n = out(out_n)?;
        let buf = out_buf(buf.cast::<u8>(), len)?;
        let text = ts_result::from_u32(result).map_or("unknown result code", ts_result::message);
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        if bytes.len() > buf.len() {
            // SAFETY: `out_n` was checked by `out` and the caller guarantees it writable.
            return unsafe { too_small(out_n, bytes.len()) }.map_err(|f| f.code());
        }
        // SAFETY: the caller guarantees `buf` writable for `len` bytes; `bytes` is ours.
        unsafe { buf.fill(&bytes)? };
        // SAFETY: as above.
        unsafe { out_n.write(text.len()) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_described() {
        for (i, r) in ts_result::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            assert_eq!(ts_result::from_u32(i as u32), Some(*r));
            assert!(r.message().len() < 128);
        }
        assert_eq!(ts_result::from_u32(31), None);
    }

    #[test]
    fn core_errors_map() {
        let e: Error<()> = Error::LimitReached(Limit::RangesPerUpload);
        assert_eq!(ts_result::from(e), ts_result::TS_LIMIT_RANGES_PER_UPLOAD);
        assert_eq!(ts_result::from(Error::Io(())), ts_result::TS_IO);
        assert_eq!(
            ts_result::from(Error::<()>::StorageLocked),
            ts_result::TS_STORAGE_LOCKED
        );
        assert_eq!(
            ts_result::from(Error::<()>::NoSpace),
            ts_result::TS_NO_SPACE
        );
    }

    #[test]
    fn failures_carry_the_core_message() {
        let e: Error<std::io::Error> = Error::Io(std::io::Error::from_raw_os_error(28));
        let f = Fail::from(e);
        assert_eq!(f.code(), ts_result::TS_IO);
        // The operating system's text, whichever way the core formats the error.
        assert!(
            f.message().contains("No space left on device"),
            "{}",
            f.message()
        );
        let f = Fail::from(Error::<std::io::Error>::StorageLocked);
        assert_eq!(f.code(), ts_result::TS_STORAGE_LOCKED);
        assert_eq!(
            f.message(),
            Error::<std::io::Error>::StorageLocked.to_string()
        );
        let f = Fail::from(ts_result::TS_NO_SUCH_SHARE);
        assert_eq!(f.message(), "no such share");
    }

    #[test]
    fn last_error_is_per_thread_and_cut_at_characters() {
        ts_last_error_clear();
        assert_eq!(ts_last_error_code(), ts_result::TS_OK);
        set_last_error(&Fail::invalid("caf\u{e9} au lait"));
        std::thread::spawn(|| assert_eq!(ts_last_error_code(), ts_result::TS_OK))
            .join()
            .unwrap();
        assert_eq!(ts_last_error_code(), ts_result::TS_INVALID_ARGUMENT);
        let mut buf = [0x55u8; 8];
        let mut needed = 0usize;
        // SAFETY: `buf` and `needed` are locals valid for the lengths given.
        let r = unsafe { ts_last_error_message(buf.as_mut_ptr().cast(), 5, &raw mut needed) };
        assert_eq!(r, ts_result::TS_OK);
        // "caf" and a NUL: the two bytes of the e-acute do not fit in the 4 left.
        assert_eq!(&buf[..5], b"caf\0\x55");
        assert_eq!(needed, "caf\u{e9} au lait".len() + 1);
        assert_eq!(utf8_prefix("caf\u{e9}", 4), b"caf");
        assert_eq!(utf8_prefix("caf\u{e9}", 5), "caf\u{e9}".as_bytes());
        assert_eq!(utf8_prefix("", 3), b"");
        ts_last_error_clear();
    }
}
