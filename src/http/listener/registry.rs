//! The open connections, oldest first: at the limit a new connection takes the slot of the
//! oldest idle one, so idle clients cannot lock out `/healthz` or the vendors.

use super::connection::Activity;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) struct Registry {
    max: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// By accept order: the first entry is the oldest connection.
    open: BTreeMap<u64, Arc<Activity>>,
}

/// A connection's place in the registry, given back when it is dropped.
pub(crate) struct Slot {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.lock().open.remove(&self.id);
    }
}

impl Registry {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Only a map of handles: a panic elsewhere cannot leave it half-written.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a new connection; at the limit the oldest idle connection is told to close and
    /// gives up its slot. `None` when every open connection is answering a request.
    pub(crate) fn admit(self: &Arc<Self>, activity: Arc<Activity>) -> Option<Slot> {
        let mut inner = self.lock();
        if inner.open.len() >= self.max && !evict_oldest_idle(&mut inner) {
            return None;
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.open.insert(id, activity);
        Some(Slot {
            registry: Arc::clone(self),
            id,
        })
    }

    /// Close the oldest idle connection (to free a file descriptor); false if none is idle.
    pub(crate) fn evict_oldest_idle(&self) -> bool {
        evict_oldest_idle(&mut self.lock())
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().open.len()
    }
}

fn evict_oldest_idle(inner: &mut Inner) -> bool {
    let Some(id) = inner
        .open
        .iter()
        .find(|(_, activity)| activity.is_idle())
        .map(|(id, _)| *id)
    else {
        return false;
    };
    if let Some(activity) = inner.open.remove(&id) {
        activity.evict();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test]
    async fn at_the_limit_the_oldest_idle_connection_gives_up_its_slot() {
        let registry = Registry::new(2);
        let oldest = Activity::new(Instant::now());
        let second = Activity::new(Instant::now());
        let _a = registry.admit(oldest.clone()).unwrap();
        let _b = registry.admit(second.clone()).unwrap();
        let _c = registry.admit(Activity::new(Instant::now())).unwrap();
        assert_eq!(registry.len(), 2);
        // The oldest was told to close: its eviction permit is waiting.
        tokio::time::timeout(std::time::Duration::from_secs(1), oldest.evicted())
            .await
            .expect("the oldest connection was evicted");
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), second.evicted())
                .await
                .is_err(),
            "only one connection is evicted per new one"
        );
    }

    #[tokio::test]
    async fn busy_connections_are_never_evicted_and_a_full_registry_refuses() {
        let registry = Registry::new(1);
        let busy = Activity::new(Instant::now());
        busy.request_started();
        let slot = registry.admit(busy.clone()).unwrap();
        assert!(registry.admit(Activity::new(Instant::now())).is_none());
        assert!(!registry.evict_oldest_idle());
        drop(slot);
        assert_eq!(registry.len(), 0);
        assert!(registry.admit(Activity::new(Instant::now())).is_some());
    }
}
