//! The worker's protocol handling: the frame loop of one running worker.
//! It sends the load request, passes hooks, function calls and `vh.*`
//! results from the hub to the worker as they came, and the worker's
//! frames back to the hub as they came too (`FromWorker`, its script id
//! filled in, bounded by the frame limit), obeys
//! the supervisor's commands, and kills a worker stuck in a hook past
//! `hook_kill_timeout_ms` (docs/protocol.md "Runner ↔ worker").

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use prost::Message;
use tokio::net::UnixStream;
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use vh_proto::direct::frame::{MAX_FRAME_LEN, too_big};
use vh_proto::hooks;
use vh_proto::v1::{
    CallResult, DynamicCall, FromWorker, FunctionResult, HookResult, HubCall, LoadScript, Ping,
    RunnerMessage, ToWorker, from_worker, runner_message, to_worker,
};

use super::process::reap;
use super::{EXIT_GRACE, Exit};
use crate::config::ScriptSettings;
use crate::control::{Control, ToShim, answer};
use crate::registry::{Entry, State};

/// Marks the sequence numbers of the runner's own pings (sent after a
/// `HookStuck`), so their pongs are not passed on to the hub.
const PROBE_SEQ: u64 = 1 << 63;
/// How long a worker that reported a failed load may take to exit.
const LOAD_FAILED_GRACE: Duration = Duration::from_millis(500);
/// How often stuck hooks are looked for.
const STUCK_CHECK: Duration = Duration::from_millis(250);

/// The codec of the runner <-> worker link (see `vh_proto::direct::frame`).
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .little_endian()
        .length_field_length(4)
        .max_frame_length(MAX_FRAME_LEN)
        .new_codec()
}

/// The load request as the worker gets it: `semantics` from the script's
/// settings (runner.toml), else the hub's generation (docs/architecture.md
/// "Semantics", docs/compatibility.md).
fn with_semantics(load: &LoadScript, settings: &ScriptSettings) -> LoadScript {
    let mut load = load.clone();
    load.semantics = match settings.semantics {
        Some(s) => s.as_str().to_string(),
        None => load.generation.clone(),
    };
    load
}

/// Why the frame loop ended.
pub(super) enum Stop {
    /// The worker closed its socket.
    Eof,
    /// A bad frame, or the socket failed (the reason).
    LinkError(String),
    /// Killed on the supervisor's command, or the hub left; how the
    /// incarnation ended.
    Killed(Exit),
    /// The worker reported a failed load (the error, for the shim); it has
    /// been reaped.
    LoadFailed(String),
    /// A hook was stuck past `hook_kill_timeout_ms` (the reason); the
    /// worker has been killed and reaped.
    Stuck(String),
}

/// How the frame loop ended, and what the caller needs to explain it.
pub(super) struct Ended {
    /// Why it ended (always set).
    pub stop: Option<Stop>,
    /// The worker reported its script loaded.
    pub loaded: bool,
    /// The exit deadline set by an unload, if the script is being unloaded.
    pub unloading: Option<tokio::time::Instant>,
}

/// The worker a frame loop talks to, and where its answers go.
#[derive(Clone, Copy)]
pub(super) struct Peer<'a> {
    /// The hub's script id.
    pub id: i32,
    /// The script's file name, for the log.
    pub name: &'a str,
    /// The worker's pid (log lines, `ScriptLoaded.pid`).
    pub pid: u32,
    /// A restart: its `ScriptLoaded` goes to the shim as a reload.
    pub reloaded: bool,
    /// The script's settings (deadlines, `hook_kill_timeout_ms`).
    pub settings: &'a ScriptSettings,
    /// The script's registry entry (state, hook counts).
    pub entry: &'a Entry,
    /// The stream back to the shim.
    pub to_shim: &'a ToShim,
}

