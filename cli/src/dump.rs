//! `dump-share FILE`: what `tahoe debug dump-share` prints, line for line in its format
//! (the container, every lease, the parsed CHK / SDMF / MDMF layout, the verify-cap, and
//! with `--offsets` the section offsets), followed by what the container holds that
//! Tahoe does not show (schema version, header length field, absolute lease expiry
//! times, secrets' form, pending repairs).
//!
//! Deliberate differences from Tahoe: the write enabler and clear-text (v1) lease secrets
//! are secrets and are not shown (hashed v2 secrets are shown, as Tahoe shows them); a
//! URI extension block of 2000 bytes or more is refused as corrupt, as Tahoe's own
//! downloader and `catalog-shares` refuse it.

use core::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};
use tahoe_shares::container::MutableContainer;
use tahoe_shares::format::lease::Lease;
use tahoe_shares::format::mutable::{DATA_OFFSET, HEADER_SIZE};
use tahoe_shares::io::FileIo;
use tahoe_shares::types::base32;
use tahoe_shares::StorageIndex;

use crate::date::Utc;
use crate::layout::{Chk, Mutable, CHK_SECTIONS};
use crate::quote::{abspath, quote_output};
use crate::report::{OutputError, Report};
use crate::share::{Container, Failure, Layout, ShareFile};

/// `dump-share` options.
#[derive(Debug, Clone, Copy)]
pub struct DumpOptions {
    /// "Now", for the time left on each lease.
    pub now: f64,
    /// Show the section offsets (Tahoe's `--offsets`).
    pub offsets: bool,
    /// Leases only, not the CHK contents (Tahoe's `--leases-only`).
    pub leases_only: bool,
}

/// Tahoe's `format_expiration_time`: seconds left (truncated), with days or hours.
fn expires_in(expiry: u32, now: f64) -> String {
    let remains = f64::from(expiry) - now;
    let secs = remains.trunc() as i64;
    if remains > 86_400.0 {
        format!("{secs}s ({} days)", (remains / 86_400.0).floor() as i64)
    } else if remains > 3600.0 {
        format!("{secs}s ({} hours)", (remains / 3600.0).floor() as i64)
    } else {
        format!("{secs}s")
    }
}

/// The lines of the report, collected before printing (a share that fails half-way
/// prints nothing on stdout, only the reason on stderr).
#[derive(Default)]
struct Lines(Vec<String>);

impl Lines {
    fn push(&mut self, line: impl Into<String>) {
        self.0.push(line.into());
    }
    /// Tahoe's `"%20s: %s"`.
    fn field(&mut self, key: &str, value: impl core::fmt::Display) {
        self.0.push(format!("{key:>20}: {value}"));
    }
}

/// The storage index named by the share's directory, when it is one a verify-cap can
/// carry (16 bytes).
fn storage_index_of(path: &Path) -> Option<StorageIndex> {
    let name = path.parent()?.file_name()?;
    let si = StorageIndex::from_base32(name.as_encoded_bytes()).ok()?;
    (si.as_bytes().len() == 16).then_some(si)
}

/// A lease as JSON.
fn lease_json(slot: u32, lease: &Lease, now: f64) -> Value {
    let mut v = json!({
        "slot": slot,
        "owner": lease.owner_num,
        "expiration_time": lease.expiration_time,
        "expires_in": (f64::from(lease.expiration_time) - now).trunc() as i64,
        "secrets": if lease.secrets.is_hashed() { "hashed" } else { "cleartext" },
    });
    if lease.secrets.is_hashed() {
        v["renew_secret_hash"] = base32(lease.secrets.renew_bytes()).into();
        v["cancel_secret_hash"] = base32(lease.secrets.cancel_bytes()).into();
    }
    if let Some(n) = lease.nodeid {
        v["nodeid"] = n.to_string().into();
    }
    v
}

/// Our lease line (after Tahoe's part): absolute expiry and the secrets' form.
fn lease_line(slot: u32, lease: &Lease) -> String {
    let secrets = if lease.secrets.is_hashed() {
        "hashed"
    } else {
        "cleartext"
    };
    let mut line = format!(
        "  lease #{slot}: owner={}, expire_time={} ({}), secrets={secrets}",
        lease.owner_num,
        lease.expiration_time,
        Utc(lease.expiration_time)
    );
    if let Some(nodeid) = lease.nodeid {
        let _ = write!(line, ", nodeid={nodeid}");
    }
    line
}

