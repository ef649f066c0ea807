//! One incarnation of a script's worker process: spawn `python -m
//! vh.worker` with one end of a socketpair as fd 3, exchange
//! length-delimited prost frames with it (`vh_proto::direct::frame`), copy its
//! stdout/stderr into the log line by line, and report how it ended. The
//! script's supervisor decides what happens next.
//!
//! [`run_once`] ties the parts together:
//! * `worker/process`: the process handling: spawn (fds, environment,
//!   resource limits, sandbox), reaping;
//! * `worker/output`: its stdout/stderr copied into the log, tracebacks
//!   kept whole;
//! * `worker/frames`: the protocol handling: the frame loop (load, hooks,
//!   function calls, `vh.*` calls, commands, stuck hooks) and [`codec`].

mod frames;
mod output;
mod process;

use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::codec::Framed;
use vh_proto::v1::{LoadScript, ScriptLoaded, from_worker};

pub use frames::codec;

use crate::config::Resolved;
use crate::control::{Control, ToShim};
use crate::direct::LinkSlot;
use crate::registry::{Entry, State};
use crate::sandbox;
use frames::{Ended, Peer, Stop};
use output::forward_lines;
use process::{describe, reap, spawn};

/// The fd number the worker finds its socket on (`VH_WORKER_FD`).
pub const WORKER_FD: i32 = 3;
/// The fd number of the worker's direct link to the hub (`VH_DIRECT_FD`),
/// when it has one (docs/protocol.md "Direct links").
pub const DIRECT_FD: i32 = 4;
/// How long a worker may take to exit after an unload or a closed socket.
const EXIT_GRACE: Duration = Duration::from_secs(3);

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
    /// The first load failed under Python 3 as Python 2 code fails there
    /// ([`crate::py2::fails_as_python2`]), or under Python 2.7 as Python 3
    /// code fails there ([`crate::py2::fails_as_python3`]); nothing was
    /// sent to the hub: the supervisor loads the script again under the
    /// other Python, or, without a Python 2.7, reports this failure with
    /// [`load_failed`].
    Fallback {
        /// Why it looks like the other Python's code (the traceback's last
        /// line).
        why: String,
        /// The whole failure, as the hub would have got it.
        error: String,
    },
    /// Anything else: a crash, a kill, a stuck hook, a failed reload.
    Crashed {
        /// Exit code or signal, and the last lines of output.
        reason: String,
        /// How long the worker had run.
        uptime: Duration,
    },
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

/// Reports a failed first load to the hub (and the log and `status`);
/// returns [`Exit::LoadFailed`].
pub fn load_failed(entry: &Entry, to_shim: &ToShim, error: String) -> Exit {
    tracing::warn!(script = %entry.name, script_id = entry.script_id, %error, "script failed to load");
    entry.update(|s| s.last_error.clone_from(&error));
    crate::control::answer(
        to_shim,
        from_worker::Kind::Loaded(ScriptLoaded {
            script_id: entry.script_id,
            ok: false,
            error,
            ..ScriptLoaded::default()
        }),
    );
    Exit::LoadFailed
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
        let why = if reloaded {
            None
        } else if resolved.py2_fallback {
            crate::py2::fails_as_python2(&error)
        } else if resolved.py3_fallback.is_some() {
            crate::py2::fails_as_python3(&error)
        } else {
            None
        };
        if let Some(why) = why {
            return Exit::Fallback { why, error };
        }
        if reloaded {
            return Exit::Crashed {
                reason: error,
                uptime: Duration::ZERO,
            };
        }
        let error = match &resolved.earlier_failure {
            Some((first, earlier)) => {
                let this = if resolved.py2 {
                    "Python 2.7"
                } else {
                    "Python 3"
                };
                crate::py2::both_failed((first, earlier), (this, &error))
            }
            None => error,
        };
        load_failed(entry, to_shim, error)
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
        match link.hand_over(id, &hub_end, resolved.py2).await {
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
    let framed = Framed::new(stream, codec());
    let peer = Peer {
        id,
        name: &name,
        pid,
        reloaded,
        settings,
        entry,
        to_shim,
    };
    let Ended {
        stop,
        loaded,
        unloading,
    } = frames::serve(load, peer, framed, &mut child, control).await;
    match stop {
        Some(Stop::LoadFailed(error)) => return fail(error),
        Some(Stop::Stuck(reason)) => {
            return Exit::Crashed {
                reason,
                uptime: started.elapsed(),
            };
        }
        _ => {}
    }
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
}
