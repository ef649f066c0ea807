//! One script's worker process: spawn `python -m vh.worker` with one end of
//! a socketpair as fd 3, exchange length-delimited prost frames with it
//! (`vh_proto::frame`), copy its stdout/stderr into the log line by line,
//! and report how it ended. One task owns the child, its socket and its
//! state (STYLE.md §5); the session talks to it through a channel.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use prost::Message;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use vh_proto::frame::MAX_FRAME_LEN;
use vh_proto::v1::{
    FromWorker, LoadScript, RunnerMessage, ScriptDown, ScriptLoaded, ToWorker, from_worker,
    runner_message, to_worker,
};

use crate::session::ToShim;

/// The fd number the worker finds its socket on (`VH_WORKER_FD`).
pub const WORKER_FD: i32 = 3;
/// How long a worker may take to exit after an unload or a closed socket.
const EXIT_GRACE: Duration = Duration::from_secs(3);
/// Lines of stderr kept to explain a crash.
const TAIL_LINES: usize = 20;

/// The codec of the runner <-> worker link (see `vh_proto::frame`).
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .little_endian()
        .length_field_length(4)
        .max_frame_length(MAX_FRAME_LEN)
        .new_codec()
}

fn send_shim(to_shim: &ToShim, kind: runner_message::Kind) {
    let _ = to_shim.send(Ok(RunnerMessage { kind: Some(kind) }));
}

/// File name of the script, for logs.
fn script_name(path: &[u8]) -> String {
    let p = String::from_utf8_lossy(path);
    p.rsplit('/').next().unwrap_or(&p).to_string()
}

fn spawn(python: &PathBuf, child_end: OwnedFd) -> std::io::Result<Child> {
    let mut cmd = Command::new(python);
    cmd.args(["-u", "-m", "vh.worker"])
        .env("VH_WORKER_FD", WORKER_FD.to_string())
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let fd = child_end.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if fd == WORKER_FD {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, WORKER_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn();
    drop(child_end);
    child
}

/// Copies one output stream of the worker into the log, line by line,
/// tagged with the script; keeps the last lines in `tail`.
fn forward_lines<R: AsyncRead + Unpin + Send + 'static>(
    reader: R,
    script: String,
    stream: &'static str,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::info!(script = %script, stream, "{line}");
            let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    });
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

/// Waits up to [`EXIT_GRACE`] for the child, then kills and reaps it.
async fn reap(child: &mut Child) -> Option<ExitStatus> {
    match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
        Ok(Ok(status)) => Some(status),
        _ => {
            let _ = child.kill().await;
            None
        }
    }
}

