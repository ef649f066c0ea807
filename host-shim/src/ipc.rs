//! The shim's background IPC thread: one tokio runtime holding the gRPC
//! stream to the runner (DESIGN.md "The hot path"), the side connection on
//! which the runner hands over direct links ([`crate::direct`]), and the
//! periodic `HookStats` report. The hub thread never touches the gRPC
//! stream: it queues outgoing messages on an unbounded channel and reads
//! incoming ones from a crossbeam channel, with a deadline; it reads and
//! writes direct links itself, and sleeps in [`Ipc::poll_hub`] so that
//! runner messages still wake it.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use prost::Message;
use tokio::net::UnixStream;
use tokio::sync::{Notify, mpsc};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::{Endpoint, Uri};
use vh_proto::frame::MAX_MESSAGE_LEN;
use vh_proto::v1::{
    CallResult, Hello, LoadScript, RunnerMessage, ShimMessage, runner_client::RunnerClient,
    shim_message,
};

use crate::direct::Links;
use crate::shim_log;

/// What the IPC thread hands to the hub thread.
#[derive(Debug)]
pub enum Event {
    /// A message from the runner.
    Msg(RunnerMessage),
    /// The stream ended; every worker of this hub is gone with it.
    Disconnected(String),
}

/// State of the link to the runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// An attempt is under way.
    Connecting,
    /// The stream is open.
    Connected,
    /// The last attempt failed or the stream ended, with the reason.
    Down(String),
}

/// The loaded scripts' load requests, by script id. The hub thread keeps it
/// current; the IPC thread sends them all again on every new stream, so a
/// restarted runner gets every script back under the same id (the hub
/// only misses the hooks fired meanwhile).
#[derive(Clone, Default)]
pub struct Loads(Arc<Mutex<std::collections::BTreeMap<i32, LoadScript>>>);

impl Loads {
    /// Remembers a loaded script.
    pub fn insert(&self, id: i32, load: LoadScript) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, load);
    }

    /// Forgets an unloaded script.
    pub fn remove(&self, id: i32) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    fn all(&self) -> Vec<LoadScript> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

/// Handle to the IPC thread, shared by the hub thread's entry points.
pub struct Ipc {
    out: Mutex<Option<mpsc::UnboundedSender<ShimMessage>>>,
    events: crossbeam_channel::Receiver<Event>,
    link: Mutex<(Link, u64)>,
    link_changed: Condvar,
    wake: Notify,
    stop: AtomicBool,
    disconnects: AtomicU64,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Direct links to workers (docs/protocol.md "Direct links").
    links: Arc<Links>,
    /// Signalled after each event while the hub thread sleeps in `poll`
    /// on a direct link (`hub_polling`), so that it also wakes for the
    /// runner's messages.
    hub_wake: std::os::fd::OwnedFd,
    hub_polling: AtomicBool,
    /// Round trips of direct-link hooks not yet reported, µs, by script.
    round_trips: Mutex<std::collections::HashMap<i32, Vec<u32>>>,
}

/// How often the IPC thread reports hook round trips (`HookStats`), and
/// how many one script may collect before the hub thread sends them itself.
const STATS_EVERY: Duration = Duration::from_millis(250);
const STATS_BATCH: usize = 1024;

/// Why [`Ipc::send`] did not queue a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsent {
    /// There is no open stream to the runner.
    NoStream,
    /// The message's encoding has this many bytes, over [`MAX_MESSAGE_LEN`]
    /// (already logged).
    TooBig(usize),
}

impl std::fmt::Display for Unsent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsent::NoStream => f.write_str("the runner link dropped"),
            Unsent::TooBig(len) => f.write_str(&vh_proto::frame::too_big(
                "the message",
                *len,
                MAX_MESSAGE_LEN,
            )),
        }
    }
}

/// "script #3's OnParsedMsgChat call" and the like, for the log line of a
/// message too big to send.
fn describe(msg: &ShimMessage) -> String {
    use shim_message::Kind;
    match &msg.kind {
        Some(Kind::Hook(h)) => format!(
            "script #{}'s {} call",
            h.script_id,
            vh_proto::hooks::hook(i64::from(h.hook)).map_or("hook", |s| s.name),
        ),
        Some(Kind::CallResult(r)) => format!("the result of script #{}'s vh.* call", r.script_id),
        Some(Kind::Function(f)) => format!(
            "script #{}'s function call {}",
            f.script_id,
            String::from_utf8_lossy(&f.name)
        ),
        Some(Kind::Load(l)) => format!("the load of script #{}", l.script_id),
        _ => "a message to the runner".into(),
    }
}

