//! The crash states a file system may leave after a prefix of an operation's events.
//!
//! The model (docs/reliability.md, "System-call crash states"), for a crash after event k:
//!
//! - **File data.** Each file's data changes (writes, cut into the 4 KiB blocks they
//!   cover, and length changes) up to its last `fsync`/`fdatasync` before the crash are
//!   kept; of those after it, any prefix in issue order is kept (ext4's ordered mode
//!   never shows a length that covers unwritten blocks, and a block is written whole).
//! - **Directory entries.** Each directory's entry operations (create, link, unlink,
//!   rename, mkdir, rmdir) up to its last `fsync` before the crash are kept; of those
//!   after it, any prefix in issue order. Renames and links are atomic. An operation
//!   that belongs to two directories (a rename between them; a mkdir or rmdir, which
//!   belongs to the parent and to the directory itself) is kept only where it is in the
//!   kept prefix of both, and it ends the kept prefix of both when it is not, so that a
//!   directory never holds entries made before it was (durably) created.
//! - An `fsync` of a file makes nothing about its name durable, only its bytes; only an
//!   `fsync` of the directory does (weaker than ext4, whose journal commits every
//!   earlier entry operation at any fsync).
//!
//! [`DataOrder::AnySubset`] drops the order of a file's unsynced data: any subset of its
//! blocks since its last fsync persists (ext4's writeback does not write in issue order),
//! chosen as up to [`MAX_GROUPS`] groups of consecutive blocks.

use core::hash::{Hash, Hasher};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::trace::{DataOp, DirOp, Event, Ino, Node, Recorded};

/// The block size data writes are cut into.
pub const BLOCK: u64 = 4096;

/// The most groups of unsynced blocks of one file chosen independently under
/// [`DataOrder::AnySubset`] (more blocks are grouped, consecutive ones together).
pub const MAX_GROUPS: usize = 12;

/// Which of a file's unsynced data changes a crash may keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataOrder {
    /// Any prefix, in issue order.
    Prefix,
    /// Any subset.
    AnySubset,
}

/// One crash state: the tree and the bytes of each of its files.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Every path below the storage directory ("" is the directory itself).
    pub tree: BTreeMap<PathBuf, Node>,
    /// The bytes of every inode the tree names.
    pub files: BTreeMap<Ino, Vec<u8>>,
}

impl State {
    /// A hash of the whole state, to check each distinct state once.
    pub fn key(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut h);
        h.finish()
    }
}

/// Cuts a write into the pieces of the blocks it covers.
fn pieces(op: &DataOp) -> Vec<DataOp> {
    match op {
        DataOp::Truncate(_) => vec![op.clone()],
        DataOp::Write { offset, data } => {
            let mut out = Vec::new();
            let mut at = 0usize;
            while at < data.len() {
                let off = offset + at as u64;
                let room = usize::try_from(BLOCK - off % BLOCK).unwrap();
                let n = room.min(data.len() - at);
                out.push(DataOp::Write {
                    offset: off,
                    data: data[at..at + n].to_vec(),
                });
                at += n;
            }
            out
        }
    }
}

fn apply(bytes: &mut Vec<u8>, op: &DataOp) {
    match op {
        DataOp::Truncate(len) => bytes.resize(usize::try_from(*len).unwrap(), 0),
        DataOp::Write { offset, data } => {
            let off = usize::try_from(*offset).unwrap();
            if bytes.len() < off + data.len() {
                bytes.resize(off + data.len(), 0);
            }
            bytes[off..off + data.len()].copy_from_slice(data);
        }
    }
}

/// A list of changes of which the first `durable` persist for sure and any longer prefix
/// may.
struct Prefix<T> {
    items: Vec<T>,
    durable: usize,
}

impl<T> Default for Prefix<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            durable: 0,
        }
    }
}

impl<T> Prefix<T> {
    /// How many more than `durable` may persist (0: nothing to choose).
    fn open(&self) -> usize {
        self.items.len() - self.durable
    }
}

