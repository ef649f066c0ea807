//! The main thread's wait for its next event (`Channel.recv_main`).
//! Without a direct link it waits on the runner reader's queue; with one
//! it also reads the link itself: it spins on it while the hub sends hooks
//! densely (`vh_proto::direct::spin::Adaptive`), then sleeps in `poll` on it and
//! on the reader's wake-up (`vh_proto::direct::wake`), so a hook from the
//! hub reaches Python with no thread hop (docs/performance.md).

use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, TryRecvError};
use vh_proto::direct::frame::read_frame;
use vh_proto::direct::wake::Woke;
use vh_proto::v1::{ToWorker, to_worker};

use super::Transport;
use crate::events::Incoming;
use crate::route::Route;

impl Transport {
    /// The next event for the main thread and the link it came on, `None`
    /// after `timeout` seconds. Writes any held pipelined calls first.
    pub fn next_main(&self, timeout: Option<f64>) -> Option<(Incoming, Route)> {
        // Nothing stays held while the main thread waits (module `held`).
        if !self.held.is_empty() {
            let _ = self.write_direct(None);
        }
        let started = Instant::now();
        let got = self.next_main_inner(timeout);
        let took = started.elapsed();
        self.spin.waited(took);
        self.hub_cpu.waited(took);
        got
    }

    fn next_main_inner(&self, timeout: Option<f64>) -> Option<(Incoming, Route)> {
        let deadline = timeout.map(|t| Instant::now() + Duration::from_secs_f64(t.max(0.0)));
        loop {
            match self.main_rx.try_recv() {
                Ok(ev) => return Some((ev, Route::Relay)),
                Err(TryRecvError::Disconnected) => {
                    return Some((Incoming::Closed("reader stopped".into()), Route::Relay));
                }
                Err(TryRecvError::Empty) => {}
            }
            let direct = self
                .direct
                .as_ref()
                .filter(|_| self.direct_up.load(Ordering::Acquire));
            let Some(direct) = direct else {
                let got = match deadline {
                    None => self
                        .main_rx
                        .recv()
                        .map_err(|_| RecvTimeoutError::Disconnected),
                    Some(d) => self.main_rx.recv_deadline(d),
                };
                return match got {
                    Ok(ev) => Some((ev, Route::Relay)),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        Some((Incoming::Closed("reader stopped".into()), Route::Relay))
                    }
                };
            };
            let woke = self.wake.wait(
                direct.reader.as_raw_fd(),
                deadline,
                self.spin.budget(),
                || !self.main_rx.is_empty(),
                // A sleep waits on the hub's CPU (module `affinity`).
                || self.hub_cpu.pin_for_sleep(),
            );
            match woke {
                Woke::Queued => continue,
                Woke::TimedOut => return None,
                Woke::Link => {}
            }
            match read_frame::<_, ToWorker>(&mut &direct.reader) {
                Ok(Some(ToWorker { kind: Some(kind) })) => {
                    if let to_worker::Kind::Hook(call) = &kind {
                        self.hub_cpu.note(call.hub_cpu);
                    }
                    return Some((Incoming::Frame(kind), Route::Direct));
                }
                Ok(Some(ToWorker { kind: None })) => {}
                // The hub closed it (or broke it): everything goes
                // through the runner from now on.
                Ok(None) | Err(_) => self.direct_up.store(false, Ordering::Release),
            }
        }
    }
}
