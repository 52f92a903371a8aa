//! Recovery at startup of every share that an interrupted run left in the middle of an
//! update, before anything else reads the directory.
//!
//! Every operation of this crate recovers the share it opens, so its own reads never see
//! an interrupted update. Tahoe's classes do not know our journal: Tahoe's crawlers in the
//! same node, or Tahoe's own server after an operator switches back, may read a share that
//! a crash left mid-update. For most shapes of update the write order keeps every crash
//! state one that Tahoe reads as the old or the new share (docs/format.md §6); where no
//! order can (an update that overwrites existing mutable data while growing it, and an
//! immutable lease append, whose count and record are two writes), the server recovers
//! every share at startup when the store says its previous writer was interrupted
//! ([`ShareStore::previous_writer_interrupted`]).

use super::{sniff_io, Server};
use crate::container::{ContainerError, ImmutableContainer, MutableContainer};
use crate::error::{Error, Result};
use crate::format::ShareKind;
use crate::io::ShareIo;
use crate::store::ShareStore;
use alloc::vec::Vec;

/// What [`Server::recover_interrupted`] did, also as its progress.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// Storage indexes visited so far.
    pub storage_indexes: u64,
    /// Of those, how many storage indexes there are in all.
    pub storage_indexes_total: u64,
    /// Shares opened.
    pub shares: u64,
    /// Shares an interrupted update was finished or undone on.
    pub recovered: u64,
    /// Shares that are damaged (neither kind of container, or corrupt): left as they
    /// are, to be reported by the operation that reads them (and by `tahoe-shares
    /// verify`).
    pub damaged: u64,
}

impl<S: ShareStore> Server<S> {
    /// Opens every published share of the store, finishing or undoing each update that
    /// an interrupted run left (a mutable share's journal is replayed or dropped, bytes
    /// past a container are removed), so that afterwards Tahoe's own classes read every
    /// share as it was before or after its last update. `progress` is called after each
    /// storage index.
    ///
    /// [`Server::new`] calls this when [`ShareStore::previous_writer_interrupted`] says
    /// so; call it directly to recover a store regardless (`tahoe-shares recover`).
    /// It needs memory for one storage index (16 bytes) per storage index of the store.
    /// Over a read-only store it changes nothing and returns at once.
    ///
    /// # Errors
    ///
    /// Store and device errors. A damaged share is counted, not an error.
    pub fn recover_interrupted(
        &mut self,
        progress: &mut dyn FnMut(&Recovery),
    ) -> Result<Recovery, S::Error> {
        let mut done = Recovery::default();
        if self.store.is_read_only() {
            return Ok(done);
        }
        let mut sis = Vec::new();
        self.store.for_each_storage_index(&mut |si| {
            sis.push(si);
            true
        })?;
        done.storage_indexes_total = sis.len() as u64;
        for si in sis {
            for n in self.store.list(&si)?.iter() {
                let Some(mut io) = self.store.open(&si, n)? else {
                    continue;
                };
                done.shares += 1;
                let before = io.len().map_err(Error::Io)?;
                let opened = match sniff_io(&mut io)? {
                    Some(ShareKind::Mutable) => {
                        MutableContainer::open(io).map(MutableContainer::into_inner)
                    }
                    Some(ShareKind::Immutable) => ImmutableContainer::open(io).and_then(|mut c| {
                        c.recover()?;
                        Ok(c.into_inner())
                    }),
                    None => {
                        done.damaged += 1;
                        continue;
                    }
                };
                match opened {
                    Ok(mut io) => {
                        if io.len().map_err(Error::Io)? != before {
                            done.recovered += 1;
                        }
                    }
                    Err(ContainerError::Io(e)) => return Err(Error::Io(e)),
                    Err(_) => done.damaged += 1,
                }
            }
            done.storage_indexes += 1;
            progress(&done);
        }
        Ok(done)
    }
}
