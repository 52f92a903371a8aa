//! The set of byte ranges an upload has written (Tahoe's `RangeMap` of `BucketWriter`).

use alloc::vec::Vec;
use core::ops::Range;

/// Disjoint, non-adjacent half-open ranges in ascending order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<(u64, u64)>,
}

impl RangeSet {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a set from ranges in any order (overlaps and adjacency are merged; empty
    /// ranges are dropped).
    #[must_use]
    pub fn from_ranges(ranges: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut set = Self::new();
        for (s, e) in ranges {
            set.insert(s, e);
        }
        set
    }

    /// The ranges, ascending, as `(start, end)` pairs.
    #[must_use]
    pub fn as_slice(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// How many separate ranges there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether nothing is covered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Total bytes covered.
    #[must_use]
    pub fn covered(&self) -> u64 {
        self.ranges.iter().map(|(s, e)| e - s).sum()
    }

    /// The index of the first range ending after `start` (the first that may touch a
    /// range starting at `start`).
    fn first_touching(&self, start: u64) -> usize {
        self.ranges.partition_point(|&(_, e)| e < start)
    }

    /// How many ranges the set would hold after inserting `[start, end)`.
    #[must_use]
    pub fn len_after_insert(&self, start: u64, end: u64) -> usize {
        if start >= end {
            return self.len();
        }
        let i = self.first_touching(start);
        let j = self.ranges.partition_point(|&(s, _)| s <= end);
        self.len() + 1 - (j - i.min(j))
    }

    /// Adds `[start, end)`, merging with overlapping and adjacent ranges.
    pub fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let i = self.first_touching(start);
        let j = self.ranges.partition_point(|&(s, _)| s <= end);
        if i >= j {
            self.ranges.insert(i, (start, end));
            return;
        }
        let new_start = self.ranges.get(i).map_or(start, |r| r.0.min(start));
        let new_end = self.ranges.get(j - 1).map_or(end, |r| r.1.max(end));
        self.ranges.drain(i..j);
        self.ranges.insert(i, (new_start, new_end));
    }

    /// The parts of `[start, end)` that the set covers, ascending.
    pub fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = Range<u64>> + '_ {
        let i = self.ranges.partition_point(|&(_, e)| e <= start);
        self.ranges
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(move |&&(s, _)| s < end)
            .map(move |&(s, e)| s.max(start)..e.min(end))
            .filter(|r| r.start < r.end)
    }

    /// The parts of `[0, size)` that the set does not cover, ascending (Tahoe's
    /// `required_ranges()`).
    pub fn missing(&self, size: u64) -> impl Iterator<Item = Range<u64>> + '_ {
        let mut at = 0u64;
        let mut iter = self.ranges.iter();
        let mut done = false;
        core::iter::from_fn(move || {
            while !done {
                if let Some(&(s, e)) = iter.next() {
                    let gap = at..s.min(size);
                    at = at.max(e);
                    if gap.start < gap.end {
                        return Some(gap);
                    }
                } else {
                    done = true;
                    if at < size {
                        return Some(at..size);
                    }
                }
            }
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn missing(s: &RangeSet, size: u64) -> Vec<(u64, u64)> {
        s.missing(size).map(|r| (r.start, r.end)).collect()
    }

    #[test]
    fn insert_merges_overlapping_and_adjacent() {
        let mut s = RangeSet::new();
        s.insert(10, 20);
        s.insert(30, 40);
        assert_eq!(s.as_slice(), &[(10, 20), (30, 40)]);
        assert_eq!(s.len_after_insert(20, 30), 1);
        assert_eq!(s.len_after_insert(50, 60), 3);
        assert_eq!(s.len_after_insert(0, 5), 3);
        assert_eq!(s.len_after_insert(12, 14), 2);
        s.insert(20, 30);
        assert_eq!(s.as_slice(), &[(10, 40)]);
        s.insert(0, 5);
        s.insert(5, 10);
        assert_eq!(s.as_slice(), &[(0, 40)]);
        s.insert(7, 7);
        assert_eq!(s.covered(), 40);
        s.insert(50, 60);
        s.insert(45, 70);
        assert_eq!(s.as_slice(), &[(0, 40), (45, 70)]);
        s.insert(1, 100);
        assert_eq!(s.as_slice(), &[(0, 100)]);
    }

    #[test]
    fn overlapping_and_missing() {
        let s = RangeSet::from_ranges([(10, 20), (30, 40)]);
        let o: Vec<_> = s.overlapping(15, 35).collect();
        assert_eq!(o, vec![15..20, 30..35]);
        assert_eq!(s.overlapping(20, 30).count(), 0);
        assert_eq!(s.overlapping(0, 10).count(), 0);
        assert_eq!(missing(&s, 50), vec![(0, 10), (20, 30), (40, 50)]);
        assert_eq!(missing(&s, 35), vec![(0, 10), (20, 30)]);
        assert_eq!(missing(&s, 5), vec![(0, 5)]);
        assert_eq!(missing(&RangeSet::new(), 0), vec![]);
        assert_eq!(missing(&RangeSet::from_ranges([(0, 8)]), 8), vec![]);
    }

    proptest::proptest! {
        #[test]
        fn matches_a_bitmap(ops in proptest::collection::vec((0u64..64, 0u64..64), 0..40)) {
            let mut s = RangeSet::new();
            let mut bits = [false; 64];
            for (a, b) in ops {
                let (lo, hi) = (a.min(b), a.max(b));
                let predicted = s.len_after_insert(lo, hi);
                s.insert(lo, hi);
                proptest::prop_assert_eq!(predicted, s.len());
                for bit in bits.iter_mut().take(hi as usize).skip(lo as usize) {
                    *bit = true;
                }
                let mut expect = Vec::new();
                let mut i = 0;
                while i < 64 {
                    if bits[i] {
                        let st = i;
                        while i < 64 && bits[i] { i += 1; }
                        expect.push((st as u64, i as u64));
                    } else {
                        i += 1;
                    }
                }
                proptest::prop_assert_eq!(s.as_slice(), &expect[..]);
            }
        }
    }
}
