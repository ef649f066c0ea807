//! The hook table `w_HasHook` reads: one lock-free word per script id, so
//! that the call the plugin makes for every script before every hook
//! (docs/abi.md §4.2) costs a few atomic loads and no lock, no
//! reference count and no hashing. Written only on load, reload and
//! unload; reset at `w_Begin` and `w_End`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Script ids below this are in the table; later ones (a hub that loaded
/// more than this many scripts over its life) take the slower map lookup.
pub const FAST_IDS: usize = 1024;

/// Bit 63: the slot holds a loaded script; bits 0..41: its hooks.
const PRESENT: u64 = 1 << 63;

static TABLE: [AtomicU64; FAST_IDS] = [const { AtomicU64::new(0) }; FAST_IDS];

/// Events the IPC thread has queued for the hub thread and the hub thread
/// has not taken yet (each holds a [`Counted`] of it, `ipc::Queued`), and
/// one more while messages are left over from a direct link read
/// (`hub::waits`): hub entries run the queue only when this (or
/// [`OWING`]) is not 0.
pub static PENDING: AtomicUsize = AtomicUsize::new(0);

/// Direct links that owe answers to calls the hub stopped waiting for
/// (each holds a [`Counted`] of it while it owes, `direct::DirectLink::owe`):
/// `w_HasHook` also runs the queue while this is not 0, so that such a
/// script's late `vh.*` calls are served.
pub static OWING: AtomicUsize = AtomicUsize::new(0);

/// True while the hub thread has work at its next entry: events queued or
/// left over ([`PENDING`]), or links owing answers ([`OWING`]). Two atomic
/// loads.
pub fn due() -> bool {
    PENDING.load(Ordering::Acquire) | OWING.load(Ordering::Acquire) != 0
}

/// One unit of a counter ([`PENDING`], [`OWING`]): the counter counts it
/// from [`Counted::new`] until it is dropped, so no count is ever
/// decremented by hand, twice, or not at all.
#[derive(Debug)]
pub struct Counted(&'static AtomicUsize);

impl Counted {
    /// Adds one to `counter` until the result is dropped.
    pub fn new(counter: &'static AtomicUsize) -> Counted {
        counter.fetch_add(1, Ordering::AcqRel);
        Counted(counter)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the table says about `id`: `Some(hooks)` for a loaded script,
/// `Some(0)`-like `None` when the id is beyond the table.
pub fn get(id: i32) -> Option<Option<u64>> {
    let slot = TABLE.get(usize::try_from(id).ok()?)?;
    let word = slot.load(Ordering::Acquire);
    Some((word & PRESENT != 0).then_some(word & !PRESENT))
}

/// Records the hook set of a (re)loaded script.
pub fn set(id: i32, hooks: u64) {
    if let Some(slot) = usize::try_from(id).ok().and_then(|i| TABLE.get(i)) {
        slot.store(PRESENT | (hooks & !PRESENT), Ordering::Release);
    }
}

/// Forgets an unloaded script.
pub fn clear(id: i32) {
    if let Some(slot) = usize::try_from(id).ok().and_then(|i| TABLE.get(i)) {
        slot.store(0, Ordering::Release);
    }
}

/// Forgets every script (`w_Begin`, `w_End`).
pub fn reset() {
    for slot in &TABLE {
        slot.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_clear() {
        set(5, 0b1010);
        assert_eq!(get(5), Some(Some(0b1010)));
        assert_eq!(get(6), Some(None));
        assert_eq!(get(FAST_IDS as i32), None);
        assert_eq!(get(-1), None);
        clear(5);
        assert_eq!(get(5), Some(None));
    }

    #[test]
    fn a_counted_unit_lasts_as_long_as_its_guard() {
        static C: AtomicUsize = AtomicUsize::new(0);
        let a = Counted::new(&C);
        let b = Counted::new(&C);
        assert_eq!(C.load(Ordering::Acquire), 2);
        drop(a);
        assert_eq!(C.load(Ordering::Acquire), 1);
        drop(b);
        assert_eq!(C.load(Ordering::Acquire), 0);
    }
}
