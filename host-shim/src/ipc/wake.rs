//! How the hub thread sleeps while it waits on a direct link, and how the
//! IPC thread wakes it for the runner's messages (an eventfd).

use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Event, Ipc};

/// A non-blocking eventfd, numbered 3 or more (`crate::fds`).
pub(super) fn new_eventfd() -> std::io::Result<std::os::fd::OwnedFd> {
    crate::fds::eventfd()
}

impl Ipc {
    /// Queues `ev` for the hub thread and wakes it if it sleeps on a
    /// direct link. False if the hub side is gone.
    pub(super) fn deliver(&self, events: &crossbeam_channel::Sender<Event>, ev: Event) -> bool {
        crate::hooktable::PENDING.fetch_add(1, Ordering::AcqRel);
        let ok = events.send(ev).is_ok();
        // SeqCst pairs with `poll_hub`: either the hub thread sees the event
        // before it sleeps, or we see its flag and wake it.
        if self.hub_polling.load(Ordering::SeqCst) {
            let one = 1u64.to_ne_bytes();
            // SAFETY: an 8-byte write to our eventfd.
            unsafe { libc::write(self.hub_wake.as_raw_fd(), one.as_ptr().cast(), 8) };
        }
        ok
    }

    /// Waits on the hub thread until `fd` is readable, an event is queued,
    /// or `deadline`: checks for as long as `spin`'s budget says first
    /// (`vh_proto::spin::Adaptive`: nothing while every CPU is busy), then
    /// sleeps in `poll`; tells `spin` how long it waited. False on timeout.
    pub fn poll_hub(
        &self,
        fd: std::os::fd::RawFd,
        deadline: Instant,
        spin: &vh_proto::spin::Adaptive,
    ) -> bool {
        let started = Instant::now();
        let woke = self.poll_hub_inner(fd, deadline, spin.budget());
        spin.waited(started.elapsed());
        woke
    }

    fn poll_hub_inner(&self, fd: std::os::fd::RawFd, deadline: Instant, spin: Duration) -> bool {
        if vh_proto::spin::until_readable(fd, spin, Some(deadline), || !self.events.is_empty()) {
            return true;
        }
        self.hub_polling.store(true, Ordering::SeqCst);
        if !self.events.is_empty() {
            self.hub_polling.store(false, Ordering::SeqCst);
            return true;
        }
        let mut fds = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.hub_wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let left = deadline.saturating_duration_since(Instant::now());
        // Round up: a 0 ms poll for 0.4 ms left would spin.
        let ms = i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        // SAFETY: two valid pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        self.hub_polling.store(false, Ordering::SeqCst);
        if fds[1].revents != 0 {
            let mut buf = [0u8; 8];
            // SAFETY: an 8-byte read from our non-blocking eventfd.
            unsafe { libc::read(self.hub_wake.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        }
        n != 0 || Instant::now() < deadline
    }
}
