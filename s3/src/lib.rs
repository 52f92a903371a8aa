//! A Tahoe-LAFS share store ([`ShareStore`]) over an S3-compatible object store.
//!
//! Shares keep Tahoe's names (`<prefix>/shares/<2-char prefix>/<storage index>/<shnum>`),
//! each one a small manifest object plus chunk objects beneath it, so that a lease change
//! rewrites one chunk and a mutable write what it touches, and every change becomes
//! visible at once through a conditional PUT of the manifest (`If-Match` on its `ETag`,
//! `If-None-Match: *` to create). `docs/format.md`, section "Object-store layout
//! (tahoe-shares-s3)", is the design: the objects, the commit points, what a crash leaves.
//!
//! [`S3Store::open`] probes whether the service honours conditional writes. Where it does
//! not (Garage), every operation that needs compare-and-swap fails with
//! [`S3ErrorKind::ConditionalWritesUnsupported`], unless [`Config::single_writer`] says
//! that this store is the bucket's only writer.

mod client;
mod error;
mod manifest;
mod share;

use core::fmt;
use core::hash::{BuildHasher, Hasher};
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tahoe_shares::store::{ShareStore, StoreError, StoreResult};
use tahoe_shares::types::{ShareNumber, ShareSet, StorageIndex};

pub use client::RequestStats;
pub use error::{S3Error, S3ErrorKind};
pub use share::S3Share;

use client::{Client, Cond, Entry};
use manifest::Manifest;

/// The default chunk size: 256 KiB.
pub const DEFAULT_CHUNK_SIZE: u32 = 256 * 1024;

/// A credential: never shown by `Debug` or `Display`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// How to reach the bucket and how to behave there.
#[derive(Debug, Clone)]
pub struct Config {
    /// The service's URL, e.g. `http://127.0.0.1:8333` (path-style addressing).
    pub endpoint: String,
    /// The signing region (`us-east-1` unless the service says otherwise).
    pub region: String,
    /// The bucket; it must exist.
    pub bucket: String,
    /// Keys start with `<prefix>/` (none when empty).
    pub prefix: String,
    /// The access key; `None` reads `AWS_ACCESS_KEY_ID`.
    pub access_key: Option<String>,
    /// The secret key; `None` reads `AWS_SECRET_ACCESS_KEY`.
    pub secret_key: Option<Secret>,
    /// The bytes this store may hold; [`ShareStore::available_space`] is this minus the
    /// size of every object under the prefix. `None`: unknown space.
    pub quota: Option<u64>,
    /// How long a measured total of held bytes is reused before listing again.
    pub space_cache: Duration,
    /// Whether this store is the bucket's only writer: then a service that ignores
    /// conditional writes is used with HEAD-then-PUT instead of refused (documented
    /// single-writer mode; where conditions work they are used anyway).
    pub single_writer: bool,
    /// Attempts of each request on transport faults and 5xx answers (at least 1).
    pub retry_attempts: u32,
    /// The first pause between attempts; each next one doubles.
    pub retry_base_delay: Duration,
    /// The timeout of one request.
    pub request_timeout: Duration,
    /// The chunk size of new shares (a share keeps the size it was created with).
    pub chunk_size: u32,
    /// How long a chunk object a commit stopped using stays for readers that opened the
    /// share before (a read that outlives it fails with [`S3ErrorKind::Changed`]); it is
    /// deleted by the first commit of the share after that.
    pub superseded_grace: Duration,
    /// Where this store keeps incoming shares: `None` for Tahoe's `shares/incoming/`, or
    /// `shares/incoming-<name>/` (lower-case letters, digits, `-`, `_`; at most 64). Give
    /// each server sharing a bucket its own name: a server discards the incoming shares it
    /// finds at start-up, and must not discard another's uploads in progress. Two uploads
    /// of one share under different names may then run at once; the first to publish wins
    /// and the other's publish is [`StoreError::AlreadyExists`].
    pub incoming_namespace: Option<String>,
}

