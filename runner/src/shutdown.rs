//! The runner's clean stop on SIGTERM or SIGINT: `systemctl
//! stop` and `restart` must not wait for systemd's stop timeout.
//!
//! In order, with one log line per step:
//! 1. the socket file goes (a reconnecting shim fails at once instead of
//!    hanging on a server that no longer answers) and every attached hub
//!    gets a final [`RunnerStopping`] message, after which its stream ends:
//!    the shim treats that as a lost runner (hooks allow; it reconnects with
//!    backoff and loads its scripts again in the next runner);
//! 2. every script's worker gets its `UnLoad` (the same `UnloadScript` the
//!    hub's `w_Unload` sends), with one [`UNLOAD_GRACE`] for all of them;
//! 3. workers still running after it are killed (SIGKILL);
//! 4. the gRPC server gets [`SERVER_GRACE`] to close its connections, and
//!    the runner exits 0.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vh_proto::v1::{
    RunnerMessage, RunnerStopping, ToWorker, UnloadScript, runner_message, to_worker,
};

use crate::control::Control;
use crate::registry::Registry;

/// How long all the workers together get to run `UnLoad` and exit.
pub const UNLOAD_GRACE: Duration = Duration::from_secs(2);
/// How long the gRPC server gets to close its connections afterwards.
pub const SERVER_GRACE: Duration = Duration::from_millis(300);

/// What every part of the runner needs to know about a stop: whether it has
/// begun, and which supervisors are still running.
#[derive(Clone, Default)]
pub struct Shutdown {
    /// Cancelled when the stop begins.
    pub stopping: CancellationToken,
    /// Every script's supervisor task.
    pub supervisors: TaskTracker,
    /// The signal that began the stop, for the hubs' logs.
    pub cause: Arc<OnceLock<&'static str>>,
}

impl Shutdown {
    /// The last message of a hub's stream when the runner stops.
    pub fn goodbye(&self) -> RunnerMessage {
        let cause = self.cause.get().copied().unwrap_or("stop requested");
        RunnerMessage {
            kind: Some(runner_message::Kind::Stopping(RunnerStopping {
                reason: format!("{cause}; scripts load again in the next runner"),
            })),
        }
    }
}

/// Gives each of one hub's scripts its `UnLoad` and waits until their
/// supervisors have ended (the overall bound is [`UNLOAD_GRACE`], kept by
/// [`stop`]). The senders stay alive meanwhile: a closed control channel
/// would kill the worker before its `UnLoad` ran.
pub async fn unload_all(scripts: &std::collections::HashMap<i32, mpsc::UnboundedSender<Control>>) {
    for (&script_id, tx) in scripts {
        let unload = ToWorker {
            kind: Some(to_worker::Kind::Unload(UnloadScript { script_id })),
        };
        let _ = tx.send(Control::Msg(unload));
    }
    for tx in scripts.values() {
        tx.closed().await;
    }
}

/// The socket file's identity (device, inode), so that the stop removes
/// only its own file, never one a newer runner has bound meanwhile.
pub fn socket_identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn remove_socket(path: &Path, identity: Option<(u64, u64)>) -> bool {
    if identity.is_some() && socket_identity(path) == identity {
        return std::fs::remove_file(path).is_ok();
    }
    false
}

/// Runs the stop described in the module doc after `signal` named the
/// cause; `server` is the gRPC server's task.
pub async fn stop(
    signal: &'static str,
    shutdown: &Shutdown,
    registry: &Registry,
    socket: (PathBuf, Option<(u64, u64)>),
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let began = Instant::now();
    let scripts = registry.all().len();
    tracing::info!(
        signal,
        scripts,
        grace_ms = UNLOAD_GRACE.as_millis() as u64,
        "stopping: telling the attached hubs, then unloading every script"
    );
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    let removed = remove_socket(&socket.0, socket.1);
    let _ = shutdown.cause.set(signal);
    shutdown.stopping.cancel();
    shutdown.supervisors.close();
    tracing::info!(socket = %socket.0.display(), removed, "socket closed; every attached hub told the runner is going");
    let all_done = tokio::time::timeout(UNLOAD_GRACE, shutdown.supervisors.wait())
        .await
        .is_ok();
    if all_done {
        tracing::info!(
            scripts,
            took_ms = began.elapsed().as_millis() as u64,
            "every script unloaded"
        );
    } else {
        let left: Vec<(String, u32)> = registry
            .all()
            .iter()
            .map(|e| (e.name.clone(), e.update(|s| s.pid)))
            .filter(|(_, pid)| *pid != 0)
            .collect();
        for (_, pid) in &left {
            if let Ok(pid) = i32::try_from(*pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let names: Vec<&str> = left.iter().map(|(n, _)| n.as_str()).collect();
        tracing::warn!(
            killed = left.len(),
            scripts = ?names,
            "workers still running after {} ms: killed",
            UNLOAD_GRACE.as_millis()
        );
    }
    let result = match tokio::time::timeout(SERVER_GRACE, server).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(anyhow::anyhow!("the server task failed: {e}")),
        // Connections that stay open (a `vh-runner logs -f`) do not hold
        // the stop up.
        Err(_) => Ok(()),
    };
    remove_socket(&socket.0, socket.1);
    tracing::info!(
        took_ms = began.elapsed().as_millis() as u64,
        "vh-runner stopped"
    );
    result
}

/// Waits for SIGTERM or SIGINT and names it.
pub async fn signal() -> &'static str {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => "SIGTERM",
    }
}
