//! The count cache: identical (canonical segment text, as_of, dataset
//! version) counts are answered without running a query. A write to the
//! dataset changes its version, so entries of older versions are never hit
//! again; they are dropped when a newer version is seen. The cache is
//! bounded both in entries and in the bytes its keys hold (a segment text
//! can be 64 KiB).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Cache key: canonical DSL text, as_of (µs) and dataset version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CountKey {
    pub(crate) segment: String,
    pub(crate) as_of_micros: i64,
    pub(crate) version: String,
}

impl CountKey {
    /// Memory the key takes in the cache (its map entry and order slot).
    fn bytes(&self) -> usize {
        2 * (self.segment.len() + self.version.len() + size_of::<CountKey>())
    }
}

/// A bounded map of counts, evicting the oldest entry first.
#[derive(Debug)]
pub(crate) struct CountCache {
    capacity: usize,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<CountKey, u64>,
    order: VecDeque<CountKey>,
    bytes: usize,
    version: String,
}

impl CountCache {
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        CountCache {
            capacity,
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub(crate) fn get(&self, key: &CountKey) -> Option<u64> {
        self.inner.lock().expect("cache lock").map.get(key).copied()
    }

    pub(crate) fn put(&self, key: CountKey, count: u64) {
        if self.capacity == 0 || key.bytes() > self.max_bytes {
            return;
        }
        let mut inner = self.inner.lock().expect("cache lock");
        if inner.version != key.version {
            // A new dataset version: everything cached is stale.
            inner.map.clear();
            inner.order.clear();
            inner.bytes = 0;
            inner.version = key.version.clone();
        }
        if inner.map.insert(key.clone(), count).is_none() {
            inner.bytes += key.bytes();
            inner.order.push_back(key);
        }
        while inner.order.len() > self.capacity || inner.bytes > self.max_bytes {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            inner.bytes -= old.bytes();
            inner.map.remove(&old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str, v: &str) -> CountKey {
        CountKey {
            segment: s.into(),
            as_of_micros: 0,
            version: v.into(),
        }
    }

    #[test]
    fn bounded_in_bytes() {
        let c = CountCache::new(1000, 10_000);
        for i in 0..100 {
            c.put(key(&format!("{i:01000}"), "1"), i);
        }
        let inner = c.inner.lock().unwrap();
        assert!(inner.bytes <= 10_000, "{}", inner.bytes);
        assert!(
            inner.map.len() >= 3 && inner.map.len() < 10,
            "{}",
            inner.map.len()
        );
        assert!(inner.map.contains_key(&key(&format!("{:01000}", 99), "1")));
    }

    #[test]
    fn evicts_and_invalidates() {
        let c = CountCache::new(2, 1 << 20);
        c.put(key("a", "1"), 1);
        c.put(key("b", "1"), 2);
        c.put(key("c", "1"), 3);
        assert_eq!(c.get(&key("a", "1")), None);
        assert_eq!(c.get(&key("c", "1")), Some(3));
        c.put(key("a", "2"), 9);
        assert_eq!(c.get(&key("c", "1")), None);
        assert_eq!(c.get(&key("a", "2")), Some(9));
    }
}
