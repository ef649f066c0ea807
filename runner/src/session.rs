//! One hub's stream: checks the shim's protocol version, passes every
//! `ToWorker` the shim sends (loads, hooks, function calls, pings, `vh.*`
//! results) to the right script's supervisor as it is, and answers in a
//! worker's place when there is none. Each script is owned by its own task
//! ([`crate::supervisor`]), which passes the workers' `FromWorker` back;
//! the session only holds the sending halves of their control channels.

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message;
use tokio::sync::mpsc;
use tonic::{Status, Streaming};
use vh_proto::PROTOCOL;
use vh_proto::direct::frame::{MAX_FRAME_LEN, too_big};
use vh_proto::v1::{
    CallResult, FunctionResult, HookResult, ScriptUnloaded, ShimMessage, ToWorker, Welcome,
    from_worker, runner_message, shim_message, to_worker,
};

use crate::config::Config;
use crate::control::{Control, ToShim, answer, tell};
use crate::direct::{LinkSlot, Links};
use crate::registry::Registry;
use crate::shutdown::{self, Shutdown};
use crate::supervisor;

/// Control channels of this hub's scripts, by script id.
type Routes = HashMap<i32, mpsc::UnboundedSender<Control>>;

/// What [`forward`] did.
enum Forwarded {
    /// Handed to the script's supervisor.
    Sent,
    /// The script is unknown or its supervisor has ended (the route is
    /// dropped then).
    NoRoute,
    /// As a frame to the worker it would have this many bytes, over
    /// [`MAX_FRAME_LEN`]; not sent, the caller answers with a failure.
    TooBig(usize),
}

/// Hands `msg` to script `id`'s supervisor as it is, unless its frame
/// would exceed the worker link's limit (which would end that link).
fn forward(scripts: &mut Routes, id: i32, msg: ToWorker) -> Forwarded {
    let Some(tx) = scripts.get(&id) else {
        return Forwarded::NoRoute;
    };
    let len = msg.encoded_len();
    if len > MAX_FRAME_LEN {
        tracing::warn!(
            script_id = id,
            "{}; answered with a failure",
            too_big("a message for the worker", len, MAX_FRAME_LEN)
        );
        return Forwarded::TooBig(len);
    }
    if tx.send(Control::Msg(msg)).is_ok() {
        return Forwarded::Sent;
    }
    scripts.remove(&id);
    Forwarded::NoRoute
}

/// What answering in a worker's place needs of a message handed on: the
/// kind of answer and the call id.
enum Owed {
    /// A `HookResult` with "no opinion".
    Hook(u64),
    /// A failed `FunctionResult`.
    Function(u64),
    /// A failed `CallResult` to the worker if the hub's result was too big.
    CallResult(u64),
    /// A `ScriptUnloaded`.
    Unload,
    /// Nothing (a ping).
    Nothing,
}

/// Passes `msg` (anything but a load) on to its script's worker; if it
/// cannot go, answers in the worker's place: an unload is confirmed, a
/// hook gets "no opinion", a function call and a too-big `vh.*` result
/// fail.
fn relay(scripts: &mut Routes, msg: ToWorker, to_shim: &ToShim) {
    let Some(id) = msg.script_id() else {
        tracing::warn!("empty message from the hub; ignored");
        return;
    };
    let owed = match &msg.kind {
        Some(to_worker::Kind::Hook(h)) => Owed::Hook(h.call_id),
        Some(to_worker::Kind::Function(f)) => Owed::Function(f.call_id),
        Some(to_worker::Kind::CallResult(r)) => Owed::CallResult(r.call_id),
        Some(to_worker::Kind::Unload(_)) => Owed::Unload,
        _ => Owed::Nothing,
    };
    let too_big_len = match forward(scripts, id, msg) {
        Forwarded::Sent => return,
        Forwarded::NoRoute => None,
        Forwarded::TooBig(len) => Some(len),
    };
    match owed {
        Owed::Hook(call_id) => answer(
            to_shim,
            from_worker::Kind::HookResult(HookResult {
                script_id: id,
                call_id,
                no_opinion: true,
                values: Vec::new(),
            }),
        ),
        Owed::Function(call_id) => answer(
            to_shim,
            from_worker::Kind::FunctionResult(FunctionResult {
                script_id: id,
                call_id,
                ok: false,
                value: None,
                error: match too_big_len {
                    None => format!("no script with id {id} in the runner"),
                    Some(len) => too_big("the call", len, MAX_FRAME_LEN),
                },
            }),
        ),
        Owed::CallResult(call_id) => match too_big_len {
            None => tracing::debug!(script_id = id, "vh.* result for a script that is gone"),
            // Only that call fails, in the script.
            Some(len) => {
                let failed = CallResult {
                    script_id: id,
                    call_id,
                    ok: false,
                    values: Vec::new(),
                    error: too_big("the hub's result", len, MAX_FRAME_LEN),
                };
                let failed = ToWorker {
                    kind: Some(to_worker::Kind::CallResult(failed)),
                };
                let _ = forward(scripts, id, failed);
            }
        },
        Owed::Unload => answer(
            to_shim,
            from_worker::Kind::Unloaded(ScriptUnloaded { script_id: id }),
        ),
        Owed::Nothing => {}
    }
}

