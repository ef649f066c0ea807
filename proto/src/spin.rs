//! Bounded busy-waiting before a blocking `poll`, for the two ends of a
//! direct link (docs/protocol.md "Direct links").
//!
//! On a machine whose idle CPUs halt (a VM), waking a thread that sleeps on
//! another CPU costs tens of microseconds, several times a hook's own work
//! (docs/performance.md). A waiter that expects an answer soon checks for it
//! for a short while first, yielding its CPU on every round, so that on one
//! CPU the peer still runs at once and on several the answer is seen without
//! a wake-up.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

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
fn readable(fd: RawFd) -> bool {
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
