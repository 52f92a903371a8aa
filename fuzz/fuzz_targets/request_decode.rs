//! The argument conversions the bindings perform before calling core (storage index of
//! any length, share numbers as integers, secrets of any length, upload secrets, test
//! operators, vectors with huge offsets and lengths), then the server calls, over a
//! memory store holding one immutable and one mutable share: typed errors, no panic,
//! and no allocation sized by a requested length (run with -rss_limit_mb=512).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tahoe_shares::container::{TestOperator, TestVector};
use tahoe_shares::format::mutable::MAX_MUTABLE_SHARE_SIZE;
use tahoe_shares::server::{AllocateRequest, Config, LeaseUpdate, Server, SlotSecrets, SlotWrite};
use tahoe_shares::store::MemStore;
use tahoe_shares::{
    CancelSecret, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex, UploadSecret,
    WriteEnabler,
};

#[derive(Arbitrary, Debug)]
struct Req {
    si: Vec<u8>,
    shares: Vec<u64>,
    renew: Vec<u8>,
    cancel: Vec<u8>,
    we: Vec<u8>,
    upload: Vec<u8>,
    allocated_size: u64,
    offset: u64,
    data: Vec<u8>,
    tests: Vec<(u64, u64, Vec<u8>, Vec<u8>)>,
    writes: Vec<(u64, Vec<u8>)>,
    readv: Vec<(u64, u64)>,
    new_length: Option<u64>,
    calls: Vec<u8>,
}

const NOW: u64 = 1_700_000_000;
const SI_I: [u8; 16] = [1; 16];
const SI_M: [u8; 16] = [2; 16];

fn server() -> Server<MemStore> {
    let mut store = MemStore::new();
    store.capacity = Some(1 << 26);
    let mut srv = Server::new(store, NodeId([3; 20]), Config::default(), NOW).unwrap();
    let si = StorageIndex::new(SI_I);
    let up = UploadSecret::new(b"u").unwrap();
    let req = AllocateRequest {
        storage_index: si,
        renew_secret: RenewSecret::new([4; 32]),
        cancel_secret: CancelSecret::new([5; 32]),
        share_numbers: [ShareNumber(0)].into_iter().collect(),
        allocated_size: 100,
        owner_num: 0,
        renew_leases: true,
        upload_secret: up.clone(),
    };
    srv.allocate_buckets(&req, NOW).unwrap();
    srv.write(&si, ShareNumber(0), &up, 0, &[7; 100], NOW)
        .unwrap();
    srv.close(&si, ShareNumber(0), &up).unwrap();
    let secrets = SlotSecrets {
        write_enabler: WriteEnabler::new([6; 32]),
        renew: RenewSecret::new([4; 32]),
        cancel: CancelSecret::new([5; 32]),
    };
    let w = [SlotWrite {
        share_number: ShareNumber(1),
        tests: &[],
        writes: &[(0, &[8; 50])],
        new_length: None,
    }];
    srv.slot_testv_and_readv_and_writev(
        &StorageIndex::new(SI_M),
        &secrets,
        &w,
        &[],
        LeaseUpdate::AddOrRenew,
        NOW,
    )
    .unwrap();
    srv
}

