//! The loaded scripts' load requests, replayed on every new stream.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use vh_proto::v1::LoadScript;

/// The loaded scripts' load requests, by script id. The hub thread keeps it
/// current; the IPC thread sends them all again on every new stream, so a
/// restarted runner gets every script back under the same id (the hub
/// only misses the hooks fired meanwhile).
#[derive(Clone, Default)]
pub struct Loads(Arc<Mutex<BTreeMap<i32, LoadScript>>>);

impl Loads {
    /// Remembers a loaded script.
    pub fn insert(&self, id: i32, load: LoadScript) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, load);
    }

    /// Forgets an unloaded script.
    pub fn remove(&self, id: i32) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    /// Every remembered load request, by script id.
    pub(super) fn all(&self) -> Vec<LoadScript> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}
