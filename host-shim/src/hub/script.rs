//! One loaded script as the shim knows it: its hook table, whether its
//! worker is up, its deadlines and its circuit (docs/reliability.md).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use vh_proto::hooks;
use vh_proto::v1::ScriptLoaded;

use crate::hooktable;

/// One loaded script, as the shim knows it.
pub struct Script {
    /// The hub's script id.
    pub(super) id: i32,
    /// File name with `.py`, as generation A's `vh.name` (docs/abi.md §7.3).
    pub name: String,
    /// Bit i set if the script defined hook i at its last load (docs/abi.md §3.7).
    pub(super) hooks: AtomicU64,
    /// False while its worker is gone: hooks then allow at once.
    pub(super) up: AtomicBool,
    /// True while in a timeout incident (logged once until it recovers).
    pub(super) timed_out: AtomicBool,
    /// Per-script deadlines from the runner's config, ms; 0 = shim default.
    pub(super) hook_deadline_ms: AtomicU32,
    pub(super) timer_deadline_ms: AtomicU32,
    /// Timeouts in a row, and after how many the circuit opens (0 = default).
    pub(super) timeouts_in_row: AtomicU32,
    pub(super) circuit_after: AtomicU32,
    /// Open circuit: hooks are skipped until the worker answers a ping.
    pub(super) circuit_open: AtomicBool,
    /// When the last ping was sent, ms since the shim started.
    pub(super) last_ping_ms: AtomicU64,
}

impl Script {
    /// Script `id` as its first load reported it.
    pub(super) fn new(id: i32, name: String, loaded: &ScriptLoaded) -> Script {
        let s = Script {
            id,
            name,
            hooks: AtomicU64::new(0),
            up: AtomicBool::new(false),
            timed_out: AtomicBool::new(false),
            hook_deadline_ms: AtomicU32::new(0),
            timer_deadline_ms: AtomicU32::new(0),
            timeouts_in_row: AtomicU32::new(0),
            circuit_after: AtomicU32::new(0),
            circuit_open: AtomicBool::new(false),
            last_ping_ms: AtomicU64::new(0),
        };
        s.apply(loaded);
        s
    }

    /// Takes the hook table and settings of a (re)load; the script is up.
    pub(super) fn apply(&self, loaded: &ScriptLoaded) {
        let hooks = loaded
            .hooks
            .iter()
            .filter(|&&h| (h as usize) < hooks::HOOKS.len())
            .fold(0u64, |acc, &h| acc | hook_bit(h as usize));
        self.hooks.store(hooks, Ordering::Release);
        hooktable::set(self.id, hooks);
        // The runner checks these at start-up; the cap keeps a runner that
        // did not (an older one, a hostile peer) from parking the hub thread.
        let cap = |ms: u32| ms.min(vh_proto::limits::MAX_HOOK_DEADLINE_MS);
        self.hook_deadline_ms
            .store(cap(loaded.hook_deadline_ms), Ordering::Relaxed);
        self.timer_deadline_ms
            .store(cap(loaded.timer_deadline_ms), Ordering::Relaxed);
        self.circuit_after
            .store(loaded.circuit_after, Ordering::Relaxed);
        self.close_circuit();
        self.up.store(true, Ordering::Release);
    }

    /// Back to normal: no timeouts counted, circuit closed.
    pub(super) fn close_circuit(&self) {
        self.timeouts_in_row.store(0, Ordering::Relaxed);
        self.circuit_open.store(false, Ordering::Release);
        self.timed_out.store(false, Ordering::Release);
    }
}

/// The bit of `hook` in a hook mask.
pub(super) fn hook_bit(hook: usize) -> u64 {
    1u64 << hook
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_beyond_the_limit_from_the_runner_is_capped() {
        let loaded = ScriptLoaded {
            hook_deadline_ms: u32::MAX,
            timer_deadline_ms: 250,
            ..ScriptLoaded::default()
        };
        let s = Script::new(1, "x.py".into(), &loaded);
        assert_eq!(
            s.hook_deadline_ms.load(Ordering::Relaxed),
            vh_proto::limits::MAX_HOOK_DEADLINE_MS
        );
        assert_eq!(s.timer_deadline_ms.load(Ordering::Relaxed), 250);
    }
}
