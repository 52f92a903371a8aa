//! An in-memory store (feature `alloc`).

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::ShareStore;
use crate::io::{ErrorType, MemError, ShareIo, VecIo};
use crate::store::{StoreError, StoreResult};
use crate::types::{ShareNumber, ShareSet, StorageIndex};

/// A handle on one in-memory share; clones see the same bytes.
#[derive(Debug, Clone, Default)]
pub struct MemShare(Rc<RefCell<VecIo>>);

impl MemShare {
    /// A copy of the share's bytes.
    #[must_use]
    pub fn bytes(&self) -> Vec<u8> {
        self.0.borrow().data.clone()
    }
}

impl ErrorType for MemShare {
    type Error = MemError;
}

impl ShareIo for MemShare {
    fn len(&mut self) -> core::result::Result<u64, MemError> {
        self.0.borrow_mut().len()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> core::result::Result<(), MemError> {
        self.0.borrow_mut().read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> core::result::Result<(), MemError> {
        self.0.borrow_mut().write_at(offset, data)
    }
    fn set_len(&mut self, len: u64) -> core::result::Result<(), MemError> {
        self.0.borrow_mut().set_len(len)
    }
    fn sync(&mut self) -> core::result::Result<(), MemError> {
        Ok(())
    }
}

pub(crate) type Key = (StorageIndex, ShareNumber);

/// Shares kept in memory, with an optional space limit.
#[derive(Debug, Default, Clone)]
pub struct MemStore {
    published: BTreeMap<Key, MemShare>,
    incoming: BTreeMap<Key, MemShare>,
    records: BTreeMap<Key, Vec<u8>>,
    /// Advisories stored, by name.
    pub advisories: BTreeMap<String, Vec<u8>>,
    /// Total capacity in bytes; `None` reports unknown space.
    pub capacity: Option<u64>,
}

impl MemStore {
    /// An empty store of unknown capacity.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes held by all shares.
    #[must_use]
    pub fn used(&self) -> u64 {
        self.published
            .values()
            .chain(self.incoming.values())
            .map(|s| s.0.borrow().data.len() as u64)
            .sum()
    }

    /// A deep copy (handles of the copy do not alias this store's).
    #[must_use]
    pub fn deep_clone(&self) -> Self {
        let copy = |m: &BTreeMap<Key, MemShare>| {
            m.iter()
                .map(|(k, v)| (*k, MemShare(Rc::new(RefCell::new(v.0.borrow().clone())))))
                .collect()
        };
        Self {
            published: copy(&self.published),
            incoming: copy(&self.incoming),
            records: self.records.clone(),
            advisories: self.advisories.clone(),
            capacity: self.capacity,
        }
    }

    /// Every share (`true`: incoming) with its bytes, for the fault-injecting store.
    #[cfg(feature = "_testing")]
    pub(crate) fn all_shares(&self) -> Vec<(Key, bool, Vec<u8>)> {
        self.published
            .iter()
            .map(|(k, s)| (*k, false, s.bytes()))
            .chain(self.incoming.iter().map(|(k, s)| (*k, true, s.bytes())))
            .collect()
    }

    /// The upload records, for the fault-injecting store.
    #[cfg(feature = "_testing")]
    pub(crate) fn records(&self) -> &BTreeMap<Key, Vec<u8>> {
        &self.records
    }

    /// Puts a share (`incoming` or published) holding `bytes`, replacing any; for the
    /// fault-injecting store's crash images.
    #[cfg(feature = "_testing")]
    pub(crate) fn put_share(&mut self, key: Key, incoming: bool, bytes: Vec<u8>) {
        let share = MemShare(Rc::new(RefCell::new(VecIo::from_vec(bytes))));
        if incoming {
            self.incoming.insert(key, share);
        } else {
            self.published.insert(key, share);
        }
    }

    /// Puts an upload record; for the fault-injecting store's crash images.
    #[cfg(feature = "_testing")]
    pub(crate) fn put_record(&mut self, key: Key, record: Vec<u8>) {
        self.records.insert(key, record);
    }

    /// The published shares and their bytes, in order.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(StorageIndex, ShareNumber, Vec<u8>)> {
        self.published
            .iter()
            .map(|((si, n), s)| (*si, *n, s.bytes()))
            .collect()
    }
}

fn set_of(m: &BTreeMap<Key, MemShare>, si: &StorageIndex) -> ShareSet {
    m.range((*si, ShareNumber(0))..=(*si, ShareNumber(255)))
        .map(|((_, n), _)| *n)
        .collect()
}

impl ShareStore for MemStore {
    type Error = MemError;
    type Io = MemShare;

