//! Readers of immutable shares (Tahoe's `BucketReader`), and one-shot reads.

use std::sync::Arc;

use tahoe_shares::server::BucketReader;

use crate::error::{ts_result, Fail};
use crate::ffi::{
    boundary, boundary_or, check_live, out, out_buf, register, too_small, unregister, Kind,
};
use crate::server::{server_arc, server_ref, share_in, ts_server, with_server, Shared};
use crate::types::{storage_index_in, ts_storage_index};

/// A reader of one immutable share (Tahoe's `BucketReader`), from `ts_server_open_bucket`
/// or `ts_server_get_buckets`; free it with `ts_reader_free`.
///
/// A reader holds no open file: each `ts_reader_read` opens the share through the store
/// and closes it again (as Tahoe's reader does), so readers cost no file descriptors, and
/// a reader whose share was deleted since fails with `TS_NO_SUCH_SHARE`. Its length is the
/// one the share had when the reader was opened. It keeps its server alive (the server is
/// released when the server handle and all its readers are freed). A reader may be used
/// from any thread, but by one thread at a time; its reads take turns with the calls on
/// its server.
pub struct ts_reader {
    _private: [u8; 0],
}

/// What a `ts_reader` pointer points to.
struct Reader {
    /// The server the reader reads through (kept alive by the reader).
    shared: Arc<Shared>,
    reader: BucketReader,
}

// The header promises that a reader may move between threads.
const _: () = {
    const fn movable<T: Send>() {}
    movable::<Reader>();
};

/// Registers a new reader handle.
fn give_out(shared: Arc<Shared>, reader: BucketReader) -> *mut ts_reader {
    let ptr = Box::into_raw(Box::new(Reader { shared, reader })).cast::<ts_reader>();
    register(ptr, Kind::Reader);
    ptr
}

/// The shell of a read into a caller's buffer, inside the panic boundary: checks
/// `out_n` and `buf`, runs `read` for at most `buf_len` bytes, copies what it read to
/// `buf` and its length to `*out_n`.
///
/// # Safety
///
/// `buf` must be NULL or writable for `buf_len` bytes; `out_n` NULL or valid for writes.
unsafe fn read_into(
    buf: *mut u8,
    buf_len: usize,
    out_n: *mut usize,
    read: impl FnOnce(u64) -> Result<Vec<u8>, Fail>,
) -> ts_result {
    boundary(|| {
        let out_n = out(out_n)?;
        let buf = out_buf(buf, buf_len)?;
        let data = read(buf_len as u64)?;
        // SAFETY: the caller guarantees the buffer writable for its length, and `out_n`
        // (checked by `out`) writable.
        unsafe {
            buf.fill(&data)?;
            out_n.write(data.len());
        }
        Ok(())
    })
}

/// Borrows the reader behind a handle.
///
/// # Safety
///
/// The handle must not be freed or used by another thread during `'a`.
unsafe fn reader_mut<'a>(ptr: *mut ts_reader) -> Result<&'a mut Reader, ts_result> {
    check_live(ptr, Kind::Reader)?;
    // SAFETY: live reader handles come from `Box::into_raw` of a `Reader` not yet freed;
    // the caller guarantees exclusive use during 'a.
    Ok(unsafe { &mut *ptr.cast::<Reader>() })
}

/// Borrows the reader behind a handle, shared.
///
/// # Safety
///
/// The handle must not be freed or written by another thread during `'a`.
unsafe fn reader_ref<'a>(ptr: *const ts_reader) -> Result<&'a Reader, ts_result> {
    check_live(ptr, Kind::Reader)?;
    // SAFETY: as in `reader_mut`, for shared access.
    Ok(unsafe { &*ptr.cast::<Reader>() })
}

/// Opens a reader on one immutable share. On success `*out_reader` is a new reader the
/// caller owns and frees with `ts_reader_free`.
///
/// # Errors
///
/// `TS_NO_SUCH_SHARE`; `TS_UNKNOWN_IMMUTABLE_VERSION` when the share is mutable;
/// `TS_CORRUPT`.
///
/// # Safety
///
/// `server` must be a server handle or NULL; the other pointers NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_open_bucket(
    server: *const ts_server,
    storage_index: *const ts_storage_index,
    share_number: u32,
    out_reader: *mut *mut ts_reader,
) -> ts_result {
    boundary(|| {
        let out_reader = out(out_reader)?;
        // SAFETY: the caller guarantees valid or NULL pointers and no concurrent free.
        let (shared, (si, n)) =
            unsafe { (server_ref(server)?, share_in(storage_index, share_number)?) };
        let reader = with_server!(&mut *shared.lock()?, s => s.open_bucket(&si, n))?;
        // SAFETY: `server` passed `server_ref` and is live.
        let arc = unsafe { server_arc(server) };
        let ptr = give_out(arc, reader);
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_reader.write(ptr) };
        Ok(())
    })
}

