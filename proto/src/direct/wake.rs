//! The wait of either end of a direct link (docs/protocol.md "Direct
//! links"): the shim's hub thread waiting for a hook's answer, the worker's
//! main thread waiting for its next hook. Each waits for two things at
//! once: its link becoming readable, and something another thread of its
//! own process queued for it (the shim's IPC thread: a runner message; the
//! worker's reader thread: a runner frame).
//!
//! [`Wake::wait`] checks both for a short while first ([`until_readable`]),
//! then sleeps in `poll` on the link and on an eventfd that the queuing
//! thread signals only while the waiter sleeps ([`Wake::notify`]). The
//! spin is there because on a machine whose idle CPUs halt (a VM), waking
//! a thread that sleeps on another CPU costs tens of microseconds, several
//! times a hook's own work (docs/performance.md): a waiter that expects an
//! answer soon yields its CPU on every round, so that on one CPU the peer
//! still runs at once and on several the answer is seen without a wake-up.
//! How long it spins adapts to how its waits go ([`Adaptive`]), and is
//! nothing while every CPU has something else to run ([`cpus_busy`]).

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
    /// `spin` first ([`until_readable`]), then sleeps in
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
        if until_readable(link, spin, deadline, &queued) {
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

/// How long a waiter spins unless `VH_SPIN_US` says otherwise.
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// `VH_SPIN_US` from the environment (microseconds; 0 turns spinning off),
/// else [`DEFAULT_SPIN`].
pub fn budget_from_env() -> Duration {
    std::env::var("VH_SPIN_US")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_SPIN, Duration::from_micros)
}

