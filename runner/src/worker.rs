//! One incarnation of a script's worker process: spawn `python -m
//! vh.worker` with one end of a socketpair as fd 3, exchange
//! length-delimited prost frames with it (`vh_proto::frame`), copy its
//! stdout/stderr into the log line by line, and report how it ended. The
//! script's supervisor decides what happens next.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use prost::Message;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use vh_proto::frame::{MAX_FRAME_LEN, too_big};
use vh_proto::hooks;
use vh_proto::v1::{
    CallResult, DynamicCall, FromWorker, FunctionResult, HookResult, HubCall, LoadScript, Ping,
    RunnerMessage, ScriptLoaded, ToWorker, from_worker, runner_message, to_worker,
};

use crate::config::{Resolved, ScriptSettings};
use crate::control::{Control, ToShim};
use crate::direct::LinkSlot;
use crate::registry::{Entry, State};
use crate::sandbox;

/// The fd number the worker finds its socket on (`VH_WORKER_FD`).
pub const WORKER_FD: i32 = 3;
/// The fd number of the worker's direct link to the hub (`VH_DIRECT_FD`),
/// when it has one (docs/protocol.md "Direct links").
pub const DIRECT_FD: i32 = 4;
/// Marks the sequence numbers of the runner's own pings (sent after a
/// `HookStuck`), so their pongs are not passed on to the hub.
const PROBE_SEQ: u64 = 1 << 63;
/// How long a worker may take to exit after an unload or a closed socket.
const EXIT_GRACE: Duration = Duration::from_secs(3);
/// How long a worker that reported a failed load may take to exit.
const LOAD_FAILED_GRACE: Duration = Duration::from_millis(500);
/// Lines of output kept to explain a crash.
const TAIL_LINES: usize = 20;
/// How often stuck hooks are looked for.
const STUCK_CHECK: Duration = Duration::from_millis(250);

/// How an incarnation ended.
#[derive(Debug)]
pub enum Exit {
    /// The hub unloaded the script.
    Unloaded,
    /// The hub's stream ended.
    SessionGone,
    /// The first load failed (already reported to the shim).
    LoadFailed,
    /// `vh-runner restart`.
    AdminRestart,
    /// `vh-runner stop`.
    AdminStop,
    /// The script's worker exited with code 0 on its own.
    CleanExit,
    /// Anything else: a crash, a kill, a stuck hook, a failed reload.
    Crashed {
        /// Exit code or signal, and the last lines of output.
        reason: String,
        /// How long the worker had run.
        uptime: Duration,
    },
}

/// The codec of the runner <-> worker link (see `vh_proto::frame`).
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .little_endian()
        .length_field_length(4)
        .max_frame_length(MAX_FRAME_LEN)
        .new_codec()
}

/// Longest reason (a traceback, a worker's last output) passed on to the
/// hub; a worker printing huge lines cannot make a message too big for the
/// stream.
const MAX_REASON_LEN: usize = 64 * 1024;

/// `text` cut to [`MAX_REASON_LEN`] bytes (on a character boundary), with
/// a note saying how much was cut.
fn clip(mut text: String) -> String {
    if text.len() <= MAX_REASON_LEN {
        return text;
    }
    let mut end = MAX_REASON_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("… ({cut} more bytes)"));
    text
}

/// The load request as the worker gets it: `semantics` from the script's
/// settings (runner.toml), else the hub's generation (DESIGN.md
/// "Semantics", docs/compatibility.md).
fn with_semantics(load: &LoadScript, settings: &ScriptSettings) -> LoadScript {
    let mut load = load.clone();
    load.semantics = match settings.semantics {
        Some(s) => s.as_str().to_string(),
        None => load.generation.clone(),
    };
    load
}

fn send_shim(to_shim: &ToShim, kind: runner_message::Kind) {
    let _ = to_shim.send(Ok(RunnerMessage { kind: Some(kind) }));
}

/// Resource limits applied in the child before exec (0 = unchanged).
#[derive(Clone, Copy)]
struct Limits {
    address_space: u64,
    cpu_s: u64,
    open_files: u64,
}

