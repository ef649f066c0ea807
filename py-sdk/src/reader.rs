//! The runner link's reader thread: reads frames from the runner (fd
//! `VH_WORKER_FD`) with the GIL released and routes them. Results of
//! `vh.*` calls made off the main thread go straight to the waiting
//! thread ([`Pending`]); everything else goes to the main thread's queue,
//! waking it with an eventfd if it sleeps in `poll` on the direct link.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;
use vh_proto::frame::read_frame;
use vh_proto::v1::{ToWorker, to_worker};

use crate::events::Incoming;

/// Threads other than the main one waiting for a call's result, by call id.
pub type Pending = Arc<Mutex<HashMap<u64, Sender<Incoming>>>>;

/// Reads the runner's socket until it closes, then queues `("closed",
/// reason)` for the main thread. Results of other threads' calls go to
/// them; the rest to the main thread's queue, waking it if it sleeps on
/// the direct link.
pub fn reader(
    mut stream: UnixStream,
    main: Sender<Incoming>,
    pending: Pending,
    wake: Arc<OwnedFd>,
    main_polling: Arc<AtomicBool>,
) {
    let to_main = |ev: Incoming| {
        let _ = main.send(ev);
        // SeqCst pairs with `Transport::next_main`.
        if main_polling.load(Ordering::SeqCst) {
            let one = 1u64.to_ne_bytes();
            // SAFETY: an 8-byte write to our eventfd.
            unsafe { libc::write(wake.as_raw_fd(), one.as_ptr().cast(), 8) };
        }
    };
    let reason = loop {
        match read_frame::<_, ToWorker>(&mut stream) {
            Ok(Some(ToWorker { kind: Some(kind) })) => {
                if let to_worker::Kind::CallResult(r) = &kind {
                    let waiter = pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&r.call_id);
                    if let Some(w) = waiter {
                        let _ = w.send(Incoming::Frame(kind));
                        continue;
                    }
                }
                to_main(Incoming::Frame(kind));
            }
            Ok(Some(ToWorker { kind: None })) => {}
            Ok(None) => break "the runner closed the link".to_string(),
            Err(e) => break format!("link error: {e}"),
        }
    };
    for (_, w) in pending.lock().unwrap_or_else(|e| e.into_inner()).drain() {
        let _ = w.send(Incoming::Closed(reason.clone()));
    }
    to_main(Incoming::Closed(reason));
}

/// A non-blocking eventfd (the reader's wake-up for the main thread),
/// numbered 3 or more (`vh_proto::fd`, docs/abi.md §1.1).
pub fn new_eventfd() -> std::io::Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is ours if it succeeds.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: just created.
    vh_proto::fd::above_stdio(unsafe { OwnedFd::from_raw_fd(fd) })
}
