//! The worker's route for each message (docs/architecture.md "Glossary":
//! the direct link or the relay; docs/protocol.md "Direct links"). A
//! hook's or function call's answer goes back the way the request came
//! (the runner watches the hooks it relayed); `vh.*` calls of the main
//! thread take the direct link while the innermost request came on it and
//! the hub waits for it, since the hub thread is then reading that link;
//! calls of other threads, pongs and load/unload reports go to the runner.

use std::sync::Mutex;

use vh_proto::v1::to_worker;

/// Which way a message came or goes: the relay or the direct link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The relay: fd `VH_WORKER_FD`, to the runner, which passes it on.
    Relay,
    /// Fd `VH_DIRECT_FD`, to the hub's shim.
    Direct,
}

/// A hook or function call the main thread has been handed and not yet
/// answered: the link it came on, and whether the hub waits for it.
#[derive(Debug, Clone, Copy)]
struct Active {
    call_id: u64,
    route: Route,
    awaited: bool,
}

/// The requests the main thread is serving, innermost last.
#[derive(Default)]
pub struct ActiveRequests {
    stack: Mutex<Vec<Active>>,
}

impl ActiveRequests {
    /// The link a main-thread `vh.*` call takes: the direct one while the
    /// innermost request came on it and the hub waits for it (so the hub
    /// thread is reading that link); else the runner's.
    pub fn main_route(&self) -> Route {
        let active = self.stack.lock().unwrap_or_else(|e| e.into_inner());
        match active.last() {
            Some(a) if a.route == Route::Direct && a.awaited => Route::Direct,
            _ => Route::Relay,
        }
    }

    /// The link to answer hook or function call `call_id` on (forgotten
    /// now): the one it came on if the hub waits for the answer there,
    /// else the runner's (a hook whose result the hub ignores: the runner
    /// passes it on as a late answer).
    pub fn origin(&self, call_id: u64) -> Route {
        let mut active = self.stack.lock().unwrap_or_else(|e| e.into_inner());
        match active.iter().rposition(|a| a.call_id == call_id) {
            Some(i) => {
                let a = active.remove(i);
                if a.route == Route::Direct && a.awaited {
                    Route::Direct
                } else {
                    Route::Relay
                }
            }
            None => Route::Relay,
        }
    }

    /// Notes a request handed to the main thread (hooks and function
    /// calls; other messages are not answered).
    pub fn activate(&self, kind: &to_worker::Kind, route: Route) {
        let (call_id, awaited) = match kind {
            to_worker::Kind::Hook(h) => {
                (h.call_id, !vh_proto::hooks::result_ignored(h.hook as usize))
            }
            to_worker::Kind::Function(f) => (f.call_id, true),
            _ => return,
        };
        self.stack
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Active {
                call_id,
                route,
                awaited,
            });
    }
}
