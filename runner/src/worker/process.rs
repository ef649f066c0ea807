//! The worker's process handling: starting it with its fds, environment,
//! resource limits and sandbox ([`spawn`]), and reaping it ([`reap`],
//! [`describe`]). The frames it exchanges are the frame loop's business.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

use super::{DIRECT_FD, WORKER_FD};
use crate::config::Resolved;
use crate::sandbox;

/// Resource limits applied in the child before exec (0 = unchanged).
#[derive(Clone, Copy)]
struct Limits {
    address_space: u64,
    cpu_s: u64,
    open_files: u64,
}

/// Starts `python -u -m vh.worker` for the script at `script_path`: its
/// socket end as fd [`WORKER_FD`], its direct-link end (if any) as
/// [`DIRECT_FD`], the script's environment, working folder, resource
/// limits and sandbox; the worker dies with the runner (PR_SET_PDEATHSIG).
/// Our copies of both ends are closed once the child has them.
///
/// # Errors
/// The spawn failed (no such interpreter, a refused limit).
pub(super) fn spawn(
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
    // A Python 2 worker finds the runner's own Python 2 `vh` package first
    // (crate::py2).
    if resolved.py2
        && let Some(dir) = crate::py2::get().package_dir
    {
        let existing = s
            .env
            .get("PYTHONPATH")
            .cloned()
            .or_else(|| std::env::var("PYTHONPATH").ok());
        cmd.env(
            "PYTHONPATH",
            crate::py2::pythonpath(&dir, existing.as_deref()),
        );
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

/// How the worker ended, for the log and the crash reason ("exited with
/// code 1", "killed by signal 9"); `None`: it had to be killed.
pub(super) fn describe(status: Option<ExitStatus>) -> String {
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
pub(super) async fn reap(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(Ok(status)) => Some(status),
        _ => {
            let _ = child.kill().await;
            None
        }
    }
}