/// The CHK part of an immutable dump (Tahoe's `dump_immutable_chk_share`).
fn chk_lines(
    out: &mut Lines,
    chk: &Chk,
    path: &Path,
    lease_offset: u64,
    opts: DumpOptions,
    json: &mut Value,
) -> Result<(), Failure> {
    out.field("version", chk.version);
    let readable = chk.readable();
    let show = |k: &str| -> Result<Option<String>, Failure> {
        match readable.get(k) {
            None => Ok(None),
            Some(Some(v)) => Ok(Some(v.clone())),
            Some(None) => Err(Failure::Corrupt(format!(
                "URI extension block: {k} is not UTF-8"
            ))),
        }
    };
    let keys1 = [
        "size",
        "num_segments",
        "segment_size",
        "needed_shares",
        "total_shares",
    ];
    let keys2 = ["codec_name", "codec_params", "tail_codec_params"];
    let keys3 = [
        "plaintext_hash",
        "plaintext_root_hash",
        "crypttext_hash",
        "crypttext_root_hash",
        "share_root_hash",
        "UEB_hash",
    ];
    let mut ueb = serde_json::Map::new();
    for (i, group) in [&keys1[..], &keys2[..], &keys3[..]].into_iter().enumerate() {
        if i > 0 {
            out.push("");
        }
        for k in group {
            if let Some(v) = show(k)? {
                out.field(if *k == "size" { "file_size" } else { k }, &v);
                ueb.insert((*k).to_owned(), v.into());
            }
        }
    }
    let leftover: Vec<&String> = readable
        .keys()
        .filter(|k| {
            ![&keys1[..], &keys2[..], &keys3[..]]
                .concat()
                .contains(&k.as_str())
        })
        .collect();
    if !leftover.is_empty() {
        out.push("");
        out.push("LEFTOVER:");
        for k in leftover {
            let v = show(k)?.unwrap_or_default();
            out.field(k, &v);
            ueb.insert(k.clone(), v.into());
        }
    }
    json["ueb"] = Value::Object(ueb);
    if let Some(si) = storage_index_of(path) {
        let (k, n, size) = chk.catalog_fields()?;
        let cap = format!(
            "URI:CHK-Verifier:{si}:{}:{k}:{n}:{size}",
            base32(&chk.ueb_hash)
        );
        out.field("verify-cap", &cap);
        json["verify_cap"] = cap.into();
    }
    let o = |i: usize| i128::from(chk.offsets[i]);
    out.push("");
    out.push(" Size of data within the share:");
    out.field("data", o(1) - o(0));
    out.field("uri-extension", chk.ueb_len);
    out.field("validation", o(5) - o(1));
    json["layout"] = json!({
        "type": "CHK",
        "version": chk.version,
        "block_size": chk.block_size,
        "share_data_size": chk.data_size,
        "offsets": CHK_SECTIONS.iter().zip(chk.offsets).map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect::<serde_json::Map<_, _>>(),
        "ueb_length": chk.ueb_declared,
        "ueb_bytes_read": chk.ueb_len,
    });
    if opts.offsets {
        out.push("");
        out.push(" Section Offsets:");
        out.field("share data", 12);
        for (i, k) in CHK_SECTIONS.iter().enumerate() {
            let name = if *k == "data" { "block data" } else { k };
            let at = 12 + o(i);
            out.push(format!("  {name:>20}: {at}   ({at:#x})"));
        }
        out.field("leases", lease_offset);
    }
    Ok(())
}