/// Runs one `Attach` stream until the shim goes away; then every worker of
/// this hub is stopped (their control channels close). When the runner
/// stops, every script is unloaded first ([`shutdown::unload_all`]).
pub async fn run(
    mut inbound: Streaming<ShimMessage>,
    to_shim: ToShim,
    config: Arc<Config>,
    registry: Arc<Registry>,
    links: Arc<Links>,
    shutdown: Shutdown,
) {
    let mut scripts: Routes = HashMap::new();
    // The hub's direct-link connection, if its shim takes links.
    let mut slot: Option<Arc<LinkSlot>> = None;
    let mut token = Vec::new();
    loop {
        let next = tokio::select! {
            () = shutdown.stopping.cancelled() => None,
            m = inbound.message() => Some(m),
        };
        // The runner stops (crate::shutdown): the stream to the hub ends
        // with a goodbye and every script gets its UnLoad (after the loop).
        let Some(next) = next else { break };
        let msg = match next {
            Ok(Some(m)) => m,
            Ok(None) => {
                tracing::info!("hub detached");
                break;
            }
            Err(status) => {
                tracing::warn!(error = %status, "hub stream failed");
                break;
            }
        };
        match msg.kind {
            Some(shim_message::Kind::Hello(h)) => {
                if h.protocol != PROTOCOL {
                    // docs/protocol.md "Versions": one line naming both,
                    // in the runner's log and (as the stream's status) in
                    // the hub's, before anything of the stream is read.
                    let line = vh_proto::direct::mismatch(
                        &h.shim_version,
                        h.protocol,
                        env!("CARGO_PKG_VERSION"),
                        PROTOCOL,
                    );
                    tracing::error!(hub_pid = h.hub_pid, "{line}; stream refused");
                    let _ = to_shim.send(Err(Status::failed_precondition(line)));
                    break;
                }
                tracing::info!(hub_pid = h.hub_pid, generation = %h.generation, shim = %h.shim_version, direct_links = !h.direct_token.is_empty(), "hub attached");
                links.unregister(&token);
                slot = links.register(&h.direct_token);
                token = h.direct_token;
                tell(
                    &to_shim,
                    runner_message::Kind::Welcome(Welcome {
                        runner_version: env!("CARGO_PKG_VERSION").into(),
                        protocol: PROTOCOL,
                    }),
                );
            }
            Some(shim_message::Kind::ToWorker(ToWorker {
                kind: Some(to_worker::Kind::Load(load)),
            })) => {
                let resolved = config.resolve(&String::from_utf8_lossy(&load.path));
                let (tx, rx) = mpsc::unbounded_channel();
                // Loading an id again replaces the old worker (dropping its channel stops it).
                scripts.insert(load.script_id, tx.clone());
                let link = slot.clone().filter(|_| resolved.settings.direct_link);
                shutdown.supervisors.spawn(supervisor::run(
                    load,
                    resolved,
                    link,
                    Arc::clone(&registry),
                    to_shim.clone(),
                    tx,
                    rx,
                ));
            }
            // The route of an unloaded script stays until its supervisor
            // ends: a script unloaded while one of its vh.* calls runs
            // (docs/abi.md §9.2, §12) still needs that call's result to
            // finish its hook and run UnLoad().
            Some(shim_message::Kind::ToWorker(msg)) => relay(&mut scripts, msg, &to_shim),
            Some(shim_message::Kind::Stuck(s)) => {
                if let Some(tx) = scripts.get(&s.script_id) {
                    let _ = tx.send(Control::Stuck(s));
                }
            }
            Some(shim_message::Kind::Stats(s)) => {
                if let Some(tx) = scripts.get(&s.script_id) {
                    let _ = tx.send(Control::Stats(s.latency_us));
                }
            }
            None => tracing::warn!("empty message from the hub; ignored"),
        }
    }
    // Also when the hub detached first: the goodbye makes the shim close its
    // stream, which may be seen before the cancellation is; dropping the
    // routes without UnLoad would kill the workers unloaded.
    if shutdown.stopping.is_cancelled() {
        shutdown::unload_all(&scripts).await;
    }
    links.unregister(&token);
}
