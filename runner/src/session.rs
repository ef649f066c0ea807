//! One hub's stream: routes loads, hooks, function calls (`w_CallFunction`),
//! pings and `vh.*` results to the right script's supervisor, and
//! everything the workers say back to the shim. Each script is owned by its
//! own task ([`crate::supervisor`]); the session only holds the sending
//! halves of their control channels.

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message;
use tokio::sync::mpsc;
use tonic::Streaming;
use vh_proto::direct::frame::{MAX_FRAME_LEN, too_big};
use vh_proto::v1::{
    CallResult, FunctionResult, HookResult, RunnerMessage, ScriptUnloaded, ShimMessage, ToWorker,
    Welcome, runner_message, shim_message, to_worker,
};

use crate::config::Config;
use crate::control::{Control, ToShim};
use crate::direct::{LinkSlot, Links};
use crate::registry::Registry;
use crate::shutdown::{self, Shutdown};
use crate::supervisor;

fn reply(to_shim: &ToShim, kind: runner_message::Kind) {
    let _ = to_shim.send(Ok(RunnerMessage { kind: Some(kind) }));
}

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

/// Hands `kind` to script `id`'s supervisor, unless its frame would exceed
/// the worker link's limit (which would end that link).
fn forward(scripts: &mut Routes, id: i32, kind: to_worker::Kind) -> Forwarded {
    let Some(tx) = scripts.get(&id) else {
        return Forwarded::NoRoute;
    };
    let msg = ToWorker { kind: Some(kind) };
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
                tracing::info!(hub_pid = h.hub_pid, generation = %h.generation, shim = %h.shim_version, direct_links = !h.direct_token.is_empty(), "hub attached");
                links.unregister(&token);
                slot = links.register(&h.direct_token);
                token = h.direct_token;
                reply(
                    &to_shim,
                    runner_message::Kind::Welcome(Welcome {
                        runner_version: env!("CARGO_PKG_VERSION").into(),
                    }),
                );
            }
            Some(shim_message::Kind::Load(load)) => {
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
            Some(shim_message::Kind::Unload(u)) => {
                let id = u.script_id;
                // The route stays until the supervisor ends: a script
                // unloaded while one of its vh.* calls runs (docs/abi.md §9.2,
                // §12) still needs that call's result to finish its hook
                // and run UnLoad().
                if !matches!(
                    forward(&mut scripts, id, to_worker::Kind::Unload(u)),
                    Forwarded::Sent
                ) {
                    reply(
                        &to_shim,
                        runner_message::Kind::Unloaded(ScriptUnloaded { script_id: id }),
                    );
                }
            }
            Some(shim_message::Kind::Hook(h)) => {
                let (id, call_id) = (h.script_id, h.call_id);
                if !matches!(
                    forward(&mut scripts, id, to_worker::Kind::Hook(h)),
                    Forwarded::Sent
                ) {
                    reply(
                        &to_shim,
                        runner_message::Kind::HookResult(HookResult {
                            script_id: id,
                            call_id,
                            no_opinion: true,
                            values: Vec::new(),
                        }),
                    );
                }
            }
            Some(shim_message::Kind::Function(f)) => {
                let (id, call_id) = (f.script_id, f.call_id);
                let error = match forward(&mut scripts, id, to_worker::Kind::Function(f)) {
                    Forwarded::Sent => None,
                    Forwarded::NoRoute => Some(format!("no script with id {id} in the runner")),
                    Forwarded::TooBig(len) => Some(too_big("the call", len, MAX_FRAME_LEN)),
                };
                if let Some(error) = error {
                    reply(
                        &to_shim,
                        runner_message::Kind::FunctionResult(FunctionResult {
                            script_id: id,
                            call_id,
                            ok: false,
                            value: None,
                            error,
                        }),
                    );
                }
            }
            Some(shim_message::Kind::CallResult(r)) => {
                let (id, call_id) = (r.script_id, r.call_id);
                match forward(&mut scripts, id, to_worker::Kind::CallResult(r)) {
                    Forwarded::Sent => {}
                    Forwarded::NoRoute => {
                        tracing::debug!(script_id = id, "vh.* result for a script that is gone");
                    }
                    // Only that call fails, in the script.
                    Forwarded::TooBig(len) => {
                        let failed = CallResult {
                            script_id: id,
                            call_id,
                            ok: false,
                            values: Vec::new(),
                            error: too_big("the hub's result", len, MAX_FRAME_LEN),
                        };
                        let _ = forward(&mut scripts, id, to_worker::Kind::CallResult(failed));
                    }
                }
            }
            Some(shim_message::Kind::Ping(p)) => {
                let _ = forward(&mut scripts, p.script_id, to_worker::Kind::Ping(p));
            }
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
