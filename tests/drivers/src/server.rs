//! The server vocabulary: a script of storage-server ops (docs/differential-scripts.md,
//! "Server scripts"), replayed on `Server<FsStore>` over a storage directory, with one
//! normalised JSON result per op.
//!
//! Before each op, uploads idle for 30 minutes at the op's `now` are expired, as Tahoe's
//! `BucketWriter` timers fire when its clock advances (the `expire` op is that step alone,
//! and reports how many it expired). An `allocate` op without an `upload_secret` gets a
//! fresh one derived from its index in the script (Foolscap has none); `write`, `close` and
//! `abort` name the allocate op whose storage index and secret they use.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

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
use tahoe_shares_c::{ts_advise_outcome, ts_result};

use crate::{arr, hex, to_hex, uint};

type Res<T> = tahoe_shares::Result<T, io::Error>;

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

/// An error as the format names it (docs/differential-scripts.md, "Error kinds"), with the C
/// library's result code as `extra.code` (what Tahoe cannot tell apart, the C API can). The
/// kind follows from the code, as the C driver derives it, so that both drivers name every
/// error of the core alike.
fn error_json(e: &Error<io::Error>) -> Value {
    let code = ts_result::from(e);
    let mut v = match error_kind(code) {
        Some(kind) => json!({ "error": kind }),
        None => json!({ "error": format!("unexpected: result code {}: {e}", code as u32) }),
    };
    if code == ts_result::TS_BAD_WRITE_ENABLER {
        // Tahoe's message names the node that recorded the write enabler.
        v["detail"] = Value::from(e.to_string());
    }
    v["extra"] = json!({ "code": code as u32 });
    v
}

/// The format's name of the errors a result code stands for; `None` for codes no script
/// should meet.
fn error_kind(code: ts_result) -> Option<&'static str> {
    use ts_result as R;
    Some(match code {
        R::TS_UNKNOWN_IMMUTABLE_VERSION => "unknown_immutable_container",
        R::TS_UNKNOWN_MUTABLE_MAGIC => "unknown_mutable_container",
        R::TS_DATA_TOO_LARGE => "data_too_large",
        R::TS_CONFLICTING_WRITE => "conflicting_write",
        R::TS_BAD_WRITE_ENABLER => "bad_write_enabler",
        R::TS_NO_SPACE => "no_space",
        R::TS_NO_SUCH_LEASE => "no_such_lease",
        R::TS_NO_SUCH_SHARE => "no_such_share",
        // Foolscap has no upload secrets: a client without a live writer for the share
        // cannot name it. Both cases are "no such upload" there.
        R::TS_NO_SUCH_UPLOAD | R::TS_BAD_UPLOAD_SECRET => "no_such_upload",
        R::TS_UNSUPPORTED_OPERATOR => "unsupported_operator",
        R::TS_INVALID_ARGUMENT => "invalid_argument",
        R::TS_LIMIT_UPLOADS | R::TS_LIMIT_RANGES_PER_UPLOAD | R::TS_LIMIT_ADVISORY_SIZE => {
            "limit_reached"
        }
        R::TS_ALREADY_EXISTS => "already_exists",
        R::TS_CORRUPT => "corrupt",
        _ => return None,
    })
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

/// A storage index of 1 to 32 bytes (Tahoe's are 16; the C API takes any of these).
fn storage_index(v: &Value) -> StorageIndex {
    StorageIndex::from_slice(&hex(v)).expect("a storage index of 1 to 32 bytes")
}

fn upload_secret(v: &Value) -> UploadSecret {
    UploadSecret::new(&hex(v)).expect("a non-empty upload secret")
}

struct Runner<'a> {
    server: Option<Server<FsStore>>,
    dir: &'a Path,
    nodeid: NodeId,
    config: Config,
    /// Storage index and upload secret of each allocate op, by op index.
    allocs: BTreeMap<u64, (StorageIndex, UploadSecret)>,
    /// What the op's result carries beside `ok` (see `extra` in the format).
    extra: Option<Value>,
}

