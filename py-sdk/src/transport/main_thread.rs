//! The worker main thread's side of its links: how it waits for its next
//! event, and which way each of its messages goes out (its route,
//! docs/architecture.md "Glossary"; docs/protocol.md "Direct links").
//!
//! The wait ([`Transport::next_main`], for `Channel.recv_main`). Without a
//! direct link the main thread waits on the runner reader's queue; with
//! one it also reads the link itself: it spins on it while the hub sends
//! hooks densely (`vh_proto::direct::wake::Adaptive`), then sleeps in
//! `poll` on it and on the reader's wake-up (`vh_proto::direct::wake`), so
//! a hook from the hub reaches Python with no thread hop
//! (docs/performance.md).
//!
//! Where it sleeps ([`HubCpu`], docs/performance.md "Waiting on the hub's
//! CPU"). A worker whose hooks come densely (its last wait for one was
//! under [`DENSE`]) and whose main thread is about to sleep for the next
//! (it does not spin, or spinning did not catch it: the CPUs are busy)
//! restricts itself to the CPU the hub thread sent its last hook from
//! (`HookCall.hub_cpu`), for the sleep only. The hub's next hook then wakes
//! it on that CPU, which the hub thread frees as it waits for the answer:
//! a switch on one CPU instead of a wake-up across CPUs, which costs tens
//! of microseconds on a VM whose idle vCPUs halt, or a whole time slice
//! when the other CPU runs something else.
//!
//! As soon as it wakes, the thread takes again the mask of the worker's
//! transport reader thread, which nothing here changes: so the script's
//! own code, and every thread it starts, run wherever the worker's other
//! threads may run, and a mask set for the whole worker (`taskset -a -p`,
//! systemd's `CPUAffinity=`, a cpuset) holds, even if it changes while the
//! main thread sleeps. A mask set on the main thread alone does not: its
//! next wake-up replaces it. A worker whose hooks come now and then sleeps
//! anywhere: by its next hook the hub thread may well run elsewhere, and a
//! thread tied to a busy CPU waits for it.
//!
//! The way out ([`Route`], [`ActiveRequests`]). A hook's or function
//! call's answer goes back the way the request came (the runner watches
//! the hooks it relayed); `vh.*` calls of the main thread take the direct
//! link while the innermost request came on it and the hub waits for it,
//! since the hub thread is then reading that link; calls of other threads,
//! pongs and load/unload reports go to the runner.
//!
//! Pipelined `vh.*` calls ([`Held`]) are held back until the main thread's
//! next frame on the direct link (docs/protocol.md "Pipelined calls"). A
//! pipelined call needs no answer, so nothing is lost by writing it a
//! little later, together with the frame that follows it on the link (the
//! hook's result, or a call that waits): the hub thread then finds the
//! calls and that frame in one read, and wakes once per hook instead of
//! once per call. The order on the link is the order of the script's calls.
//! A script that goes on sending for longer than [`HOLD_AT_MOST`], or
//! holds more than [`HOLD_BYTES`], has its calls written at its next
//! pipelined call; the main thread writes whatever is held before it waits
//! for anything (the wait above).

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, TryRecvError};
use prost::Message;
use vh_proto::direct::frame::decode_to_worker;
use vh_proto::direct::wake::Woke;
use vh_proto::v1::{FromWorker, ToWorker, to_worker};

use super::Transport;
use crate::values::Incoming;

/// Which way a message came or goes: the relay or the direct link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The relay: fd `VH_WORKER_FD`, to the runner, which passes it on.
    Relay,
    /// Fd `VH_DIRECT_FD`, to the hub's shim.
    Direct,
}