/// What a crash after the first `k` events leaves to chance.
struct Pending<'a> {
    rec: &'a Recorded,
    order: DataOrder,
    /// Each file's data changes, in blocks.
    data: BTreeMap<Ino, Prefix<DataOp>>,
    /// The entry operations in issue order, with their directories.
    ops: Vec<(&'a DirOp, Vec<PathBuf>)>,
    /// Each directory's entry operations (indexes into `ops`).
    dirs: BTreeMap<PathBuf, Prefix<usize>>,
}

impl<'a> Pending<'a> {
    fn new(rec: &'a Recorded, k: usize, order: DataOrder) -> Self {
        let events = &rec.events[..k];
        let mut data: BTreeMap<Ino, Prefix<DataOp>> = BTreeMap::new();
        let mut ops = Vec::new();
        let mut durable_op = Vec::new();
        for (i, e) in events.iter().enumerate() {
            match e {
                Event::Data { ino, op } => data.entry(*ino).or_default().items.extend(pieces(op)),
                Event::SyncFile(ino) => {
                    let d = data.entry(*ino).or_default();
                    d.durable = d.items.len();
                }
                Event::Dir(op) => {
                    let homes = op.homes();
                    durable_op.push(
                        events[i + 1..]
                            .iter()
                            .any(|later| matches!(later, Event::SyncDir(d) if homes.contains(d))),
                    );
                    ops.push((op, op.dirs()));
                }
                Event::SyncDir(_) => {}
            }
        }
        let mut dirs: BTreeMap<PathBuf, Prefix<usize>> = BTreeMap::new();
        for (j, (_, in_dirs)) in ops.iter().enumerate() {
            for d in in_dirs {
                let list = dirs.entry(d.clone()).or_default();
                list.items.push(j);
                if durable_op[j] {
                    list.durable = list.items.len();
                }
            }
        }
        Self {
            rec,
            order,
            data,
            ops,
            dirs,
        }
    }

    /// The largest choice for a file with `open` pending changes: a count under
    /// [`DataOrder::Prefix`], a bit mask of groups under [`DataOrder::AnySubset`].
    fn file_choice_max(&self, open: usize) -> usize {
        match self.order {
            DataOrder::Prefix => open,
            DataOrder::AnySubset => (1 << open.min(MAX_GROUPS)) - 1,
        }
    }

    /// Whether the `j`th of `open` pending changes persists under `choice`.
    fn keeps(&self, choice: usize, j: usize, open: usize) -> bool {
        match self.order {
            DataOrder::Prefix => j < choice,
            DataOrder::AnySubset => {
                let groups = open.min(MAX_GROUPS);
                choice & (1 << (j * groups / open)) != 0
            }
        }
    }

    /// The largest value of each open choice (file or directory with changes that may or
    /// may not persist, in that order).
    fn open_choices(&self) -> Vec<usize> {
        let files = self.data.values().map(|p| self.file_choice_max(p.open()));
        let dirs = self.dirs.values().map(Prefix::open);
        files.chain(dirs).filter(|&n| n > 0).collect()
    }

