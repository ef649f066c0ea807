//! The direct links this shim holds, by script id.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use super::DirectLink;

/// The links this shim holds, by script id.
#[derive(Default)]
pub struct Links {
    map: RwLock<HashMap<i32, Arc<DirectLink>>>,
}

impl Links {
    /// Script `id`'s link, if it has a usable one.
    pub fn get(&self, id: i32) -> Option<Arc<DirectLink>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(&id)
            .filter(|l| !l.broken.load(Ordering::Acquire))
            .cloned()
    }

    /// Every link that still owes answers (see [`DirectLink::owe`]).
    pub fn owing(&self) -> Vec<Arc<DirectLink>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.values().filter(|l| l.owing()).cloned().collect()
    }

    /// Makes `link` its script's current one.
    pub(super) fn insert(&self, link: Arc<DirectLink>) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(link.script_id, link);
    }

    /// Forgets `link` if it is still script's current one (a newer worker's
    /// link may have replaced it).
    pub fn remove(&self, link: &Arc<DirectLink>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map
            .get(&link.script_id)
            .is_some_and(|l| Arc::ptr_eq(l, link))
        {
            map.remove(&link.script_id);
        }
    }

    /// Forgets script `id`'s link (it was unloaded, or its load failed):
    /// its descriptor closes once no wait holds it (a script may unload
    /// itself from inside its hook, whose answer still comes on the link).
    pub fn forget(&self, id: i32) {
        let link = self
            .map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if let Some(link) = link {
            link.disown();
        }
    }

    /// Forgets every link (`w_End`).
    pub fn clear(&self) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