/// True once `fd` has bytes to read (or its peer closed it) or `ready()`
/// says so, checking until `budget` has passed (never past `deadline`).
/// False if neither happened: the caller then sleeps in `poll`.
pub fn until_readable(
    fd: RawFd,
    budget: Duration,
    deadline: Option<Instant>,
    ready: impl Fn() -> bool,
) -> bool {
    if budget.is_zero() {
        return false;
    }
    let start = Instant::now();
    let end = deadline.map_or(start + budget, |d| d.min(start + budget));
    loop {
        if ready() || readable(fd) {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::yield_now();
    }
}

/// True if a read on `fd` would not block (data, end of stream or error).
pub fn readable(fd: RawFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: a one-byte peek into a local; the fd is the caller's.
    let n = unsafe {
        libc::recv(
            fd,
            (&raw mut byte).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock
}

/// A spin budget that adapts to how the waits of one waiter go:
/// it spins only while spinning pays, and not at all while every CPU of the
/// machine has something else to run (see [`cpus_busy`]), so that spinning
/// never takes a CPU from the hub thread, another worker or the hub's
/// clients.
///
/// After each wait the waiter reports how long it took in all
/// ([`Adaptive::waited`]). A wait that ended within [`Adaptive::WORTH`]
/// times the largest budget (spinning that long would have caught the
/// answer, or nearly: a sleeping waiter also pays its wake-up) doubles the
/// budget, up to the largest, starting again from an eighth of it; a longer
/// one halves it, down to nothing below 1/64 of the largest. So a
/// worker whose hooks come back to back spins for the next one, and one
/// that gets a hook now and then, or whose hub thread is slow to come
/// back, soon sleeps at once.
///
/// And it spins only while the traffic is dense: a waiter whose last wait
/// ended more than [`Adaptive::GAP`] ago sleeps at once whatever its
/// budget. This is for the hub thread, whose waits start when it sends a
/// hook and so never include the time between hooks: at human event rates
/// each hook finds its worker asleep (the worker's own waits do include
/// that time, and its budget is nothing), the answer takes a wake-up, and
/// a spin there only costs the hub thread its checks, its yields and the
/// `/proc/loadavg` read of [`cpus_busy`] (about 40 µs of a paced hook,
/// docs/performance.md "Hooks at human rates: the worker's straight loop").
pub struct Adaptive {
    max_ns: u64,
    budget_ns: std::sync::atomic::AtomicU64,
    /// When the last wait ended ([`now_ns`]); 0: none yet.
    last_end_ns: std::sync::atomic::AtomicU64,
}

impl Adaptive {
    /// A wait up to this many times the largest budget counts as one that
    /// spinning would have caught (the largest budget plus a wake-up).
    pub const WORTH: u64 = 2;

    /// The longest time between the end of one wait and the next for which
    /// spinning is still worth it (traffic is dense; the peer is likely
    /// awake or spinning too).
    pub const GAP: Duration = Duration::from_millis(1);

    /// Starts at the largest budget, `max` (zero: never spin).
    pub fn new(max: Duration) -> Adaptive {
        let max_ns = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Adaptive {
            max_ns,
            budget_ns: std::sync::atomic::AtomicU64::new(max_ns),
            last_end_ns: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// [`Adaptive::new`] with [`budget_from_env`].
    pub fn from_env() -> Adaptive {
        Adaptive::new(budget_from_env())
    }

    /// How long the next wait may spin: the current budget, or zero while
    /// the last wait ended more than [`Adaptive::GAP`] ago or every CPU is
    /// busy.
    pub fn budget(&self) -> Duration {
        let ns = self.budget_ns.load(std::sync::atomic::Ordering::Relaxed);
        if ns == 0 {
            return Duration::ZERO;
        }
        if !self.dense() || cpus_busy() {
            return Duration::ZERO;
        }
        Duration::from_nanos(ns)
    }

    /// True if the last wait ended at most [`Adaptive::GAP`] ago (false
    /// before the first one).
    pub fn dense(&self) -> bool {
        let last = self.last_end_ns.load(std::sync::atomic::Ordering::Relaxed);
        last != 0 && now_ns().saturating_sub(last) <= Self::GAP.as_nanos() as u64
    }

    /// The current budget, busy CPUs or not (for tests and reports).
    pub fn current(&self) -> Duration {
        Duration::from_nanos(self.budget_ns.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Notes that the last wait took `took` from its start to its answer
    /// (spinning and sleeping), and adapts the budget.
    pub fn waited(&self, took: Duration) {
        if self.max_ns == 0 {
            return;
        }
        self.last_end_ns
            .store(now_ns(), std::sync::atomic::Ordering::Relaxed);
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let ns = self.budget_ns.load(std::sync::atomic::Ordering::Relaxed);
        let next = if took <= self.max_ns.saturating_mul(Self::WORTH) {
            ns.saturating_mul(2).max(self.max_ns / 8).min(self.max_ns)
        } else {
            let half = ns / 2;
            if half < self.max_ns / 64 { 0 } else { half }
        };
        self.budget_ns
            .store(next, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Nanoseconds since this process first asked (at least 1): a cheap
/// monotonic clock for [`Adaptive`] and [`cpus_busy`].
fn now_ns() -> u64 {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// How often [`cpus_busy`] reads `/proc/loadavg` at most.
const BUSY_SAMPLE: Duration = Duration::from_millis(5);

/// True if the machine has no idle CPU: at least as many threads other
/// than the caller are runnable as this process may use CPUs (the fourth
/// field of `/proc/loadavg`, read at most every 5 ms; false if it cannot be
/// read).
pub fn cpus_busy() -> bool {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    static CPUS: OnceLock<u64> = OnceLock::new();
    static SAMPLED_NS: AtomicU64 = AtomicU64::new(0);
    static BUSY: AtomicBool = AtomicBool::new(false);
    let now = now_ns();
    let last = SAMPLED_NS.load(Ordering::Relaxed);
    if last != 0 && now.saturating_sub(last) < BUSY_SAMPLE.as_nanos() as u64 {
        return BUSY.load(Ordering::Relaxed);
    }
    SAMPLED_NS.store(now, Ordering::Relaxed);
    let cpus =
        *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64));
    let busy = running_threads().is_some_and(|running| running.saturating_sub(1) >= cpus);
    BUSY.store(busy, Ordering::Relaxed);
    busy
}

/// Runnable threads on the machine now, the caller included (the number
/// before the `/` in `/proc/loadavg`'s fourth field).
fn running_threads() -> Option<u64> {
    use std::io::Read;
    let mut buf = [0u8; 128];
    let n = std::fs::File::open("/proc/loadavg")
        .and_then(|mut f| f.read(&mut buf))
        .ok()?;
    parse_running(&buf[..n])
}

/// The runnable-thread count of a `/proc/loadavg` line.
fn parse_running(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    let field = text.split_whitespace().nth(3)?;
    field.split_once('/')?.0.parse().ok()
}

/// 1 + the CPU the calling thread runs on now (`sched_getcpu`, a vDSO
/// read), or 0 if it cannot be told (the value of `HookCall.hub_cpu`).
pub fn cpu_tag() -> u32 {
    // SAFETY: no arguments; returns -1 on failure.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).map_or(0, |c| c.saturating_add(1))
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

    #[test]
    fn the_budget_shrinks_to_nothing_on_long_waits_and_grows_back_on_short_ones() {
        let a = Adaptive::new(Duration::from_micros(64));
        assert_eq!(a.current(), Duration::from_micros(64));
        for _ in 0..7 {
            a.waited(Duration::from_millis(5));
        }
        assert_eq!(a.current(), Duration::ZERO, "a quiet script stops spinning");
        a.waited(Duration::from_micros(40));
        assert_eq!(a.current(), Duration::from_micros(8));
        a.waited(Duration::from_micros(100));
        assert_eq!(a.current(), Duration::from_micros(16));
        for _ in 0..5 {
            a.waited(Duration::from_micros(10));
        }
        assert_eq!(
            a.current(),
            Duration::from_micros(64),
            "never above the largest"
        );
        let off = Adaptive::new(Duration::ZERO);
        off.waited(Duration::from_micros(1));
        assert_eq!(off.budget(), Duration::ZERO);
    }

    #[test]
    fn a_waiter_spins_only_while_its_waits_come_close_together() {
        let a = Adaptive::new(Duration::from_micros(64));
        assert!(!a.dense(), "no wait yet: nothing to go by");
        assert_eq!(a.budget(), Duration::ZERO);
        a.waited(Duration::from_micros(10));
        assert!(a.dense(), "the next wait right after the last one");
        std::thread::sleep(Adaptive::GAP * 2);
        assert!(!a.dense());
        assert_eq!(
            a.budget(),
            Duration::ZERO,
            "a hook at human rates finds its worker asleep: no spin"
        );
        assert_eq!(a.current(), Duration::from_micros(64), "the budget is kept");
    }

    #[test]
    fn nobody_spins_while_every_cpu_has_another_thread_to_run() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let stop = Arc::new(AtomicBool::new(false));
        let burners: Vec<_> = (0..cpus)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        // Past the 5 ms sampling period, with every CPU taken.
        std::thread::sleep(BUSY_SAMPLE * 4);
        let busy = cpus_busy();
        let spinner = Adaptive::new(Duration::from_micros(50));
        spinner.waited(Duration::from_micros(10));
        let budget = spinner.budget();
        stop.store(true, Ordering::Relaxed);
        for b in burners {
            let _ = b.join();
        }
        assert!(
            busy,
            "{cpus} burning threads and this one: the CPUs are busy"
        );
        assert_eq!(budget, Duration::ZERO);
    }

    #[test]
    fn loadavg_lines_give_the_runnable_threads() {
        assert_eq!(parse_running(b"0.52 0.58 0.59 3/467 12345\n"), Some(3));
        assert_eq!(parse_running(b"garbage"), None);
        assert!(running_threads().is_some_and(|n| n >= 1));
    }
}
