//! Runs a storage-server op script (the JSON format of `tools/tahoe_server_ops.py`) on
//! `Server<FsStore>` and prints one normalised JSON result per op, one per line. The Python
//! differential tests run the same script through Tahoe 1.20's `StorageServer` and compare
//! the results and the storage directories byte for byte.
//!
//! Usage: `server_script SCRIPT.json [STORAGE_DIR]` (`STORAGE_DIR` overrides the script's
//! `storage_dir`).
//!
//! Before each op, uploads idle for 30 minutes at the op's `now` are expired, as Tahoe's
//! `BucketWriter` timers fire when its clock advances. Each `allocate` op gets a fresh
//! upload secret derived from its index in the script (Foolscap has none); `write`, `close`
//! and `abort` name the allocate op whose secret they use.

use std::collections::BTreeMap;
use std::fs;
use std::io;

use serde_json::{json, Map, Value};
use tahoe_shares::container::{TestOperator, TestVector};
use tahoe_shares::server::{
    AllocateRequest, Config, LeaseUpdate, ReadResults, Server, SlotSecrets, SlotWrite,
};
use tahoe_shares::store::{Durability, FsStore};
use tahoe_shares::{
    CancelSecret, Error, NodeId, RenewSecret, ShareNumber, ShareSet, StorageIndex, UploadSecret,
    WriteEnabler,
};

type Res<T> = tahoe_shares::Result<T, io::Error>;

