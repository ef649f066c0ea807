//! The main thread's wait, read and write on its direct link, run with
//! the GIL released (the worker's reader thread and the script's threads
//! go on meanwhile, as around Python's own `poll`, `recv` and `sendall`).
//! Nothing here touches a Python object.

use std::ffi::{c_int, c_short, c_ulong};
use std::io;
use std::time::{Duration, Instant};

#[repr(C)]
struct PollFd {
    fd: c_int,
    events: c_short,
    revents: c_short,
}

const POLLIN: c_short = 1;

unsafe extern "C" {
    fn poll(fds: *mut PollFd, nfds: c_ulong, timeout: c_int) -> c_int;
    fn recv(fd: c_int, buf: *mut u8, len: usize, flags: c_int) -> isize;
    fn send(fd: c_int, buf: *const u8, len: usize, flags: c_int) -> isize;
}

/// `MSG_DONTWAIT`: a read that never blocks, whatever the socket's mode.
const MSG_DONTWAIT: c_int = 0x40;
/// `MSG_NOSIGNAL`: a peer gone is an error, not `SIGPIPE`.
const MSG_NOSIGNAL: c_int = 0x4000;

/// What woke the main thread: which of its two descriptors is readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// The direct link has something (or closed).
    pub link: bool,
    /// The wake-up pipe has something: the reader thread queued an event.
    pub pipe: bool,
}

/// Waits until the link `link` or the pipe `pipe` is readable: checks
/// them without sleeping for up to `spin` (yielding the CPU between
/// checks, as `vh._channel.Channel._spin_for` does), then sleeps in
/// `poll`. Returns what woke it and how long the whole wait took.
///
/// # Errors
/// What `poll` said (`EINTR` included: the caller lets Python run the
/// signal's handler and waits the usual way).
pub fn wait(link: c_int, pipe: c_int, spin: Duration) -> io::Result<(Ready, Duration)> {
    let started = Instant::now();
    let mut fds = [
        PollFd {
            fd: link,
            events: POLLIN,
            revents: 0,
        },
        PollFd {
            fd: pipe,
            events: POLLIN,
            revents: 0,
        },
    ];
    let mut timeout = if spin.is_zero() { -1 } else { 0 };
    loop {
        // SAFETY: `fds` is a live array of two pollfd.
        let n = unsafe { poll(fds.as_mut_ptr(), 2, timeout) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n > 0 {
            let ready = Ready {
                link: fds[0].revents != 0,
                pipe: fds[1].revents != 0,
            };
            return Ok((ready, started.elapsed()));
        }
        if started.elapsed() >= spin {
            timeout = -1;
        } else {
            std::thread::yield_now();
        }
    }
}

/// True if `fd` has something to read, or an event (closed, an error),
/// now: `select.poll().poll(0)` on it, as `Channel.pipeline_call` asks.
pub fn readable(fd: c_int) -> bool {
    let mut one = PollFd {
        fd,
        events: POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd; a zero timeout never sleeps.
    let n = unsafe { poll(&mut one, 1, 0) };
    n != 0
}

/// One read of what the link has, into `buf` (a hook's frame usually
/// comes whole): the byte count, 0 if the peer closed it.
///
/// # Errors
/// What `recv` said (`EAGAIN`, `EINTR`: nothing read).
pub fn read(link: c_int, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length.
    let n = unsafe { recv(link, buf.as_mut_ptr(), buf.len(), MSG_DONTWAIT) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Writes all of `bytes` on the link (a blocking socket, as Python's
/// `sendall` writes it).
///
/// # Errors
/// What `send` said (not `EINTR`, which is retried); part of `bytes` may
/// have been written: the caller drops the link, as `Channel._write_direct`
/// does.
pub fn write_all(link: c_int, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for reads of its length.
        let n = unsafe { send(link, bytes.as_ptr(), bytes.len(), MSG_NOSIGNAL) };
        match usize::try_from(n) {
            Ok(n) => bytes = &bytes[n..],
            Err(_) => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_wait_reports_the_descriptor_that_became_readable() {
        let (link, mut hub) = UnixStream::pair().unwrap();
        let (pipe, _writer) = UnixStream::pair().unwrap();
        hub.write_all(b"abcd").unwrap();
        let (ready, _) = wait(
            link.as_raw_fd(),
            pipe.as_raw_fd(),
            Duration::from_micros(50),
        )
        .unwrap();
        assert_eq!(
            ready,
            Ready {
                link: true,
                pipe: false
            }
        );
        let mut buf = [0u8; 16];
        assert_eq!(read(link.as_raw_fd(), &mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"abcd");
        // Nothing more: a read that would block says so instead.
        let e = read(link.as_raw_fd(), &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_spin_that_finds_nothing_goes_to_sleep_until_the_pipe_wakes_it() {
        let (link, _hub) = UnixStream::pair().unwrap();
        let (pipe, mut writer) = UnixStream::pair().unwrap();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            writer.write_all(b"x").unwrap();
            writer
        });
        let (ready, took) = wait(
            link.as_raw_fd(),
            pipe.as_raw_fd(),
            Duration::from_micros(10),
        )
        .unwrap();
        assert_eq!(
            ready,
            Ready {
                link: false,
                pipe: true
            }
        );
        assert!(took >= Duration::from_millis(15), "{took:?}");
        drop(waker.join());
    }

    #[test]
    fn writes_reach_the_peer_whole_and_a_closed_peer_is_an_error() {
        let (link, hub) = UnixStream::pair().unwrap();
        write_all(link.as_raw_fd(), b"frame").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(read(hub.as_raw_fd(), &mut buf).unwrap(), 5);
        drop(hub);
        assert!(write_all(link.as_raw_fd(), b"more").is_err());
        assert_eq!(read(link.as_raw_fd(), &mut buf).unwrap(), 0);
    }
}
