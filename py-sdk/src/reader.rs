//! The runner link's reader thread: reads frames from the runner (fd
//! `VH_WORKER_FD`) with the GIL released and routes them. Results of
//! `vh.*` calls made off the main thread go straight to the waiting
//! thread ([`Pending`]); everything else goes to the main thread's queue,
//! waking it if it sleeps in `poll` on the direct link
//! (`vh_proto::direct::wake`).

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;
use vh_proto::direct::frame::read_frame;
use vh_proto::direct::wake::Wake;
use vh_proto::v1::{ToWorker, to_worker};

use crate::values::Incoming;

/// Threads other than the main one waiting for a call's result, by call id.
pub type Pending = Arc<Mutex<HashMap<u64, Sender<Incoming>>>>;

/// Reads the runner's socket until it closes, then queues `("closed",
/// reason)` for the main thread. Results of other threads' calls go to
/// them; the rest to the main thread's queue, waking it if it sleeps on
/// the direct link.
pub fn reader(mut stream: UnixStream, main: Sender<Incoming>, pending: Pending, wake: Arc<Wake>) {
    let to_main = |ev: Incoming| {
        let _ = main.send(ev);
        wake.notify();
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
