//! The count cache: identical (canonical segment text, as_of, dataset
//! version) counts are answered without running a query. A write to the
//! dataset changes its version, so entries of older versions are never hit
//! again; they are dropped when a newer version is seen.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Cache key: canonical DSL text, as_of (µs) and dataset version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CountKey {
    pub(crate) segment: String,
    pub(crate) as_of_micros: i64,
    pub(crate) version: String,
}

/// A bounded map of counts, evicting the oldest entry first.
#[derive(Debug)]
pub(crate) struct CountCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<CountKey, u64>,
    order: VecDeque<CountKey>,
    version: String,
}

impl CountCache {
    pub(crate) fn new(capacity: usize) -> Self {
        CountCache {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub(crate) fn get(&self, key: &CountKey) -> Option<u64> {
        self.inner.lock().expect("cache lock").map.get(key).copied()
    }

    pub(crate) fn put(&self, key: CountKey, count: u64) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.inner.lock().expect("cache lock");
        if inner.version != key.version {
            // A new dataset version: everything cached is stale.
            inner.map.clear();
            inner.order.clear();
            inner.version = key.version.clone();
        }
        if inner.map.insert(key.clone(), count).is_none() {
            inner.order.push_back(key);
        }
        while inner.order.len() > self.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.map.remove(&old);
            }
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
    fn evicts_and_invalidates() {
        let c = CountCache::new(2);
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
