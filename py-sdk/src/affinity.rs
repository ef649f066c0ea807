//! Sleeping on the hub thread's CPU (docs/performance.md "Waiting on the
//! hub's CPU"). A worker whose hooks come densely (its last wait for one
//! was under [`DENSE`]) and whose main thread is about to sleep for the
//! next (it does not spin, or spinning did not catch it: the CPUs are busy)
//! restricts itself to the CPU the hub thread sent its last hook from,
//! for the sleep only. The hub's next hook then wakes it on that CPU, which
//! the hub thread frees as it waits for the answer: a switch on one CPU
//! instead of a wake-up across CPUs, which costs tens of microseconds on a
//! VM whose idle vCPUs halt, or a whole time slice when the other CPU runs
//! something else. The mask the thread had before the sleep is back as
//! soon as it wakes, so the script's own code, and every thread it starts,
//! run wherever the scheduler (or an admin's `taskset`) puts them; only a
//! mask changed from outside during the sleep itself is lost. A worker whose hooks come now and then sleeps
//! anywhere: by its next hook the hub thread may well run elsewhere, and
//! a thread tied to a CPU that is busy waits for it.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// A wait for the next event up to this long counts as dense traffic: the
/// hub thread most likely still runs where it sent the last hook from.
pub const DENSE: Duration = Duration::from_millis(1);

/// The hub's CPU as last told (`HookCall.hub_cpu`) and whether the
/// traffic is dense.
pub struct HubCpu {
    /// `HookCall.hub_cpu` of the last hook: 1 + CPU, 0 unknown.
    tag: AtomicU32,
    /// The last wait for an event was under [`DENSE`].
    dense: AtomicBool,
    /// False with `VH_WAIT_ON_HUB_CPU=0`.
    on: bool,
}

/// Restores the mask the thread had before the sleep when dropped (see
/// [`HubCpu::pin_for_sleep`]).
pub struct Unpin(libc::cpu_set_t);

impl Drop for Unpin {
    fn drop(&mut self) {
        set_mask(&self.0);
    }
}

impl HubCpu {
    /// On unless `VH_WAIT_ON_HUB_CPU` is `0`.
    pub fn from_env() -> HubCpu {
        HubCpu {
            tag: AtomicU32::new(0),
            dense: AtomicBool::new(false),
            on: !std::env::var("VH_WAIT_ON_HUB_CPU").is_ok_and(|v| v.trim() == "0"),
        }
    }

    /// Notes the hub's CPU of a hook (`HookCall.hub_cpu`).
    pub fn note(&self, tag: u32) {
        if tag != 0 {
            self.tag.store(tag, Ordering::Relaxed);
        }
    }

    /// Notes how long the last wait for an event took, spinning and
    /// sleeping.
    pub fn waited(&self, took: Duration) {
        self.dense.store(took <= DENSE, Ordering::Relaxed);
    }

    /// Restricts the calling thread to the hub's last CPU until the
    /// returned guard drops; `None` (and nothing done) if pinning is off,
    /// the last wait was not dense, the CPU is not known, or the thread's
    /// mask now is that CPU alone or does not have it.
    pub fn pin_for_sleep(&self) -> Option<Unpin> {
        if !self.on || !self.dense.load(Ordering::Relaxed) {
            return None;
        }
        let cpu = usize::try_from(self.tag.load(Ordering::Relaxed).checked_sub(1)?).ok()?;
        let now = own_mask()?;
        // SAFETY: `cpu` is below CPU_SETSIZE (checked first).
        if cpu >= libc::CPU_SETSIZE as usize || !unsafe { libc::CPU_ISSET(cpu, &now) } {
            return None;
        }
        // SAFETY: an all-zero cpu_set_t is the empty set.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is below CPU_SETSIZE.
        unsafe { libc::CPU_SET(cpu, &mut one) };
        set_mask(&one).then_some(Unpin(now))
    }
}

/// The calling thread's mask if it allows more than one CPU.
fn own_mask() -> Option<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t is valid; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid set of the size given.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    // SAFETY: counts bits of a valid set.
    (rc == 0 && unsafe { libc::CPU_COUNT(&set) } > 1).then_some(set)
}

/// Sets the calling thread's mask; false if the kernel refused.
fn set_mask(set: &libc::cpu_set_t) -> bool {
    // SAFETY: a valid set of the size given; 0 is the calling thread.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) == 0 }
}