/// Runs one worker for `load` until it exits, it is unloaded, or the
/// session drops `commands` (then it is killed).
pub async fn run(
    load: LoadScript,
    python: PathBuf,
    to_shim: ToShim,
    mut commands: mpsc::UnboundedReceiver<ToWorker>,
) {
    let id = load.script_id;
    let name = script_name(&load.path);
    let fail_load = |error: String| {
        tracing::warn!(script = %name, script_id = id, %error, "script failed to load");
        send_shim(
            &to_shim,
            runner_message::Kind::Loaded(ScriptLoaded {
                script_id: id,
                ok: false,
                error,
                hooks: Vec::new(),
                pid: 0,
            }),
        );
    };
    let (parent_end, child_end) = match std::os::unix::net::UnixStream::pair() {
        Ok(pair) => pair,
        Err(e) => return fail_load(format!("socketpair: {e}")),
    };
    let mut child = match spawn(&python, child_end.into()) {
        Ok(c) => c,
        Err(e) => return fail_load(format!("cannot start {}: {e}", python.display())),
    };
    let pid = child.id().unwrap_or(0);
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(out) = child.stdout.take() {
        forward_lines(out, name.clone(), "stdout", Arc::clone(&tail));
    }
    if let Some(err) = child.stderr.take() {
        forward_lines(err, name.clone(), "stderr", Arc::clone(&tail));
    }
    let stream = parent_end
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixStream::from_std(parent_end));
    let stream = match stream {
        Ok(s) => s,
        Err(e) => {
            let _ = child.kill().await;
            return fail_load(format!("worker socket: {e}"));
        }
    };
    tracing::info!(script = %name, script_id = id, pid, "worker started");
    let mut framed = Framed::new(stream, codec());
    let first = ToWorker {
        kind: Some(to_worker::Kind::Load(load)),
    };
    let mut loaded = false;
    let mut unloading = false;
    let mut unload_deadline = tokio::time::Instant::now();
    let mut commands_open = true;
    let mut link_error = None;
    if framed
        .send(Bytes::from(first.encode_to_vec()))
        .await
        .is_err()
    {
        link_error = Some("could not send the script to the worker".to_string());
    }
    while link_error.is_none() {
        tokio::select! {
            frame = framed.next() => {
                let bytes = match frame {
                    Some(Ok(b)) => b,
                    Some(Err(e)) => { link_error = Some(format!("bad frame from the worker: {e}")); break; }
                    None => break,
                };
                let msg = match FromWorker::decode(bytes) {
                    Ok(m) => m,
                    Err(e) => { link_error = Some(format!("undecodable frame from the worker: {e}")); break; }
                };
                let kind = match msg.kind {
                    Some(from_worker::Kind::Loaded(mut l)) => {
                        loaded = l.ok;
                        l.script_id = id;
                        l.pid = pid;
                        if l.ok {
                            tracing::info!(script = %name, script_id = id, pid, hooks = l.hooks.len(), "script loaded");
                        }
                        runner_message::Kind::Loaded(l)
                    }
                    Some(from_worker::Kind::HookResult(mut r)) => { r.script_id = id; runner_message::Kind::HookResult(r) }
                    Some(from_worker::Kind::HubCall(mut c)) => { c.script_id = id; runner_message::Kind::HubCall(c) }
                    Some(from_worker::Kind::Unloaded(mut u)) => {
                        if !unloading {
                            unloading = true;
                            unload_deadline = tokio::time::Instant::now() + EXIT_GRACE;
                        }
                        u.script_id = id;
                        runner_message::Kind::Unloaded(u)
                    }
                    None => continue,
                };
                send_shim(&to_shim, kind);
            }
            cmd = commands.recv(), if commands_open => match cmd {
                Some(cmd) => {
                    if matches!(cmd.kind, Some(to_worker::Kind::Unload(_))) && !unloading {
                        unloading = true;
                        unload_deadline = tokio::time::Instant::now() + EXIT_GRACE;
                    }
                    if framed.send(Bytes::from(cmd.encode_to_vec())).await.is_err() {
                        break;
                    }
                }
                // Forgotten by the session after an unload: let the worker finish.
                None if unloading => commands_open = false,
                None => {
                    tracing::info!(script = %name, script_id = id, "hub gone; stopping the worker");
                    unloading = true;
                    let _ = child.start_kill();
                    break;
                }
            },
            () = tokio::time::sleep_until(unload_deadline), if unloading => {
                tracing::warn!(script = %name, script_id = id, "UnLoad() did not finish in time; killing the worker");
                let _ = child.start_kill();
                break;
            }
        }
    }
    drop(framed);
    let status = reap(&mut child).await;
    let stderr_tail = tail
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    let mut reason = link_error.map_or_else(
        || describe(status),
        |e| format!("{e}; worker {}", describe(status)),
    );
    if unloading {
        tracing::info!(script = %name, script_id = id, pid, "worker {reason}");
        return;
    }
    if !stderr_tail.is_empty() {
        reason = format!("{reason}; last output:\n{stderr_tail}");
    }
    if loaded {
        tracing::warn!(script = %name, script_id = id, pid, %reason, "worker stopped");
        send_shim(
            &to_shim,
            runner_message::Kind::Down(ScriptDown {
                script_id: id,
                reason,
            }),
        );
    } else {
        fail_load(format!("worker {reason}"));
    }
}