impl Runner<'_> {
    fn start(&mut self, now: u64) {
        // The old server releases the directory's lock before the new one takes it.
        drop(self.server.take());
        let store =
            FsStore::open(self.dir, Durability::NoSync).expect("open the storage directory");
        let server =
            Server::new(store, self.nodeid, self.config.clone(), now).expect("start the server");
        self.server = Some(server);
    }

    fn server(&mut self) -> &mut Server<FsStore> {
        self.server.as_mut().expect("started")
    }

    /// The storage index, share number and upload secret a `write`, `close` or `abort`
    /// uses: those of allocate op `alloc`, or the op's own `upload_secret`.
    fn upload(&self, op: &Value) -> (StorageIndex, ShareNumber, UploadSecret) {
        let k = uint(op, "alloc");
        let (si, secret) = self
            .allocs
            .get(&k)
            .unwrap_or_else(|| panic!("op {k} is not an earlier allocate op"));
        let secret = op
            .get("upload_secret")
            .map_or_else(|| secret.clone(), upload_secret);
        (*si, shnum(&op["shnum"]), secret)
    }

    fn allocate(&mut self, index: u64, op: &Value, si: StorageIndex, now: u64) -> Res<Value> {
        // Foolscap has no upload secret: every allocate is a new request with its own.
        let secret = op.get("upload_secret").map_or_else(
            || {
                UploadSecret::new(format!("server_script allocate {index}").as_bytes())
                    .expect("non-empty secret")
            },
            upload_secret,
        );
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
        let a = self.server().allocate_buckets(&req, now)?;
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
        let outcome = self.server().slot_testv_and_readv_and_writev(
            si,
            &secrets,
            &slot_writes,
            &readv(&op["readv"]),
            LeaseUpdate::from(op["renew_leases"].as_bool().expect("renew_leases")),
            now,
        )?;
        Ok(json!({"passed": outcome.passed, "reads": reads_json(&outcome.reads)}))
    }

    // One flat dispatch over the script's op names reads best as a single function.
    #[allow(clippy::too_many_lines)]
    fn apply(&mut self, index: u64, op: &Value, now: u64) -> Res<Value> {
        let name = op["op"].as_str().expect("op name");
        let si = op.get("si").map(storage_index);
        let si = || si.expect("si");
        match name {
            "allocate" => self.allocate(index, op, si(), now),
            "write" => {
                let (si, n, secret) = self.upload(op);
                let done = self.server().write(
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
                let size = self.server().close(&si, n, &secret)?;
                self.extra = Some(json!({ "size": size }));
                Ok(Value::Null)
            }
            "abort" => {
                let (si, n, secret) = self.upload(op);
                self.server().abort(&si, n, &secret).map(|()| Value::Null)
            }
            "add_lease" => {
                // Foolscap's remote_add_lease passes owner 1.
                let owner = op.get("owner").map_or(1, |_| uint(op, "owner"));
                let count = self.server().add_lease(
                    &si(),
                    &RenewSecret::new(arr(&op["renew"])),
                    &CancelSecret::new(arr(&op["cancel"])),
                    u32::try_from(owner).expect("owner"),
                    now,
                )?;
                self.extra = Some(json!({ "count": count }));
                Ok(Value::Null)
            }
            "cancel_lease" => {
                let freed = self
                    .server()
                    .cancel_lease(&si(), &CancelSecret::new(arr(&op["cancel"])))?;
                self.extra = Some(json!({ "freed": freed }));
                Ok(Value::Null)
            }
            "renew_lease" => self
                .server()
                .renew_lease(&si(), &RenewSecret::new(arr(&op["renew"])), now)
                .map(|()| Value::Null),
            "slot_testv_and_readv_and_writev" => self.slot_write(op, &si(), now),
            "slot_readv" => {
                let reads = self.server().slot_readv(
                    &si(),
                    &share_set(&op["shnums"]),
                    &readv(&op["readv"]),
                )?;
                Ok(reads_json(&reads))
            }
            "get_buckets" => {
                let readers = self.server().get_buckets(&si())?;
                let map: Map<String, Value> = readers
                    .iter()
                    .map(|r| (r.share_number().0.to_string(), Value::from(r.length())))
                    .collect();
                Ok(Value::Object(map))
            }
            "read" => {
                // Both of Tahoe's front ends read through get_buckets.
                let n = shnum(&op["shnum"]);
                let readers = self.server().get_buckets(&si())?;
                let r = readers.iter().find(|r| r.share_number() == n);
                let r = r.ok_or(Error::NoSuchShare)?;
                let data =
                    self.server()
                        .read_bucket_vec(r, uint(op, "offset"), uint(op, "length"))?;
                Ok(Value::from(to_hex(&data)))
            }
            "immutable_share_length" => self
                .server()
                .immutable_share_length(&si(), shnum(&op["shnum"]))
                .map(Value::from),
            "mutable_share_length" => self
                .server()
                .mutable_share_length(&si(), shnum(&op["shnum"]))
                .map(Value::from),
            "shares" => self.server().shares(&si()).map(|s| set_json(&s)),
            "advise_corrupt_share" => {
                let outcome = self.server().advise_corrupt_share(
                    &hex(&op["share_type"]),
                    &si(),
                    shnum(&op["shnum"]),
                    &hex(&op["reason"]),
                    now,
                )?;
                let outcome =
                    ts_advise_outcome::try_from(outcome).expect("an outcome C names") as u32;
                self.extra = Some(json!({ "outcome": outcome }));
                Ok(Value::Null)
            }
            "restart" => {
                self.start(now);
                Ok(Value::Null)
            }
            "version" => {
                let v = self.server().version()?;
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

/// Replays a server script over the storage directory `dir` (created when missing);
/// returns one normalised result per op (docs/differential-scripts.md, "Results").
///
/// # Panics
///
/// On a malformed script (an unknown op, a missing field, bad hex, an `alloc` that is not
/// an earlier allocate op), or when the directory cannot be opened.
#[must_use]
pub fn run(script: &Value, dir: &Path) -> Vec<Value> {
    assert_eq!(script["kind"], "server", "not a server script");
    let none = Value::Null;
    let config = script.get("config").unwrap_or(&none);
    let config = Config::default()
        .with_readonly(config["readonly"].as_bool().unwrap_or(false))
        .with_reserved_space(config["reserved_space"].as_u64().unwrap_or(0));
    let mut runner = Runner {
        server: None,
        dir,
        nodeid: NodeId(arr(&script["nodeid"])),
        config,
        allocs: BTreeMap::new(),
        extra: None,
    };
    runner.start(uint(script, "start"));
    let ops = script["ops"].as_array().expect("ops");
    let mut results = Vec::with_capacity(ops.len());
    for (index, op) in (0u64..).zip(ops) {
        let now = uint(op, "now");
        runner.extra = None;
        // Tahoe's idle timers fire as its clock reaches `now`; `expire` is that step alone.
        let result = runner
            .server()
            .expire_stale_uploads(now, |_, _| {})
            .and_then(|count| {
                if op["op"] == "expire" {
                    runner.extra = Some(json!({ "count": count }));
                    Ok(Value::Null)
                } else {
                    runner.apply(index, op, now)
                }
            });
        let mut line = match result {
            Ok(v) => json!({ "ok": v }),
            Err(e) => error_json(&e),
        };
        if let Some(extra) = runner.extra.take() {
            line["extra"] = extra;
        }
        results.push(line);
    }
    results
}
