//! The share layouts inside the containers: CHK (immutable) offsets and URI extension block,
//! SDMF and MDMF (mutable) headers. Read as Tahoe 1.20's `tahoe debug` reads them
//! (`allmydata/immutable/layout.py`, `allmydata/mutable/layout.py`, `allmydata/uri.py`),
//! so that a share Tahoe can describe is described the same, and one it cannot is refused.
//!
//! Every read is bounded: a length taken from the file is checked against what the file
//! holds before use, large pieces (public keys, hash trees) are hashed or counted in
//! chunks, never loaded whole, and nothing is allocated from a declared length.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use sha2::{Digest, Sha256};
use tahoe_shares::types::base32;

/// Why a layout could not be read.
#[derive(Debug)]
pub enum LayoutError {
    /// The file could not be read.
    Io(io::Error),
    /// The bytes are not a layout Tahoe can read; the text says what is wrong.
    Corrupt(String),
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Corrupt(why) => f.write_str(why),
        }
    }
}

impl From<io::Error> for LayoutError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Shorthand for a corruption with a message.
fn corrupt<T>(why: impl Into<String>) -> Result<T, LayoutError> {
    Err(LayoutError::Corrupt(why.into()))
}

/// A window of a file: `len` bytes starting at `base`. Reads past its end come back
/// short, as Python's `f.read` and Tahoe's `read_share_data` do.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    file: &'a File,
    base: u64,
    len: u64,
}

/// Bytes read at once when hashing or counting a large piece.
const CHUNK: u64 = 64 * 1024;

impl<'a> Window<'a> {
    /// `len` bytes of `file` from `base` (the caller has checked the file holds them, or
    /// reads past the file's end come back short too).
    #[must_use]
    pub fn new(file: &'a File, base: u64, len: u64) -> Self {
        Self { file, base, len }
    }

    /// Length of the window.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Clamps `[offset, offset + want)` to the window: the start and the length that a
    /// read there returns.
    fn clamp(&self, offset: u64, want: u64) -> (u64, u64) {
        if offset >= self.len {
            return (offset, 0);
        }
        (offset, want.min(self.len - offset))
    }

    /// Reads up to `max` bytes at `offset` (`max` is a small constant of the caller, never
    /// a length from the file).
    fn read_upto(&self, offset: u64, max: usize) -> Result<Vec<u8>, LayoutError> {
        let (start, n) = self.clamp(offset, max as u64);
        let mut buf = vec![0u8; n as usize];
        self.read_exact(start, &mut buf)?;
        Ok(buf)
    }

    /// Fills `buf` from window offset `offset` (inside the window).
    fn read_exact(&self, offset: u64, buf: &mut [u8]) -> Result<(), LayoutError> {
        let at = self
            .base
            .checked_add(offset)
            .ok_or_else(|| LayoutError::Corrupt("offset overflows".into()))?;
        match self.file.read_exact_at(buf, at) {
            Ok(()) => Ok(()),
            // The file shrank since it was measured (or the window reaches past its
            // end): a short read, as Python's would be. Reported as damage.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                corrupt("file ends before the bytes its layout locates")
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Visits the bytes of `[start, start + len)` (inside the window) in chunks.
    fn for_each_chunk(
        &self,
        start: u64,
        len: u64,
        mut f: impl FnMut(&[u8]),
    ) -> Result<(), LayoutError> {
        let mut buf = vec![0u8; len.min(CHUNK) as usize];
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(CHUNK) as usize;
            let chunk = buf.get_mut(..n).unwrap_or_default();
            self.read_exact(start + done, chunk)?;
            f(chunk);
            done += n as u64;
        }
        Ok(())
    }
}

/// A piece of a layout located by Python's slice rules over the first `limit` bytes of a
/// window: `data[a:b]` is empty when `b <= a`, and clamped to `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Start in the window.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
}

impl Span {
    /// `data[a:b]` of a buffer of `limit` bytes.
    fn slice(a: u64, b: u64, limit: u64) -> Self {
        let a = a.min(limit);
        let b = b.min(limit).max(a);
        Self {
            start: a,
            len: b - a,
        }
    }

