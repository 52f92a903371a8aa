//! Runs one differential script (docs/differential-scripts.md) with tahoe-shares.
//!
//! Usage: `script_driver SCRIPT.json OUT`
//!
//! * A container script (`"kind": "immutable"` or `"mutable"`): `OUT` is the share file to
//!   write (removed when a `cancel` deleted the share); prints the outcomes as one JSON list.
//! * A server script (`"kind": "server"`): `OUT` is the storage directory (created when
//!   missing); prints one JSON result per op, one per line.

use std::fs;

use serde_json::Value;
use tahoe_shares_drivers::{container, server};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, script, out] = &args[..] else {
        eprintln!("usage: script_driver SCRIPT.json OUT");
        std::process::exit(2);
    };
    let script: Value = serde_json::from_str(&fs::read_to_string(script).expect("read the script"))
        .expect("the script is not JSON");
    match script["kind"].as_str() {
        Some("immutable" | "mutable") => {
            let (outcomes, image) = container::run(&script);
            match image {
                Some(bytes) => fs::write(out, bytes).expect("write the share file"),
                None => {
                    let _ = fs::remove_file(out);
                }
            }
            println!("{}", serde_json::to_string(&outcomes).expect("json"));
        }
        Some("server") => {
            for result in server::run(&script, out.as_ref()) {
                println!("{result}");
            }
        }
        other => panic!("kind must be immutable, mutable or server, not {other:?}"),
    }
}
