//! One script's supervisor: runs its worker ([`crate::worker::run_once`]),
//! and after a crash restarts it with backoff, or marks it failed past the
//! restart intensity limit ([`crate::policy`]); obeys `vh-runner
//! restart|stop`. While no worker runs, the script's hooks are answered "no
//! opinion" at once, so the hub never waits for a script that is down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use vh_proto::v1::{
    FunctionResult, HookResult, LoadScript, RunnerMessage, ScriptDown, ScriptUnloaded, ToWorker,
    runner_message, to_worker,
};

use crate::config::Resolved;
use crate::control::{Control, ToShim};
use crate::direct::LinkSlot;
use crate::policy::{Decision, RestartPolicy};
use crate::registry::{Entry, Registry, State};
use crate::worker::{self, Exit};

fn send_shim(to_shim: &ToShim, kind: runner_message::Kind) {
    let _ = to_shim.send(Ok(RunnerMessage { kind: Some(kind) }));
}

/// How waiting without a worker ended.
enum Wake {
    /// Time is up, or `vh-runner restart`: start a worker.
    Start,
    /// Unloaded by the hub, or the hub is gone: end the supervisor.
    End,
}

/// Waits until `until` (forever if `None`) with no worker: hooks get "no
/// opinion", function calls (`w_CallFunction`) a failure, an unload is
/// confirmed at once.
async fn wait_down(
    id: i32,
    until: Option<Instant>,
    control: &mut mpsc::UnboundedReceiver<Control>,
    to_shim: &ToShim,
    entry: &Entry,
) -> Wake {
    let sleep = async {
        match until {
            Some(t) => tokio::time::sleep_until(t.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => return Wake::Start,
            cmd = control.recv() => match cmd {
                None => return Wake::End,
                Some(Control::Restart) => return Wake::Start,
                Some(Control::Stop) => entry.update(|s| s.state = State::Stopped),
                Some(Control::Msg(ToWorker { kind: Some(to_worker::Kind::Hook(h)) })) => send_shim(
                    to_shim,
                    runner_message::Kind::HookResult(HookResult {
                        script_id: id,
                        call_id: h.call_id,
                        no_opinion: true,
                        values: Vec::new(),
                    }),
                ),
                Some(Control::Msg(ToWorker { kind: Some(to_worker::Kind::Function(f)) })) => send_shim(
                    to_shim,
                    runner_message::Kind::FunctionResult(FunctionResult {
                        script_id: id,
                        call_id: f.call_id,
                        ok: false,
                        value: None,
                        error: "the script's worker is down".into(),
                    }),
                ),
                Some(Control::Msg(ToWorker { kind: Some(to_worker::Kind::Unload(_)) })) => {
                    send_shim(to_shim, runner_message::Kind::Unloaded(ScriptUnloaded { script_id: id }));
                    return Wake::End;
                }
                // A late vh.* result, a ping or a report about the last
                // worker: nobody to hand it to.
                Some(Control::Msg(_) | Control::Stuck(_) | Control::Stats(_)) => {}
            },
        }
    }
}

/// Runs the script of `load` until the hub unloads it or goes away; each
/// worker gets a direct link to the hub if `link` is given.
pub async fn run(
    load: LoadScript,
    resolved: Resolved,
    link: Option<Arc<LinkSlot>>,
    registry: Arc<Registry>,
    to_shim: ToShim,
    control_tx: mpsc::UnboundedSender<Control>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let id = load.script_id;
    let path = String::from_utf8_lossy(&load.path).into_owned();
    let (key, entry) = registry.add(id, &path, control_tx);
    let mut policy = RestartPolicy::new(&resolved.settings);
    let mut reloaded = false;
    loop {
        let exit = worker::run_once(
            &load,
            &resolved,
            link.as_deref(),
            &entry,
            &to_shim,
            &mut control,
            reloaded,
        )
        .await;
        reloaded = true;
        let down = |reason: &str, restart_in: Duration| {
            entry.log("runner", reason);
            send_shim(
                &to_shim,
                runner_message::Kind::Down(ScriptDown {
                    script_id: id,
                    reason: reason.to_string(),
                    restart_in_ms: u32::try_from(restart_in.as_millis()).unwrap_or(u32::MAX),
                }),
            );
        };
        let until = match exit {
            Exit::Unloaded | Exit::SessionGone | Exit::LoadFailed => break,
            Exit::AdminRestart => {
                policy.reset();
                entry.log("runner", "restarted by vh-runner restart");
                continue;
            }
            Exit::AdminStop => {
                down("stopped by vh-runner stop", Duration::ZERO);
                entry.update(|s| s.state = State::Stopped);
                None
            }
            Exit::CleanExit => {
                down(
                    "the script's worker exited cleanly (code 0)",
                    Duration::ZERO,
                );
                entry.update(|s| s.state = State::Exited);
                None
            }
            Exit::Crashed { reason, uptime } => {
                entry.update(|s| s.last_error.clone_from(&reason));
                match policy.on_crash(Instant::now(), uptime, fastrand::f64()) {
                    Decision::RestartAfter(delay) => {
                        tracing::warn!(script = %entry.name, script_id = id, delay_ms = delay.as_millis() as u64, %reason, "worker crashed; restarting");
                        down(
                            &format!("{reason}; restarting in {} ms", delay.as_millis()),
                            delay,
                        );
                        entry.update(|s| {
                            s.state = State::Restarting;
                            s.restarts += 1;
                        });
                        Some(Instant::now() + delay)
                    }
                    Decision::GiveUp => {
                        let s = &resolved.settings;
                        let why = format!(
                            "failed: more than {} crashes in {} s; not restarted until `vh-runner restart {}`. Last: {reason}",
                            s.max_crashes, s.crash_window_s, entry.name
                        );
                        tracing::error!(script = %entry.name, script_id = id, "{why}");
                        down(&why, Duration::ZERO);
                        entry.update(|s| {
                            s.state = State::Failed;
                            s.last_error.clone_from(&why);
                        });
                        None
                    }
                }
            }
        };
        match wait_down(id, until, &mut control, &to_shim, &entry).await {
            Wake::End => break,
            Wake::Start if until.is_none() => policy.reset(),
            Wake::Start => {}
        }
    }
    registry.remove(key);
}
