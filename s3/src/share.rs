//! One share's device over its manifest and chunk objects (docs/format.md, "Object-store
//! layout"): reads fetch chunks on demand, writes change chunks in memory (spilling them to
//! fresh, unreferenced chunk objects past a bound), and `sync` is the commit: the fresh
//! chunks go up, then one conditional PUT of the manifest makes the new state visible.

use std::collections::BTreeMap;
use std::sync::Arc;

use tahoe_shares::io::{ErrorType, ShareIo};

use crate::client::Cond;
use crate::error::{S3Error, S3ErrorKind};
use crate::manifest::{Manifest, Superseded, MAX_CHUNKS, MAX_SUPERSEDED};
use crate::{new_nonce, Inner};

/// Changed chunks held in memory before the oldest is spilled to a chunk object: with
/// 256 KiB chunks, 2 MiB a handle, whatever the share's size.
const MAX_DIRTY: usize = 8;
/// Clean chunks kept for reading.
const MAX_CACHED: usize = 4;

/// A share (published or incoming) as a [`ShareIo`] device.
///
/// The state it reads and writes is the manifest it loaded at open plus its own changes;
/// another writer's commit is not seen until the share is opened again, and makes this
/// handle's next `sync` fail with [`S3ErrorKind::Conflict`] (compare-and-swap on the
/// manifest's `ETag`) without changing anything.
pub struct S3Share {
    inner: Arc<Inner>,
    manifest_key: String,
    chunk_prefix: String,
    /// The `ETag` of the committed manifest (the `If-Match` of the next commit).
    etag: String,
    committed: Manifest,
    len: u64,
    versions: Vec<u64>,
    dirty: BTreeMap<u64, Vec<u8>>,
    cache: Vec<(u64, Vec<u8>)>,
    /// Chunk objects written since the last commit (deleted if the commit loses).
    fresh: Vec<(u64, u64)>,
    poisoned: bool,
}

impl S3Share {
    pub(crate) fn new(
        inner: Arc<Inner>,
        manifest_key: String,
        chunk_prefix: String,
        etag: String,
        committed: Manifest,
    ) -> Self {
        Self {
            inner,
            manifest_key,
            chunk_prefix,
            etag,
            len: committed.len,
            versions: committed.versions.clone(),
            committed,
            dirty: BTreeMap::new(),
            cache: Vec::new(),
            fresh: Vec::new(),
            poisoned: false,
        }
    }

    fn csize(&self) -> u64 {
        u64::from(self.committed.chunk_size)
    }

    fn chunk_key(&self, idx: u64, version: u64) -> String {
        crate::chunk_key(&self.chunk_prefix, idx, version)
    }

    fn err(&self, kind: S3ErrorKind, op: &'static str) -> S3Error {
        S3Error::new(kind, op, Some(&self.manifest_key))
    }

    fn version_of(&self, idx: u64) -> u64 {
        usize::try_from(idx)
            .ok()
            .and_then(|i| self.versions.get(i))
            .copied()
            .unwrap_or(0)
    }

    fn set_version(&mut self, idx: u64, v: u64) {
        if let Some(slot) = usize::try_from(idx)
            .ok()
            .and_then(|i| self.versions.get_mut(i))
        {
            *slot = v;
        }
    }

    /// Fetches the committed (or spilled) bytes of chunk `idx`.
    fn fetch(&self, idx: u64) -> Result<Vec<u8>, S3Error> {
        let v = self.version_of(idx);
        if v == 0 {
            return Ok(Vec::new());
        }
        match self.inner.client.get(&self.chunk_key(idx, v))? {
            Some(r) => Ok(r.body),
            // A chunk the manifest names is gone: the share was replaced under us.
            None => Err(self.err(S3ErrorKind::Changed, "read")),
        }
    }

    /// The current bytes of chunk `idx` (shorter than a chunk: the rest reads as zeros).
    fn chunk(&mut self, idx: u64) -> Result<&[u8], S3Error> {
        if self.dirty.contains_key(&idx) {
            return Ok(self.dirty.get(&idx).map_or(&[][..], Vec::as_slice));
        }
        let pos = if let Some(p) = self.cache.iter().position(|(i, _)| *i == idx) {
            p
        } else {
            let bytes = self.fetch(idx)?;
            if self.cache.len() >= MAX_CACHED {
                self.cache.remove(0);
            }
            self.cache.push((idx, bytes));
            self.cache.len() - 1
        };
        Ok(self.cache.get(pos).map_or(&[][..], |(_, b)| b.as_slice()))
    }

