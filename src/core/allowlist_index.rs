//! Hash indexes over the allowlist's entries that store only entry positions: the key
//! (token or id) is read from the entry itself, so nothing is stored twice. For 100 000
//! credentials this is what keeps the gateway within its memory budget.

use std::hash::{BuildHasher, Hash, RandomState};

use hashbrown::HashTable;

/// Positions of entries, found by a key derived from each entry.
#[derive(Debug, Clone, Default)]
pub struct Index {
    table: HashTable<u32>,
    hasher: RandomState,
}

impl Index {
    /// An empty index with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        Self { table: HashTable::with_capacity(n), hasher: RandomState::new() }
    }

    /// The position of the entry whose key is `key`; `key_of` reads an entry's key.
    pub fn find<K: Hash + Eq + ?Sized>(&self, key: &K, key_of: impl Fn(u32) -> Option<bool>) -> Option<u32> {
        let h = self.hasher.hash_one(key);
        self.table.find(h, |&i| key_of(i).unwrap_or(false)).copied()
    }

    /// Adds position `pos` under `key` (the caller has checked it is not there yet);
    /// `key_of` gives any stored entry's key when the table grows and rehashes.
    pub fn insert<K: Hash + ?Sized, H: Hash>(&mut self, key: &K, pos: u32, key_of: impl Fn(u32) -> H) {
        let hasher = &self.hasher;
        let h = hasher.hash_one(key);
        self.table.insert_unique(h, pos, |&i| hasher.hash_one(key_of(i)));
    }
}
