//! Direct-link hook round trips, collected on the hub thread and reported
//! to the runner as `HookStats` (for `vh-runner status`).

use std::time::Duration;

use vh_proto::v1::shim_message;

use super::Ipc;

/// How often the IPC thread reports hook round trips (`HookStats`), and
/// how many one script may collect before the hub thread sends them itself.
pub(super) const STATS_EVERY: Duration = Duration::from_millis(250);
const STATS_BATCH: usize = 1024;

impl Ipc {
    /// Notes one direct-link hook's round trip for `vh-runner status`; the
    /// IPC thread reports them every `STATS_EVERY` (250 ms, `HookStats`).
    pub fn record_round_trip(&self, id: i32, took: Duration) {
        let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
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
    pub(super) fn flush_round_trips(&self) {
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