/// The SDMF / MDMF part of a mutable dump (Tahoe's `dump_SDMF_share` and
/// `dump_MDMF_share`).
fn mutable_lines(
    out: &mut Lines,
    m: &Mutable,
    sdmf: bool,
    path: &Path,
    extra_lease_offset: u64,
    opts: DumpOptions,
    json: &mut Value,
) {
    let name = if sdmf { "SDMF" } else { "MDMF" };
    out.push(format!(" {name} contents:"));
    out.push(format!("  seqnum: {}", m.seqnum));
    out.push(format!("  root_hash: {}", base32(&m.root_hash)));
    if let Some(iv) = &m.iv {
        out.push(format!("  IV: {}", base32(iv)));
    }
    out.push(format!("  required_shares: {}", m.k));
    out.push(format!("  total_shares: {}", m.n));
    out.push(format!("  segsize: {}", m.segsize));
    out.push(format!("  datalen: {}", m.datalen));
    let mut layout = json!({
        "type": name,
        "seqnum": m.seqnum,
        "root_hash": base32(&m.root_hash),
        "k": m.k,
        "n": m.n,
        "segsize": m.segsize,
        "datalen": m.datalen,
        "offsets": m.offsets.iter().map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect::<serde_json::Map<_, _>>(),
    });
    if let Some(iv) = &m.iv {
        layout["iv"] = base32(iv).into();
    }
    if let Some(p) = &m.pieces {
        out.push(format!("  enc_privkey: {} bytes", p.enc_privkey));
        out.push(format!("  pubkey: {} bytes", p.pubkey));
        out.push(format!("  signature: {} bytes", p.signature));
        // SDMF sorts the node numbers as text, MDMF as numbers.
        let mut ids: Vec<String> = p.share_hash_ids.iter().map(u16::to_string).collect();
        if sdmf {
            ids.sort();
        }
        out.push(format!("  share_hash_chain: {}", ids.join(",")));
        out.push(format!("  block_hash_tree: {} nodes", p.block_hash_nodes));
        layout["enc_privkey_bytes"] = p.enc_privkey.into();
        layout["pubkey_bytes"] = p.pubkey.into();
        layout["signature_bytes"] = p.signature.into();
        layout["share_hash_chain"] = p
            .share_hash_ids
            .iter()
            .copied()
            .collect::<Vec<u16>>()
            .into();
        layout["block_hash_tree_nodes"] = p.block_hash_nodes.into();
        if let Some(si) = storage_index_of(path) {
            let cap = format!(
                "URI:{}-Verifier:{si}:{}",
                if sdmf { "SSK" } else { "MDMF" },
                base32(&p.fingerprint)
            );
            out.push(format!("  verify-cap: {cap}"));
            json["verify_cap"] = cap.into();
        }
    }
    json["layout"] = layout;
    if opts.offsets {
        mutable_offsets(out, m, sdmf, extra_lease_offset);
    }
}

/// The `--offsets` table of a mutable dump.
fn mutable_offsets(out: &mut Lines, m: &Mutable, sdmf: bool, extra_lease_offset: u64) {
    out.push("");
    out.push(" Section Offsets:");
    let print = |out: &mut Lines, name: &str, value: u64, shift: usize| {
        let pad = " ".repeat(shift);
        if sdmf {
            out.push(format!("{pad}{name:>20}: {value}   ({value:#x})"));
        } else {
            // Tahoe's MDMF table uses "%.20s": cut at 20 characters, not padded.
            let name: String = name.chars().take(20).collect();
            out.push(format!("{pad}{name}: {value}   ({value:#x})"));
        }
    };
    let outer = usize::from(!sdmf) * 2;
    print(out, "first lease", HEADER_SIZE, outer);
    print(out, "share data", DATA_OFFSET, outer);
    print(out, "seqnum", DATA_OFFSET + 1, outer + 2);
    print(out, "root_hash", DATA_OFFSET + 9, outer + 2);
    // The offsets are kept in the order of the header, which is the order of the table.
    for (key, value) in &m.offsets {
        let name = match *key {
            "share_data" => "block data",
            "verification_key" => "pubkey",
            "verification_key_end" => "end of pubkey",
            "EOF" => "end of share data",
            k => k,
        };
        print(out, name, DATA_OFFSET.saturating_add(*value), outer + 2);
    }
    print(
        out,
        "extra leases",
        extra_lease_offset.saturating_add(4),
        outer,
    );
}

/// A dump shows every lease; past this many it says how many more there are.
const SHOWN_LEASES: usize = 100_000;

/// The leases of a container (up to [`SHOWN_LEASES`]) and how many there are.
fn read_leases(container: &mut Container) -> Result<(Vec<(u32, Lease)>, u64), Failure> {
    let mut leases = Vec::new();
    let mut total = 0u64;
    container.for_each_lease(|i, l| {
        total += 1;
        if leases.len() < SHOWN_LEASES {
            leases.push((i, l.clone()));
        }
        true
    })?;
    Ok((leases, total))
}