fn spawn(
    resolved: &Resolved,
    script_path: &Path,
    child_end: OwnedFd,
    direct_end: Option<OwnedFd>,
    sandbox: &mut sandbox::Prepared,
) -> std::io::Result<Child> {
    let s = &resolved.settings;
    let mut cmd = Command::new(sandbox.program(&resolved.python));
    cmd.args(["-u", "-m", "vh.worker"])
        .env("VH_WORKER_FD", WORKER_FD.to_string())
        .env("PYTHONUNBUFFERED", "1")
        .envs(&s.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match (&s.cwd, script_path.parent()) {
        (Some(cwd), _) => {
            cmd.current_dir(cwd);
        }
        (None, Some(dir)) if dir.is_dir() => {
            cmd.current_dir(dir);
        }
        _ => {}
    }
    let limits = Limits {
        address_space: s.memory_limit_mb.saturating_mul(1024 * 1024),
        cpu_s: s.cpu_time_limit_s,
        open_files: s.open_files,
    };
    if !s.pipeline_calls {
        cmd.env("VH_PIPELINE_CALLS", "0");
    }
    if direct_end.is_some() {
        cmd.env("VH_DIRECT_FD", DIRECT_FD.to_string());
    } else {
        cmd.env_remove("VH_DIRECT_FD");
    }
    let fd = child_end.as_raw_fd();
    let direct = direct_end.as_ref().map(AsRawFd::as_raw_fd);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // The worker dies with the runner instead of lingering.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for (resource, value) in [
                (libc::RLIMIT_AS, limits.address_space),
                (libc::RLIMIT_CPU, limits.cpu_s),
                (libc::RLIMIT_NOFILE, limits.open_files),
            ] {
                if value > 0 {
                    let lim = libc::rlimit {
                        rlim_cur: value,
                        rlim_max: value,
                    };
                    if libc::setrlimit(resource, &lim) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
            }
            // Out of the way first: dup2 onto WORKER_FD may close it.
            let direct = match direct {
                Some(d) => match libc::fcntl(d, libc::F_DUPFD, 10) {
                    -1 => return Err(std::io::Error::last_os_error()),
                    high => Some(high),
                },
                None => None,
            };
            for (from, to) in std::iter::once((fd, WORKER_FD)).chain(direct.map(|d| (d, DIRECT_FD)))
            {
                if from == to {
                    let flags = libc::fcntl(from, libc::F_GETFD);
                    if flags < 0 || libc::fcntl(from, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(from, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    // Last: it sees the whole environment (PYTHONPATH) set above.
    sandbox.apply(&mut cmd);
    let child = cmd.spawn();
    drop(child_end);
    drop(direct_end);
    child
}

/// Copies one output stream of the worker into the log, the script's log
/// buffer and its optional log file, line by line.
fn forward_lines<R: AsyncRead + Unpin + Send + 'static>(
    reader: R,
    entry: Arc<Entry>,
    stream: &'static str,
    file: Option<Arc<Mutex<File>>>,
    tail: Arc<Mutex<Vec<String>>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        let mut traceback = Traceback::default();
        while let Ok(Some(line)) = lines.next_line().await {
            let Some(line) = traceback.push(line) else {
                continue;
            };
            tracing::info!(script = %entry.name, script_id = entry.script_id, stream, "{line}");
            entry.log(stream, &line);
            if let Some(f) = &file {
                let _ = writeln!(
                    f.lock().unwrap_or_else(|e| e.into_inner()),
                    "{stream}: {line}"
                );
            }
            let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
            if t.len() == TAIL_LINES {
                t.remove(0);
            }
            t.push(line);
        }
    });
}

/// Groups the lines of a Python traceback into one log entry, so that it
/// stays whole in the journal and in `vh-runner logs`: from `Traceback
/// (most recent call last):` through the indented frames up to and
/// including the exception line.
#[derive(Default)]
struct Traceback {
    lines: Vec<String>,
}

/// Longest traceback kept as one entry; a longer one is passed on in parts.
const TRACEBACK_MAX_LINES: usize = 200;

impl Traceback {
    /// Takes one line; returns what to log now, if anything.
    fn push(&mut self, line: String) -> Option<String> {
        if self.lines.is_empty() {
            if line.starts_with("Traceback (most recent call last):") {
                self.lines.push(line);
                return None;
            }
            return Some(line);
        }
        let continues = line.starts_with(' ') || line.starts_with('\t');
        self.lines.push(line);
        if continues && self.lines.len() < TRACEBACK_MAX_LINES {
            return None;
        }
        Some(std::mem::take(&mut self.lines).join("\n"))
    }
}

fn describe(status: Option<ExitStatus>) -> String {
    match status {
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            _ => "ended".into(),
        },
        None => "did not exit and was killed".into(),
    }
}

/// Waits up to `grace` for the child, then kills and reaps it.
async fn reap(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(Ok(status)) => Some(status),
        _ => {
            let _ = child.kill().await;
            None
        }
    }
}