    fn open(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<Option<MemShare>, MemError> {
        Ok(self.published.get(&(*si, shnum)).cloned())
    }

    fn list(&mut self, si: &StorageIndex) -> StoreResult<ShareSet, MemError> {
        Ok(set_of(&self.published, si))
    }

    fn create_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<MemShare, MemError> {
        let key = (*si, shnum);
        if self.published.contains_key(&key) || self.incoming.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        let share = MemShare::default();
        self.incoming.insert(key, share.clone());
        Ok(share)
    }

    fn open_incoming(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
    ) -> StoreResult<Option<MemShare>, MemError> {
        Ok(self.incoming.get(&(*si, shnum)).cloned())
    }

    fn list_incoming(&mut self, si: &StorageIndex) -> StoreResult<ShareSet, MemError> {
        Ok(set_of(&self.incoming, si))
    }

    fn publish(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), MemError> {
        let key = (*si, shnum);
        if self.published.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        let share = self.incoming.remove(&key).ok_or(StoreError::NoSuchShare)?;
        self.published.insert(key, share);
        self.records.remove(&key);
        Ok(())
    }

    fn abort(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), MemError> {
        self.records.remove(&(*si, shnum));
        self.incoming
            .remove(&(*si, shnum))
            .map(drop)
            .ok_or(StoreError::NoSuchShare)
    }

    fn put_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        record: &[u8],
    ) -> StoreResult<(), MemError> {
        let key = (*si, shnum);
        if !self.incoming.contains_key(&key) {
            return Err(StoreError::NoSuchShare);
        }
        self.records.insert(key, record.into());
        Ok(())
    }

    fn get_upload_record(
        &mut self,
        si: &StorageIndex,
        shnum: ShareNumber,
        buf: &mut [u8],
    ) -> StoreResult<Option<usize>, MemError> {
        let Some(r) = self.records.get(&(*si, shnum)) else {
            return Ok(None);
        };
        let dst = buf
            .get_mut(..r.len())
            .ok_or(StoreError::BufferTooSmall { needed: r.len() })?;
        dst.copy_from_slice(r);
        Ok(Some(r.len()))
    }

    fn remove(&mut self, si: &StorageIndex, shnum: ShareNumber) -> StoreResult<(), MemError> {
        self.published
            .remove(&(*si, shnum))
            .map(drop)
            .ok_or(StoreError::NoSuchShare)
    }

    fn available_space(&mut self) -> StoreResult<Option<u64>, MemError> {
        Ok(self.capacity.map(|c| c.saturating_sub(self.used())))
    }

    fn write_advisory(&mut self, name: &str, body: &[u8]) -> StoreResult<(), MemError> {
        if self.advisories.contains_key(name) {
            return Err(StoreError::AlreadyExists);
        }
        self.advisories.insert(name.into(), body.into());
        Ok(())
    }

    fn for_each_storage_index(
        &mut self,
        f: &mut dyn FnMut(StorageIndex) -> bool,
    ) -> StoreResult<(), MemError> {
        let mut sis: Vec<StorageIndex> = self.published.keys().map(|(si, _)| *si).collect();
        sis.sort_by_key(StorageIndex::to_base32);
        sis.dedup();
        for si in sis {
            if !f(si) {
                break;
            }
        }
        Ok(())
    }

    fn for_each_incoming(
        &mut self,
        f: &mut dyn FnMut(StorageIndex, ShareNumber) -> bool,
    ) -> StoreResult<(), MemError> {
        for (si, n) in self.incoming.keys() {
            if !f(*si, *n) {
                break;
            }
        }
        Ok(())
    }
}