impl Transport {
    /// The next event for the main thread and the link it came on, `None`
    /// after `timeout` seconds. Writes any held pipelined calls first.
    pub fn next_main(&self, timeout: Option<f64>) -> Option<(Incoming, Route)> {
        // Nothing stays held while the main thread waits (`Held`, below).
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
            // A frame read with the one taken last time comes first.
            let kept = self.direct.as_ref().and_then(|d| {
                let mut unread = d.unread.lock().unwrap_or_else(|e| e.into_inner());
                unread.frames.pop_front()
            });
            if let Some(msg) = kept {
                match self.direct_frame(msg) {
                    Some(got) => return Some(got),
                    None => continue,
                }
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
                // A sleep waits on the hub's CPU ([`HubCpu`], below).
                || self.hub_cpu.pin_for_sleep(),
            );
            match woke {
                Woke::Queued => continue,
                Woke::TimedOut => return None,
                Woke::Link => {}
            }
            // One `recv` for what the link has (a hook's frame, as a rule,
            // whole and alone): a read of the length and then one of the
            // body was one more system call on every hook.
            let mut unread = direct.unread.lock().unwrap_or_else(|e| e.into_inner());
            let got = unread
                .bytes
                .read_with(direct.reader.as_raw_fd(), decode_to_worker);
            unread.frames.extend(got.frames);
            if got.bad.is_some() || got.closed {
                // The hub closed it (or broke it): everything goes
                // through the runner from now on; frames read whole
                // before that are still served.
                self.direct_up.store(false, Ordering::Release);
            }
        }
    }

    /// The event of a frame from the direct link (`None`: an empty one),
    /// noting a hook's `hub_cpu`.
    fn direct_frame(&self, msg: ToWorker) -> Option<(Incoming, Route)> {
        let kind = msg.kind?;
        if let to_worker::Kind::Hook(call) = &kind {
            self.hub_cpu.note(call.hub_cpu);
        }
        Some((Incoming::Frame(kind), Route::Direct))
    }
}

/// A wait for the next event up to this long counts as dense traffic: the
/// hub thread most likely still runs where it sent the last hook from.
pub const DENSE: Duration = Duration::from_millis(1);

/// The hub's CPU as last told, whether the traffic is dense, and where the
/// worker's own mask is kept.
pub struct HubCpu {
    /// `HookCall.hub_cpu` of the last hook: 1 + CPU, 0 unknown.
    tag: AtomicU32,
    /// The last wait for an event was under [`DENSE`].
    dense: AtomicBool,
    /// False with `VH_WAIT_ON_HUB_CPU=0`.
    on: bool,
    /// Thread id of the thread whose mask is the worker's (the transport's
    /// reader thread); 0 until it has started.
    reference: Arc<AtomicI32>,
}

/// Gives the thread the reference thread's mask again when dropped (see
/// [`HubCpu::pin_for_sleep`]), or the one it had before the sleep if that
/// cannot be read.
pub struct Unpin {
    reference: i32,
    before: libc::cpu_set_t,
}

impl Drop for Unpin {
    fn drop(&mut self) {
        set_mask(&mask_of(self.reference).unwrap_or(self.before));
    }
}

impl HubCpu {
    /// On unless `VH_WAIT_ON_HUB_CPU` is `0`; `reference` is where the
    /// reader thread stores its thread id (`gettid`) when it starts.
    pub fn from_env(reference: Arc<AtomicI32>) -> HubCpu {
        HubCpu {
            tag: AtomicU32::new(0),
            dense: AtomicBool::new(false),
            on: !std::env::var("VH_WAIT_ON_HUB_CPU").is_ok_and(|v| v.trim() == "0"),
            reference,
        }
    }

    /// Notes the hub's CPU of a hook (`HookCall.hub_cpu`; 0: the hub
    /// thread spins for its answers, so stay apart).
    pub fn note(&self, tag: u32) {
        self.tag.store(tag, Ordering::Relaxed);
    }

    /// Notes how long the last wait for an event took, spinning and
    /// sleeping.
    pub fn waited(&self, took: Duration) {
        self.dense.store(took <= DENSE, Ordering::Relaxed);
    }

