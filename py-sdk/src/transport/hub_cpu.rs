//! Where the worker's main thread sleeps for its next hook ([`HubCpu`],
//! docs/performance.md "Waiting on the hub's CPU"). A worker whose hooks
//! come densely (its last wait for one was under [`DENSE`]) and whose main thread is about to sleep for the next
//! (it does not spin, or spinning did not catch it: the CPUs are busy)
//! restricts itself to the CPU the hub thread sent its last hook from
//! (`HookCall.hub_cpu`), for the sleep only. The hub's next hook then wakes
//! it on that CPU, which the hub thread frees as it waits for the answer:
//! a switch on one CPU instead of a wake-up across CPUs, which costs tens
//! of microseconds on a VM whose idle vCPUs halt, or a whole time slice
//! when the other CPU runs something else.
//!
//! As soon as it wakes, the thread takes again the mask of the worker's
//! transport reader thread, which nothing here changes: so the script's
//! own code, and every thread it starts, run wherever the worker's other
//! threads may run, and a mask set for the whole worker (`taskset -a -p`,
//! systemd's `CPUAffinity=`, a cpuset) holds, even if it changes while the
//! main thread sleeps. A mask set on the main thread alone does not: its
//! next wake-up replaces it. A worker whose hooks come now and then sleeps
//! anywhere: by its next hook the hub thread may well run elsewhere, and a
//! thread tied to a busy CPU waits for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::time::Duration;

/// A wait for the next event up to this long counts as dense traffic: the
/// hub thread most likely still runs where it sent the last hook from.
pub const DENSE: Duration = Duration::from_millis(1);

/// The hub's CPU as last told, whether the traffic is dense, and where the
/// worker's own mask is kept.
pub struct HubCpu {
    /// `HookCall.hub_cpu` of the last hook: 1 + CPU, 0 unknown.
    tag: AtomicU32,
    /// The last wait for an event was under [`DENSE`].
    dense: AtomicBool,
    /// False with `VH_WAIT_ON_HUB_CPU=0`.
    on: bool,
    /// Thread id of the thread whose mask is the worker's (the transport's
    /// reader thread); 0 until it has started.
    reference: Arc<AtomicI32>,
}

/// Gives the thread the reference thread's mask again when dropped (see
/// [`HubCpu::pin_for_sleep`]), or the one it had before the sleep if that
/// cannot be read.
pub struct Unpin {
    reference: i32,
    before: libc::cpu_set_t,
}

impl Drop for Unpin {
    fn drop(&mut self) {
        set_mask(&mask_of(self.reference).unwrap_or(self.before));
    }
}

impl HubCpu {
    /// On unless `VH_WAIT_ON_HUB_CPU` is `0`; `reference` is where the
    /// reader thread stores its thread id (`gettid`) when it starts.
    pub fn from_env(reference: Arc<AtomicI32>) -> HubCpu {
        HubCpu {
            tag: AtomicU32::new(0),
            dense: AtomicBool::new(false),
            on: !std::env::var("VH_WAIT_ON_HUB_CPU").is_ok_and(|v| v.trim() == "0"),
            reference,
        }
    }

    /// Notes the hub's CPU of a hook (`HookCall.hub_cpu`; 0: the hub
    /// thread spins for its answers, so stay apart).
    pub fn note(&self, tag: u32) {
        self.tag.store(tag, Ordering::Relaxed);
    }

    /// Notes how long the last wait for an event took, spinning and
    /// sleeping.
    pub fn waited(&self, took: Duration) {
        self.dense.store(took <= DENSE, Ordering::Relaxed);
    }

    /// Restricts the calling thread to the hub's last CPU until the
    /// returned guard drops; `None` (and nothing done) if pinning is off,
    /// the last wait was not dense, the CPU is not known, or the worker's
    /// mask (the reference thread's) is one CPU or does not have it.
    pub fn pin_for_sleep(&self) -> Option<Unpin> {
        if !self.on || !self.dense.load(Ordering::Relaxed) {
            return None;
        }
        let cpu = usize::try_from(self.tag.load(Ordering::Relaxed).checked_sub(1)?).ok()?;
        let reference = self.reference.load(Ordering::Relaxed);
        if reference == 0 || cpu >= libc::CPU_SETSIZE as usize {
            return None;
        }
        let now = mask_of(reference)?;
        // SAFETY: counts the bits of a valid set; `cpu` is below
        // CPU_SETSIZE (checked above).
        if unsafe { libc::CPU_COUNT(&now) < 2 || !libc::CPU_ISSET(cpu, &now) } {
            return None;
        }
        // SAFETY: an all-zero cpu_set_t is the empty set.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is below CPU_SETSIZE.
        unsafe { libc::CPU_SET(cpu, &mut one) };
        set_mask(&one).then_some(Unpin {
            reference,
            before: now,
        })
    }
}

/// The mask of thread `tid`, if it can be read.
fn mask_of(tid: i32) -> Option<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t is valid; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid set of the size given.
    let rc =
        unsafe { libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    (rc == 0).then_some(set)
}

/// Sets the calling thread's mask; false if the kernel refused.
fn set_mask(set: &libc::cpu_set_t) -> bool {
    // SAFETY: a valid set of the size given; 0 is the calling thread.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) == 0 }
}
