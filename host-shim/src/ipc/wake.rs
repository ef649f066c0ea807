//! How the hub thread sleeps while it waits on a direct link, and how the
//! IPC thread wakes it for the runner's messages
//! (`vh_proto::direct::wake`).

use std::sync::atomic::Ordering;
use std::time::Instant;

use vh_proto::direct::wake::Woke;

use super::{Event, Ipc};

impl Ipc {
    /// Queues `ev` for the hub thread and wakes it if it sleeps on a
    /// direct link. False if the hub side is gone.
    pub(super) fn deliver(&self, events: &crossbeam_channel::Sender<Event>, ev: Event) -> bool {
        crate::hooktable::PENDING.fetch_add(1, Ordering::AcqRel);
        let ok = events.send(ev).is_ok();
        self.hub_wake.notify();
        ok
    }

    /// Waits on the hub thread until `fd` is readable, an event is queued,
    /// or `deadline`: checks for as long as `spin`'s budget says first
    /// (`vh_proto::direct::spin::Adaptive`: nothing while every CPU is busy), then
    /// sleeps in `poll`; tells `spin` how long it waited. False on timeout.
    pub fn poll_hub(
        &self,
        fd: std::os::fd::RawFd,
        deadline: Instant,
        spin: &vh_proto::direct::spin::Adaptive,
    ) -> bool {
        let started = Instant::now();
        let woke = self.hub_wake.wait(
            fd,
            Some(deadline),
            spin.budget(),
            || !self.events.is_empty(),
            || (),
        );
        spin.waited(started.elapsed());
        woke != Woke::TimedOut
    }
}