/// Why the frame loop ended.
enum Stop {
    Eof,
    LinkError(String),
    Killed(Exit),
}

/// Runs one worker for `load` until it ends; `reloaded` marks a restart
/// (its load result goes to the shim as a reload, its load failure counts
/// as a crash).
pub async fn run_once(
    load: &LoadScript,
    resolved: &Resolved,
    link: Option<&LinkSlot>,
    entry: &Arc<Entry>,
    to_shim: &ToShim,
    control: &mut mpsc::UnboundedReceiver<Control>,
    reloaded: bool,
) -> Exit {
    let id = load.script_id;
    let name = entry.name.clone();
    let settings = &resolved.settings;
    let fail = |error: String| -> Exit {
        let error = clip(error);
        entry.log("runner", &error);
        if reloaded {
            return Exit::Crashed {
                reason: error,
                uptime: Duration::ZERO,
            };
        }
        tracing::warn!(script = %name, script_id = id, %error, "script failed to load");
        entry.update(|s| s.last_error.clone_from(&error));
        send_shim(
            to_shim,
            runner_message::Kind::Loaded(ScriptLoaded {
                script_id: id,
                ok: false,
                error,
                ..ScriptLoaded::default()
            }),
        );
        Exit::LoadFailed
    };
    let (parent_end, child_end) = match std::os::unix::net::UnixStream::pair() {
        Ok(pair) => pair,
        Err(e) => return fail(format!("socketpair: {e}")),
    };
    // The direct link: the worker's end as fd 4, the hub's end handed over
    // below (without a link the worker serves everything through fd 3).
    let direct = match link.map(|_| std::os::unix::net::UnixStream::pair()) {
        Some(Ok((hub_end, worker_end))) => {
            Some((OwnedFd::from(hub_end), OwnedFd::from(worker_end)))
        }
        Some(Err(e)) => {
            tracing::warn!(script = %name, script_id = id, error = %e, "no direct link: socketpair failed");
            None
        }
        None => None,
    };
    let (hub_end, worker_end) = direct.unzip();
    let path = std::path::PathBuf::from(std::ffi::OsString::from_vec(load.hub_cwd.clone()))
        .join(std::ffi::OsString::from_vec(load.path.clone()));
    let path = std::path::absolute(&path).unwrap_or(path);
    let mut sandbox =
        match sandbox::prepare(resolved, &resolved.python, &path, entry, !reloaded).await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
    let mut child = match spawn(resolved, &path, child_end.into(), worker_end, &mut sandbox) {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot start {}: {e}", resolved.python.display())),
    };
    let mut linked = false;
    if let (Some(link), Some(hub_end)) = (link, hub_end) {
        // Handed over before the load request: the hub has it by the time
        // the script reports loaded. Our copy closes here, so the hub sees
        // the link end when the worker does.
        match link.hand_over(id, &hub_end).await {
            Ok(()) => linked = true,
            Err(e) => {
                tracing::warn!(script = %name, script_id = id, error = %e, "no direct link for this worker; its hooks go through the runner");
            }
        }
    }
    let started = Instant::now();
    let pid = child.id().unwrap_or(0);
    // Until this function returns, after the worker has been reaped.
    let _sandboxed =
        (sandbox.level != sandbox::Level::Off).then(|| sandbox::peers::Registered::new(pid));
    entry.update(|s| {
        s.pid = pid;
        s.state = State::Starting;
        s.started = Some(started);
        s.direct_link = linked;
        s.sandbox = sandbox.level.as_str();
    });
    drop(sandbox);
    let log_file = settings.log_file.as_ref().and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| tracing::warn!(script = %name, file = %p.display(), error = %e, "cannot open the log file"))
            .ok()
            .map(|f| Arc::new(Mutex::new(f)))
    });
    let tail = Arc::new(Mutex::new(Vec::new()));
    if let Some(out) = child.stdout.take() {
        forward_lines(
            out,
            Arc::clone(entry),
            "stdout",
            log_file.clone(),
            Arc::clone(&tail),
        );
    }
    if let Some(err) = child.stderr.take() {
        forward_lines(
            err,
            Arc::clone(entry),
            "stderr",
            log_file,
            Arc::clone(&tail),
        );
    }
    let stream = parent_end
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixStream::from_std(parent_end));
    let stream = match stream {
        Ok(s) => s,
        Err(e) => {
            let _ = child.kill().await;
            return fail(format!("worker socket: {e}"));
        }
    };
    tracing::info!(script = %name, script_id = id, pid, reloaded, "worker started");
    let mut framed = Framed::new(stream, codec());
    let mut loaded = false;
    let mut unloading: Option<tokio::time::Instant> = None;
    // Hooks sent through the runner and not yet answered, and hooks the hub
    // reported stuck on the direct link: when they started, and the hook.
    let mut in_flight: HashMap<u64, (Instant, u32)> = HashMap::new();
    let mut probed: Vec<u64> = Vec::new();
    let mut probe_seq = PROBE_SEQ;
    let kill_after = Duration::from_millis(u64::from(settings.hook_kill_timeout_ms.max(1)));
    let mut stuck_check = tokio::time::interval(STUCK_CHECK);
    let first = ToWorker {
        kind: Some(to_worker::Kind::Load(with_semantics(load, settings))),
    };
    let mut stop = match framed.send(Bytes::from(first.encode_to_vec())).await {
        Ok(()) => None,
        Err(e) => Some(Stop::LinkError(format!(
            "could not send the script to the worker: {e}"
        ))),
    };
    while stop.is_none() {
        tokio::select! {
            frame = framed.next() => {
                let bytes = match frame {
                    Some(Ok(b)) => b,
                    Some(Err(e)) => { stop = Some(Stop::LinkError(format!("bad frame from the worker: {e}"))); break; }
                    None => { stop = Some(Stop::Eof); break; }
                };
                let msg = match FromWorker::decode(bytes) {
                    Ok(m) => m,
                    Err(e) => { stop = Some(Stop::LinkError(format!("undecodable frame from the worker: {e}"))); break; }
                };
                let kind = match msg.kind {
                    Some(from_worker::Kind::Loaded(l)) if !l.ok => {
                        // It should exit now (the real worker does at
                        // once); if it does not, it is killed soon: the
                        // hub's w_Load waits for this answer.
                        let _ = reap(&mut child, LOAD_FAILED_GRACE).await;
                        return fail(format!("the script failed to load:\n{}", l.error.trim_end()));
                    }
                    Some(from_worker::Kind::Loaded(l)) => {
                        loaded = true;
                        entry.update(|s| s.state = State::Running);
                        tracing::info!(script = %name, script_id = id, pid, hooks = l.hooks.len(), "script loaded");
                        runner_message::Kind::Loaded(ScriptLoaded {
                            script_id: id,
                            pid,
                            hook_deadline_ms: settings.hook_deadline_ms,
                            timer_deadline_ms: settings.timer_deadline_ms,
                            circuit_after: settings.circuit_after,
                            reloaded,
                            ..l
                        })
                    }
                    Some(from_worker::Kind::HookResult(mut r)) => {
                        if let Some((sent, _)) = in_flight.remove(&r.call_id) {
                            entry.hook_served(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                        }
                        r.script_id = id;
                        runner_message::Kind::HookResult(r)
                    }
                    Some(from_worker::Kind::HubCall(mut c)) => { c.script_id = id; runner_message::Kind::HubCall(c) }
                    Some(from_worker::Kind::DynamicCall(mut c)) => { c.script_id = id; runner_message::Kind::DynamicCall(c) }
                    Some(from_worker::Kind::FunctionResult(mut r)) => {
                        in_flight.remove(&r.call_id);
                        r.script_id = id;
                        runner_message::Kind::FunctionResult(r)
                    }
                    Some(from_worker::Kind::Pong(mut p)) => {
                        // The main thread answered: no hook is stuck on it.
                        for call in probed.drain(..) {
                            in_flight.remove(&call);
                        }
                        if p.seq & PROBE_SEQ != 0 {
                            continue;
                        }
                        p.script_id = id;
                        runner_message::Kind::Pong(p)
                    }
                    Some(from_worker::Kind::Unloaded(mut u)) => {
                        unloading.get_or_insert_with(|| tokio::time::Instant::now() + EXIT_GRACE);
                        u.script_id = id;
                        runner_message::Kind::Unloaded(u)
                    }
                    None => continue,
                };
                // Re-wrapped with the script id, a frame the worker could
                // send may exceed the stream's message limit, which would
                // end the hub's whole stream: answer with a failure instead.
                let out = RunnerMessage { kind: Some(kind) };
                let len = out.encoded_len();
                if len <= MAX_FRAME_LEN {
                    let _ = to_shim.send(Ok(out));
                    continue;
                }
                let error = too_big("a message for the hub", len, MAX_FRAME_LEN);
                tracing::warn!(script = %name, script_id = id, "{error}; answered with a failure");
                match out.kind {
                    Some(runner_message::Kind::HubCall(HubCall { call_id, .. }) | runner_message::Kind::DynamicCall(DynamicCall { call_id, .. })) => {
                        let failed = ToWorker {
                            kind: Some(to_worker::Kind::CallResult(CallResult { script_id: id, call_id, ok: false, values: Vec::new(), error })),
                        };
                        if let Err(e) = framed.send(Bytes::from(failed.encode_to_vec())).await {
                            stop = Some(Stop::LinkError(format!("cannot write to the worker: {e}")));
                        }
                    }
                    Some(runner_message::Kind::HookResult(r)) => send_shim(
                        to_shim,
                        runner_message::Kind::HookResult(HookResult { no_opinion: true, values: Vec::new(), ..r }),
                    ),
                    Some(runner_message::Kind::FunctionResult(r)) => send_shim(
                        to_shim,
                        runner_message::Kind::FunctionResult(FunctionResult { ok: false, value: None, error, ..r }),
                    ),
                    // Nothing else can be that big from a worker that keeps
                    // to the protocol.
                    _ => stop = Some(Stop::LinkError(error)),
                }
            }
            cmd = control.recv() => match cmd {
                Some(Control::Msg(msg)) => {
                    match &msg.kind {
                        Some(to_worker::Kind::Hook(h)) => { in_flight.insert(h.call_id, (Instant::now(), h.hook)); }
                        Some(to_worker::Kind::Function(f)) => { in_flight.insert(f.call_id, (Instant::now(), hooks::FUNCTION_CALL)); }
                        Some(to_worker::Kind::Unload(_)) => {
                            unloading.get_or_insert_with(|| tokio::time::Instant::now() + EXIT_GRACE);
                        }
                        _ => {}
                    }
                    if let Err(e) = framed.send(Bytes::from(msg.encode_to_vec())).await {
                        stop = Some(Stop::LinkError(format!("cannot write to the worker: {e}")));
                    }
                }
                Some(Control::Stuck(s)) => {
                    // A direct-link hook the hub gave up on: watch it as if
                    // it had gone through here, and ask the main thread
                    // for a pong, which proves it is free again.
                    let since = Instant::now().checked_sub(Duration::from_millis(u64::from(s.waited_ms))).unwrap_or_else(Instant::now);
                    in_flight.insert(s.call_id, (since, s.hook));
                    probed.push(s.call_id);
                    probe_seq += 1;
                    let ping = ToWorker { kind: Some(to_worker::Kind::Ping(Ping { script_id: id, seq: probe_seq })) };
                    if let Err(e) = framed.send(Bytes::from(ping.encode_to_vec())).await {
                        stop = Some(Stop::LinkError(format!("cannot write to the worker: {e}")));
                    }
                }
                Some(Control::Stats(latencies)) => {
                    for us in latencies {
                        entry.hook_served(us);
                    }
                }
                Some(Control::Restart) => { let _ = child.start_kill(); stop = Some(Stop::Killed(Exit::AdminRestart)); }
                Some(Control::Stop) => { let _ = child.start_kill(); stop = Some(Stop::Killed(Exit::AdminStop)); }
                None => {
                    tracing::info!(script = %name, script_id = id, "hub gone; stopping the worker");
                    let _ = child.start_kill();
                    stop = Some(Stop::Killed(Exit::SessionGone));
                }
            },
            _ = stuck_check.tick() => {
                if let Some(deadline) = unloading {
                    if tokio::time::Instant::now() >= deadline {
                        tracing::warn!(script = %name, script_id = id, "UnLoad() did not finish in time; killing the worker");
                        let _ = child.start_kill();
                        stop = Some(Stop::Killed(Exit::Unloaded));
                    }
                    continue;
                }
                let stuck = in_flight.values().filter(|(t, _)| t.elapsed() > kill_after).min_by_key(|(t, _)| *t).copied();
                if let Some((since, hook)) = stuck {
                    let hook = match hook {
                        hooks::FUNCTION_CALL => "a function call (w_CallFunction)",
                        h => hooks::hook(i64::from(h)).map_or("a hook", |h| h.name),
                    };
                    let reason = format!("stuck in {hook} for {:.1} s (hook_kill_timeout_ms = {}); killed", since.elapsed().as_secs_f64(), settings.hook_kill_timeout_ms);
                    tracing::warn!(script = %name, script_id = id, pid, "{reason}");
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    return Exit::Crashed { reason, uptime: started.elapsed() };
                }
            }
        }
    }
    drop(framed);
    if let Some(Stop::LinkError(e)) = &stop {
        // It broke the protocol (or its socket): no grace to exit, so the
        // crash is reported and the restart starts at once.
        tracing::warn!(script = %name, script_id = id, pid, "{e}; killing the worker");
        let _ = child.start_kill();
    }
    let status = reap(&mut child, EXIT_GRACE).await;
    entry.update(|s| {
        s.pid = 0;
        s.started = None;
    });
    let uptime = started.elapsed();
    let explain = |what: String| {
        let tail = tail.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
        if tail.contains("No module named 'vh'") || tail.contains("No module named vh") {
            return format!(
                "{what}: the interpreter {python} has no `vh` package; install it with `{python} -m pip install vh-runner-sdk` (the wheel `maturin build` makes in py-sdk/), or set `python` in the runner config",
                python = resolved.python.display()
            );
        }
        if tail.is_empty() {
            clip(what)
        } else {
            clip(format!("{what}; last output:\n{tail}"))
        }
    };
    match stop {
        Some(Stop::Killed(exit)) => exit,
        _ if unloading.is_some() => {
            tracing::info!(script = %name, script_id = id, pid, "worker {}", describe(status));
            Exit::Unloaded
        }
        // Before its first ScriptLoaded, any end is a failed load (a crash
        // only when it was a restart), never a reason to restart.
        Some(Stop::LinkError(e)) if !loaded => {
            fail(explain(format!("{e}; worker {}", describe(status))))
        }
        _ if !loaded => fail(explain(format!("worker {}", describe(status)))),
        Some(Stop::LinkError(e)) => Exit::Crashed {
            reason: explain(format!("{e}; worker {}", describe(status))),
            uptime,
        },
        _ if status.is_some_and(|s| s.success()) => Exit::CleanExit,
        _ => Exit::Crashed {
            reason: explain(format!("worker {}", describe(status))),
            uptime,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_clipped_on_a_character_boundary() {
        assert_eq!(clip("short".into()), "short");
        let long = "é".repeat(MAX_REASON_LEN);
        let clipped = clip(long.clone());
        assert!(clipped.len() < MAX_REASON_LEN + 32, "{}", clipped.len());
        assert!(clipped.ends_with(&format!("… ({} more bytes)", long.len() - MAX_REASON_LEN)));
    }

    #[test]
    fn a_traceback_is_one_entry() {
        let mut t = Traceback::default();
        let lines = [
            "before",
            "Traceback (most recent call last):",
            "  File \"x.py\", line 3, in OnParsedMsgChat",
            "    return 1 / 0",
            "ZeroDivisionError: division by zero",
            "after",
        ];
        let out: Vec<String> = lines.iter().filter_map(|l| t.push(l.to_string())).collect();
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[0], "before");
        assert!(
            out[1].starts_with("Traceback")
                && out[1].ends_with("ZeroDivisionError: division by zero")
        );
        assert_eq!(out[1].lines().count(), 4);
        assert_eq!(out[2], "after");
    }
}
