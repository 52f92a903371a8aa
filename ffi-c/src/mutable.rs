//! Mutable slots: test-and-write with read vectors, and read vectors alone. Vectors are
//! arrays of structs; read results come back as a `ts_read_results` handle.

use tahoe_shares::container::{SlotWrites, TestOperator};
use tahoe_shares::server::{LeaseUpdate, ReadResults, SlotSecrets};
use tahoe_shares::ShareSet;

use crate::error::{ts_result, Fail};
use crate::ffi::{
    boundary, boundary_or, check_live, out, ref_in, register, slice_in, unregister, Kind,
};
use crate::server::{server_ref, ts_server, with_server};
use crate::types::{storage_index_in, ts_secret, ts_share_set, ts_storage_index};

/// The test operators of a test vector. Tahoe 1.20 supports only `eq`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ts_test_operator {
    /// The bytes read equal the specimen.
    TS_TEST_EQ = 0,
}

/// One test: read `length` bytes at `offset` of the share's data (truncated at its end;
/// a missing share reads as empty) and compare with the specimen.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ts_test_vector {
    /// Where to read.
    pub offset: u64,
    /// How much to read.
    pub length: u64,
    /// A `ts_test_operator` (any other value fails the call with
    /// `TS_UNSUPPORTED_OPERATOR`).
    pub op: u32,
    /// What to compare with.
    pub specimen: *const u8,
    /// Bytes of `specimen`.
    pub specimen_len: usize,
}

/// One write: `data` at `offset` of the share's data.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ts_write_vector {
    /// Where to write.
    pub offset: u64,
    /// The bytes.
    pub data: *const u8,
    /// Bytes of `data`.
    pub data_len: usize,
}

/// One read: `length` bytes at `offset` (truncated at the end of the data).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ts_read_vector {
    /// Where to read.
    pub offset: u64,
    /// How much to read.
    pub length: u64,
}

/// The tests, writes and new length for one share of a mutable write.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ts_slot_write {
    /// The share number (0 to 255; each at most once per call).
    pub share_number: u32,
    /// Tests that must all pass, for every share of the call, before anything is written.
    pub tests: *const ts_test_vector,
    /// Entries of `tests`.
    pub tests_len: usize,
    /// Writes, applied in order.
    pub writes: *const ts_write_vector,
    /// Entries of `writes`.
    pub writes_len: usize,
    /// Whether `new_length` applies.
    pub has_new_length: bool,
    /// With `has_new_length`: 0 deletes the share, a smaller length truncates the data, a
    /// larger one is ignored.
    pub new_length: u64,
}

/// The three secrets of a mutable write.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ts_slot_secrets {
    /// The slot's write enabler.
    pub write_enabler: ts_secret,
    /// The lease renew secret.
    pub renew_secret: ts_secret,
    /// The lease cancel secret.
    pub cancel_secret: ts_secret,
}

/// The answer of a read vector: for each share read, one byte string per read vector
/// entry. Free it with `ts_read_results_free`. It is plain data: any thread may read it,
/// and it does not depend on its server.
pub struct ts_read_results {
    _private: [u8; 0],
}

/// Reads a read vector.
///
/// # Safety
///
/// `ptr` must be NULL or valid for `len` entries.
unsafe fn read_vector(
    ptr: *const ts_read_vector,
    len: usize,
) -> Result<Vec<(u64, u64)>, ts_result> {
    // SAFETY: the caller's guarantee.
    let v = unsafe { slice_in(ptr, len)? };
    Ok(v.iter().map(|r| (r.offset, r.length)).collect())
}

/// The operator of a `ts_test_vector`.
fn test_operator(op: u32) -> Result<TestOperator, Fail> {
    if op == ts_test_operator::TS_TEST_EQ as u32 {
        Ok(TestOperator::Eq)
    } else {
        Err(Fail::new(
            ts_result::TS_UNSUPPORTED_OPERATOR,
            format!("unsupported test operator {op} (only TS_TEST_EQ, 0, exists)"),
        ))
    }
}

/// Gives out a results handle.
fn give_out(results: ReadResults) -> *mut ts_read_results {
    let ptr = Box::into_raw(Box::new(results)).cast::<ts_read_results>();
    register(ptr, Kind::ReadResults);
    ptr
}