/// Tahoe's immutable part: the CHK contents, then the leases.
fn immutable_lines(
    out: &mut Lines,
    container: &Container,
    layout: Option<&Layout>,
    leases: &[(u32, Lease)],
    shown_path: &Path,
    opts: DumpOptions,
    json: &mut Value,
) -> Result<(), Failure> {
    if let (Container::Immutable { c, .. }, Some(Layout::Chk(chk))) = (container, layout) {
        chk_lines(out, chk, shown_path, c.layout().lease_offset, opts, json)?;
    }
    out.push("");
    if leases.is_empty() {
        out.push(" No leases.");
    }
    for (i, lease) in leases {
        out.push(format!(
            " Lease #{i}: owner={}, expire in {}",
            lease.owner_num,
            expires_in(lease.expiration_time, opts.now)
        ));
    }
    out.push("");
    Ok(())
}

/// Tahoe's mutable part: the slot, the leases, then the SDMF or MDMF contents.
// The pieces of one dump, each used once here; bundling them would only move the list.
#[allow(clippy::too_many_arguments)]
fn mutable_container_lines(
    out: &mut Lines,
    c: &MutableContainer<FileIo>,
    first_byte: Option<u8>,
    layout: Option<&Layout>,
    leases: &[(u32, Lease)],
    shown_path: &Path,
    opts: DumpOptions,
    json: &mut Value,
) {
    let share_type = match first_byte {
        Some(0) => "SDMF",
        Some(1) => "MDMF",
        _ => "unknown",
    };
    let elo = c.header().extra_lease_offset;
    out.push("");
    out.push("Mutable slot found:");
    out.push(format!(" share_type: {share_type}"));
    out.push(" write_enabler: (a secret: not shown)");
    out.push(format!(" WE for nodeid: {}", c.nodeid()));
    out.push(format!(" num_extra_leases: {}", c.num_extra_leases()));
    out.push(format!(
        " container_size: {}",
        i128::from(elo) - i128::from(DATA_OFFSET)
    ));
    out.push(format!(" data_length: {}", c.data_length()));
    if leases.is_empty() {
        out.push("No leases.");
    }
    for (i, lease) in leases {
        out.push("");
        out.push(format!(" Lease #{i}:"));
        out.push(format!("  ownerid: {}", lease.owner_num));
        out.push(format!(
            "  expires in {}",
            expires_in(lease.expiration_time, opts.now)
        ));
        if lease.secrets.is_hashed() {
            out.push(format!(
                "  renew_secret: hash:{}",
                base32(lease.secrets.renew_bytes())
            ));
            out.push(format!(
                "  cancel_secret: hash:{}",
                base32(lease.secrets.cancel_bytes())
            ));
        } else {
            out.push("  renew_secret: (a clear-text secret: not shown)");
            out.push("  cancel_secret: (a clear-text secret: not shown)");
        }
        if let Some(n) = lease.nodeid {
            out.push(format!("  secrets are for nodeid: {n}"));
        }
    }
    out.push("");
    match layout {
        Some(Layout::Sdmf(m)) => {
            mutable_lines(out, m, true, shown_path, elo, opts, json);
            out.push("");
        }
        Some(Layout::Mdmf(m)) => {
            mutable_lines(out, m, false, shown_path, elo, opts, json);
            out.push("");
        }
        Some(Layout::UnknownMutable(first)) => {
            json["layout"] = json!({"type": "UNKNOWN", "first_byte": first});
        }
        _ => {}
    }
}