impl Config {
    /// A configuration with the defaults: region `us-east-1`, no prefix, credentials from
    /// the environment, no quota, 4 attempts from 100 ms, 30 s per request.
    #[must_use]
    pub fn new(endpoint: &str, bucket: &str) -> Self {
        Self {
            endpoint: endpoint.to_string(),
            region: "us-east-1".to_string(),
            bucket: bucket.to_string(),
            prefix: String::new(),
            access_key: None,
            secret_key: None,
            quota: None,
            space_cache: Duration::from_secs(10),
            single_writer: false,
            retry_attempts: 4,
            retry_base_delay: Duration::from_millis(100),
            request_timeout: Duration::from_secs(30),
            chunk_size: DEFAULT_CHUNK_SIZE,
            superseded_grace: Duration::from_secs(60),
            incoming_namespace: None,
        }
    }

    /// Sets the credentials.
    #[must_use]
    pub fn with_credentials(mut self, access_key: &str, secret_key: &str) -> Self {
        self.access_key = Some(access_key.to_string());
        self.secret_key = Some(Secret::new(secret_key));
        self
    }
}

/// Whether the service honours conditional PUTs, as the start-up probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConditionalWrites {
    /// A second `If-None-Match: *` create and a stale `If-Match` both got 412.
    Honoured,
    /// The service accepted a write it should have refused (Garage does).
    Ignored,
}

/// What the store and its shares share.
pub(crate) struct Inner {
    pub client: Client,
    pub conditional: ConditionalWrites,
    pub single_writer: bool,
    pub grace: Duration,
}

impl Inner {
    /// Whether compare-and-swap commits may go ahead.
    pub(crate) fn cas_ok(&self) -> bool {
        self.conditional == ConditionalWrites::Honoured || self.single_writer
    }

    /// Whether PUTs carry their conditions: always where the service honours them, even
    /// in single-writer mode (HEAD-then-PUT is only the fallback where it does not).
    pub(crate) fn conditions(&self) -> bool {
        self.conditional == ConditionalWrites::Honoured
    }
}

/// The key of chunk `index`, version `version`, under a share's chunk prefix.
pub(crate) fn chunk_key(prefix: &str, index: u64, version: u64) -> String {
    format!("{prefix}{index:010}-{version:016x}")
}

/// Parses a chunk object's name (after its share's prefix): `(index, version)`.
fn parse_chunk_name(name: &str) -> Option<(u64, u64)> {
    let (i, v) = name.split_once('-')?;
    Some((i.parse().ok()?, u64::from_str_radix(v, 16).ok()?))
}

/// Seconds since the Unix epoch of an RFC 3339 UTC time (`2026-12-01T23:00:00.000Z`), as
/// S3 listings give `LastModified`; `None` for anything else.
fn parse_rfc3339_utc(t: &str) -> Option<u64> {
    let num = |a: usize, b: usize| t.get(a..b)?.parse::<i64>().ok();
    if t.get(4..5)? != "-" || t.get(10..11)? != "T" || !t.ends_with('Z') {
        return None;
    }
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// A random, non-zero 64-bit number (chunk versions, commit nonces, probe names).
pub(crate) fn new_nonce() -> u64 {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNT.fetch_add(1, Ordering::Relaxed));
        h.write_u32(std::process::id());
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(t.as_nanos());
        }
        let v = h.finish();
        if v != 0 {
            return v;
        }
    }
}

/// A share store in one bucket (under a prefix).
pub struct S3Store {
    inner: Arc<Inner>,
    root: String,
    /// `incoming/` or `incoming-<name>/`.
    incoming: String,
    chunk_size: u32,
    quota: Option<u64>,
    space_cache: Duration,
    held: Mutex<Option<(Instant, u64)>>,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("root", &self.root)
            .field("conditional", &self.inner.conditional)
            .field("single_writer", &self.inner.single_writer)
            .finish_non_exhaustive()
    }
}

type R<T> = StoreResult<T, S3Error>;

fn io<T>(r: Result<T, S3Error>) -> R<T> {
    r.map_err(StoreError::Io)
}

