//! The power model: what a store has made durable, and the changes a power loss may lose,
//! keep, or tear.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::store::memory::Key;
use crate::store::{MemShare, MemStore};
use crate::types::{ShareNumber, StorageIndex};

/// The unit in which a power loss tears a write: bytes of one disk sector.
pub const SECTOR: u64 = 512;

/// A change that was applied but is not yet durable: at a power loss it may be lost,
/// kept, or (a write) kept in part
/// ([`FaultyStore::power_loss_image`](super::FaultyStore::power_loss_image)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The share it changes: an identity that is kept when the share is published.
    pub share: u64,
    /// The change.
    pub change: Change,
    /// Whether this is the write the crash interrupted (never reported as done).
    pub in_flight: bool,
}

impl Pending {
    /// The disk sectors a write touches (0 for other changes); a torn write keeps a
    /// subset of them.
    #[must_use]
    pub fn sectors(&self) -> usize {
        match &self.change {
            Change::Write { offset, data } if !data.is_empty() => {
                let end = offset.saturating_add(data.len() as u64);
                (end.div_ceil(SECTOR) - offset / SECTOR) as usize
            }
            _ => 0,
        }
    }
}

/// What a [`Pending`] change is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// An incoming share was created; its directory entry is not durable yet.
    Create(StorageIndex, ShareNumber),
    /// A device write.
    Write {
        /// Where.
        offset: u64,
        /// What.
        data: Vec<u8>,
    },
    /// A device length change.
    SetLen(u64),
}

/// What a power loss does to one [`Pending`] change.
#[derive(Debug, Clone, PartialEq, Eq)]
// Not `#[non_exhaustive]`: lost, kept or partly kept is every fate a change can have.
pub enum Persist {
    /// It is lost.
    Lost,
    /// It reached the disk whole.
    Kept,
    /// A write reached the disk in those of its sectors (counted from its first one,
    /// see [`Pending::sectors`]) marked `true`; any other change is kept whole.
    Sectors(Vec<bool>),
}

/// Where each share lives, now and durably, and what is not durable yet.
#[derive(Debug, Default)]
pub(super) struct Power {
    next_id: u64,
    /// The share identities behind the names the store has now (`true`: incoming).
    live: BTreeMap<(Key, bool), u64>,
    /// The names a power loss keeps.
    pub(super) names: BTreeMap<(Key, bool), u64>,
    pub(super) records: BTreeMap<Key, Vec<u8>>,
    pub(super) advisories: BTreeMap<String, Vec<u8>>,
    /// The synced bytes of each share.
    pub(super) synced: BTreeMap<u64, Vec<u8>>,
    pub(super) pending: Vec<Pending>,
}

impl Power {
    /// Everything in `store` is taken as durable.
    pub(super) fn of(store: &MemStore) -> Self {
        let mut power = Self::default();
        for (key, incoming, bytes) in store.all_shares() {
            let id = power.fresh();
            power.live.insert((key, incoming), id);
            power.names.insert((key, incoming), id);
            power.synced.insert(id, bytes);
        }
        power.records.clone_from(store.records());
        power.advisories.clone_from(&store.advisories);
        power
    }

    fn fresh(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = id.saturating_add(1);
        id
    }

    /// The identity of a share the store holds now, registering one it did not know
    /// about (as durable).
    pub(super) fn id(&mut self, key: Key, incoming: bool, share: &MemShare) -> u64 {
        if let Some(&id) = self.live.get(&(key, incoming)) {
            return id;
        }
        let id = self.fresh();
        self.live.insert((key, incoming), id);
        self.names.insert((key, incoming), id);
        self.synced.insert(id, share.bytes());
        id
    }

    /// Drops the pending changes of share `id` that `which` selects (they became durable,
    /// or the share is gone).
    fn forget(&mut self, id: u64, which: fn(&Change) -> bool) {
        self.pending.retain(|p| p.share != id || !which(&p.change));
    }

    pub(super) fn synced(&mut self, id: u64, bytes: Vec<u8>) {
        self.synced.insert(id, bytes);
        // Syncing a file does not make its name durable.
        self.forget(id, |c| !matches!(c, Change::Create(..)));
    }

    pub(super) fn created(&mut self, key: Key) {
        let id = self.fresh();
        self.live.insert((key, true), id);
        self.synced.insert(id, Vec::new());
        self.pending.push(Pending {
            share: id,
            change: Change::Create(key.0, key.1),
            in_flight: false,
        });
    }

    /// Publishing syncs the share, then renames it durably.
    pub(super) fn published(&mut self, key: Key, bytes: Vec<u8>) {
        let Some(id) = self.live.remove(&(key, true)) else {
            return;
        };
        self.live.insert((key, false), id);
        self.names.remove(&(key, true));
        self.names.insert((key, false), id);
        self.records.remove(&key);
        self.synced.insert(id, bytes);
        self.forget(id, |_| true);
    }

    pub(super) fn removed(&mut self, key: Key, incoming: bool) {
        if let Some(id) = self.live.remove(&(key, incoming)) {
            self.forget(id, |_| true);
            self.synced.remove(&id);
        }
        self.names.remove(&(key, incoming));
        if incoming {
            self.records.remove(&key);
        }
    }

    /// Saving a record syncs the incoming directory: the share's name becomes durable
    /// (its bytes only as far as they were synced).
    pub(super) fn recorded(&mut self, key: Key, record: &[u8]) {
        self.records.insert(key, record.into());
        if let Some(&id) = self.live.get(&(key, true)) {
            self.names.insert((key, true), id);
            self.forget(id, |c| matches!(c, Change::Create(..)));
        }
    }
}