/// Runs the frame loop of the worker `child` on `framed`, starting with
/// the load request of `load`, until the link ends, the worker is killed
/// (a command, a stuck hook) or its load fails. `framed` is dropped (the
/// worker's socket closed) when it returns.
pub(super) async fn serve(
    load: &LoadScript,
    peer: Peer<'_>,
    mut framed: Framed<UnixStream, LengthDelimitedCodec>,
    child: &mut Child,
    control: &mut mpsc::UnboundedReceiver<Control>,
) -> Ended {
    let Peer {
        id,
        name,
        pid,
        reloaded,
        settings,
        entry,
        to_shim,
    } = peer;
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
                let mut msg = match FromWorker::decode(bytes) {
                    Ok(m) => m,
                    Err(e) => { stop = Some(Stop::LinkError(format!("undecodable frame from the worker: {e}"))); break; }
                };
                // The worker leaves the script id 0; the shim does the same
                // for a frame it reads on the direct link.
                msg.set_script_id(id);
                match msg.kind.as_mut() {
                    Some(from_worker::Kind::Loaded(l)) if !l.ok => {
                        // It should exit now (the real worker does at
                        // once); if it does not, it is killed soon: the
                        // hub's w_Load waits for this answer.
                        let _ = reap(child, LOAD_FAILED_GRACE).await;
                        let error = format!("the script failed to load:\n{}", l.error.trim_end());
                        return Ended { stop: Some(Stop::LoadFailed(error)), loaded, unloading };
                    }
                    Some(from_worker::Kind::Loaded(l)) => {
                        loaded = true;
                        entry.update(|s| s.state = State::Running);
                        tracing::info!(script = %name, script_id = id, pid, hooks = l.hooks.len(), "script loaded");
                        // What only the runner knows, for the shim.
                        l.pid = pid;
                        l.hook_deadline_ms = settings.hook_deadline_ms;
                        l.timer_deadline_ms = settings.timer_deadline_ms;
                        l.circuit_after = settings.circuit_after;
                        l.reloaded = reloaded;
                    }
                    Some(from_worker::Kind::HookResult(r)) => {
                        if let Some((sent, _)) = in_flight.remove(&r.call_id) {
                            entry.hook_served(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                        }
                    }
                    Some(from_worker::Kind::FunctionResult(r)) => {
                        in_flight.remove(&r.call_id);
                    }
                    Some(from_worker::Kind::Pong(p)) => {
                        // The main thread answered: no hook is stuck on it.
                        for call in probed.drain(..) {
                            in_flight.remove(&call);
                        }
                        if p.seq & PROBE_SEQ != 0 {
                            continue;
                        }
                    }
                    Some(from_worker::Kind::Unloaded(_)) => {
                        unloading.get_or_insert_with(|| tokio::time::Instant::now() + EXIT_GRACE);
                    }
                    Some(from_worker::Kind::HubCall(_) | from_worker::Kind::DynamicCall(_)) => {}
                    None => continue,
                }
                // Passed on as it came, in the stream's envelope. A frame the
                // worker could send may exceed the stream's message limit
                // with it, which would end the hub's whole stream: answer
                // with a failure instead.
                let out = RunnerMessage { kind: Some(runner_message::Kind::FromWorker(msg)) };
                let len = out.encoded_len();
                if len <= MAX_FRAME_LEN {
                    let _ = to_shim.send(Ok(out));
                    continue;
                }
                let error = too_big("a message for the hub", len, MAX_FRAME_LEN);
                tracing::warn!(script = %name, script_id = id, "{error}; answered with a failure");
                let Some(runner_message::Kind::FromWorker(FromWorker { kind: Some(kind) })) = out.kind else {
                    continue;
                };
                match kind {
                    from_worker::Kind::HubCall(HubCall { call_id, .. }) | from_worker::Kind::DynamicCall(DynamicCall { call_id, .. }) => {
                        let failed = ToWorker {
                            kind: Some(to_worker::Kind::CallResult(CallResult { script_id: id, call_id, ok: false, values: Vec::new(), error })),
                        };
                        if let Err(e) = framed.send(Bytes::from(failed.encode_to_vec())).await {
                            stop = Some(Stop::LinkError(format!("cannot write to the worker: {e}")));
                        }
                    }
                    from_worker::Kind::HookResult(r) => answer(
                        to_shim,
                        from_worker::Kind::HookResult(HookResult { no_opinion: true, values: Vec::new(), ..r }),
                    ),
                    from_worker::Kind::FunctionResult(r) => answer(
                        to_shim,
                        from_worker::Kind::FunctionResult(FunctionResult { ok: false, value: None, error, ..r }),
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
                    return Ended { stop: Some(Stop::Stuck(reason)), loaded, unloading };
                }
            }
        }
    }
    Ended {
        stop,
        loaded,
        unloading,
    }
}