fn hex(v: &Value) -> Vec<u8> {
    let s = v.as_str().expect("hex string");
    assert!(s.len() % 2 == 0, "odd-length hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    use core::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn arr<const N: usize>(v: &Value) -> [u8; N] {
    hex(v).try_into().expect("byte string of the wrong length")
}

fn uint(op: &Value, field: &str) -> u64 {
    op[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} must be an unsigned integer"))
}

fn shnum(v: &Value) -> ShareNumber {
    ShareNumber(u8::try_from(v.as_u64().expect("share number")).expect("share number above 255"))
}

fn share_set(v: &Value) -> ShareSet {
    let mut set = ShareSet::new();
    for n in v.as_array().expect("share number list") {
        set.insert(shnum(n));
    }
    set
}

fn set_json(set: &ShareSet) -> Value {
    set.iter().map(|n| Value::from(n.0)).collect()
}

fn readv(v: &Value) -> Vec<(u64, u64)> {
    v.as_array()
        .expect("read vector")
        .iter()
        .map(|p| {
            (
                p[0].as_u64().expect("offset"),
                p[1].as_u64().expect("length"),
            )
        })
        .collect()
}

/// Per-share read results as `{"S": [hex, ...]}`.
fn reads_json(reads: &ReadResults) -> Value {
    let map: Map<String, Value> = reads
        .iter()
        .map(|(n, data)| {
            let v: Vec<Value> = data.iter().map(|d| Value::from(to_hex(d))).collect();
            (n.0.to_string(), Value::from(v))
        })
        .collect();
    Value::Object(map)
}

/// The stable name of an error, shared with the Python side.
fn error_json(e: &Error<io::Error>) -> Value {
    let kind = match e {
        Error::UnknownImmutableVersion { .. } => "unknown_immutable_container",
        Error::UnknownMutableMagic { .. } => "unknown_mutable_container",
        Error::DataTooLarge { .. } => "data_too_large",
        Error::ConflictingWrite { .. } => "conflicting_write",
        Error::BadWriteEnabler { .. } => {
            return json!({"error": "bad_write_enabler", "detail": e.to_string()});
        }
        Error::NoSpace => "no_space",
        Error::NoSuchLease { .. } => "no_such_lease",
        Error::NoSuchShare => "no_such_share",
        // Foolscap has no upload secrets: a client without a live writer for the share
        // cannot name it. Both cases are "no such upload" there.
        Error::NoSuchUpload | Error::BadUploadSecret => "no_such_upload",
        Error::UnsupportedOperator => "unsupported_operator",
        Error::InvalidArgument(_) | Error::NotUtf8 { .. } => "invalid_argument",
        Error::LimitReached(_) => "limit_reached",
        Error::AlreadyExists => "already_exists",
        Error::Corrupt(_) => "corrupt",
        other => return json!({ "error": format!("unexpected: {other:?}") }),
    };
    json!({ "error": kind })
}

/// The script's view of a mutable write entry, owning its bytes.
struct Entry {
    share_number: ShareNumber,
    tests: Vec<(u64, u64, Vec<u8>, Vec<u8>)>,
    writes: Vec<(u64, Vec<u8>)>,
    new_length: Option<u64>,
}

fn entries(v: &Value) -> Vec<Entry> {
    v.as_array()
        .expect("tw list")
        .iter()
        .map(|e| Entry {
            share_number: shnum(&e["shnum"]),
            tests: e["tests"]
                .as_array()
                .expect("tests")
                .iter()
                .map(|t| {
                    (
                        t[0].as_u64().expect("test offset"),
                        t[1].as_u64().expect("test length"),
                        t[2].as_str().expect("operator").as_bytes().to_vec(),
                        hex(&t[3]),
                    )
                })
                .collect(),
            writes: e["writes"]
                .as_array()
                .expect("writes")
                .iter()
                .map(|w| (w[0].as_u64().expect("write offset"), hex(&w[1])))
                .collect(),
            new_length: e["new_length"].as_u64(),
        })
        .collect()
}

struct Runner {
    server: Server<FsStore>,
    /// Storage index and upload secret of each allocate op, by op index.
    allocs: BTreeMap<u64, (StorageIndex, UploadSecret)>,
}

impl Runner {
    fn upload(&self, op: &Value) -> (StorageIndex, ShareNumber, UploadSecret) {
        let k = uint(op, "alloc");
        let (si, secret) = self
            .allocs
            .get(&k)
            .unwrap_or_else(|| panic!("op {k} is not an earlier allocate op"));
        (*si, shnum(&op["shnum"]), secret.clone())
    }

    fn allocate(&mut self, index: u64, op: &Value, si: StorageIndex, now: u64) -> Res<Value> {
        // Foolscap has no upload secret: every allocate is a new request with its own.
        let secret = UploadSecret::new(format!("server_script allocate {index}").as_bytes())
            .expect("non-empty secret");
        let req = AllocateRequest {
            storage_index: si,
            renew_secret: RenewSecret::new(arr(&op["renew"])),
            cancel_secret: CancelSecret::new(arr(&op["cancel"])),
            share_numbers: share_set(&op["shnums"]),
            allocated_size: uint(op, "size"),
            owner_num: u32::try_from(uint(op, "owner")).expect("owner"),
            renew_leases: op["renew_leases"].as_bool().expect("renew_leases"),
            upload_secret: secret.clone(),
        };
        self.allocs.insert(index, (si, secret));
        let a = self.server.allocate_buckets(&req, now)?;
        Ok(json!({
            "already_have": set_json(&a.already_have),
            "allocated": set_json(&a.allocated),
        }))
    }

    fn slot_write(&mut self, op: &Value, si: &StorageIndex, now: u64) -> Res<Value> {
        let owned = entries(&op["tw"]);
        // A front end parses every operator before calling the server.
        let mut tests: Vec<Vec<TestVector<'_>>> = Vec::with_capacity(owned.len());
        for e in &owned {
            let mut parsed = Vec::with_capacity(e.tests.len());
            for (offset, length, operator, specimen) in &e.tests {
                parsed.push(TestVector {
                    offset: *offset,
                    length: *length,
                    operator: TestOperator::parse(operator)?,
                    specimen,
                });
            }
            tests.push(parsed);
        }
        let writes: Vec<Vec<(u64, &[u8])>> = owned
            .iter()
            .map(|e| e.writes.iter().map(|(o, d)| (*o, d.as_slice())).collect())
            .collect();
        let slot_writes: Vec<SlotWrite<'_>> = owned
            .iter()
            .zip(&tests)
            .zip(&writes)
            .map(|((e, t), w)| SlotWrite {
                share_number: e.share_number,
                tests: t,
                writes: w,
                new_length: e.new_length,
            })
            .collect();
        let secrets = SlotSecrets {
            write_enabler: WriteEnabler::new(arr(&op["we"])),
            renew: RenewSecret::new(arr(&op["renew"])),
            cancel: CancelSecret::new(arr(&op["cancel"])),
        };
        let outcome = self.server.slot_testv_and_readv_and_writev(
            si,
            &secrets,
            &slot_writes,
            &readv(&op["readv"]),
            LeaseUpdate::from(op["renew_leases"].as_bool().expect("renew_leases")),
            now,
        )?;
        Ok(json!({"passed": outcome.passed, "reads": reads_json(&outcome.reads)}))
    }

    fn apply(&mut self, index: u64, op: &Value, now: u64) -> Res<Value> {
        let name = op["op"].as_str().expect("op name");
        let si = op.get("si").map(|v| StorageIndex::new(arr(v)));
        let si = || si.expect("si");
        match name {
            "allocate" => self.allocate(index, op, si(), now),
            "write" => {
                let (si, n, secret) = self.upload(op);
                let done = self.server.write(
                    &si,
                    n,
                    &secret,
                    uint(op, "offset"),
                    &hex(&op["data"]),
                    now,
                )?;
                Ok(Value::from(done))
            }
            "close" => {
                let (si, n, secret) = self.upload(op);
                self.server.close(&si, n, &secret).map(|_| Value::Null)
            }
            "abort" => {
                let (si, n, secret) = self.upload(op);
                self.server.abort(&si, n, &secret).map(|()| Value::Null)
            }
            "add_lease" => self
                .server
                .add_lease(
                    &si(),
                    &RenewSecret::new(arr(&op["renew"])),
                    &CancelSecret::new(arr(&op["cancel"])),
                    1,
                    now,
                )
                .map(|_| Value::Null),
            "renew_lease" => self
                .server
                .renew_lease(&si(), &RenewSecret::new(arr(&op["renew"])), now)
                .map(|()| Value::Null),
            "slot_testv_and_readv_and_writev" => self.slot_write(op, &si(), now),
            "slot_readv" => {
                let reads = self.server.slot_readv(
                    &si(),
                    &share_set(&op["shnums"]),
                    &readv(&op["readv"]),
                )?;
                Ok(reads_json(&reads))
            }
            "get_buckets" => {
                let readers = self.server.get_buckets(&si())?;
                let map: Map<String, Value> = readers
                    .iter()
                    .map(|r| (r.share_number().0.to_string(), Value::from(r.length())))
                    .collect();
                Ok(Value::Object(map))
            }
            "read" => {
                // Both of Tahoe's front ends read through get_buckets.
                let n = shnum(&op["shnum"]);
                let readers = self.server.get_buckets(&si())?;
                let r = readers.iter().find(|r| r.share_number() == n);
                let r = r.ok_or(Error::NoSuchShare)?;
                let data =
                    self.server
                        .read_bucket_vec(r, uint(op, "offset"), uint(op, "length"))?;
                Ok(Value::from(to_hex(&data)))
            }
            "immutable_share_length" => self
                .server
                .immutable_share_length(&si(), shnum(&op["shnum"]))
                .map(Value::from),
            "mutable_share_length" => self
                .server
                .mutable_share_length(&si(), shnum(&op["shnum"]))
                .map(Value::from),
            "shares" => self.server.shares(&si()).map(|s| set_json(&s)),
            "advise_corrupt_share" => self
                .server
                .advise_corrupt_share(
                    &hex(&op["share_type"]),
                    &si(),
                    shnum(&op["shnum"]),
                    &hex(&op["reason"]),
                    now,
                )
                .map(|_| Value::Null),
            "version" => {
                let v = self.server.version()?;
                Ok(json!({
                    "maximum-mutable-share-size": v.maximum_mutable_share_size,
                    // The amount itself is the disk's, which changes under both runs.
                    "available-space-is-zero": v.available_space == Some(0),
                    "tolerates-immutable-read-overrun": v.tolerates_immutable_read_overrun,
                    "delete-mutable-shares-with-zero-length-writev":
                        v.delete_mutable_shares_with_zero_length_writev,
                    "fills-holes-with-zero-bytes": v.fills_holes_with_zero_bytes,
                    "prevents-read-past-end-of-share-data": v.prevents_read_past_end_of_share_data,
                }))
            }
            other => panic!("unknown op {other}"),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .expect("usage: server_script SCRIPT.json [STORAGE_DIR]");
    let script: Value =
        serde_json::from_str(&fs::read_to_string(path).expect("read script")).expect("json");
    let dir = args.get(2).map_or_else(
        || {
            script["storage_dir"]
                .as_str()
                .expect("storage_dir (or a STORAGE_DIR argument)")
                .to_string()
        },
        Clone::clone,
    );
    let nodeid = NodeId(arr(&script["nodeid"]));
    let start = uint(&script, "start");
    let none = Value::Null;
    let config = script.get("config").unwrap_or(&none);
    let config = Config::default()
        .with_readonly(config["readonly"].as_bool().unwrap_or(false))
        .with_reserved_space(config["reserved_space"].as_u64().unwrap_or(0));
    let store = FsStore::open(&dir, Durability::NoSync).expect("open the storage directory");
    let server = Server::new(store, nodeid, config, start).expect("start the server");
    let mut runner = Runner {
        server,
        allocs: BTreeMap::new(),
    };
    let ops = script["ops"].as_array().expect("ops");
    for (index, op) in (0u64..).zip(ops) {
        let now = uint(op, "now");
        // Tahoe's idle timers fire as its clock reaches `now`.
        let result = runner
            .server
            .expire_stale_uploads(now, |_, _| {})
            .and_then(|_| runner.apply(index, op, now));
        let line = match result {
            Ok(v) => json!({ "ok": v }),
            Err(e) => error_json(&e),
        };
        println!("{line}");
    }
}