fuzz_target!(|r: Req| {
    let mut srv = server();
    // Conversions: each either yields a value or a typed error.
    let si = match StorageIndex::from_slice(&r.si) {
        Ok(si) => {
            assert!(!r.si.is_empty() && r.si.len() <= 32);
            assert_eq!(si.as_bytes(), &r.si[..]);
            si
        }
        Err(_) => {
            assert!(r.si.is_empty() || r.si.len() > 32);
            StorageIndex::new(if r.calls.first().is_some_and(|c| c & 1 == 1) {
                SI_M
            } else {
                SI_I
            })
        }
    };
    let mut shares = ShareSet::new();
    for &n in r.shares.iter().take(300) {
        match ShareNumber::from_u64(n) {
            Ok(s) => {
                assert!(n < 256);
                shares.insert(s);
            }
            Err(v) => assert!(v >= 256 && v == n),
        }
    }
    let renew = RenewSecret::from_slice(&r.renew).unwrap_or(RenewSecret::new([4; 32]));
    let cancel = CancelSecret::from_slice(&r.cancel).unwrap_or(CancelSecret::new([5; 32]));
    assert_eq!(
        RenewSecret::from_slice(&r.renew).is_ok(),
        r.renew.len() == 32
    );
    let we = WriteEnabler::from_slice(&r.we).unwrap_or(WriteEnabler::new([6; 32]));
    let upload = UploadSecret::new(&r.upload).unwrap_or_else(|_| {
        assert!(r.upload.is_empty());
        UploadSecret::new(b"u").unwrap()
    });
    let mut tests = Vec::new();
    for (offset, length, op, specimen) in r.tests.iter().take(40) {
        let Ok(operator) = TestOperator::parse::<()>(op) else {
            assert_ne!(&op[..], b"eq");
            continue;
        };
        tests.push(TestVector {
            offset: *offset,
            length: *length,
            operator,
            specimen,
        });
    }
    let writes: Vec<(u64, &[u8])> = r
        .writes
        .iter()
        .take(40)
        .map(|(o, d)| (*o, &d[..]))
        .collect();
    let readv: Vec<(u64, u64)> = r.readv.iter().take(40).copied().collect();
    let first = shares.iter().next().unwrap_or(ShareNumber(0));
    for &call in r.calls.iter().take(8) {
        match call % 9 {
            0 => {
                let req = AllocateRequest {
                    storage_index: si,
                    renew_secret: renew.clone(),
                    cancel_secret: cancel.clone(),
                    share_numbers: shares,
                    allocated_size: r.allocated_size,
                    owner_num: 0,
                    renew_leases: true,
                    upload_secret: upload.clone(),
                };
                let _ = srv.allocate_buckets(&req, NOW);
            }
            1 => {
                let _ = srv.write(&si, first, &upload, r.offset, &r.data, NOW);
            }
            2 => {
                let _ = srv.close(&si, first, &upload);
            }
            3 => {
                if let Ok(b) = srv.open_bucket(&si, first) {
                    for &(o, l) in &readv {
                        if let Ok(v) = srv.read_bucket_vec(&b, o, l) {
                            assert!(v.len() as u64 <= l.min(b.length()));
                        }
                    }
                }
            }
            4 => {
                let secrets = SlotSecrets {
                    write_enabler: we.clone(),
                    renew: renew.clone(),
                    cancel: cancel.clone(),
                };
                // The memory store holds no sparse files: a write far past the data
                // would allocate the gap there (the journal goes past the new end).
                // Offsets past MAX_MUTABLE_SHARE_SIZE stay (they must be refused);
                // others are folded below 64 KiB. tests/fuzz_regressions.rs covers
                // far writes on a real (sparse) file.
                let bounded: Vec<(u64, &[u8])> = writes
                    .iter()
                    .map(|&(o, d)| {
                        (
                            if o > MAX_MUTABLE_SHARE_SIZE {
                                o
                            } else {
                                o % 65_536
                            },
                            d,
                        )
                    })
                    .collect();
                let w = [SlotWrite {
                    share_number: first,
                    tests: &tests,
                    writes: &bounded,
                    new_length: r.new_length,
                }];
                if let Ok(out) = srv.slot_testv_and_readv_and_writev(
                    &si,
                    &secrets,
                    &w,
                    &readv,
                    LeaseUpdate::AddOrRenew,
                    NOW,
                ) {
                    // Refused past the maximum, unless the share is deleted (new
                    // length 0: Tahoe drops the writes unread).
                    assert!(
                        bounded
                            .iter()
                            .all(|&(o, d)| o.saturating_add(d.len() as u64)
                                <= MAX_MUTABLE_SHARE_SIZE)
                            || !out.passed
                            || r.new_length == Some(0)
                    );
                }
            }
            5 => {
                if let Ok(reads) = srv.slot_readv(&si, &shares, &readv) {
                    for (_, rs) in reads {
                        for (v, &(_, l)) in rs.iter().zip(&readv) {
                            assert!(v.len() as u64 <= l);
                        }
                    }
                }
            }
            6 => {
                let _ = srv.add_lease(&si, &renew, &cancel, 1, NOW);
                let _ = srv.renew_lease(&si, &renew, NOW + 1);
                let _ = srv.cancel_lease(&si, &cancel);
            }
            7 => {
                let _ = srv.advise_corrupt_share(b"immutable", &si, first, &r.data, NOW);
            }
            _ => {
                let _ = srv.stat_share(&si, first);
                let _ = srv.abort(&si, first, &upload);
            }
        }
    }
});
