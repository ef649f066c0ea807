//! Pipelined `vh.*` calls and the round-trip counters (docs/protocol.md
//! "Pipelined calls").
//!
//! A worker marks a `HubCall` `pipelined` when the script discards its
//! result and the callback only sends or changes hub state without firing
//! hooks. The hub thread runs it where it finds it on the link, in order
//! with the script's other calls and before that hook's result, exactly as
//! a waited-for call (docs/abi.md §9.2: on the hub thread, while
//! the hub waits for the script); it only sends no `CallResult` back. A
//! pipelined call that fails is logged here, once per script and callback,
//! since nobody else will see it.
//!
//! The counters say how many socket round trips a hook cost the hub
//! thread: one per hook it waited for, plus one per `vh.*` call it
//! answered. `vh_shim_round_trips` exports them for the bench
//! (`vh-bench`'s hub-shaped scenario) and for tests.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use vh_proto::v1::{CallResult, HubCall};

use crate::shim_log;

/// Hooks (and generation B function calls) the hub thread sent and waited
/// for.
static AWAITED_CALLS: AtomicU64 = AtomicU64::new(0);
/// `vh.*` and dynamic calls the hub thread answered with a `CallResult`
/// (each a second round trip for the worker that waits for it).
static ANSWERED: AtomicU64 = AtomicU64::new(0);
/// Pipelined `vh.*` calls the hub thread ran without answering.
static PIPELINED: AtomicU64 = AtomicU64::new(0);

/// Notes a hook or function call the hub thread waits for.
pub fn count_awaited() {
    AWAITED_CALLS.fetch_add(1, Ordering::Relaxed);
}

/// Notes a `vh.*` or dynamic call answered with a `CallResult`.
pub fn count_answered() {
    ANSWERED.fetch_add(1, Ordering::Relaxed);
}

/// `(awaited hook and function calls, answered vh.* calls, pipelined vh.*
/// calls)` since the library was loaded.
pub fn counters() -> (u64, u64, u64) {
    (
        AWAITED_CALLS.load(Ordering::Relaxed),
        ANSWERED.load(Ordering::Relaxed),
        PIPELINED.load(Ordering::Relaxed),
    )
}

/// Failed pipelined calls already logged, by script id and callback.
#[derive(Default)]
pub struct Failures {
    logged: Mutex<HashSet<(i32, String)>>,
}

impl Failures {
    /// Notes that pipelined `call` ran and gave `result`; a failure is
    /// logged the first time for this script (whose file name `name`
    /// gives, only then) and callback.
    pub fn ran(&self, call: &HubCall, result: &CallResult, name: impl FnOnce() -> String) {
        PIPELINED.fetch_add(1, Ordering::Relaxed);
        if result.ok {
            return;
        }
        let key = (call.script_id, call.callback.clone());
        let first = self
            .logged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key);
        if first {
            let name = name();
            shim_log!(
                0,
                "[{}:{name}] vh.{}() failed: {} (its result was discarded, so the script was not told; later failures of vh.{}() in this script are not logged)",
                call.script_id,
                call.callback,
                if result.error.is_empty() {
                    "the hub refused"
                } else {
                    result.error.as_str()
                },
                call.callback
            );
        }
    }

    /// Forgets what was logged for script `id` (it was loaded again).
    pub fn forget(&self, id: i32) {
        self.logged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(s, _)| *s != id);
    }
}