    /// The state for `choice`, one entry for each of [`Self::open_choices`]: for a
    /// directory how many of its pending entry operations persist, for a file as
    /// [`Self::keeps`] reads it.
    fn build(&self, choice: &[usize]) -> State {
        let mut next = choice.iter().copied();
        let mut kept = |p_open: usize, durable: usize| {
            durable + if p_open > 0 { next.next().unwrap() } else { 0 }
        };
        let kept_data: BTreeMap<Ino, usize> = self
            .data
            .iter()
            .map(|(ino, p)| (*ino, kept(p.open(), 0)))
            .collect();
        let kept_dir: BTreeMap<&PathBuf, usize> = self
            .dirs
            .iter()
            .map(|(d, p)| (d, kept(p.open(), p.durable)))
            .collect();
        // Entry operations in issue order: one is kept while it is within the kept
        // prefix of each of its directories and no earlier one of those was dropped.
        let mut closed: BTreeSet<&PathBuf> = BTreeSet::new();
        let mut counted: BTreeMap<&PathBuf, usize> = BTreeMap::new();
        let mut tree = self.rec.tree.clone();
        for (op, in_dirs) in &self.ops {
            let keep = in_dirs
                .iter()
                .all(|d| !closed.contains(d) && counted.get(d).copied().unwrap_or(0) < kept_dir[d]);
            for d in in_dirs {
                *counted.entry(d).or_default() += 1;
            }
            if keep {
                apply_dir(&mut tree, op);
            } else {
                closed.extend(in_dirs.iter());
            }
        }
        let mut files = BTreeMap::new();
        for node in tree.values() {
            if let Node::File(ino) = node {
                let mut bytes = self.rec.contents[*ino].clone();
                if let Some(p) = self.data.get(ino) {
                    let (durable, pending) = p.items.split_at(p.durable);
                    for op in durable {
                        apply(&mut bytes, op);
                    }
                    for (j, op) in pending.iter().enumerate() {
                        if self.keeps(kept_data[ino], j, p.open()) {
                            apply(&mut bytes, op);
                        }
                    }
                }
                files.insert(*ino, bytes);
            }
        }
        State { tree, files }
    }
}

fn apply_dir(tree: &mut BTreeMap<PathBuf, Node>, op: &DirOp) {
    match op {
        DirOp::Create { path, ino } | DirOp::Link { to: path, ino } => {
            tree.insert(path.clone(), Node::File(*ino));
        }
        DirOp::Unlink { path } | DirOp::Rmdir { path } => {
            tree.remove(path);
        }
        DirOp::Rename { from, to } => {
            let node = tree.remove(from).expect("a renamed name is there");
            tree.insert(to.clone(), node);
        }
        DirOp::Mkdir { path } => {
            tree.insert(path.clone(), Node::Dir);
        }
    }
}

/// Every combination of `open` (each choice `0..=open[i]`).
fn all_combinations(open: &[usize]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut c = vec![0usize; open.len()];
    loop {
        out.push(c.clone());
        let mut i = 0;
        while i < open.len() {
            c[i] += 1;
            if c[i] <= open[i] {
                break;
            }
            c[i] = 0;
            i += 1;
        }
        if i == open.len() {
            return out;
        }
    }
}

/// The extremes (nothing pending kept, everything kept), each choice alone at each end,
/// then `cap` random combinations from `seed`.
fn sample(open: &[usize], cap: usize, seed: u64) -> Vec<Vec<usize>> {
    let none = vec![0; open.len()];
    let mut out = vec![none.clone(), open.to_vec()];
    for i in 0..open.len() {
        let mut only = none.clone();
        only[i] = open[i];
        out.push(only);
        let mut all_but = open.to_vec();
        all_but[i] = 0;
        out.push(all_but);
    }
    let mut rng = super::common::Rng::new(seed);
    for _ in 0..cap {
        out.push(open.iter().map(|m| rng.below_usize(m + 1)).collect());
    }
    out
}

/// The crash states after the first `k` events: every combination when there are at most
/// `cap`, otherwise [`sample`]'s (seeded by `seed` and `k`). Returns the states and whether
/// the enumeration was complete.
pub fn crash_states(
    rec: &Recorded,
    k: usize,
    order: DataOrder,
    (cap, seed): (usize, u64),
) -> (Vec<State>, bool) {
    let pending = Pending::new(rec, k, order);
    let open = pending.open_choices();
    let total: u128 = open.iter().map(|&n| n as u128 + 1).product();
    let complete = total <= cap as u128;
    let choices = if complete {
        all_combinations(&open)
    } else {
        sample(&open, cap, seed ^ k as u64)
    };
    (choices.iter().map(|c| pending.build(c)).collect(), complete)
}

/// What the process itself saw after the first `k` events (every change kept): after the
/// last, the state of an acknowledged operation.
pub fn process_view(rec: &Recorded, k: usize) -> State {
    let pending = Pending::new(rec, k, DataOrder::Prefix);
    pending.build(&pending.open_choices())
}