    /// The span when it holds whole records of `size` bytes; otherwise the corruption
    /// `why` describes, given the span's length.
    fn of_records(self, size: u64, why: impl FnOnce(u64) -> String) -> Result<Self, LayoutError> {
        if self.len % size == 0 {
            Ok(self)
        } else {
            corrupt(why(self.len))
        }
    }

    /// What `f.seek(where); f.read(length)` returns on a window: a negative length reads
    /// to the end.
    fn read(window: &Window<'_>, at: u64, length: i128) -> Self {
        let want = u64::try_from(length).unwrap_or(u64::MAX);
        let (start, len) = window.clamp(at, want);
        Self { start, len }
    }
}

/// Tahoe's tagged SHA-256d (`hashutil.tagged_hash`): SHA-256 of SHA-256 of
/// `netstring(tag) + data`, fed in pieces.
struct TaggedHasher(Sha256);

impl TaggedHasher {
    fn new(tag: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(format!("{}:", tag.len()).as_bytes());
        h.update(tag);
        h.update(b",");
        Self(h)
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finish(self) -> [u8; 32] {
        Sha256::digest(self.0.finalize()).into()
    }
}

/// The tag of the URI extension block hash.
const UEB_TAG: &[u8] = b"allmydata_uri_extension_v1";
/// The tag of the mutable public key fingerprint.
const PUBKEY_TAG: &[u8] = b"allmydata_mutable_pubkey_to_fingerprint_v1";

/// A big-endian field reader over a buffer that is known to hold it.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], LayoutError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or_else(|| LayoutError::Corrupt("header truncated".into()))?;
        self.0 = rest;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8, LayoutError> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, LayoutError> {
        Ok(u32::from_be_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, LayoutError> {
        Ok(u64::from_be_bytes(self.take()?))
    }
}

// --- CHK ---------------------------------------------------------------------------------

/// Names of the six CHK section offsets, in the order of the header.
pub const CHK_SECTIONS: [&str; 6] = [
    "data",
    "plaintext_hash_tree",
    "crypttext_hash_tree",
    "block_hashes",
    "share_hashes",
    "uri_extension",
];

/// Tahoe refuses a URI extension block of this many bytes or more (it is about 419).
pub const UEB_LIMIT: u64 = 2000;

/// A value of the URI extension block: the integers Tahoe converts, or bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UebValue {
    /// `size`, `segment_size`, `num_segments`, `needed_shares`, `total_shares`.
    Int(i128),
    /// Everything else (hashes are kept raw; [`Chk::readable`] shows them in base32).
    Bytes(Vec<u8>),
}

/// A parsed CHK share layout (Tahoe's `ReadBucketProxy` and `unpack_extension`).
#[derive(Debug, Clone)]
pub struct Chk {
    /// Layout version: 1 (4-byte offsets) or 2 (8-byte offsets).
    pub version: u32,
    /// The block size field (unused by readers since Tahoe 1.3).
    pub block_size: u64,
    /// The share data size field (unused by readers since Tahoe 1.3).
    pub data_size: u64,
    /// Offsets of [`CHK_SECTIONS`] from the start of the share data.
    pub offsets: [u64; 6],
    /// The UEB length the share declares.
    pub ueb_declared: u64,
    /// Bytes of UEB actually read (fewer than declared when the share is truncated).
    pub ueb_len: u64,
    /// The URI extension block's entries.
    pub ueb: BTreeMap<String, UebValue>,
    /// Tahoe's UEB hash: the tagged hash of the bytes read.
    pub ueb_hash: [u8; 32],
}

/// The integer keys Tahoe converts with `int()`.
const UEB_INT_KEYS: [&str; 5] = [
    "size",
    "segment_size",
    "num_segments",
    "needed_shares",
    "total_shares",
];

/// Python's `int(bytes)` for the decimal forms Tahoe writes and accepts: surrounding
/// white space, a sign, digits with single underscores between them.
fn python_int(text: &[u8]) -> Option<i128> {
    let t = text.trim_ascii();
    let (neg, digits) = match t {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, t),
    };
    if digits.is_empty() || digits.first() == Some(&b'_') || digits.last() == Some(&b'_') {
        return None;
    }
    let mut value: i128 = 0;
    let mut prev_underscore = false;
    for &c in digits {
        if c == b'_' {
            if prev_underscore {
                return None;
            }
            prev_underscore = true;
            continue;
        }
        prev_underscore = false;
        if !c.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
    }
    Some(if neg { -value } else { value })
}