impl S3Store {
    /// Connects, and probes whether the service honours conditional writes (two creates
    /// of a scratch key with `If-None-Match: *`, one PUT with a stale `If-Match`; the
    /// scratch key is deleted).
    ///
    /// # Errors
    ///
    /// [`S3ErrorKind::Config`] without credentials; [`S3ErrorKind::Denied`] for refused
    /// ones; [`S3ErrorKind::Transport`] / [`S3ErrorKind::Server`] when the service is
    /// unreachable or failing after the retries.
    pub fn open(config: &Config) -> Result<Self, S3Error> {
        let client = Client::new(config)?;
        if config.chunk_size == 0 {
            return Err(S3Error::new(S3ErrorKind::Config, "open", None).detail("chunk size 0"));
        }
        let prefix = config.prefix.trim_matches('/');
        let root = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        let incoming = match &config.incoming_namespace {
            None => "incoming/".to_string(),
            Some(n)
                if !n.is_empty()
                    && n.len() <= 64
                    && n.bytes().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_'
                    }) =>
            {
                format!("incoming-{n}/")
            }
            Some(_) => {
                return Err(S3Error::new(S3ErrorKind::Config, "open", None)
                    .detail("incoming namespace: 1 to 64 of a-z 0-9 - _"));
            }
        };
        let probe = format!("{root}.tahoe-shares-probe/{:016x}", new_nonce());
        let first = client.put(&probe, b"probe", Cond::Create)?;
        let second = client.put(&probe, b"probe", Cond::Create)?;
        let stale = client.put(&probe, b"probe", Cond::Match("\"0-stale-etag\""))?;
        client.delete(&probe)?;
        let conditional = if first.is_some() && second.is_none() && stale.is_none() {
            ConditionalWrites::Honoured
        } else {
            ConditionalWrites::Ignored
        };
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                conditional,
                single_writer: config.single_writer,
                grace: config.superseded_grace,
            }),
            root,
            incoming,
            chunk_size: config.chunk_size,
            quota: config.quota,
            space_cache: config.space_cache,
            held: Mutex::new(None),
        })
    }

    /// Deletes the chunk objects that no manifest names (left by a writer that crashed, or
    /// lost a race, before its cleanup) and that are older than `min_age`, so that a
    /// writer still about to commit them is not robbed; returns how many it deleted.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] for a failed listing or deletion (what was deleted stays deleted).
    pub fn sweep(&mut self, min_age: Duration) -> R<u64> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let shares = self.shares();
        // (storage index, share number) -> old unnamed-so-far chunks: (index, version).
        let mut candidates: std::collections::BTreeMap<
            (StorageIndex, ShareNumber),
            Vec<(u64, u64)>,
        > = std::collections::BTreeMap::new();
        io(self.inner.client.list(&shares, false, &mut |e| {
            let Entry::Key(k, _, modified) = e else {
                return true;
            };
            let old = parse_rfc3339_utc(modified)
                .is_some_and(|t| now.saturating_sub(t) >= min_age.as_secs());
            let mut parts = k.strip_prefix(&shares).unwrap_or("").split('/');
            if let (Some(p), Some(si), Some(dir), Some(name), None) = (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) {
                let parsed = (
                    StorageIndex::from_base32(si.as_bytes()),
                    dir.strip_suffix(".d")
                        .and_then(|n| ShareNumber::from_file_name(n.as_bytes())),
                    parse_chunk_name(name),
                );
                if let (2, true, (Ok(si), Some(n), Some(chunk))) = (p.len(), old, parsed) {
                    candidates.entry((si, n)).or_default().push(chunk);
                }
            }
            true
        }))?;
        // Every server's incoming shares (`incoming/`, `incoming-<name>/`) name chunks too.
        let mut roots = Vec::new();
        self.visit_dirs(&shares, &mut |d| {
            if d == "incoming" || d.starts_with("incoming-") {
                roots.push(format!("{shares}{d}/"));
            }
            true
        })?;
        let mut deleted = 0;
        for ((si, n), chunks) in candidates {
            let mut manifests = Vec::new();
            manifests.extend(self.load_lenient(&self.share_key(&si, n))?);
            let b = si.to_base32();
            let name = b.as_str();
            for root in &roots {
                let key = format!("{root}{}/{name}/{n}", name.get(..2).unwrap_or(name));
                manifests.extend(self.load_lenient(&key)?);
            }
            let prefix = self.chunk_prefix(&si, n);
            for (i, v) in chunks {
                let named = manifests.iter().any(|m| m.names(i, v));
                if !named {
                    io(self.inner.client.delete(&chunk_key(&prefix, i, v)))?;
                    deleted += 1;
                }
            }
        }
        self.held.lock().map(|mut h| *h = None).ok();
        Ok(deleted)
    }

    /// What the start-up probe found.
    #[must_use]
    pub fn conditional_writes(&self) -> ConditionalWrites {
        self.inner.conditional
    }

    /// The requests made so far by this store and its shares.
    #[must_use]
    pub fn stats(&self) -> RequestStats {
        self.inner.client.stats()
    }

    fn shares(&self) -> String {
        format!("{}shares/", self.root)
    }

    fn si_dir(&self, si: &StorageIndex) -> String {
        let b = si.to_base32();
        let name = b.as_str();
        format!("{}{}/{name}/", self.shares(), name.get(..2).unwrap_or(name))
    }

    fn incoming_dir(&self, si: &StorageIndex) -> String {
        let b = si.to_base32();
        let name = b.as_str();
        format!(
            "{}{}{}/{name}/",
            self.shares(),
            self.incoming,
            name.get(..2).unwrap_or(name)
        )
    }

    fn share_key(&self, si: &StorageIndex, n: ShareNumber) -> String {
        format!("{}{n}", self.si_dir(si))
    }

    fn chunk_prefix(&self, si: &StorageIndex, n: ShareNumber) -> String {
        format!("{}{n}.d/", self.si_dir(si))
    }

    fn incoming_key(&self, si: &StorageIndex, n: ShareNumber) -> String {
        format!("{}{n}", self.incoming_dir(si))
    }

    fn record_key(&self, si: &StorageIndex, n: ShareNumber) -> String {
        format!("{}{n}.upload", self.incoming_dir(si))
    }

    fn need_cas(&self, op: &'static str, key: &str) -> R<()> {
        if self.inner.cas_ok() {
            Ok(())
        } else {
            Err(StoreError::Io(S3Error::new(
                S3ErrorKind::ConditionalWritesUnsupported,
                op,
                Some(key),
            )))
        }
    }

    /// The condition of a create at `key`: `If-None-Match: *`, or (single-writer mode over
    /// a service that ignores conditions) a HEAD first, an existing object being
    /// [`StoreError::AlreadyExists`], and a plain PUT.
    fn create_cond(&self, key: &str) -> R<Cond<'static>> {
        if self.inner.conditions() {
            return Ok(Cond::Create);
        }
        if io(self.inner.client.head(key))?.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        Ok(Cond::None)
    }

    /// After a create (`If-None-Match: *`) got 412: the object's `ETag` if it holds
    /// exactly `body` (a retried PUT whose first attempt had landed: ours), else
    /// [`StoreError::AlreadyExists`].
    fn ours_after_412(&self, key: &str, body: &[u8]) -> R<String> {
        match io(self.inner.client.get(key))? {
            Some(r) if r.body == body => Ok(r.etag.unwrap_or_default()),
            _ => Err(StoreError::AlreadyExists),
        }
    }

    /// The manifest at `key` and its `ETag`.
    fn load(&self, key: &str) -> R<Option<(Manifest, String, Vec<u8>)>> {
        let Some(r) = io(self.inner.client.get(key))? else {
            return Ok(None);
        };
        let m = io(Manifest::decode(&r.body, key))?;
        Ok(Some((m, r.etag.unwrap_or_default(), r.body)))
    }

    fn open_at(&self, key: String, chunks: String) -> R<Option<S3Share>> {
        Ok(self
            .load(&key)?
            .map(|(m, etag, _)| S3Share::new(self.inner.clone(), key, chunks, etag, m)))
    }

    /// The share numbers named by the keys directly under `dir`.
    fn shnums(&self, dir: &str) -> R<ShareSet> {
        let mut set = ShareSet::new();
        io(self.inner.client.list(dir, true, &mut |e| {
            if let Entry::Key(k, _, _) = e {
                if let Some(n) = k
                    .strip_prefix(dir)
                    .and_then(|name| ShareNumber::from_file_name(name.as_bytes()))
                {
                    set.insert(n);
                }
            }
            true
        }))?;
        Ok(set)
    }

    /// Deletes the chunk objects of share `n` that `doomed` names and `keep` does not.
    /// Chunks no manifest names (an interrupted writer's) are left to [`S3Store::sweep`],
    /// which knows their age: another writer may still be about to name them.
    fn delete_named(
        &self,
        si: &StorageIndex,
        n: ShareNumber,
        doomed: &Manifest,
        keep: Option<&Manifest>,
    ) -> R<()> {
        let prefix = self.chunk_prefix(si, n);
        for (i, v) in doomed.named() {
            if !keep.is_some_and(|m| m.names(i, v)) {
                io(self.inner.client.delete(&chunk_key(&prefix, i, v)))?;
            }
        }
        Ok(())
    }

    /// The manifest at `key`, `None` when absent or undecodable (cleanup goes on).
    fn load_lenient(&self, key: &str) -> R<Option<Manifest>> {
        match self.load(key) {
            Ok(m) => Ok(m.map(|(m, _, _)| m)),
            Err(StoreError::Io(e)) if e.kind() == S3ErrorKind::Corrupt => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn visit_dirs(&self, dir: &str, f: &mut dyn FnMut(&str) -> bool) -> R<()> {
        let mut names = Vec::new();
        io(self.inner.client.list(dir, true, &mut |e| {
            if let Entry::Prefix(p) = e {
                if let Some(name) = p.strip_prefix(dir).and_then(|n| n.strip_suffix('/')) {
                    names.push(name.to_string());
                }
            }
            true
        }))?;
        names.sort();
        for n in names {
            if !f(&n) {
                break;
            }
        }
        Ok(())
    }
}

impl ShareStore for S3Store {
    type Error = S3Error;
    type Io = S3Share;

    fn open(&mut self, si: &StorageIndex, shnum: ShareNumber) -> R<Option<S3Share>> {
        self.open_at(self.share_key(si, shnum), self.chunk_prefix(si, shnum))
    }

    fn list(&mut self, si: &StorageIndex) -> R<ShareSet> {
        self.shnums(&self.si_dir(si))
    }

    /// Claims the incoming manifest with `If-None-Match: *` (the commit point), after
    /// checking that no published share exists.
    fn create_incoming(&mut self, si: &StorageIndex, shnum: ShareNumber) -> R<S3Share> {
        let key = self.incoming_key(si, shnum);
        self.need_cas("create_incoming", &key)?;
        if io(self.inner.client.head(&self.share_key(si, shnum)))?.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        let mut m = Manifest::empty(self.chunk_size);
        // A nonce of its own, so that a retried create can tell its own object.
        m.nonce = new_nonce();
        let body = m.encode();
        let cond = self.create_cond(&key)?;
        let etag = match io(self.inner.client.put(&key, &body, cond))? {
            Some(etag) => etag,
            None => self.ours_after_412(&key, &body)?,
        };
        Ok(S3Share::new(
            self.inner.clone(),
            key,
            self.chunk_prefix(si, shnum),
            etag,
            m,
        ))
    }

    fn open_incoming(&mut self, si: &StorageIndex, shnum: ShareNumber) -> R<Option<S3Share>> {
        self.open_at(self.incoming_key(si, shnum), self.chunk_prefix(si, shnum))
    }

    fn list_incoming(&mut self, si: &StorageIndex) -> R<ShareSet> {
        self.shnums(&self.incoming_dir(si))
    }

    /// Copies the incoming manifest to the published key with `If-None-Match: *`: the
    /// commit point (the chunks stay where they are). Then deletes the incoming manifest
    /// and the upload record; a crash before that leaves them as leftovers that
    /// [`ShareStore::for_each_incoming`] lists and `abort` removes without touching the
    /// published share's chunks.
    fn publish(&mut self, si: &StorageIndex, shnum: ShareNumber) -> R<()> {
        let ikey = self.incoming_key(si, shnum);
        let pkey = self.share_key(si, shnum);
        self.need_cas("publish", &pkey)?;
        let Some((_, _, body)) = self.load(&ikey)? else {
            return Err(StoreError::NoSuchShare);
        };
        let cond = self.create_cond(&pkey)?;
        if io(self.inner.client.put(&pkey, &body, cond))?.is_none() {
            self.ours_after_412(&pkey, &body)?;
        }
        io(self.inner.client.delete(&ikey))?;
        io(self.inner.client.delete(&self.record_key(si, shnum)))?;
        self.held.lock().map(|mut h| *h = None).ok();
        Ok(())
    }

    /// Deletes the incoming manifest (the commit point), the upload record, then the chunk
    /// objects the incoming manifest named that a published manifest does not.
    fn abort(&mut self, si: &StorageIndex, shnum: ShareNumber) -> R<()> {
        let ikey = self.incoming_key(si, shnum);
        let had = io(self.inner.client.head(&ikey))?.is_some();
        let incoming = self.load_lenient(&ikey)?;
        io(self.inner.client.delete(&ikey))?;
        io(self.inner.client.delete(&self.record_key(si, shnum)))?;
        if let Some(m) = incoming {
            let published = self.load_lenient(&self.share_key(si, shnum))?;
            self.delete_named(si, shnum, &m, published.as_ref())?;
        }
        self.held.lock().map(|mut h| *h = None).ok();
        if had {
            Ok(())
        } else {
            Err(StoreError::NoSuchShare)
        }
    }

    /// Deletes the published manifest (the commit point), then the chunk objects it named
    /// that an incoming manifest does not.
    fn remove(&mut self, si: &StorageIndex, shnum: ShareNumber) -> R<()> {
        let pkey = self.share_key(si, shnum);
        if io(self.inner.client.head(&pkey))?.is_none() {
            return Err(StoreError::NoSuchShare);
        }
        let published = self.load_lenient(&pkey)?;
        io(self.inner.client.delete(&pkey))?;
        if let Some(m) = published {
            let incoming = self.load_lenient(&self.incoming_key(si, shnum))?;
            self.delete_named(si, shnum, &m, incoming.as_ref())?;
        }
        self.held.lock().map(|mut h| *h = None).ok();
        Ok(())
    }

    fn put_upload_record(&mut self, si: &StorageIndex, shnum: ShareNumber, record: &[u8]) -> R<()> {
        if io(self.inner.client.head(&self.incoming_key(si, shnum)))?.is_none() {
            return Err(StoreError::NoSuchShare);
        }
        io(self
            .inner
            .client
            .put(&self.record_key(si, shnum), record, Cond::None))?;
        Ok(())
    }

    fn get_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        buf: &mut [u8],
    ) -> R<Option<usize>> {
        let Some(r) = io(self.inner.client.get(&self.record_key(si, shnum)))? else {
            return Ok(None);
        };
        let dst = buf
            .get_mut(..r.body.len())
            .ok_or(StoreError::BufferTooSmall {
                needed: r.body.len(),
            })?;
        dst.copy_from_slice(&r.body);
        Ok(Some(r.body.len()))
    }

    /// The quota minus the bytes of every object under the prefix (listed, and reused
    /// for [`Config::space_cache`]); `None` without a quota.
    fn available_space(&mut self) -> R<Option<u64>> {
        let Some(quota) = self.quota else {
            return Ok(None);
        };
        let cached = self
            .held
            .lock()
            .ok()
            .and_then(|h| *h)
            .filter(|(at, _)| at.elapsed() < self.space_cache)
            .map(|(_, n)| n);
        let held = if let Some(n) = cached {
            n
        } else {
            let mut total = 0u64;
            io(self.inner.client.list(&self.root, false, &mut |e| {
                if let Entry::Key(_, size, _) = e {
                    total = total.saturating_add(size);
                }
                true
            }))?;
            if let Ok(mut h) = self.held.lock() {
                *h = Some((Instant::now(), total));
            }
            total
        };
        Ok(Some(quota.saturating_sub(held)))
    }

    fn write_advisory(&mut self, name: &str, body: &[u8]) -> R<()> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(StoreError::InvalidArgument("advisory name"));
        }
        let key = format!("{}corruption-advisories/{name}", self.root);
        self.need_cas("write_advisory", &key)?;
        let cond = self.create_cond(&key)?;
        // Strict: two identical advisories of one name are still two (a retried create
        // that had landed reports AlreadyExists, and the server picks the next name).
        io(self.inner.client.put(&key, body, cond))?.ok_or(StoreError::AlreadyExists)?;
        Ok(())
    }

    fn for_each_storage_index(&mut self, f: &mut dyn FnMut(StorageIndex) -> bool) -> R<()> {
        let shares = self.shares();
        let mut prefixes = Vec::new();
        self.visit_dirs(&shares, &mut |p| {
            if p.len() == 2 {
                prefixes.push(p.to_string());
            }
            true
        })?;
        let mut go_on = true;
        for p in prefixes {
            let dir = format!("{shares}{p}/");
            let mut sis = Vec::new();
            self.visit_dirs(&dir, &mut |name| {
                if let Ok(si) = StorageIndex::from_base32(name.as_bytes()) {
                    sis.push(si);
                }
                true
            })?;
            for si in sis {
                if !self.list(&si)?.is_empty() && !f(si) {
                    go_on = false;
                    break;
                }
            }
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    fn for_each_incoming(&mut self, f: &mut dyn FnMut(StorageIndex, ShareNumber) -> bool) -> R<()> {
        let dir = format!("{}{}", self.shares(), self.incoming);
        io(self.inner.client.list(&dir, false, &mut |e| {
            if let Entry::Key(k, _, _) = e {
                let mut parts = k.strip_prefix(&dir).unwrap_or("").split('/');
                if let (Some(_), Some(si), Some(n), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                {
                    if let (Ok(si), Some(n)) = (
                        StorageIndex::from_base32(si.as_bytes()),
                        ShareNumber::from_file_name(n.as_bytes()),
                    ) {
                        return f(si, n);
                    }
                }
            }
            true
        }))
    }

    fn is_no_space(err: &S3Error) -> bool {
        err.kind() == S3ErrorKind::NoSpace
    }
}

/// Runs `call` (a server call over an [`S3Store`]) again while it fails with
/// [`S3ErrorKind::Conflict`] (another server's commit won the compare-and-swap) or
/// [`S3ErrorKind::Changed`] (a chunk it was reading is gone), at most `attempts` times in
/// all; then returns the last result, the typed error included.
///
/// Re-running is safe because each run re-reads the share and re-evaluates its tests
/// against the state that won (docs/format.md §9.6).
pub fn retry_conflicts<T>(
    attempts: u32,
    mut call: impl FnMut() -> Result<T, tahoe_shares::Error<S3Error>>,
) -> Result<T, tahoe_shares::Error<S3Error>> {
    let mut left = attempts.max(1);
    loop {
        let r = call();
        left -= 1;
        match &r {
            Err(tahoe_shares::Error::Io(e))
                if matches!(e.kind(), S3ErrorKind::Conflict | S3ErrorKind::Changed) && left > 0 => {
            }
            _ => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339_utc;

    #[test]
    fn listing_times_parse_to_unix_seconds() {
        assert_eq!(parse_rfc3339_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_utc("2000-03-01T00:00:00.000Z"),
            Some(951_868_800)
        );
        assert_eq!(
            parse_rfc3339_utc("2026-12-01T23:00:05.123Z"),
            Some(1_796_166_005)
        );
        assert_eq!(parse_rfc3339_utc("2026-12-01 23:00:05"), None);
        assert_eq!(parse_rfc3339_utc(""), None);
    }
}
