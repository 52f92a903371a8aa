//! Helpers shared by the integration tests in `core/tests`: each test file is a crate of its
//! own and includes this module with `mod common;`.
//!
//! Only the default features (`std`) are assumed here, so every test crate can include it,
//! with or without `_testing`.

// Each test crate uses a different part of this module, and what a crate leaves unused
// would warn in that crate as dead code (or, for the re-export below, an unused import).
#![allow(dead_code, unused_imports)]

use std::fs;
use std::path::{Path, PathBuf};

use tahoe_shares::container::{MutableContainer, TestOperator, TestVector};
use tahoe_shares::format::mutable::MutableVersion;
use tahoe_shares::io::VecIo;
use tahoe_shares::server::{AllocateRequest, Config, Server, SlotSecrets};
use tahoe_shares::store::{Durability, FsStore, ShareStore};
use tahoe_shares::{
    CancelSecret, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex, UploadSecret,
    WriteEnabler,
};

/// The time the tests' servers start at and most operations run at (seconds, November 2023).
pub const NOW: u64 = 1_700_000_000;
/// The node id of the tests' servers.
pub const NODE: NodeId = NodeId([7; 20]);

// ----- scratch directories ---------------------------------------------------------------

// The scratch directory is also cli/tests' (another crate, which includes the file by path).
#[path = "temp_dir.rs"]
mod temp_dir;
pub use temp_dir::TempDir;

/// Every regular file below `dir`, with its length, sorted (empty when `dir` is missing).
pub fn files_below(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                out.push((e.path(), e.metadata().unwrap().len()));
            }
        }
    }
    out.sort();
    out
}

// ----- randomness ------------------------------------------------------------------------

/// `SplitMix64`: small, seedable and deterministic, good enough to pick sizes, orders and
/// subsets.
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below_usize(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Puts `v` in a random order.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below_usize(i + 1));
        }
    }
}

// ----- secrets, requests and vectors -----------------------------------------------------

/// Share number `n`.
pub fn sn(n: u8) -> ShareNumber {
    ShareNumber(n)
}

/// The set of the share numbers `ns`.
pub fn set(ns: &[u8]) -> ShareSet {
    ns.iter().copied().map(ShareNumber).collect()
}

/// An upload secret holding the bytes of `s`.
pub fn upload_secret(s: &str) -> UploadSecret {
    UploadSecret::new(s.as_bytes()).unwrap()
}

/// A slot's secrets: write enabler, renew and cancel secrets of 32 bytes `we`, `renew` and
/// `cancel`.
pub fn slot_secrets_of(we: u8, renew: u8, cancel: u8) -> SlotSecrets {
    SlotSecrets {
        write_enabler: WriteEnabler::new([we; 32]),
        renew: RenewSecret::new([renew; 32]),
        cancel: CancelSecret::new([cancel; 32]),
    }
}

/// A slot's secrets with the write enabler of bytes `we` and a lease of renew secret
/// `0x0a…`, cancel secret `0x0b…`.
pub fn slot_secrets(we: u8) -> SlotSecrets {
    slot_secrets_of(we, 0x0a, 0x0b)
}

/// An allocation of `shares` of `si`, `size` bytes each, by owner 0 with renewal, under the
/// upload secret `upload` and a lease of renew secret `lease_seed…`, cancel secret
/// `lease_seed + 1…`.
pub fn lease_request(
    si: StorageIndex,
    shares: &[u8],
    size: u64,
    lease_seed: u8,
    upload: &str,
) -> AllocateRequest {
    AllocateRequest {
        storage_index: si,
        renew_secret: RenewSecret::new([lease_seed; 32]),
        cancel_secret: CancelSecret::new([lease_seed.wrapping_add(1); 32]),
        share_numbers: set(shares),
        allocated_size: size,
        owner_num: 0,
        renew_leases: true,
        upload_secret: upload_secret(upload),
    }
}

/// [`lease_request`] with the lease of renew secret `2…`, cancel secret `3…`.
pub fn request(si: StorageIndex, shares: &[u8], size: u64, upload: &str) -> AllocateRequest {
    lease_request(si, shares, size, 2, upload)
}

/// A test that `length` bytes at `offset` equal `specimen`.
pub fn eq(offset: u64, length: u64, specimen: &[u8]) -> TestVector<'_> {
    TestVector {
        offset,
        length,
        operator: TestOperator::Eq,
        specimen,
    }
}

// ----- containers and servers ------------------------------------------------------------

/// An empty V2 mutable container in memory, of node `1…` and write enabler `2…`.
pub fn new_mutable() -> MutableContainer<VecIo> {
    MutableContainer::create(
        VecIo::new(),
        MutableVersion::V2,
        NodeId([1; 20]),
        WriteEnabler::new([2; 32]),
    )
    .unwrap()
}

/// A server over `store` with the default configuration, node [`NODE`], started at [`NOW`].
pub fn server<S: ShareStore>(store: S) -> Server<S> {
    server_with(store, Config::default())
}

/// A server over `store` with `config`, node [`NODE`], started at [`NOW`].
pub fn server_with<S: ShareStore>(store: S, config: Config) -> Server<S> {
    Server::new(store, NODE, config, NOW).unwrap()
}

/// A server over a filesystem store in `dir` (which it locks).
pub fn fs_server(dir: &Path, durability: Durability) -> Server<FsStore> {
    server(FsStore::open(dir, durability).unwrap())
}