    /// Makes chunk `idx` dirty, loading its bytes unless `whole` (the write covers it).
    fn dirty_chunk(&mut self, idx: u64, whole: bool) -> Result<&mut Vec<u8>, S3Error> {
        if !self.dirty.contains_key(&idx) {
            let bytes = if whole {
                Vec::new()
            } else if let Some(p) = self.cache.iter().position(|(i, _)| *i == idx) {
                self.cache.swap_remove(p).1
            } else {
                self.fetch(idx)?
            };
            self.dirty.insert(idx, bytes);
        }
        self.dirty
            .get_mut(&idx)
            .ok_or_else(|| S3Error::new(S3ErrorKind::Protocol, "write", None))
    }

    /// Writes chunk `idx`'s bytes as a fresh chunk object; returns its version.
    fn upload(&mut self, idx: u64, bytes: &[u8]) -> Result<(), S3Error> {
        let v = new_nonce();
        self.inner
            .client
            .put(&self.chunk_key(idx, v), bytes, Cond::None)?;
        let old = self.version_of(idx);
        self.set_version(idx, v);
        // A fresh chunk replaced before any commit was never referenced: drop it now.
        if let Some(p) = self.fresh.iter().position(|&(i, ov)| i == idx && ov == old) {
            self.fresh.swap_remove(p);
            let _ = self.inner.client.delete(&self.chunk_key(idx, old));
        }
        self.fresh.push((idx, v));
        Ok(())
    }

    /// Spills the lowest dirty chunks until at most [`MAX_DIRTY`] remain.
    fn spill(&mut self) -> Result<(), S3Error> {
        while self.dirty.len() > MAX_DIRTY {
            let Some((idx, bytes)) = self.dirty.pop_first() else {
                break;
            };
            self.upload(idx, &bytes)?;
        }
        Ok(())
    }

    fn resize(&mut self, len: u64) -> Result<(), S3Error> {
        let n = Manifest::chunks_for(len, self.committed.chunk_size);
        if n > MAX_CHUNKS {
            return Err(self
                .err(S3ErrorKind::InvalidArgument, "set_len")
                .detail("share too large"));
        }
        let c = self.csize();
        if len < self.len {
            self.dirty.retain(|&i, _| i < n);
            self.cache.retain(|(i, _)| *i < n);
            if n > 0 {
                let last = n - 1;
                let keep = (len - last * c) as usize;
                let partial = keep as u64 != c;
                if partial && (self.version_of(last) != 0 || self.dirty.contains_key(&last)) {
                    let chunk = self.dirty_chunk(last, false)?;
                    chunk.truncate(keep);
                }
            }
        }
        self.versions.resize(n as usize, 0);
        self.len = len;
        Ok(())
    }

    fn check(&self) -> Result<(), S3Error> {
        if self.poisoned {
            Err(self.err(S3ErrorKind::Poisoned, "use"))
        } else {
            Ok(())
        }
    }

    fn changed(&self) -> bool {
        !self.dirty.is_empty()
            || !self.fresh.is_empty()
            || self.len != self.committed.len
            || self.versions != self.committed.versions
    }