/// Parses a URI extension block: `key:length:value,` repeated.
fn unpack_ueb(mut data: &[u8]) -> Result<BTreeMap<String, UebValue>, LayoutError> {
    let mut out = BTreeMap::new();
    while !data.is_empty() {
        let Some(colon) = data.iter().position(|&c| c == b':') else {
            return corrupt("URI extension block: an entry without ':'");
        };
        let (key, rest) = data.split_at(colon);
        let Ok(key) = core::str::from_utf8(key) else {
            return corrupt("URI extension block: a key that is not UTF-8");
        };
        let rest = rest.get(1..).unwrap_or_default();
        let Some(colon) = rest.iter().position(|&c| c == b':') else {
            return corrupt(format!("URI extension block: entry {key:?} has no length"));
        };
        let (number, rest) = rest.split_at(colon);
        let rest = rest.get(1..).unwrap_or_default();
        let length = python_int(number)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                LayoutError::Corrupt(format!("URI extension block: entry {key:?}: bad length"))
            })?;
        let (Some(value), Some(b',')) = (rest.get(..length), rest.get(length)) else {
            return corrupt(format!(
                "URI extension block: entry {key:?} runs past the block"
            ));
        };
        out.insert(key.to_owned(), UebValue::Bytes(value.to_vec()));
        data = rest.get(length + 1..).unwrap_or_default();
    }
    for key in UEB_INT_KEYS {
        if let Some(UebValue::Bytes(v)) = out.get(key) {
            let n = python_int(v).ok_or_else(|| {
                LayoutError::Corrupt(format!("URI extension block: {key} is not a number"))
            })?;
            out.insert(key.to_owned(), UebValue::Int(n));
        }
    }
    Ok(out)
}

/// The fixed part of a CHK layout: the header fields and the declared UEB length.
#[derive(Debug, Clone, Copy)]
pub struct ChkHeader {
    /// Layout version: 1 (4-byte offsets) or 2 (8-byte offsets).
    pub version: u32,
    /// The block size field.
    pub block_size: u64,
    /// The share data size field.
    pub data_size: u64,
    /// Offsets of [`CHK_SECTIONS`] from the start of the share data.
    pub offsets: [u64; 6],
    /// Width of the offset fields and of the UEB length field: 4 or 8.
    pub field_size: u64,
    /// The UEB length the share declares.
    pub ueb_declared: u64,
}

impl ChkHeader {
    /// Where the layout ends in the share data: past the URI extension block it declares.
    #[must_use]
    pub fn end(&self) -> u64 {
        self.offsets[5]
            .saturating_add(self.field_size)
            .saturating_add(self.ueb_declared)
    }
}