/// Tahoe's `slot_testv_and_readv_and_writev`: checks the write enabler against every
/// existing share; runs the tests of each entry of `writes` (stopping at the first
/// failure); reads `readv` from every share that existed before; and only if every test
/// passed applies each entry in order (`new_length` 0 deletes the share; a missing share is
/// created) and, with `renew_leases`, adds or renews the lease (owner 1) on each share
/// written. Each share's update is crash-atomic.
///
/// `*out_passed` tells whether the tests passed (and so the writes were applied). When
/// `out_reads` is not NULL, `*out_reads` is a new `ts_read_results` the caller owns.
///
/// # Errors
///
/// `TS_BAD_WRITE_ENABLER`; `TS_UNKNOWN_MUTABLE_MAGIC` when the storage index holds an
/// immutable share; `TS_INVALID_ARGUMENT` for a share number listed twice or above 255;
/// `TS_UNSUPPORTED_OPERATOR`; `TS_DATA_TOO_LARGE` (nothing written); `TS_ALREADY_EXISTS`
/// when an immutable upload of a share to create is in progress; `TS_NO_SPACE`.
///
/// # Safety
///
/// `server` must be a server handle or NULL; each array NULL or valid for its length (and
/// the arrays inside each entry for theirs); `out_passed` NULL or valid for writes;
/// `out_reads` NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_slot_testv_and_readv_and_writev(
    server: *mut ts_server,
    storage_index: *const ts_storage_index,
    secrets: *const ts_slot_secrets,
    writes: *const ts_slot_write,
    writes_len: usize,
    readv: *const ts_read_vector,
    readv_len: usize,
    renew_leases: bool,
    now: u64,
    out_passed: *mut bool,
    out_reads: *mut *mut ts_read_results,
) -> ts_result {
    boundary(|| {
        let out_passed = out(out_passed)?;
        let out_reads = if out_reads.is_null() {
            None
        } else {
            Some(out(out_reads)?)
        };
        // SAFETY: the caller guarantees valid or NULL pointers and no concurrent free.
        let (shared, si, secrets, entries, readv) = unsafe {
            (
                server_ref(server)?,
                storage_index_in(storage_index)?,
                ref_in(secrets)?,
                slice_in(writes, writes_len)?,
                read_vector(readv, readv_len)?,
            )
        };
        let secrets = SlotSecrets {
            write_enabler: secrets.write_enabler.write_enabler(),
            renew: secrets.renew_secret.renew(),
            cancel: secrets.cancel_secret.cancel(),
        };
        // The core borrows the vectors: every entry goes into one set, which the core
        // checks and hands out as `SlotWrite`s.
        let mut vectors = SlotWrites::new();
        for e in entries {
            // SAFETY: the caller guarantees each entry's arrays valid for their lengths.
            let (tests, writes) = unsafe {
                (
                    slice_in(e.tests, e.tests_len)?,
                    slice_in(e.writes, e.writes_len)?,
                )
            };
            let mut share = vectors.share(e.share_number, e.has_new_length.then_some(e.new_length));
            for t in tests {
                let operator = test_operator(t.op)?;
                // SAFETY: the caller guarantees each specimen valid for its length.
                let specimen = unsafe { slice_in(t.specimen, t.specimen_len)? };
                share.test(t.offset, t.length, operator, specimen);
            }
            for w in writes {
                // SAFETY: the caller guarantees each data buffer valid for its length.
                share.write(w.offset, unsafe { slice_in(w.data, w.data_len)? });
            }
        }
        let slot_writes = vectors.build().map_err(|e| Fail::invalid(e.to_string()))?;
        let outcome = with_server!(&mut *shared.lock()?, s => {
            s.slot_testv_and_readv_and_writev(
                &si,
                &secrets,
                &slot_writes,
                &readv,
                LeaseUpdate::from(renew_leases),
                now,
            )
        })?;
        // SAFETY: checked by `out`; the caller guarantees them writable.
        unsafe {
            out_passed.write(outcome.passed);
            if let Some(out_reads) = out_reads {
                out_reads.write(give_out(outcome.reads));
            }
        }
        Ok(())
    })
}

