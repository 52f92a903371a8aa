//! Applies an op script (the JSON format of `tools/tahoe_ops.py`) to a share container
//! with tahoe-shares, writes the resulting file, and prints the outcome of each op. The
//! Python differential tests run the same script through Tahoe 1.20 and compare.
//!
//! Usage: `apply_script SCRIPT.json OUTFILE`

use std::fs;

use serde_json::Value;
use tahoe_shares::container::{Backdate, ImmutableContainer, MutableContainer, NewLease};
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::format::mutable::MutableVersion;
use tahoe_shares::io::VecIo;
use tahoe_shares::{CancelSecret, Error, NodeId, RenewSecret, WriteEnabler};

fn hex(v: &Value) -> Vec<u8> {
    let s = v.as_str().expect("hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn arr<const N: usize>(v: &Value) -> [u8; N] {
    hex(v).try_into().expect("secret length")
}

fn lease(op: &Value) -> NewLease {
    NewLease {
        owner_num: op["owner"].as_u64().expect("owner") as u32,
        renew: RenewSecret::new(arr(&op["renew"])),
        cancel: CancelSecret::new(arr(&op["cancel"])),
        expiration_time: op["expiry"].as_u64().expect("expiry") as u32,
        nodeid: op
            .get("nodeid")
            .map_or(NodeId::default(), |n| NodeId(arr(n))),
    }
}

fn outcome<E: core::fmt::Debug>(r: Result<(), Error<E>>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(Error::NoSuchLease { .. }) => "IndexError".into(),
        Err(Error::DataTooLarge { .. }) => "DataTooLargeError".into(),
        Err(Error::NoSpace) => "NoSpace".into(),
        Err(e) => format!("error: {e:?}"),
    }
}

// One flat dispatch over the script's op names reads best as a single function.
#[allow(clippy::too_many_lines)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let script: Value =
        serde_json::from_str(&fs::read_to_string(&args[1]).expect("read script")).expect("json");
    let out = &args[2];
    let schema = script["schema"].as_u64().expect("schema");
    let ops = script["ops"].as_array().expect("ops");
    let mut image: Option<Vec<u8>> = None;
    // Like Tahoe's BucketWriter, one immutable container object serves the whole script
    // (its lease offset stays at 12 + max_size even before the data is all written).
    let mut immutable: Option<ImmutableContainer<VecIo>> = None;
    let mut outcomes = Vec::new();
    let mutable = script["kind"] == "mutable";
    for op in ops {
        let name = op["op"].as_str().expect("op name");
        let Some(bytes) = image.take().or_else(|| (name == "create").then(Vec::new)) else {
            outcomes.push("skipped".to_string());
            continue;
        };
        let io = VecIo::from_vec(bytes);
        let (result, data) = if mutable {
            let version = if schema == 1 {
                MutableVersion::V1
            } else {
                MutableVersion::V2
            };
            let mut c = if name == "create" {
                MutableContainer::create(
                    io,
                    version,
                    NodeId(arr(&op["nodeid"])),
                    WriteEnabler::new(arr(&op["we"])),
                )
                .expect("create")
            } else {
                MutableContainer::open(io).expect("open")
            };
            let r = match name {
                "create" => Ok(false),
                "writev" => {
                    let datav: Vec<(u64, Vec<u8>)> = op["datav"]
                        .as_array()
                        .expect("datav")
                        .iter()
                        .map(|p| (p[0].as_u64().expect("offset"), hex(&p[1])))
                        .collect();
                    let refs: Vec<(u64, &[u8])> = datav.iter().map(|(o, d)| (*o, &d[..])).collect();
                    c.writev(&refs, op["new_length"].as_u64()).map(|()| false)
                }
                "add_lease" => c.add_lease(u64::MAX, &lease(op)).map(|()| false),
                "renew" => c
                    .renew_lease(
                        &RenewSecret::new(arr(&op["renew"])),
                        op["expiry"].as_u64().expect("expiry") as u32,
                        Backdate::Forbid,
                    )
                    .map(|()| false),
                "add_or_renew" => c.add_or_renew_lease(u64::MAX, &lease(op)).map(|()| false),
                "cancel" => c.cancel_lease(&CancelSecret::new(arr(&op["cancel"]))),
                other => panic!("unknown op {other}"),
            };
            (r, c.into_inner().data)
        } else {
            let version = if schema == 1 {
                ImmutableVersion::V1
            } else {
                ImmutableVersion::V2
            };
            if name == "create" {
                let m = op["max_size"].as_u64().expect("max_size");
                immutable = Some(ImmutableContainer::create(io, version, m).expect("create"));
            }
            let c = immutable.as_mut().expect("created");
            let r = match name {
                "create" => Ok(false),
                "write" => c
                    .write_share_data(op["offset"].as_u64().expect("offset"), &hex(&op["data"]))
                    .map(|()| false),
                "add_lease" => c.add_lease(&lease(op)).map(|()| false),
                "renew" => c
                    .renew_lease(
                        &RenewSecret::new(arr(&op["renew"])),
                        op["expiry"].as_u64().expect("expiry") as u32,
                        Backdate::Forbid,
                    )
                    .map(|()| false),
                "add_or_renew" => c.add_or_renew_lease(u64::MAX, &lease(op)).map(|()| false),
                "cancel" => c
                    .cancel_lease(&CancelSecret::new(arr(&op["cancel"])))
                    .map(|o| o.last_lease_removed),
                other => panic!("unknown op {other}"),
            };
            (r, c.io_mut().data.clone())
        };
        match result {
            Ok(true) => outcomes.push("deleted".into()),
            Ok(false) => {
                outcomes.push("ok".into());
                image = Some(data);
            }
            Err(e) => {
                outcomes.push(outcome::<_>(Err(e)));
                image = Some(data);
            }
        }
    }
    match image {
        Some(bytes) => fs::write(out, bytes).expect("write output"),
        None => {
            let _ = fs::remove_file(out);
        }
    }
    println!("{}", serde_json::to_string(&outcomes).expect("json"));
}
