//! One script's supervisor: runs its worker ([`crate::worker::run_once`]),
//! and after a crash restarts it with backoff, or marks it failed past the
//! restart intensity limit ([`crate::policy`]); obeys `vh-runner
//! restart|stop`. While no worker runs, the script's hooks are answered "no
//! opinion" at once, so the hub never waits for a script that is down.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use vh_proto::v1::{
    FunctionResult, HookResult, LoadScript, ScriptDown, ScriptUnloaded, ToWorker, from_worker,
    runner_message, to_worker,
};

use crate::config::Resolved;
use crate::control::{Control, ToShim, answer, tell};
use crate::direct::LinkSlot;
use crate::policy::{Decision, RestartPolicy};
use crate::registry::{Entry, Registry, State};
use crate::worker::{self, Exit};

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
                Some(Control::Msg(ToWorker { kind: Some(to_worker::Kind::Hook(h)) })) => answer(
                    to_shim,
                    from_worker::Kind::HookResult(HookResult {
                        script_id: id,
                        call_id: h.call_id,
                        no_opinion: true,
                        values: Vec::new(),
                    }),
                ),
                Some(Control::Msg(ToWorker { kind: Some(to_worker::Kind::Function(f)) })) => answer(
                    to_shim,
                    from_worker::Kind::FunctionResult(FunctionResult {
                        script_id: id,
                        call_id: f.call_id,
                        ok: false,
                        value: None,
                        error: "the script's worker is down".into(),
                    }),
                ),
                Some(Control::Msg(ToWorker { kind: Some(to_worker::Kind::Unload(_)) })) => {
                    answer(to_shim, from_worker::Kind::Unloaded(ScriptUnloaded { script_id: id }));
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
    mut resolved: Resolved,
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
    choose_interpreter(&mut resolved, &entry, &load).await;
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
        if let Exit::Fallback { why, error } = exit {
            if let Some(python3) = resolved.py3_fallback.take() {
                fall_back_to_python3(&mut resolved, &entry, (&why, error), python3);
                continue;
            }
            let py2 = tokio::task::spawn_blocking(crate::py2::get)
                .await
                .unwrap_or_default();
            if fall_back_to_python2(&mut resolved, &entry, (&why, error.clone()), &py2) {
                continue;
            }
            // No Python 2.7 to try: the Python 3 failure is the outcome.
            worker::load_failed(&entry, &to_shim, error);
            break;
        }
        reloaded = true;
        let down = |reason: &str, restart_in: Duration| {
            entry.log("runner", reason);
            tell(
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
            // Handled above.
            Exit::Fallback { .. } => continue,
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

/// Python 2 or 3 ([`crate::py2`]). A script's own `python`
/// runs it, as a Python 2 worker if it is a Python 2 (asked once per
/// interpreter). Without one, a script with generation A's semantics (an A
/// hub's, unless runner.toml says otherwise) runs in the runner's Python
/// 2.7 if there is one, as python_pi 1.6 ran every script, and falls back
/// to the top-level Python 3 if its load fails as Python 3 code fails
/// under Python 2.7; any other script runs under the top-level (Python 3)
/// interpreter, and may fall back to the runner's Python 2.7 if its load
/// fails as Python 2 code fails under Python 3. A Python 3's version for
/// `vh-runner status` is asked in the background, so that the load does
/// not wait for it.
async fn choose_interpreter(resolved: &mut Resolved, entry: &Arc<Entry>, load: &LoadScript) {
    if resolved.explicit_python {
        let python = resolved.python.clone();
        let version = tokio::task::spawn_blocking(move || crate::py2::version_of(&python))
            .await
            .ok()
            .flatten();
        resolved.py2 = version.as_deref().is_some_and(crate::py2::is_python2);
        resolved.py2_fallback = false;
        entry.update(|s| s.python = version.unwrap_or_default());
        return;
    }
    if a_semantics(resolved, load) {
        let py2 = tokio::task::spawn_blocking(crate::py2::get)
            .await
            .unwrap_or_default();
        if let (Some(python2), Some(_)) = (py2.python, py2.package_dir) {
            resolved.py3_fallback = Some(std::mem::replace(&mut resolved.python, python2));
            resolved.py2 = true;
            resolved.py2_fallback = false;
            entry.update(|s| s.python = "2.7".into());
            return;
        }
    }
    resolved.py2 = false;
    resolved.py2_fallback = true;
    report_version(resolved, entry);
}

/// True if the script gets generation A's `vh`: its runner.toml
/// `semantics`, else the hub's generation (A when unknown).
fn a_semantics(resolved: &Resolved, load: &LoadScript) -> bool {
    match resolved.settings.semantics {
        Some(crate::config::Semantics::A) => true,
        Some(crate::config::Semantics::B) => false,
        None => load.generation != "B",
    }
}

/// Asks `resolved.python` its version in the background for `vh-runner
/// status`'s PY column.
fn report_version(resolved: &Resolved, entry: &Arc<Entry>) {
    let python = resolved.python.clone();
    let entry = Arc::clone(entry);
    tokio::task::spawn_blocking(move || {
        if let Some(v) = crate::py2::version_of(&python) {
            entry.update(|s| {
                if s.python.is_empty() {
                    s.python = v;
                }
            });
        }
    });
}

/// After [`worker::Exit::Fallback`] of a first load under Python 2.7: the
/// script runs under `python3` from now on (restarts included).
fn fall_back_to_python3(
    resolved: &mut Resolved,
    entry: &Arc<Entry>,
    failure: (&str, String),
    python3: PathBuf,
) {
    switch_python(resolved, entry, failure, python3, false);
}

/// After [`worker::Exit::Fallback`]: if the runner has a Python 2.7 (and
/// its package), the script runs under it from now on (restarts
/// included); returns false otherwise.
fn fall_back_to_python2(
    resolved: &mut Resolved,
    entry: &Arc<Entry>,
    failure: (&str, String),
    py2: &crate::py2::Python2,
) -> bool {
    let (Some(python), Some(_)) = (py2.python.clone(), py2.package_dir.as_ref()) else {
        return false;
    };
    switch_python(resolved, entry, failure, python, true);
    true
}

/// Runs the script under `python` (a Python 2.7 if `py2`) from now on,
/// with one log line saying why its first load failed under the other
/// (`failure`: that line's reason and the whole traceback, kept for
/// [`crate::py2::both_failed`]).
fn switch_python(
    resolved: &mut Resolved,
    entry: &Arc<Entry>,
    (why, error): (&str, String),
    python: PathBuf,
    py2: bool,
) {
    let (from, to) = if py2 {
        ("Python 3", "Python 2.7")
    } else {
        ("Python 2", "Python 3")
    };
    let line = format!(
        "not {from} code ({why}); loading it again under {to} ({})",
        python.display()
    );
    tracing::info!(script = %entry.name, script_id = entry.script_id, "{line}");
    entry.log("runner", &line);
    resolved.python = python;
    resolved.py2 = py2;
    resolved.py2_fallback = false;
    resolved.earlier_failure = Some((if py2 { "Python 3" } else { "Python 2.7" }, error));
    entry.update(|s| {
        s.python = if py2 { "2.7".into() } else { String::new() };
        s.last_error.clear();
    });
    if !py2 {
        report_version(resolved, entry);
    }
}