/// A non-blocking eventfd.
fn new_eventfd() -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain syscall; the fd is ours if it succeeds.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: just created.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Ipc {
    /// Starts the IPC thread, which connects to `socket` at once and again
    /// with backoff whenever the link drops.
    ///
    /// # Errors
    /// If the thread cannot be spawned.
    pub fn start(socket: PathBuf, hello: Hello, loads: Loads) -> std::io::Result<Arc<Ipc>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let ipc = Arc::new(Ipc {
            out: Mutex::new(None),
            events: rx,
            link: Mutex::new((Link::Connecting, 0)),
            link_changed: Condvar::new(),
            wake: Notify::new(),
            stop: AtomicBool::new(false),
            disconnects: AtomicU64::new(0),
            thread: Mutex::new(None),
            links: Arc::default(),
            hub_wake: new_eventfd()?,
            hub_polling: AtomicBool::new(false),
            round_trips: Mutex::default(),
        });
        let me = Arc::clone(&ipc);
        let handle = std::thread::Builder::new()
            .name("vh-shim-ipc".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        me.set_link(Link::Down(format!("cannot start the IPC runtime: {e}")));
                        return;
                    }
                };
                rt.block_on(me.run(socket, hello, loads, tx));
            })?;
        *ipc.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(ipc)
    }

    /// Incoming events, for the hub thread.
    pub fn events(&self) -> &crossbeam_channel::Receiver<Event> {
        &self.events
    }

    /// Queues `ev` for the hub thread and wakes it if it sleeps on a
    /// direct link. False if the hub side is gone.
    fn deliver(&self, events: &crossbeam_channel::Sender<Event>, ev: Event) -> bool {
        crate::hooktable::PENDING.fetch_add(1, Ordering::AcqRel);
        let ok = events.send(ev).is_ok();
        // SeqCst pairs with `poll_hub`: either the hub thread sees the event
        // before it sleeps, or we see its flag and wake it.
        if self.hub_polling.load(Ordering::SeqCst) {
            let one = 1u64.to_ne_bytes();
            // SAFETY: an 8-byte write to our eventfd.
            unsafe { libc::write(self.hub_wake.as_raw_fd(), one.as_ptr().cast(), 8) };
        }
        ok
    }

    /// Waits on the hub thread until `fd` is readable, an event is queued,
    /// or `deadline`: checks for as long as `spin`'s budget says first
    /// (`vh_proto::spin::Adaptive`: nothing while every CPU is busy), then
    /// sleeps in `poll`; tells `spin` how long it waited. False on timeout.
    pub fn poll_hub(
        &self,
        fd: std::os::fd::RawFd,
        deadline: Instant,
        spin: &vh_proto::spin::Adaptive,
    ) -> bool {
        let started = Instant::now();
        let woke = self.poll_hub_inner(fd, deadline, spin.budget());
        spin.waited(started.elapsed());
        woke
    }

    fn poll_hub_inner(&self, fd: std::os::fd::RawFd, deadline: Instant, spin: Duration) -> bool {
        if vh_proto::spin::until_readable(fd, spin, Some(deadline), || !self.events.is_empty()) {
            return true;
        }
        self.hub_polling.store(true, Ordering::SeqCst);
        if !self.events.is_empty() {
            self.hub_polling.store(false, Ordering::SeqCst);
            return true;
        }
        let mut fds = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.hub_wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let left = deadline.saturating_duration_since(Instant::now());
        // Round up: a 0 ms poll for 0.4 ms left would spin.
        let ms = i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        // SAFETY: two valid pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        self.hub_polling.store(false, Ordering::SeqCst);
        if fds[1].revents != 0 {
            let mut buf = [0u8; 8];
            // SAFETY: an 8-byte read from our non-blocking eventfd.
            unsafe { libc::read(self.hub_wake.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        }
        n != 0 || Instant::now() < deadline
    }

    /// Notes one direct-link hook's round trip for `vh-runner status`; the
    /// IPC thread reports them every `STATS_EVERY` (250 ms, `HookStats`).
    pub fn record_round_trip(&self, id: i32, took: Duration) {
        let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        let mut all = self.round_trips.lock().unwrap_or_else(|e| e.into_inner());
        let batch = all.entry(id).or_default();
        batch.push(us);
        if batch.len() >= STATS_BATCH {
            let latency_us = std::mem::take(batch);
            drop(all);
            let _ = self.send(shim_message::Kind::Stats(vh_proto::v1::HookStats {
                script_id: id,
                latency_us,
            }));
        }
    }

    /// Sends every round trip collected so far.
    fn flush_round_trips(&self) {
        let all = std::mem::take(&mut *self.round_trips.lock().unwrap_or_else(|e| e.into_inner()));
        for (script_id, latency_us) in all {
            if !latency_us.is_empty() {
                let _ = self.send(shim_message::Kind::Stats(vh_proto::v1::HookStats {
                    script_id,
                    latency_us,
                }));
            }
        }
    }

    /// The direct links to workers the runner has handed over.
    pub fn links(&self) -> &Links {
        &self.links
    }

    /// How many times the stream has ended so far.
    pub fn disconnects(&self) -> u64 {
        self.disconnects.load(Ordering::Acquire)
    }

    /// Queues `msg` for the runner.
    ///
    /// A message whose encoding exceeds [`MAX_MESSAGE_LEN`] would end the
    /// whole stream (tonic refuses it, the runner could not decode it), so
    /// it is never queued: a `CallResult` (the answer to a script's `vh.*`
    /// call, spec §6.2) is replaced by a failed one whose error gives the
    /// size and the limit, so that only that call fails; anything else
    /// (a hook call with a huge chat line, spec §5) is dropped with one log
    /// line and [`Unsent::TooBig`], and the caller treats it as "no
    /// opinion" or a failure.
    ///
    /// # Errors
    /// [`Unsent::NoStream`] if there is no open stream, [`Unsent::TooBig`]
    /// as above.
    pub fn send(&self, msg: shim_message::Kind) -> Result<(), Unsent> {
        let mut msg = ShimMessage { kind: Some(msg) };
        let len = msg.encoded_len();
        if len > MAX_MESSAGE_LEN {
            let what = vh_proto::frame::too_big(&describe(&msg), len, MAX_MESSAGE_LEN);
            let outcome = match msg.kind {
                Some(shim_message::Kind::CallResult(_)) => "the script's call fails",
                Some(shim_message::Kind::Hook(_)) => "not sent; no opinion",
                _ => "not sent",
            };
            shim_log!(0, "{what}; {outcome}");
            match msg.kind {
                Some(shim_message::Kind::CallResult(r)) => {
                    msg.kind = Some(shim_message::Kind::CallResult(CallResult {
                        script_id: r.script_id,
                        call_id: r.call_id,
                        ok: false,
                        values: Vec::new(),
                        error: vh_proto::frame::too_big("the hub's result", len, MAX_MESSAGE_LEN),
                    }));
                }
                _ => return Err(Unsent::TooBig(len)),
            }
        }
        let out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        match out.as_ref() {
            Some(tx) if tx.send(msg).is_ok() => Ok(()),
            _ => Err(Unsent::NoStream),
        }
    }

    /// Waits until the link is up, asking for a fresh attempt if it is
    /// down. Returns the reason if it is still down after `wait`.
    pub fn ensure_connected(&self, wait: Duration) -> Result<(), String> {
        let deadline = Instant::now() + wait;
        let mut guard = self.link.lock().unwrap_or_else(|e| e.into_inner());
        if let Link::Down(_) = guard.0 {
            // Ask for an attempt now and wait for its outcome, not the old one.
            let seen = guard.1;
            self.wake.notify_one();
            while guard.1 == seen || guard.0 == Link::Connecting {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                guard = self
                    .link_changed
                    .wait_timeout(guard, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        while guard.0 == Link::Connecting {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            guard = self
                .link_changed
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        match &guard.0 {
            Link::Connected => Ok(()),
            Link::Down(reason) => Err(reason.clone()),
            Link::Connecting => Err("still connecting".into()),
        }
    }

    /// Stops the thread and waits for it (bounded by the runtime's own
    /// shutdown: every await in it is interruptible by `wake`).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.out.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.links.clear();
        self.wake.notify_one();
        if let Some(h) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }

    fn set_link(&self, link: Link) {
        let mut guard = self.link.lock().unwrap_or_else(|e| e.into_inner());
        guard.0 = link;
        guard.1 += 1;
        self.link_changed.notify_all();
    }

    async fn run(
        self: Arc<Self>,
        socket: PathBuf,
        hello: Hello,
        loads: Loads,
        events: crossbeam_channel::Sender<Event>,
    ) {
        let mut backoff = Duration::from_millis(100);
        let mut logged_down = false;
        while !self.stop.load(Ordering::Acquire) {
            self.set_link(Link::Connecting);
            let reason = match self.session(&socket, &hello, &loads, &events).await {
                Ok(reason) => {
                    backoff = Duration::from_millis(100);
                    logged_down = false;
                    self.disconnects.fetch_add(1, Ordering::AcqRel);

                    let _ = self.deliver(&events, Event::Disconnected(reason.clone()));
                    shim_log!(0, "lost the runner at {}: {reason}", socket.display());
                    reason
                }
                Err(reason) => {
                    if !logged_down {
                        shim_log!(
                            1,
                            "cannot reach the runner at {}: {reason}",
                            socket.display()
                        );
                        logged_down = true;
                    }
                    reason
                }
            };
            self.set_link(Link::Down(reason));
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = self.wake.notified() => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One connected period. `Err` if it never connected; `Ok(reason)` when
    /// an established stream ends.
    async fn session(
        &self,
        socket: &Path,
        hello: &Hello,
        loads: &Loads,
        events: &crossbeam_channel::Sender<Event>,
    ) -> Result<String, String> {
        let path = socket.to_path_buf();
        let connector = tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { UnixStream::connect(path).await.map(TokioIo::new) }
        });
        // The URI is required by the HTTP/2 layer but never resolved.
        let endpoint = Endpoint::from_static("http://vh-runner.localhost")
            .connect_timeout(Duration::from_secs(2));
        let channel = endpoint
            .connect_with_connector(connector)
            .await
            .map_err(|e| {
                format!(
                    "{e}: {}",
                    std::error::Error::source(&e)
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                )
            })?;
        // Hub messages may be as large as worker frames (16 MiB), not
        // tonic's 4 MiB default.
        let mut client = RunnerClient::new(channel)
            .max_decoding_message_size(vh_proto::frame::MAX_FRAME_LEN)
            .max_encoding_message_size(vh_proto::frame::MAX_FRAME_LEN);
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(ShimMessage {
            kind: Some(shim_message::Kind::Hello(hello.clone())),
        });
        let response = tokio::time::timeout(
            Duration::from_secs(5),
            client.attach(UnboundedReceiverStream::new(rx)),
        )
        .await
        .map_err(|_| "the runner did not answer within 5 s".to_string())?
        .map_err(|s| format!("the runner refused the stream: {}", s.message()))?;
        let mut inbound = response.into_inner();
        // Scripts the hub has loaded come back under their ids, before any
        // new message of the hub thread can be queued behind them.
        let reloads = loads.all();
        if !reloads.is_empty() {
            shim_log!(0, "loading {} script(s) again in the runner", reloads.len());
        }
        for load in reloads {
            let _ = tx.send(ShimMessage {
                kind: Some(shim_message::Kind::Load(load)),
            });
        }
        *self.out.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        self.set_link(Link::Connected);
        shim_log!(1, "connected to the runner at {}", socket.display());
        let mut side: Option<tokio::task::JoinHandle<()>> = None;
        let mut stats_tick = tokio::time::interval(STATS_EVERY);
        stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let reason = loop {
            tokio::select! {
                _ = stats_tick.tick() => self.flush_round_trips(),
                msg = inbound.message() => match msg {
                    // The runner is stopping (SIGTERM): a lost runner, as
                    // if the stream had ended; reconnect and reload later.
                    Ok(Some(RunnerMessage { kind: Some(vh_proto::v1::runner_message::Kind::Stopping(s)) })) => {
                        break format!("the runner is stopping: {}", s.reason);
                    }
                    Ok(Some(m)) => {
                        // The runner knows our token once it has welcomed us:
                        // ask for direct links now.
                        let welcome = matches!(m.kind, Some(vh_proto::v1::runner_message::Kind::Welcome(_)));
                        if welcome && side.is_none() && !hello.direct_token.is_empty() {
                            let (socket, token) = (socket.to_path_buf(), hello.direct_token.clone());
                            let links = Arc::clone(&self.links);
                            side = Some(tokio::spawn(async move {
                                crate::direct::attach(&socket, &token, links).await;
                            }));
                        }

                        if !self.deliver(events, Event::Msg(m)) {
                            break "the shim is shutting down".to_string();
                        }
                    }
                    Ok(None) => break "the runner closed the stream".to_string(),
                    Err(status) => break format!("stream error: {}", status.message()),
                },
                () = self.wake.notified() => {
                    if self.stop.load(Ordering::Acquire) {
                        break "the shim is shutting down".to_string();
                    }
                }
            }
        };
        self.out.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(side) = side {
            side.abort();
        }
        Ok(reason)
    }
}
