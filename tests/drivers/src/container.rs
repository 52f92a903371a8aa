//! The container vocabulary: a script of ops on one share container
//! (docs/differential-scripts.md, "Container scripts"), replayed in memory.

use serde_json::Value;
use tahoe_shares::container::{
    Backdate, ContainerError, ImmutableContainer, MutableContainer, NewLease,
};
use tahoe_shares::format::immutable::ImmutableVersion;
use tahoe_shares::format::mutable::MutableVersion;
use tahoe_shares::io::VecIo;
use tahoe_shares::{CancelSecret, NodeId, RenewSecret, WriteEnabler};

use crate::{arr, hex, uint};

fn lease(op: &Value) -> NewLease {
    NewLease {
        owner_num: uint(op, "owner") as u32,
        renew: RenewSecret::new(arr(&op["renew"])),
        cancel: CancelSecret::new(arr(&op["cancel"])),
        expiration_time: uint(op, "expiry") as u32,
        nodeid: op
            .get("nodeid")
            .map_or(NodeId::default(), |n| NodeId(arr(n))),
    }
}

/// The secret and new expiry time of a `renew` op.
fn renewal(op: &Value) -> (RenewSecret, u32) {
    (
        RenewSecret::new(arr(&op["renew"])),
        uint(op, "expiry") as u32,
    )
}

/// The outcome name of an error: the name of the exception Tahoe raises in its place.
fn outcome<E: core::fmt::Debug>(e: &ContainerError<E>) -> String {
    match e {
        ContainerError::NoSuchLease { .. } => "IndexError".into(),
        ContainerError::DataTooLarge { .. } => "DataTooLargeError".into(),
        ContainerError::NoSpace => "NoSpace".into(),
        e => format!("error: {e:?}"),
    }
}

/// One op on a mutable container reopened from `io`, as Tahoe's server reopens the file
/// for each request. `Ok(true)`: the last lease was cancelled and the share deleted.
fn mutable_op(
    name: &str,
    op: &Value,
    mut c: MutableContainer<VecIo>,
) -> (Result<bool, String>, Vec<u8>) {
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
        "renew" => {
            let (secret, expiry) = renewal(op);
            c.renew_lease(&secret, expiry, Backdate::Forbid)
                .map(|()| false)
        }
        "add_or_renew" => c.add_or_renew_lease(u64::MAX, &lease(op)).map(|()| false),
        "cancel" => c.cancel_lease(&CancelSecret::new(arr(&op["cancel"]))),
        other => panic!("unknown mutable op {other}"),
    };
    (r.map_err(|e| outcome(&e)), c.into_inner().data)
}

/// One op on the immutable container that `create` made.
fn immutable_op(
    name: &str,
    op: &Value,
    c: &mut ImmutableContainer<VecIo>,
) -> (Result<bool, String>, Vec<u8>) {
    let r = match name {
        "create" => Ok(false),
        "write" => c
            .write_share_data(uint(op, "offset"), &hex(&op["data"]))
            .map(|()| false),
        "add_lease" => c.add_lease(&lease(op)).map(|()| false),
        "renew" => {
            let (secret, expiry) = renewal(op);
            c.renew_lease(&secret, expiry, Backdate::Forbid)
                .map(|()| false)
        }
        "add_or_renew" => c.add_or_renew_lease(u64::MAX, &lease(op)).map(|()| false),
        "cancel" => c
            .cancel_lease(&CancelSecret::new(arr(&op["cancel"])))
            .map(|o| o.last_lease_removed),
        other => panic!("unknown immutable op {other}"),
    };
    (r.map_err(|e| outcome(&e)), c.io_mut().data.clone())
}

/// Replays a container script; returns the outcome of each op and the container's bytes
/// (`None` when a `cancel` deleted the share).
///
/// # Panics
///
/// On a malformed script: an unknown kind or op, a missing field, bad hex, or a first op
/// that is not `create`.
#[must_use]
pub fn run(script: &Value) -> (Vec<String>, Option<Vec<u8>>) {
    let schema = uint(script, "schema");
    let mutable = match script["kind"].as_str() {
        Some("mutable") => true,
        Some("immutable") => false,
        other => panic!("not a container script: kind {other:?}"),
    };
    let ops = script["ops"].as_array().expect("ops");
    let mut image: Option<Vec<u8>> = None;
    // Like Tahoe's BucketWriter, one immutable container object serves the whole script
    // (its lease offset stays at 12 + max_size even before the data is all written).
    let mut immutable: Option<ImmutableContainer<VecIo>> = None;
    let mut outcomes = Vec::new();
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
            let c = if name == "create" {
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
            mutable_op(name, op, c)
        } else {
            let version = if schema == 1 {
                ImmutableVersion::V1
            } else {
                ImmutableVersion::V2
            };
            if name == "create" {
                let m = uint(op, "max_size");
                immutable = Some(ImmutableContainer::create(io, version, m).expect("create"));
            }
            immutable_op(name, op, immutable.as_mut().expect("created"))
        };
        match result {
            Ok(true) => outcomes.push("deleted".into()),
            Ok(false) => {
                outcomes.push("ok".into());
                image = Some(data);
            }
            Err(e) => {
                outcomes.push(e);
                image = Some(data);
            }
        }
    }
    (outcomes, image)
}