    /// Restricts the calling thread to the hub's last CPU until the
    /// returned guard drops; `None` (and nothing done) if pinning is off,
    /// the last wait was not dense, the CPU is not known, or the worker's
    /// mask (the reference thread's) is one CPU or does not have it.
    pub fn pin_for_sleep(&self) -> Option<Unpin> {
        if !self.on || !self.dense.load(Ordering::Relaxed) {
            return None;
        }
        let cpu = usize::try_from(self.tag.load(Ordering::Relaxed).checked_sub(1)?).ok()?;
        let reference = self.reference.load(Ordering::Relaxed);
        if reference == 0 || cpu >= libc::CPU_SETSIZE as usize {
            return None;
        }
        let now = mask_of(reference)?;
        // SAFETY: counts the bits of a valid set; `cpu` is below
        // CPU_SETSIZE (checked above).
        if unsafe { libc::CPU_COUNT(&now) < 2 || !libc::CPU_ISSET(cpu, &now) } {
            return None;
        }
        // SAFETY: an all-zero cpu_set_t is the empty set.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is below CPU_SETSIZE.
        unsafe { libc::CPU_SET(cpu, &mut one) };
        set_mask(&one).then_some(Unpin {
            reference,
            before: now,
        })
    }
}

/// The mask of thread `tid`, if it can be read.
fn mask_of(tid: i32) -> Option<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t is valid; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid set of the size given.
    let rc =
        unsafe { libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    (rc == 0).then_some(set)
}

/// Sets the calling thread's mask; false if the kernel refused.
fn set_mask(set: &libc::cpu_set_t) -> bool {
    // SAFETY: a valid set of the size given; 0 is the calling thread.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) == 0 }
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

/// Longest a pipelined call is held while the script keeps running.
pub const HOLD_AT_MOST: Duration = Duration::from_micros(500);
/// Most bytes held before they are written.
pub const HOLD_BYTES: usize = 64 * 1024;

/// The held frames, oldest first.
#[derive(Default)]
pub struct Held {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    frames: Vec<FromWorker>,
    bytes: usize,
    since: Option<Instant>,
}

impl Held {
    /// Holds `msg`; true if what is held should be written now (the
    /// oldest frame is older than [`HOLD_AT_MOST`] or there are more than
    /// [`HOLD_BYTES`]).
    pub fn push(&self, msg: FromWorker) -> bool {
        let mut h = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        h.bytes += msg.encoded_len() + 4;
        h.frames.push(msg);
        let since = *h.since.get_or_insert_with(Instant::now);
        h.bytes > HOLD_BYTES || since.elapsed() > HOLD_AT_MOST
    }

    /// Takes every held frame, oldest first.
    pub fn take(&self) -> Vec<FromWorker> {
        let mut h = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        h.bytes = 0;
        h.since = None;
        std::mem::take(&mut h.frames)
    }

    /// True if nothing is held.
    pub fn is_empty(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .frames
            .is_empty()
    }
}

/// `frames` as one buffer of frames, to be written with one system call
/// (`vh_proto::direct::frame::encode_all`, as the shim encodes them).
///
/// # Errors
/// A frame over `vh_proto::direct::frame::MAX_FRAME_LEN` (the caller
/// checked the message limit, far below it).
pub fn encode_all(frames: &[FromWorker]) -> std::io::Result<Vec<u8>> {
    vh_proto::direct::frame::encode_all(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vh_proto::v1::{HubCall, from_worker};

    fn call(text: usize) -> FromWorker {
        FromWorker {
            kind: Some(from_worker::Kind::HubCall(HubCall {
                callback: "x".repeat(text),
                pipelined: true,
                ..HubCall::default()
            })),
        }
    }

    #[test]
    fn frames_are_held_in_order_until_old_or_big() {
        let held = Held::default();
        assert!(!held.push(call(1)));
        assert!(!held.push(call(2)));
        std::thread::sleep(HOLD_AT_MOST + Duration::from_micros(100));
        assert!(held.push(call(3)), "the oldest is past HOLD_AT_MOST");
        let frames = held.take();
        assert!(held.is_empty());
        let names: Vec<usize> = frames
            .iter()
            .map(|f| match &f.kind {
                Some(from_worker::Kind::HubCall(c)) => c.callback.len(),
                _ => 0,
            })
            .collect();
        assert_eq!(names, [1, 2, 3]);
        assert!(held.push(call(HOLD_BYTES)), "past HOLD_BYTES");
        let buf = encode_all(&held.take()).expect("encodes");
        let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        assert_eq!(buf.len(), 4 + len);
    }
}
