//! Bounded caches of what is expensive to rebuild: opened compiled models (by listing) and
//! expanded evaluation keys (by key hash; tens of MB each, about a second to expand).

use std::{
    collections::{HashMap, VecDeque},
    hash::Hash,
    sync::{Arc, Mutex},
};

/// Entries and their use order (oldest first).
type Entries<K, V> = (HashMap<K, Arc<V>>, VecDeque<K>);

/// A least-recently-used map holding at most `capacity` entries.
#[derive(Debug)]
pub struct Lru<K, V> {
    capacity: usize,
    inner: Mutex<Entries<K, V>>,
}

impl<K: Clone + Eq + Hash, V> Lru<K, V> {
    /// An empty cache of `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), inner: Mutex::new((HashMap::new(), VecDeque::new())) }
    }

    /// The entry for `k`, marking it most recently used.
    pub fn get(&self, k: &K) -> Option<Arc<V>> {
        let mut g = self.inner.lock().ok()?;
        let (map, order) = &mut *g;
        let v = map.get(k).cloned()?;
        order.retain(|x| x != k);
        order.push_back(k.clone());
        Some(v)
    }

    /// Insert (or replace) `k`, evicting the least recently used entry when full.
    pub fn insert(&self, k: K, v: Arc<V>) {
        let Ok(mut g) = self.inner.lock() else { return };
        let (map, order) = &mut *g;
        order.retain(|x| x != &k);
        map.insert(k.clone(), v);
        order.push_back(k);
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|g| g.0.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let c = Lru::new(2);
        c.insert(1, Arc::new("a"));
        c.insert(2, Arc::new("b"));
        assert!(c.get(&1).is_some()); // 2 is now the oldest
        c.insert(3, Arc::new("c"));
        assert!(c.get(&2).is_none());
        assert_eq!(c.get(&1).as_deref(), Some(&"a"));
        assert_eq!(c.len(), 2);
    }
}
