//! The wait of either end of a direct link: the shim's hub thread waiting
//! for a hook's answer, the worker's main thread waiting for its next hook.
//! Each waits for two things at once: its link becoming readable, and
//! something another thread of its own process queued for it (the shim's
//! IPC thread: a runner message; the worker's reader thread: a runner
//! frame). It checks both for a short while ([`super::spin`]), then sleeps
//! in `poll` on the link and on an eventfd that the queuing thread signals
//! only while the waiter sleeps ([`Wake::notify`]).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A non-blocking, close-on-exec eventfd numbered 3 or more
/// (`crate::fd::above_stdio`, docs/abi.md §1.1).
///
/// # Errors
/// The `eventfd` or `fcntl` error.
pub fn eventfd() -> std::io::Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is ours if it succeeds.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: just created.
    crate::fd::above_stdio(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What ended a [`Wake::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// The link has bytes to read (or its peer closed it).
    Link,
    /// Something may be queued (or `poll` was interrupted): look again.
    Queued,
    /// The deadline passed.
    TimedOut,
}

/// The waiter's wake-up: an eventfd, and whether the waiter sleeps on it.
pub struct Wake {
    fd: OwnedFd,
    sleeping: AtomicBool,
}

impl Wake {
    /// A wake-up with its own eventfd ([`eventfd`]).
    ///
    /// # Errors
    /// As [`eventfd`].
    pub fn new() -> std::io::Result<Wake> {
        Ok(Wake {
            fd: eventfd()?,
            sleeping: AtomicBool::new(false),
        })
    }

    /// Called by the thread that just queued something for the waiter:
    /// wakes it if it sleeps in [`Wake::wait`]; no system call otherwise.
    pub fn notify(&self) {
        // SeqCst pairs with `wait`: either the waiter sees the queued item
        // before it sleeps, or we see its flag and wake it.
        if self.sleeping.load(Ordering::SeqCst) {
            let one = 1u64.to_ne_bytes();
            // SAFETY: an 8-byte write to our eventfd.
            unsafe { libc::write(self.fd.as_raw_fd(), one.as_ptr().cast(), 8) };
        }
    }

    /// Waits until `link` is readable, `queued()` says something is
    /// queued, or `deadline` (`None`: no deadline). Checks both for
    /// `spin` first ([`super::spin::until_readable`]), then sleeps in
    /// `poll`; `before_sleep`'s value is held while it sleeps (the
    /// worker moves to the hub thread's CPU then). Only one thread waits
    /// on a given `Wake`.
    pub fn wait<G>(
        &self,
        link: RawFd,
        deadline: Option<Instant>,
        spin: Duration,
        queued: impl Fn() -> bool,
        before_sleep: impl FnOnce() -> G,
    ) -> Woke {
        if super::spin::until_readable(link, spin, deadline, &queued) {
            // Only this thread takes from the queue: if it is empty now,
            // the link was what ended the spin.
            return if queued() { Woke::Queued } else { Woke::Link };
        }
        self.sleeping.store(true, Ordering::SeqCst);
        if queued() {
            self.sleeping.store(false, Ordering::SeqCst);
            return Woke::Queued;
        }
        let mut fds = [
            libc::pollfd {
                fd: link,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = deadline.map_or(-1, |d| {
            let left = d.saturating_duration_since(Instant::now());
            // Round up: a 0 ms poll for 0.4 ms left would spin.
            i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
        });
        let held = (ms != 0).then(before_sleep);
        // SAFETY: two valid pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        drop(held);
        self.sleeping.store(false, Ordering::SeqCst);
        if fds[1].revents != 0 {
            let mut buf = [0u8; 8];
            // SAFETY: an 8-byte read from our non-blocking eventfd.
            unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        }
        if fds[0].revents != 0 {
            Woke::Link
        } else if n == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
            Woke::TimedOut
        } else {
            Woke::Queued
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn wakes_for_the_link_the_queue_and_the_deadline() {
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let wake = Arc::new(Wake::new().unwrap());
        let soon = || Some(Instant::now() + Duration::from_millis(20));
        let fd = b.as_raw_fd();
        assert_eq!(
            wake.wait(fd, soon(), Duration::ZERO, || false, || ()),
            Woke::TimedOut
        );
        a.write_all(b"x").unwrap();
        let spin = Duration::from_micros(50);
        assert_eq!(wake.wait(fd, soon(), spin, || false, || ()), Woke::Link);
        assert_eq!(
            wake.wait(fd, soon(), Duration::ZERO, || false, || ()),
            Woke::Link
        );
        let (_c, d) = std::os::unix::net::UnixStream::pair().unwrap();
        let queue = Arc::new(AtomicUsize::new(0));
        let (w, q) = (Arc::clone(&wake), Arc::clone(&queue));
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            q.store(1, Ordering::SeqCst);
            w.notify();
        });
        let queued = || queue.load(Ordering::SeqCst) != 0;
        let far = Some(Instant::now() + Duration::from_secs(10));
        assert_eq!(
            wake.wait(d.as_raw_fd(), far, Duration::ZERO, queued, || ()),
            Woke::Queued
        );
        t.join().unwrap();
    }
}
