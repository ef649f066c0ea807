//! The hub thread's round trips to workers, counted and timed, and the
//! pipelined `vh.*` calls it ran (docs/protocol.md "Pipelined calls").
//!
//! Three counters say how many socket round trips hooks cost the hub
//! thread: one per hook (or generation B function call) it waited for,
//! plus one per `vh.*` call it answered; the pipelined calls it ran
//! without answering are counted beside them. `vh_shim_round_trips`
//! exports them for the bench (`vh-bench`'s hub-shaped scenario) and for
//! tests.
//!
//! Each direct-link hook's round trip is timed and kept by script on the
//! [`Ipc`], and reported to the runner as `HookStats` (for `vh-runner
//! status`): by the IPC thread every `STATS_EVERY` (250 ms), or by the
//! hub thread itself once one script has collected `STATS_BATCH` (1024).
//!
//! A worker marks a `HubCall` `pipelined` when the script discards its
//! result and the callback only sends or changes hub state without firing
//! hooks. The hub thread runs it where it finds it on the link, in order
//! with the script's other calls and before that hook's result, exactly as
//! a waited-for call (docs/abi.md §9.2: on the hub thread, while
//! the hub waits for the script); it only sends no `CallResult` back. A
//! pipelined call that fails is logged here ([`Failures`]), once per
//! script and callback, since nobody else will see it.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use vh_proto::v1::{CallResult, HubCall, shim_message};

use crate::ipc::{Ipc, NO_ROUND_TRIP};
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

/// How often the IPC thread reports hook round trips (`HookStats`), and
/// how many one script may collect before the hub thread sends them itself.
pub(crate) const STATS_EVERY: Duration = Duration::from_millis(250);
const STATS_BATCH: usize = 1024;

impl Ipc {
    /// Notes one direct-link hook's round trip for `vh-runner status`; the
    /// IPC thread reports them every `STATS_EVERY` (250 ms, `HookStats`).
    ///
    /// On the hub thread's way back to the hub this is one atomic swap: the
    /// round trip waits in a one-entry slot, and goes into the batches
    /// (a lock and a map look-up, cold when hooks come at human rates)
    /// when the hub thread next sleeps for an answer
    /// ([`Ipc::settle_round_trip`]), when another round trip takes the
    /// slot, or at the IPC thread's next report.
    pub fn record_round_trip(&self, id: i32, took: Duration) {
        let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        // Ids are never negative, so no round trip packs to the empty
        // slot's value.
        let packed = (u64::from(id as u32) << 32) | u64::from(us);
        let older = self.latest_round_trip.swap(packed, Ordering::Relaxed);
        self.add_round_trip(older);
    }

    /// Moves the round trip waiting in the slot, if any, into the
    /// batches (see [`Ipc::record_round_trip`]).
    pub fn settle_round_trip(&self) {
        let older = self
            .latest_round_trip
            .swap(NO_ROUND_TRIP, Ordering::Relaxed);
        self.add_round_trip(older);
    }

    /// Adds round trip `packed` (script id in the high half, µs in the
    /// low one) to its script's batch, sending the batch once it is full;
    /// nothing for [`NO_ROUND_TRIP`].
    fn add_round_trip(&self, packed: u64) {
        if packed == NO_ROUND_TRIP {
            return;
        }
        let (id, us) = ((packed >> 32) as u32 as i32, packed as u32);
        let mut all = self.round_trips.lock().unwrap_or_else(|e| e.into_inner());
        let batch = all.entry(id).or_default();
        batch.push(us);
        if batch.len() >= STATS_BATCH {
            let latency_us = std::mem::take(batch);
            drop(all);
            let _ = self.send(shim_message::Kind::Stats(vh_proto::v1::HookStats {
                script_id: id,
                latency_us,
            }));
        }
    }

    /// Sends every round trip collected so far.
    pub(crate) fn flush_round_trips(&self) {
        self.settle_round_trip();
        let all = std::mem::take(&mut *self.round_trips.lock().unwrap_or_else(|e| e.into_inner()));
        for (script_id, latency_us) in all {
            if !latency_us.is_empty() {
                let _ = self.send(shim_message::Kind::Stats(vh_proto::v1::HookStats {
                    script_id,
                    latency_us,
                }));
            }
        }
    }
}
