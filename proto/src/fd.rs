//! Descriptors above the standard three (docs/abi.md §1.1: the shim lives
//! in the hub's process, whose fds 0, 1 and 2 may be closed).
//!
//! A process started with stdin, stdout or stderr closed hands out the
//! lowest free number for its next socket: 0, 1 or 2. Everything that later
//! writes to "stdout" (the hub's `printf` log lines, a `print` in a worker,
//! a child's inherited stdio) would then write into the socket and corrupt
//! its frames. The shim, the runner and the worker therefore move every
//! socket they open or receive to a number of 3 or more, close-on-exec.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The lowest descriptor number this module hands out.
pub const LOWEST: i32 = 3;

/// `fd` itself if its number is 3 or more; else a close-on-exec duplicate
/// numbered 3 or more (`F_DUPFD_CLOEXEC`), and `fd` is closed.
///
/// # Errors
/// The `fcntl` error (e.g. `EMFILE`); `fd` is closed then too.
pub fn above_stdio(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    if fd.as_raw_fd() >= LOWEST {
        return Ok(fd);
    }
    // SAFETY: fcntl on a descriptor we own; the result is a new descriptor.
    let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, LOWEST) };
    if high < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `high` was just created for us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(high) })
}

/// A close-on-exec duplicate of `fd` numbered 3 or more (what
/// `try_clone` does, without landing on a closed standard descriptor).
///
/// # Errors
/// The `fcntl` error.
pub fn dup_above_stdio(fd: &impl AsRawFd) -> std::io::Result<OwnedFd> {
    // SAFETY: fcntl on a live descriptor; the result is a new descriptor.
    let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, LOWEST) };
    if high < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `high` was just created for us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(high) })
}

/// Opens `/dev/null` on each of fds 0, 1 and 2 that is closed, so that
/// nothing this process opens later lands there (a program's own start,
/// e.g. the runner's; a library must use [`above_stdio`] instead).
pub fn fill_closed_stdio() {
    for fd in 0..LOWEST {
        // SAFETY: F_GETFD only asks whether `fd` is open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            continue;
        }
        let flags = if fd == 0 {
            libc::O_RDONLY
        } else {
            libc::O_WRONLY
        };
        // SAFETY: a plain open of a constant path; the lowest free number
        // is `fd` itself, as every lower one is open by now.
        let got = unsafe { libc::open(c"/dev/null".as_ptr(), flags) };
        if got >= 0 && got != fd {
            // SAFETY: dup2 onto the free `fd`, then drop the extra one.
            unsafe {
                libc::dup2(got, fd);
                libc::close(got);
            }
        }
    }
}

/// Holds each of fds 0, 1 and 2 that is closed with `/dev/null` until
/// dropped, then closes exactly those again: for code that opens
/// descriptors it does not control (a tokio runtime's epoll, eventfd and
/// signal socketpair), run in a process whose standard descriptors may be
/// closed and must stay so (a library in the hub, docs/abi.md §1.1).
pub struct StdioPlaceholders(Vec<i32>);

impl StdioPlaceholders {
    /// Opens `/dev/null` on every closed standard descriptor.
    pub fn hold() -> StdioPlaceholders {
        let mut held = Vec::new();
        for fd in 0..LOWEST {
            // SAFETY: F_GETFD only asks whether `fd` is open.
            if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
                continue;
            }
            // SAFETY: a plain open; placed on `fd` with dup2 if it is not
            // already the lowest free number.
            let got = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
            if got < 0 {
                continue;
            }
            if got != fd {
                // SAFETY: dup3 onto the free `fd`, then drop the extra one.
                unsafe {
                    let placed = libc::dup3(got, fd, libc::O_CLOEXEC);
                    libc::close(got);
                    if placed != fd {
                        continue;
                    }
                }
            }
            held.push(fd);
        }
        StdioPlaceholders(held)
    }
}

impl Drop for StdioPlaceholders {
    fn drop(&mut self) {
        for &fd in &self.0 {
            // SAFETY: closes only the placeholders `hold` opened.
            unsafe { libc::close(fd) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_descriptors_move_up_and_high_ones_stay() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = OwnedFd::from(a);
        let n = a.as_raw_fd();
        assert!(n >= LOWEST);
        assert_eq!(above_stdio(a).unwrap().as_raw_fd(), n);
        let dup = dup_above_stdio(&_b).unwrap();
        assert!(dup.as_raw_fd() >= LOWEST);
        // SAFETY: F_GETFD on our own descriptor.
        let flags = unsafe { libc::fcntl(dup.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    }
}