/// The section after Tahoe's: what the container holds that Tahoe does not show.
fn container_section(
    container: &Container,
    leases: &[(u32, Lease)],
    total: u64,
    pending: Option<&String>,
    now: f64,
) -> (Lines, Value) {
    let mut extra = Lines::default();
    extra.push(" tahoe-shares container:");
    extra.push(format!("  container: {}", container.kind()));
    extra.push(format!("  container version: {}", container.version()));
    extra.push(format!("  data length: {}", container.data_length()));
    let mut cj = json!({
        "kind": container.kind(),
        "version": container.version(),
        "data_length": container.data_length(),
        "lease_count": total,
        "pending_repair": pending,
    });
    match container {
        Container::Immutable { c, legacy_length } => {
            extra.push(format!("  header data length field: {legacy_length}"));
            cj["header_data_length"] = (*legacy_length).into();
            cj["excess_bytes"] = c.layout().excess.into();
            if let Some((declared, held)) = container.truncation() {
                extra.push(format!(
                    "  truncated: the header says {declared} bytes of data, the file holds {held}"
                ));
            }
            cj["truncated"] = container.truncation().is_some().into();
        }
        Container::Mutable(c) => {
            let elo = c.header().extra_lease_offset;
            extra.push(format!("  write enabler nodeid: {}", c.nodeid()));
            extra.push(format!("  extra-lease offset: {elo}"));
            extra.push(format!("  extra lease slots: {}", c.num_extra_leases()));
            cj["nodeid"] = c.nodeid().to_string().into();
            cj["extra_lease_offset"] = elo.into();
            cj["extra_lease_slots"] = c.num_extra_leases().into();
            cj["container_size"] = json!(i128::from(elo) - i128::from(DATA_OFFSET));
        }
    }
    extra.push(format!("  lease count: {total}"));
    if let Some(p) = pending {
        extra.push(format!("  pending repair: {p}"));
    }
    for (i, lease) in leases {
        extra.push(lease_line(*i, lease));
    }
    if total > leases.len() as u64 {
        extra.push(format!(
            "  ({} more leases not shown)",
            total - leases.len() as u64
        ));
    }
    cj["leases"] = leases
        .iter()
        .map(|(i, l)| lease_json(*i, l, now))
        .collect::<Vec<_>>()
        .into();
    (extra, cj)
}

/// Builds the whole dump of an opened share.
fn dump_lines(
    share: &ShareFile,
    shown_path: &Path,
    opts: DumpOptions,
) -> Result<(Lines, Value, Option<Failure>), Failure> {
    let mut out = Lines::default();
    let mut json = json!({
        "record": "dump",
        "path": shown_path.to_string_lossy(),
        "file_size": share.len,
    });
    out.push(format!("share filename: {}", quote_output(shown_path)));
    let sniff = share.sniff()?;
    let mut container = share.container(sniff)?;
    let (leases, total) = read_leases(&mut container)?;
    // A layout that does not parse still leaves the container to show; the dump then
    // says why and the status is 1.
    let (layout, layout_error) =
        if opts.leases_only && matches!(container, Container::Immutable { .. }) {
            (None, None)
        } else {
            match container.layout(share, true) {
                Ok(l) => (Some(l), None),
                Err(e) => (None, Some(Failure::from(e))),
            }
        };
    let pending = container.pending_repair()?;
    match &container {
        Container::Immutable { .. } => immutable_lines(
            &mut out,
            &container,
            layout.as_ref(),
            &leases,
            shown_path,
            opts,
            &mut json,
        )?,
        Container::Mutable(c) => mutable_container_lines(
            &mut out,
            c,
            Container::mutable_type(share)?,
            layout.as_ref(),
            &leases,
            shown_path,
            opts,
            &mut json,
        ),
    }
    let (extra, cj) = container_section(&container, &leases, total, pending.as_ref(), opts.now);
    json["container"] = cj;
    out.0.extend(extra.0);
    if let Some(f) = &layout_error {
        out.push(format!(" layout: {}: {}", f.class(), f.reason()));
        json["layout_error"] = json!({"class": f.class(), "reason": f.reason()});
    }
    Ok((out, json, layout_error))
}

/// `dump-share FILE`. Returns the exit status: 0, 1 when the share is unreadable or
/// corrupt (the reason on stderr), 2 when `FILE` cannot be opened as a file.
///
/// # Errors
///
/// Standard output failed.
pub fn dump_share(path: &Path, opts: DumpOptions, report: &mut Report) -> Result<u8, OutputError> {
    let share = match ShareFile::open(path) {
        Ok(s) => s,
        Err(e) => {
            report.note(&format!("{}: {e}", path.display()));
            return Ok(2);
        }
    };
    let shown = abspath(path).unwrap_or_else(|_| path.to_path_buf());
    match dump_lines(&share, &shown, opts) {
        Ok((lines, json, layout_error)) => {
            for line in &lines.0 {
                report.line(line)?;
            }
            report.object(&json)?;
            Ok(match layout_error {
                Some(f) => {
                    report.note(&format!(
                        "{}: {}: share layout: {}",
                        f.class(),
                        path.display(),
                        f.reason()
                    ));
                    1
                }
                None => 0,
            })
        }
        Err(f) => {
            report.note(&format!(
                "{}: {}: {}",
                f.class(),
                path.display(),
                f.reason()
            ));
            report.object(&json!({"record": "error", "class": f.class(),
                "path": shown.to_string_lossy(), "reason": f.reason()}))?;
            Ok(1)
        }
    }
}
