//! Criterion benchmarks of the core: codecs, containers over memory and over files, and
//! server operations over `MemStore` and `FsStore` (`Durability::NoSync`) for several
//! sizes. Run with `cargo bench -p tahoe-shares-benches`; `make bench` compares against
//! Tahoe-LAFS itself.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use core::hint::black_box;
use core::time::Duration;
use std::fs::OpenOptions;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use tahoe_shares::container::{Backdate, ImmutableContainer, MutableContainer, NewLease};
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::format::lease::{Lease, LeaseSchema};
use tahoe_shares::format::mutable::{MutableHeader, MutableVersion};
use tahoe_shares::io::{FileIo, VecIo};
use tahoe_shares::server::Server;
use tahoe_shares::store::{Durability, FsStore, MemStore, ShareStore};
use tahoe_shares::{CancelSecret, NodeId, RenewSecret, WriteEnabler};
use tahoe_shares_benches::{
    add_lease, pattern, read_back, renew_lease, secret, server, slot_readv, slot_write,
    small_upload, upload, NOW,
};

const SIZES: [u64; 3] = [1024, 128 * 1024, 4 * 1024 * 1024];

fn new_lease(k: u32) -> NewLease {
    NewLease {
        owner_num: 1,
        renew: RenewSecret::new(secret(b'R', k)),
        cancel: CancelSecret::new(secret(b'C', k)),
        expiration_time: 1_900_000_000,
        nodeid: NodeId([7; 20]),
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ts-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn codecs(c: &mut Criterion) {
    let mut g = c.benchmark_group("codecs");
    let lease: Lease = new_lease(1).to_lease(LeaseSchema::V2);
    let bytes = lease.encode_immutable();
    g.bench_function("lease_encode_immutable", |b| {
        b.iter(|| black_box(&lease).encode_immutable());
    });
    g.bench_function("lease_decode_immutable", |b| {
        b.iter(|| Lease::decode_immutable(black_box(&bytes), LeaseSchema::V2).expect("valid"));
    });
    let mbytes = lease.encode_mutable();
    g.bench_function("lease_decode_mutable", |b| {
        b.iter(|| Lease::decode_mutable(black_box(&mbytes), LeaseSchema::V2).expect("valid"));
    });
    let header = MutableHeader::new(
        MutableVersion::V2,
        NodeId([4; 20]),
        WriteEnabler::new([3; 32]),
    );
    let hbytes = header.encode();
    g.bench_function("mutable_header_encode", |b| {
        b.iter(|| black_box(&header).encode());
    });
    g.bench_function("mutable_header_decode", |b| {
        b.iter(|| MutableHeader::decode(black_box(&hbytes)).expect("valid"));
    });
    g.finish();
}

fn containers(c: &mut Criterion) {
    let mut g = c.benchmark_group("container");
    let dir = scratch("container");
    for size in SIZES {
        let data = pattern(size as usize, 1);
        g.throughput(Throughput::Bytes(size));
        g.bench_with_input(
            BenchmarkId::new("immutable_write_mem", size),
            &data,
            |b, data| {
                b.iter_batched(
                    || {
                        ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, size)
                            .expect("create")
                    },
                    |mut share| share.write_share_data(0, data).expect("write"),
                    BatchSize::SmallInput,
                );
            },
        );
        let path = dir.join(format!("imm-{size}"));
        g.bench_with_input(
            BenchmarkId::new("immutable_write_file", size),
            &data,
            |b, data| {
                b.iter_batched(
                    || {
                        let f = OpenOptions::new()
                            .create(true)
                            .read(true)
                            .write(true)
                            .truncate(true)
                            .open(&path)
                            .expect("open");
                        let io = FileIo::new(f).with_durability(Durability::NoSync);
                        ImmutableContainer::create(io, ImmutableVersion::V2, size).expect("create")
                    },
                    |mut share| share.write_share_data(0, data).expect("write"),
                    BatchSize::PerIteration,
                );
            },
        );
        let mut share =
            ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, size).expect("create");
        share.write_share_data(0, &data).expect("write");
        let mut buf = vec![0u8; size as usize];
        g.bench_function(BenchmarkId::new("immutable_read_mem", size), |b| {
            b.iter(|| share.read_share_data(0, &mut buf).expect("read"));
        });
        let mut slot = MutableContainer::create(
            VecIo::new(),
            MutableVersion::V2,
            NodeId([4; 20]),
            WriteEnabler::new([3; 32]),
        )
        .expect("create");
        g.bench_with_input(
            BenchmarkId::new("mutable_writev_mem", size),
            &data,
            |b, data| {
                b.iter(|| slot.writev(&[(0, data)], None).expect("writev"));
            },
        );
    }
    g.throughput(Throughput::Elements(1));
    for leases in [10u32, 1000] {
        let mut share =
            ImmutableContainer::create(VecIo::new(), ImmutableVersion::V2, 16).expect("create");
        for k in 0..leases {
            share.add_lease(&new_lease(k)).expect("add");
        }
        let target = RenewSecret::new(secret(b'R', leases - 1));
        g.bench_function(
            BenchmarkId::new("immutable_renew_last_lease_mem", leases),
            |b| {
                b.iter(|| {
                    share
                        .renew_lease(&target, 1_950_000_000, Backdate::Forbid)
                        .expect("renew");
                });
            },
        );
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn server_ops<S: ShareStore>(c: &mut Criterion, name: &str, mut make: impl FnMut() -> S) {
    let mut g = c.benchmark_group(format!("server_{name}"));
    for size in SIZES {
        g.throughput(Throughput::Bytes(size));
        g.bench_function(BenchmarkId::new("allocate_write_close", size), |b| {
            b.iter_batched(
                || server(make()).expect("server"),
                |mut s| upload(&mut s, 0, size).expect("upload"),
                BatchSize::PerIteration,
            );
        });
        let mut s = server(make()).expect("server");
        let si = upload(&mut s, 0, size).expect("upload");
        g.bench_function(BenchmarkId::new("read", size), |b| {
            b.iter(|| read_back(&mut s, &si).expect("read"));
        });
    }
    g.throughput(Throughput::Elements(1));
    let mut s: Server<S> = server(make()).expect("server");
    let mut i = 0;
    g.bench_function("small_allocate_write_close_3x1KB", |b| {
        b.iter(|| {
            i += 1;
            small_upload(&mut s, i).expect("small upload");
        });
    });
    small_upload(&mut s, 0).expect("small upload");
    for k in 1..200 {
        add_lease(&mut s, k).expect("add lease");
    }
    g.bench_function("renew_lease_among_200", |b| {
        b.iter(|| renew_lease(&mut s, 100).expect("renew"));
    });
    g.bench_function("add_lease_existing_among_200", |b| {
        b.iter(|| add_lease(&mut s, 150).expect("add"));
    });
    for slot in 0..10 {
        slot_write(&mut s, slot, 0).expect("slot write");
    }
    let mut round = 0u8;
    g.bench_function("slot_testv_and_readv_and_writev_1KB", |b| {
        b.iter(|| {
            round += 1;
            slot_write(&mut s, 0, round).expect("slot write");
        });
    });
    g.bench_function("slot_readv_2x100", |b| {
        b.iter(|| slot_readv(&mut s, 1).expect("readv"));
    });
    g.finish();
}

fn servers(c: &mut Criterion) {
    server_ops(c, "mem", MemStore::new);
    let dir = scratch("server");
    let mut n = 0;
    server_ops(c, "fs", || {
        n += 1;
        FsStore::open(dir.join(n.to_string()), Durability::NoSync).expect("store")
    });
    let _ = std::fs::remove_dir_all(&dir);
    let _ = NOW;
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = codecs, containers, servers
}
criterion_main!(benches);