/// Reads the header of a CHK layout and the UEB length it declares (Tahoe's
/// `_parse_offsets` and the first half of `_get_uri_extension`).
///
/// # Errors
///
/// [`LayoutError::Corrupt`] where Tahoe's reader raises; I/O errors.
pub fn parse_chk_header(data: &Window<'_>) -> Result<ChkHeader, LayoutError> {
    let head = data.read_upto(0, 0x44)?;
    let mut f = Fields(&head);
    let Ok(version) = f.u32() else {
        return corrupt("share data shorter than the 4 bytes of a CHK layout version");
    };
    let (needed, field_size) = match version {
        1 => (0x24, 4),
        2 => (0x44, 8),
        v => return corrupt(format!("unknown CHK layout version {v}")),
    };
    if head.len() < needed {
        return corrupt(format!(
            "CHK layout v{version} header truncated: {} of {needed} bytes",
            head.len()
        ));
    }
    let field = |f: &mut Fields<'_>| -> Result<u64, LayoutError> {
        if field_size == 4 {
            f.u32().map(u64::from)
        } else {
            f.u64()
        }
    };
    let block_size = field(&mut f)?;
    let data_size = field(&mut f)?;
    let mut offsets = [0u64; 6];
    for o in &mut offsets {
        *o = field(&mut f)?;
    }
    let ueb_at = offsets[5];
    let len_field = data.read_upto(ueb_at, field_size as usize)?;
    if len_field.len() as u64 != field_size {
        return corrupt(format!(
            "not enough bytes for the URI extension length: {} of {field_size} at {ueb_at}",
            len_field.len()
        ));
    }
    let ueb_declared = field(&mut Fields(&len_field))?;
    if ueb_declared >= UEB_LIMIT {
        return corrupt(format!(
            "URI extension block of {ueb_declared} bytes (2000 or more: corrupt)"
        ));
    }
    Ok(ChkHeader {
        version,
        block_size,
        data_size,
        offsets,
        field_size,
        ueb_declared,
    })
}

/// Reads a CHK layout from the share data of an immutable container. A URI extension
/// block cut off by the end of the data is parsed as far as it goes, as Tahoe does.
///
/// # Errors
///
/// [`LayoutError::Corrupt`] where Tahoe's reader raises; I/O errors.
pub fn parse_chk(data: &Window<'_>) -> Result<Chk, LayoutError> {
    let h = parse_chk_header(data)?;
    let Some(ueb_start) = h.offsets[5].checked_add(h.field_size) else {
        return corrupt("URI extension offset overflows");
    };
    let raw = data.read_upto(ueb_start, h.ueb_declared as usize)?;
    let ueb = unpack_ueb(&raw)?;
    let mut hasher = TaggedHasher::new(UEB_TAG);
    hasher.update(&raw);
    Ok(Chk {
        version: h.version,
        block_size: h.block_size,
        data_size: h.data_size,
        offsets: h.offsets,
        ueb_declared: h.ueb_declared,
        ueb_len: raw.len() as u64,
        ueb,
        ueb_hash: hasher.finish(),
    })
}

impl Chk {
    /// An integer entry of the UEB.
    #[must_use]
    pub fn int(&self, key: &str) -> Option<i128> {
        match self.ueb.get(key) {
            Some(UebValue::Int(n)) => Some(*n),
            _ => None,
        }
    }

    /// `needed_shares`, `total_shares` and `size`, which `catalog-shares` needs.
    ///
    /// # Errors
    ///
    /// [`LayoutError::Corrupt`] naming a missing entry.
    pub fn catalog_fields(&self) -> Result<(i128, i128, i128), LayoutError> {
        let get = |k: &str| {
            self.int(k)
                .ok_or_else(|| LayoutError::Corrupt(format!("URI extension block has no {k}")))
        };
        Ok((get("needed_shares")?, get("total_shares")?, get("size")?))
    }

    /// The entries as `tahoe debug dump-share` shows them (Tahoe's
    /// `unpack_extension_readable`): numbers in decimal, entries whose name contains
    /// "hash" in base32, other bytes as text, plus `UEB_hash`. `None` for a value that
    /// is not UTF-8 (Tahoe fails on it).
    #[must_use]
    pub fn readable(&self) -> BTreeMap<String, Option<String>> {
        let mut out: BTreeMap<String, Option<String>> = self
            .ueb
            .iter()
            .map(|(k, v)| {
                let shown = match v {
                    UebValue::Int(n) => Some(n.to_string()),
                    UebValue::Bytes(b) if k.contains("hash") => Some(base32(b)),
                    UebValue::Bytes(b) => String::from_utf8(b.clone()).ok(),
                };
                (k.clone(), shown)
            })
            .collect();
        out.insert("UEB_hash".into(), Some(base32(&self.ueb_hash)));
        out
    }
}