    /// The commit: uploads the dirty chunks, then PUTs the manifest with `If-Match` on
    /// the `ETag` this handle holds. On a lost race nothing is visible and the fresh chunks
    /// are deleted; on success the chunks superseded longer ago than the grace period are
    /// deleted (a crash before that leaves them as leftovers, never as share bytes).
    fn commit(&mut self) -> Result<(), S3Error> {
        self.check()?;
        if !self.changed() {
            return Ok(());
        }
        if !self.inner.cas_ok() {
            return Err(self.err(S3ErrorKind::ConditionalWritesUnsupported, "sync"));
        }
        while let Some((idx, bytes)) = self.dirty.pop_first() {
            if let Err(e) = self.upload(idx, &bytes) {
                self.dirty.insert(idx, bytes);
                return Err(e);
            }
        }
        // Chunks this commit stops using stay for readers of the old manifest, listed in
        // the new one, until their grace is over; the next commit after that deletes them.
        let now = unix_now();
        let grace = self.inner.grace.as_secs();
        let mut superseded = Vec::new();
        let mut expired = Vec::new();
        for g in &self.committed.superseded {
            if now.saturating_sub(g.at) >= grace {
                expired.push(*g);
            } else {
                superseded.push(*g);
            }
        }
        for (i, &old) in self.committed.versions.iter().enumerate() {
            if old != 0 && self.versions.get(i) != Some(&old) {
                let g = Superseded {
                    index: i as u64,
                    version: old,
                    at: now,
                };
                if grace == 0 {
                    expired.push(g);
                } else {
                    superseded.push(g);
                }
            }
        }
        if superseded.len() > MAX_SUPERSEDED {
            let cut = superseded.len() - MAX_SUPERSEDED;
            expired.extend(superseded.drain(..cut));
        }
        let m = Manifest {
            chunk_size: self.committed.chunk_size,
            len: self.len,
            nonce: new_nonce(),
            versions: self.versions.clone(),
            superseded,
        };
        let body = m.encode();
        let cond = if self.inner.conditions() {
            Cond::Match(&self.etag)
        } else {
            Cond::None
        };
        let put = self.inner.client.put(&self.manifest_key, &body, cond);
        let etag = match put {
            Ok(Some(etag)) => etag,
            Ok(None) => match self.inner.client.get(&self.manifest_key)? {
                // A retried PUT whose first attempt had landed: the object is ours.
                Some(r) if r.body == body => r.etag.unwrap_or_default(),
                _ => {
                    self.poisoned = true;
                    for (idx, v) in core::mem::take(&mut self.fresh) {
                        let _ = self.inner.client.delete(&self.chunk_key(idx, v));
                    }
                    return Err(self.err(S3ErrorKind::Conflict, "sync"));
                }
            },
            Err(e) => {
                // Unknown whether the manifest landed: the handle's view may be stale.
                self.poisoned = true;
                return Err(e);
            }
        };
        for g in expired {
            let _ = self
                .inner
                .client
                .delete(&self.chunk_key(g.index, g.version));
        }
        // Fresh chunks the share no longer reaches (cut off by a shrink) were never named.
        for (i, v) in core::mem::take(&mut self.fresh) {
            if usize::try_from(i).ok().and_then(|i| self.versions.get(i)) != Some(&v) {
                let _ = self.inner.client.delete(&self.chunk_key(i, v));
            }
        }
        self.etag = etag;
        self.committed = m;
        Ok(())
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl ErrorType for S3Share {
    type Error = S3Error;
}

impl ShareIo for S3Share {
    fn len(&mut self) -> Result<u64, S3Error> {
        self.check()?;
        Ok(self.len)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), S3Error> {
        self.check()?;
        tahoe_shares::io::check_read(self.len, offset, buf.len()).map_err(|e| {
            self.err(S3ErrorKind::InvalidArgument, "read")
                .detail(&e.to_string())
        })?;
        let c = self.csize();
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let (idx, within) = (pos / c, (pos % c) as usize);
            let n = (buf.len() - done).min(c as usize - within);
            let data = self.chunk(idx)?;
            let out = &mut buf[done..done + n];
            let avail = data.len().saturating_sub(within).min(n);
            out[..avail].copy_from_slice(&data[within..within + avail]);
            out[avail..].fill(0);
            done += n;
        }
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), S3Error> {
        self.check()?;
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or_else(|| self.err(S3ErrorKind::InvalidArgument, "write"))?;
        if end > self.len {
            self.resize(end)?;
        }
        let c = self.csize();
        let mut done = 0usize;
        while done < data.len() {
            let pos = offset + done as u64;
            let (idx, within) = (pos / c, (pos % c) as usize);
            let n = (data.len() - done).min(c as usize - within);
            // The write covers every byte the chunk holds (or may hold) before the end.
            let chunk_end = ((idx + 1) * c).min(self.len);
            let whole = within == 0 && pos + n as u64 >= chunk_end;
            let chunk = self.dirty_chunk(idx, whole)?;
            if chunk.len() < within + n {
                chunk.resize(within + n, 0);
            }
            chunk[within..within + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        self.spill()
    }

    fn set_len(&mut self, len: u64) -> Result<(), S3Error> {
        self.check()?;
        self.resize(len)?;
        self.spill()
    }

    fn sync(&mut self) -> Result<(), S3Error> {
        self.commit()
    }
}

/// Unsynced changes may be lost at a crash (the power-loss contract), but a handle dropped
/// in good order commits them, as a file's page cache would keep them: the containers
/// leave their last truncation unsynced, and readers should not meet that journal. A
/// failure here (a lost race included) leaves the committed state as it was.
///
/// Only where PUTs carry conditions: a handle of a share removed meanwhile then fails its
/// `If-Match`, where a plain PUT (single-writer mode over a service without conditions)
/// would bring the share back.
impl Drop for S3Share {
    fn drop(&mut self) {
        if !self.poisoned && self.changed() && self.inner.conditions() {
            let _ = self.commit();
        }
    }
}
