//! One hub's stream: routes loads, hooks and `vh.*` results to the right
//! worker, and everything the workers say back to the shim. Each worker is
//! owned by its own task ([`crate::worker`]); the session only holds the
//! sending halves of their command channels.

use std::collections::HashMap;

use tokio::sync::mpsc;
use tonic::{Status, Streaming};
use vh_proto::v1::{
    HookResult, RunnerMessage, ScriptUnloaded, ShimMessage, ToWorker, Welcome, runner_message,
    shim_message, to_worker,
};

use crate::config::Config;
use crate::worker;

/// Sender of the stream back to the shim.
pub type ToShim = mpsc::UnboundedSender<Result<RunnerMessage, Status>>;

fn reply(to_shim: &ToShim, kind: runner_message::Kind) {
    let _ = to_shim.send(Ok(RunnerMessage { kind: Some(kind) }));
}

/// Runs one `Attach` stream until the shim goes away; then every worker of
/// this hub is stopped (dropping their command channels).
pub async fn run(mut inbound: Streaming<ShimMessage>, to_shim: ToShim, config: Config) {
    let mut workers: HashMap<i32, mpsc::UnboundedSender<ToWorker>> = HashMap::new();
    let send = |workers: &HashMap<i32, mpsc::UnboundedSender<ToWorker>>,
                id: i32,
                kind: to_worker::Kind| {
        workers
            .get(&id)
            .is_some_and(|w| w.send(ToWorker { kind: Some(kind) }).is_ok())
    };
    loop {
        let msg = match inbound.message().await {
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
                tracing::info!(hub_pid = h.hub_pid, generation = %h.generation, shim = %h.shim_version, "hub attached");
                reply(
                    &to_shim,
                    runner_message::Kind::Welcome(Welcome {
                        runner_version: env!("CARGO_PKG_VERSION").into(),
                    }),
                );
            }
            Some(shim_message::Kind::Load(load)) => {
                let id = load.script_id;
                if let Some(old) = workers.remove(&id) {
                    // Same id loaded twice: the shim never does this; stop the old one.
                    drop(old);
                }
                let (tx, rx) = mpsc::unbounded_channel();
                workers.insert(id, tx);
                tokio::spawn(worker::run(
                    load,
                    config.python.clone(),
                    to_shim.clone(),
                    rx,
                ));
            }
            Some(shim_message::Kind::Unload(u)) => {
                if !send(&workers, u.script_id, to_worker::Kind::Unload(u)) {
                    reply(
                        &to_shim,
                        runner_message::Kind::Unloaded(ScriptUnloaded {
                            script_id: u.script_id,
                        }),
                    );
                }
                // The worker task finishes the unload on its own.
                workers.remove(&u.script_id);
            }
            Some(shim_message::Kind::Hook(h)) => {
                let (id, call_id) = (h.script_id, h.call_id);
                if !send(&workers, id, to_worker::Kind::Hook(h)) {
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
            Some(shim_message::Kind::CallResult(r)) => {
                let id = r.script_id;
                if !send(&workers, id, to_worker::Kind::CallResult(r)) {
                    tracing::debug!(script_id = id, "vh.* result for a worker that is gone");
                }
            }
            None => tracing::warn!("empty message from the hub; ignored"),
        }
    }
}