// --- SDMF --------------------------------------------------------------------------------

/// Size of the SDMF header with its offset table.
pub const SDMF_HEADER: u64 = 107;
/// Names of the SDMF offsets, in the order of the header.
pub const SDMF_SECTIONS: [&str; 6] = [
    "signature",
    "share_hash_chain",
    "block_hash_tree",
    "share_data",
    "enc_privkey",
    "EOF",
];

/// What the mutable layouts share: the signed header and the pieces after it.
#[derive(Debug, Clone)]
pub struct Mutable {
    /// Sequence number.
    pub seqnum: u64,
    /// Root hash of the share hash tree.
    pub root_hash: [u8; 32],
    /// SDMF only: the 16-byte IV (salt).
    pub iv: Option<[u8; 16]>,
    /// Shares needed.
    pub k: u8,
    /// Shares in total.
    pub n: u8,
    /// Segment size.
    pub segsize: u64,
    /// Length of the file's plaintext.
    pub datalen: u64,
    /// The offsets, named ([`SDMF_SECTIONS`] or [`MDMF_SECTIONS`]).
    pub offsets: Vec<(&'static str, u64)>,
    /// Pieces read for `dump-share`; `None` where only the header was read (`catalog`).
    pub pieces: Option<Pieces>,
}

/// The variable pieces of a mutable share, by size (and the hashes `dump-share` shows).
#[derive(Debug, Clone)]
pub struct Pieces {
    /// Bytes of the encrypted private key.
    pub enc_privkey: u64,
    /// Bytes of the public (verification) key.
    pub pubkey: u64,
    /// Tahoe's fingerprint of the public key (the verify-cap's second part).
    pub fingerprint: [u8; 32],
    /// Bytes of the signature.
    pub signature: u64,
    /// Node numbers of the share hash chain.
    pub share_hash_ids: BTreeSet<u16>,
    /// Nodes of the block hash tree.
    pub block_hash_nodes: u64,
}

/// Hashes a span as the public key fingerprint.
fn fingerprint(window: &Window<'_>, span: Span) -> Result<[u8; 32], LayoutError> {
    let mut h = TaggedHasher::new(PUBKEY_TAG);
    window.for_each_chunk(span.start, span.len, |c| h.update(c))?;
    Ok(h.finish())
}

/// Collects the node numbers of a share hash chain (34-byte records).
fn hash_chain_ids(window: &Window<'_>, span: Span) -> Result<BTreeSet<u16>, LayoutError> {
    let mut ids = BTreeSet::new();
    let mut carry: Vec<u8> = Vec::with_capacity(34);
    window.for_each_chunk(span.start, span.len, |chunk| {
        for &b in chunk {
            carry.push(b);
            if carry.len() == 34 {
                ids.insert(u16::from_be_bytes([carry[0], carry[1]]));
                carry.clear();
            }
        }
    })?;
    Ok(ids)
}

/// Reads an SDMF share as `catalog-shares` and `dump-share` do (Tahoe's `unpack_share`
/// over the first `min(data_length, 2000)` bytes, or up to the EOF offset).
///
/// `data` is the container's share data (its length is the data length, clamped to the
/// file).
///
/// # Errors
///
/// [`LayoutError::Corrupt`] where Tahoe's `unpack_share` raises; I/O errors.
pub fn parse_sdmf(data: &Window<'_>) -> Result<Mutable, LayoutError> {
    let head = data.read_upto(0, SDMF_HEADER as usize)?;
    if data.len().min(2000) < SDMF_HEADER {
        return corrupt(format!(
            "SDMF header truncated: {} of {SDMF_HEADER} bytes",
            data.len().min(2000)
        ));
    }
    let mut f = Fields(&head);
    let version = f.u8()?;
    if version != 0 {
        return corrupt(format!("SDMF share of version {version}"));
    }
    let seqnum = f.u64()?;
    let root_hash = f.take::<32>()?;
    let iv = f.take::<16>()?;
    let (k, n) = (f.u8()?, f.u8()?);
    let (segsize, datalen) = (f.u64()?, f.u64()?);
    let mut offsets = [0u64; 6];
    for (i, o) in offsets.iter_mut().enumerate() {
        *o = if i < 4 { u64::from(f.u32()?) } else { f.u64()? };
    }
    let [sig, shc, bht, sd, enc, eof] = offsets;
    let first = data.len().min(2000);
    let limit = if first < eof {
        let second = data.len().min(eof);
        if second < eof {
            return corrupt(format!(
                "SDMF share holds {second} bytes, its EOF offset says {eof}"
            ));
        }
        second
    } else {
        first
    };
    let span = |a: u64, b: u64| Span::slice(a, b, limit);
    let shc_span = span(shc, bht).of_records(34, |len| {
        format!("hash chain is {len} bytes, not multiple of 34")
    })?;
    let bht_span = span(bht, sd).of_records(32, |len| {
        format!("block_hash_tree is {len} bytes, not multiple of 32")
    })?;
    let pubkey = span(SDMF_HEADER, sig);
    let pieces = Pieces {
        enc_privkey: span(enc, eof).len,
        pubkey: pubkey.len,
        fingerprint: fingerprint(data, pubkey)?,
        signature: span(sig, shc).len,
        share_hash_ids: hash_chain_ids(data, shc_span)?,
        block_hash_nodes: bht_span.len / 32,
    };
    Ok(Mutable {
        seqnum,
        root_hash,
        iv: Some(iv),
        k,
        n,
        segsize,
        datalen,
        offsets: SDMF_SECTIONS.into_iter().zip(offsets).collect(),
        pieces: Some(pieces),
    })
}

// --- MDMF --------------------------------------------------------------------------------

/// Size of the MDMF signed header (without offsets).
pub const MDMF_SIGNED: u64 = 59;
/// Size of the MDMF header with its offset table.
pub const MDMF_HEADER: u64 = 123;
/// Names of the MDMF offsets, in the order of the header.
pub const MDMF_SECTIONS: [&str; 8] = [
    "enc_privkey",
    "share_hash_chain",
    "signature",
    "verification_key",
    "verification_key_end",
    "share_data",
    "block_hash_tree",
    "EOF",
];

/// Reads an MDMF header as Tahoe's `MDMFSlotReadProxy` does, and with `pieces` the
/// pieces `dump-share` measures.
///
/// `raw` is the file from the start of the share data to the end of the file: Tahoe's
/// debug commands read MDMF pieces from the file without stopping at the data length.
///
/// # Errors
///
/// [`LayoutError::Corrupt`] where Tahoe's proxy raises; I/O errors.
pub fn parse_mdmf(raw: &Window<'_>, pieces: bool) -> Result<Mutable, LayoutError> {
    let head = raw.read_upto(0, MDMF_HEADER as usize)?;
    if (head.len() as u64) < MDMF_SIGNED {
        return corrupt(format!(
            "MDMF header truncated: {} of {MDMF_SIGNED} bytes",
            head.len()
        ));
    }
    let mut f = Fields(&head);
    let version = f.u8()?;
    if version != 1 {
        return corrupt(format!("MDMF share of version {version}"));
    }
    let seqnum = f.u64()?;
    let root_hash = f.take::<32>()?;
    let (k, n) = (f.u8()?, f.u8()?);
    let (segsize, datalen) = (f.u64()?, f.u64()?);
    // Tahoe divides by both (the segment count, the block size).
    if segsize == 0 && datalen != 0 {
        return corrupt("MDMF segment size 0 with data");
    }
    if k == 0 {
        return corrupt("MDMF share with k = 0");
    }
    if (head.len() as u64) < MDMF_HEADER {
        return corrupt(format!(
            "MDMF offset table truncated: {} of {MDMF_HEADER} bytes",
            head.len()
        ));
    }
    let mut offsets = [0u64; 8];
    for o in &mut offsets {
        *o = f.u64()?;
    }
    let pieces = if pieces {
        let [enc, shc, sig, vk, vk_end, _sd, bht, eof] = offsets;
        // Tahoe seeks to 468 + offset: past 2^63 that fails in Python too.
        if offsets.iter().any(|&o| o > i64::MAX as u64 - 468) {
            return corrupt("MDMF offset past 2^63");
        }
        let read = |a: u64, b: u64| Span::read(raw, a, i128::from(b) - i128::from(a));
        let shc_span = read(shc, sig).of_records(34, |len| {
            format!("share hash chain is {len} bytes, not a multiple of 34")
        })?;
        let pubkey = read(vk, vk_end);
        Some(Pieces {
            enc_privkey: read(enc, shc).len,
            pubkey: pubkey.len,
            fingerprint: fingerprint(raw, pubkey)?,
            signature: read(sig, vk).len,
            share_hash_ids: hash_chain_ids(raw, shc_span)?,
            block_hash_nodes: read(bht, eof).len.div_ceil(32),
        })
    } else {
        None
    };
    Ok(Mutable {
        seqnum,
        root_hash,
        iv: None,
        k,
        n,
        segsize,
        datalen,
        offsets: MDMF_SECTIONS.into_iter().zip(offsets).collect(),
        pieces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_ints() {
        assert_eq!(python_int(b"12"), Some(12));
        assert_eq!(python_int(b" +1_000 "), Some(1000));
        assert_eq!(python_int(b"-3"), Some(-3));
        for bad in [
            &b""[..],
            b"1__0",
            b"_1",
            b"1_",
            b"x",
            b"+",
            b"99999999999999999999999999999999999999999",
        ] {
            assert_eq!(python_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ueb_entries() {
        let m = unpack_ueb(b"size:2:42,codec_name:3:crs,").unwrap();
        assert_eq!(m["size"], UebValue::Int(42));
        assert_eq!(m["codec_name"], UebValue::Bytes(b"crs".to_vec()));
        for bad in [
            &b"size"[..],
            b"size:",
            b"size:9:42,",
            b"size:2:42;",
            b"size:x:42,",
            b"size:2:4x,",
        ] {
            assert!(unpack_ueb(bad).is_err(), "{bad:?}");
        }
    }

    /// Every parser on every window of deterministic garbage, and on headers whose
    /// lengths and offsets are all extreme: errors, never a panic or a large allocation.
    #[test]
    fn garbage_is_refused_without_panicking() {
        use std::io::Write as _;
        let path = std::env::temp_dir().join(format!("tahoe-shares-layout-{}", std::process::id()));
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut bytes: Vec<u8> = (0..4096)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        for (first, fill) in [(0u8, 0xffu8), (1, 0xff), (0, 0x00), (1, 0x7f), (2, 0x00)] {
            let mut extreme = vec![fill; 300];
            extreme[0] = first;
            bytes.extend_from_slice(&extreme);
        }
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&bytes).unwrap();
        drop(f);
        let file = std::fs::File::open(&path).unwrap();
        let len = bytes.len() as u64;
        for base in (0..len).step_by(37) {
            for wlen in [
                0,
                1,
                58,
                59,
                106,
                107,
                122,
                123,
                500,
                u64::MAX / 2,
                u64::MAX,
            ] {
                let w = Window::new(&file, base, wlen.min(len - base));
                let _ = parse_chk(&w);
                let _ = parse_sdmf(&w);
                let _ = parse_mdmf(&w, true);
                // A window claiming more than the file holds reads short, not garbage.
                let w = Window::new(&file, base, wlen);
                let _ = parse_chk(&w);
                let _ = parse_sdmf(&w);
                let _ = parse_mdmf(&w, true);
            }
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn spans_follow_python_slices() {
        assert_eq!(Span::slice(5, 3, 100), Span { start: 5, len: 0 });
        assert_eq!(Span::slice(5, 300, 100), Span { start: 5, len: 95 });
        assert_eq!(Span::slice(500, 600, 100), Span { start: 100, len: 0 });
    }
}
