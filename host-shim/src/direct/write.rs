//! The hub thread's writes on a direct link: one frame per message, never
//! blocking long, never raising SIGPIPE (docs/protocol.md "Direct links").

use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use vh_proto::v1::ToWorker;

use super::DirectLink;

/// Longest the hub thread waits for room in a link's socket buffer to
/// finish a frame it began, before it gives up on the link.
const WRITE_STALL: Duration = Duration::from_millis(100);

/// Why a frame did not go out on a link.
#[derive(Debug)]
pub enum SendError {
    /// Nothing was written (peer gone, or no room): send it another way.
    NotSent(String),
    /// Part of the frame was written: the link is broken and closed.
    Broken(String),
}

impl DirectLink {
    /// Writes `msg` as one frame from the hub thread. Never raises SIGPIPE
    /// (MSG_NOSIGNAL: the hub process may not ignore it); never waits if
    /// the socket buffer is full when the frame would begin, and at most
    /// `WRITE_STALL` (100 ms) to finish a frame it began.
    ///
    /// # Errors
    /// [`SendError`]; after `Broken` the link is shut down.
    pub fn send(&self, msg: &ToWorker) -> Result<(), SendError> {
        if self.broken.load(Ordering::Acquire) {
            return Err(SendError::NotSent("the link is closed".into()));
        }
        let mut buf = Vec::new();
        vh_proto::direct::frame::encode(&mut buf, msg)
            .map_err(|e| SendError::NotSent(e.to_string()))?;
        let mut done = 0;
        let mut stalled_since: Option<Instant> = None;
        while done < buf.len() {
            let rest = &buf[done..];
            // SAFETY: `rest` is valid for reads of its length; the fd is ours.
            let n = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                done += n as usize;
                stalled_since = None;
                continue;
            }
            let err = std::io::Error::last_os_error();
            match err.kind() {
                std::io::ErrorKind::Interrupted => continue,
                // A full buffer before the frame began: the worker is not
                // reading its link (busy, or hostile); the caller sends
                // through the runner instead, without waiting.
                std::io::ErrorKind::WouldBlock if done == 0 => {
                    return Err(SendError::NotSent("the link's buffer is full".into()));
                }
                std::io::ErrorKind::WouldBlock => {
                    let since = *stalled_since.get_or_insert_with(Instant::now);
                    let left = WRITE_STALL.saturating_sub(since.elapsed());
                    if left.is_zero() {
                        return Err(self.fail(done, "the worker does not read its link".into()));
                    }
                    let mut pfd = libc::pollfd {
                        fd: self.fd.as_raw_fd(),
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
                }
                _ => return Err(self.fail(done, err.to_string())),
            }
        }
        Ok(())
    }

    /// The error for a write that stopped after `done` bytes.
    fn fail(&self, done: usize, why: String) -> SendError {
        if done == 0 {
            return SendError::NotSent(why);
        }
        self.close();
        SendError::Broken(why)
    }
}