/// Readers for every share of a storage index, in share-number order (Tahoe's
/// `get_buckets`, which fails as a whole when a share is not immutable), into
/// `out_readers` (room for `out_readers_len`); `*out_n` is how many. The caller owns each
/// reader and frees it with `ts_reader_free`.
///
/// # Errors
///
/// `TS_BUFFER_TOO_SMALL` with the number needed in `*out_n` (no reader is given out);
/// as `ts_server_open_bucket`.
///
/// # Safety
///
/// As `ts_server_open_bucket`; `out_readers` NULL or writable for `out_readers_len`
/// pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_get_buckets(
    server: *const ts_server,
    storage_index: *const ts_storage_index,
    out_readers: *mut *mut ts_reader,
    out_readers_len: usize,
    out_n: *mut usize,
) -> ts_result {
    boundary(|| {
        let out_n = out(out_n)?;
        let out_readers = out_buf(out_readers, out_readers_len)?;
        // SAFETY: as in `ts_server_open_bucket`.
        let (shared, si) = unsafe { (server_ref(server)?, storage_index_in(storage_index)?) };
        let readers = with_server!(&mut *shared.lock()?, s => s.get_buckets(&si))?;
        if readers.len() > out_readers.len() {
            // SAFETY: checked by `out`; the caller guarantees it writable.
            return unsafe { too_small(out_n, readers.len()) };
        }
        let ptrs: Vec<*mut ts_reader> = readers
            .into_iter()
            // SAFETY: `server` passed `server_ref` and is live.
            .map(|r| give_out(unsafe { server_arc(server) }, r))
            .collect();
        // SAFETY: the caller guarantees the buffer writable for its length.
        unsafe {
            out_readers.fill(&ptrs)?;
            out_n.write(ptrs.len());
        }
        Ok(())
    })
}

/// Bytes of data in the reader's share.
///
/// # Safety
///
/// `reader` must be a reader handle or NULL; `out_length` NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_reader_length(
    reader: *const ts_reader,
    out_length: *mut u64,
) -> ts_result {
    boundary(|| {
        let out_length = out(out_length)?;
        // SAFETY: the caller guarantees a handle not used elsewhere meanwhile.
        let r = unsafe { reader_ref(reader)? };
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_length.write(r.reader.length()) };
        Ok(())
    })
}

/// The reader's share number and storage index.
///
/// # Safety
///
/// As `ts_reader_length`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_reader_share(
    reader: *const ts_reader,
    out_storage_index: *mut ts_storage_index,
    out_share_number: *mut u32,
) -> ts_result {
    boundary(|| {
        let (out_si, out_n) = (out(out_storage_index)?, out(out_share_number)?);
        // SAFETY: the caller guarantees a handle not used elsewhere meanwhile.
        let r = unsafe { reader_ref(reader)? };
        let (si, n) = (r.reader.storage_index(), r.reader.share_number());
        // SAFETY: checked by `out`; the caller guarantees them writable.
        unsafe {
            out_si.write(si.into());
            out_n.write(u32::from(n.0));
        }
        Ok(())
    })
}

/// Reads share data at `offset` into `buf` (`buf_len` bytes), truncated at the end of the
/// data (a read starting past the end reads nothing: Tahoe's read overrun tolerance);
/// `*out_n` is the bytes read. The share is opened for this read and closed after it.
///
/// # Errors
///
/// `TS_NO_SUCH_SHARE` when the share was deleted since the reader was opened (a read
/// that can return nothing by the reader's length succeeds without looking);
/// `TS_UNKNOWN_IMMUTABLE_VERSION` or `TS_CORRUPT` when the file now there is not an
/// immutable share.
///
/// # Safety
///
/// `reader` must be a reader handle or NULL, not used by another thread meanwhile; `buf`
/// NULL or writable for `buf_len` bytes; `out_n` NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_reader_read(
    reader: *mut ts_reader,
    offset: u64,
    buf: *mut u8,
    buf_len: usize,
    out_n: *mut usize,
) -> ts_result {
    // SAFETY: the caller guarantees the buffers writable and a handle not used elsewhere
    // meanwhile.
    unsafe {
        read_into(buf, buf_len, out_n, |len| {
            let r = reader_mut(reader)?;
            with_server!(&mut *r.shared.lock()?, s => s.read_bucket_vec(&r.reader, offset, len))
        })
    }
}

/// Frees a reader. NULL, and a reader freed already, are ignored.
///
/// # Safety
///
/// No other thread may be using the reader.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_reader_free(reader: *mut ts_reader) {
    boundary_or((), || {
        if !unregister(reader, Kind::Reader) {
            return;
        }
        // SAFETY: the handle was live (just unregistered, so this happens once) and comes
        // from `Box::into_raw`; the caller guarantees nobody else is using it.
        drop(unsafe { Box::from_raw(reader.cast::<Reader>()) });
    });
}

/// Reads share data of an immutable share in one call (open, read, close): at `offset`
/// into `buf`, truncated at the end of the data; `*out_n` is the bytes read (GBS's
/// `read_share_chunk`).
///
/// # Errors
///
/// As `ts_server_open_bucket`.
///
/// # Safety
///
/// As `ts_server_open_bucket`; `buf` NULL or writable for `buf_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_read_share(
    server: *const ts_server,
    storage_index: *const ts_storage_index,
    share_number: u32,
    offset: u64,
    buf: *mut u8,
    buf_len: usize,
    out_n: *mut usize,
) -> ts_result {
    // SAFETY: as in `ts_server_open_bucket`; the caller guarantees the buffers writable.
    unsafe {
        read_into(buf, buf_len, out_n, |len| {
            let (shared, (si, n)) = (server_ref(server)?, share_in(storage_index, share_number)?);
            with_server!(&mut *shared.lock()?, s => {
                s.open_bucket(&si, n).and_then(|r| s.read_bucket_vec(&r, offset, len))
            })
        })
    }
}