/// Tahoe's `slot_readv`: `readv` from the shares in `*shares` (every share when `shares`
/// is NULL or empty); shares not held are left out, and an unknown storage index gives an
/// empty answer. `*out_reads` is a new `ts_read_results` the caller owns.
///
/// # Errors
///
/// `TS_UNKNOWN_MUTABLE_MAGIC` when a share read is not mutable.
///
/// # Safety
///
/// `server` must be a server handle or NULL; `shares` NULL or valid; `readv` NULL or
/// valid for `readv_len` entries; `out_reads` NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_server_slot_readv(
    server: *const ts_server,
    storage_index: *const ts_storage_index,
    shares: *const ts_share_set,
    readv: *const ts_read_vector,
    readv_len: usize,
    out_reads: *mut *mut ts_read_results,
) -> ts_result {
    boundary(|| {
        let out_reads = out(out_reads)?;
        // SAFETY: the caller guarantees valid or NULL pointers and no concurrent free.
        let (handle, si, vector) = unsafe {
            (
                server_ref(server)?,
                storage_index_in(storage_index)?,
                read_vector(readv, readv_len)?,
            )
        };
        let wanted = if shares.is_null() {
            ShareSet::new()
        } else {
            // SAFETY: non-null; the caller guarantees a valid set.
            ShareSet::from(unsafe { *ref_in(shares)? })
        };
        let results = with_server!(&mut *handle.lock()?, s => s.slot_readv(&si, &wanted, &vector))?;
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_reads.write(give_out(results)) };
        Ok(())
    })
}

/// Borrows the results behind a handle.
///
/// # Safety
///
/// The handle must not be freed during `'a`.
unsafe fn results_ref<'a>(ptr: *const ts_read_results) -> Result<&'a ReadResults, ts_result> {
    check_live(ptr, Kind::ReadResults)?;
    // SAFETY: live handles come from `Box::into_raw` of `ReadResults`, not yet freed, and
    // never mutated after creation.
    Ok(unsafe { &*ptr.cast::<ReadResults>() })
}

/// The number of shares in the results.
///
/// # Safety
///
/// `results` must be a results handle or NULL; `out_len` NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_read_results_len(
    results: *const ts_read_results,
    out_len: *mut usize,
) -> ts_result {
    boundary(|| {
        let out_len = out(out_len)?;
        // SAFETY: the caller guarantees the handle is not freed meanwhile.
        let r = unsafe { results_ref(results)? };
        // SAFETY: checked by `out`; the caller guarantees it writable.
        unsafe { out_len.write(r.len()) };
        Ok(())
    })
}

/// The share number of entry `index` (shares come in ascending order) and the number of
/// byte strings it has (one per read vector entry).
///
/// # Errors
///
/// `TS_INVALID_ARGUMENT` when `index` is out of range.
///
/// # Safety
///
/// As `ts_read_results_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_read_results_share(
    results: *const ts_read_results,
    index: usize,
    out_share_number: *mut u32,
    out_reads: *mut usize,
) -> ts_result {
    boundary(|| {
        let (out_share_number, out_reads) = (out(out_share_number)?, out(out_reads)?);
        // SAFETY: the caller guarantees the handle is not freed meanwhile.
        let r = unsafe { results_ref(results)? };
        let (n, reads) = r
            .get(index)
            .ok_or_else(|| Fail::invalid(format!("index {index} is not below {}", r.len())))?;
        // SAFETY: checked by `out`; the caller guarantees them writable.
        unsafe {
            out_share_number.write(u32::from(n.0));
            out_reads.write(reads.len());
        }
        Ok(())
    })
}

/// Byte string `read_index` of entry `index`: `*out_data` points to `*out_len` bytes
/// owned by the results, valid until `ts_read_results_free` (with length 0 it must not be
/// read).
///
/// # Errors
///
/// `TS_INVALID_ARGUMENT` when an index is out of range.
///
/// # Safety
///
/// As `ts_read_results_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_read_results_data(
    results: *const ts_read_results,
    index: usize,
    read_index: usize,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> ts_result {
    boundary(|| {
        let (out_data, out_len) = (out(out_data)?, out(out_len)?);
        // SAFETY: the caller guarantees the handle is not freed meanwhile.
        let r = unsafe { results_ref(results)? };
        let (_, reads) = r
            .get(index)
            .ok_or_else(|| Fail::invalid(format!("index {index} is not below {}", r.len())))?;
        let data = reads.get(read_index).ok_or_else(|| {
            Fail::invalid(format!(
                "read_index {read_index} is not below {}",
                reads.len()
            ))
        })?;
        // SAFETY: checked by `out`; the caller guarantees them writable.
        unsafe {
            out_data.write(data.as_ptr());
            out_len.write(data.len());
        }
        Ok(())
    })
}

/// Frees read results. NULL, and results freed already, are ignored.
///
/// # Safety
///
/// No other thread may be using the results.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ts_read_results_free(results: *mut ts_read_results) {
    boundary_or((), || {
        if unregister(results, Kind::ReadResults) {
            // SAFETY: the handle was live (just unregistered, so this happens once) and
            // comes from `Box::into_raw`.
            drop(unsafe { Box::from_raw(results.cast::<ReadResults>()) });
        }
    });
}
