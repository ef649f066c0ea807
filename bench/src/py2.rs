//! Python 2 workers (issue 13), reported next to the Python 3 figures, with
//! no target yet: a chat hook and a chat hook with `vh.usermc` to the same
//! bench scripts run by a Python 2.7 worker (they are Python 2 code too),
//! and that worker's idle RSS against a bare `python2.7`. Both scripts take
//! direct links, as the Python 3 ones do.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use crate::lab::Lab;
use crate::procfs;
use crate::scenarios::{self, Latency};

/// The bench scripts under Python 2: same text, other names.
pub const CHAT: &str = "chat_py2.py";
/// See [`CHAT`].
pub const USERMC: &str = "usermc_py2.py";

/// What the Python 2 worker measured.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The interpreter.
    pub python2: PathBuf,
    /// Chat hook (`OnParsedMsgChat -> 1`).
    pub chat: Latency,
    /// Chat hook with one `vh.usermc`.
    pub usermc: Latency,
    /// The chat worker, loaded and idle, KiB.
    pub idle_kb: u64,
    /// `python2.7 -c 'import time; time.sleep(60)'`, KiB.
    pub bare_kb: u64,
}

fn is_python27(p: &Path) -> bool {
    Command::new(p)
        .args([
            "-c",
            "import sys; sys.exit(0 if sys.version_info[:2] == (2, 7) else 1)",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `VH_BENCH_PYTHON2`, else `python2.7`/`python2` on `PATH`, else pyenv's
/// 2.7.18 (`$PYENV_ROOT` or `~/.pyenv`).
pub fn find_python2() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VH_BENCH_PYTHON2").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| is_python27(p));
    }
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            candidates.push(dir.join("python2.7"));
            candidates.push(dir.join("python2"));
        }
    }
    for root in [
        std::env::var_os("PYENV_ROOT").map(PathBuf::from),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")),
    ]
    .into_iter()
    .flatten()
    {
        candidates.push(root.join("versions/2.7.18/bin/python2.7"));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file() && is_python27(p))
}

/// The runner config sections that put [`CHAT`] and [`USERMC`] under
/// `python2`.
pub fn config(python2: &Path) -> String {
    let p = python2.display().to_string();
    format!(
        "[[script]]\nmatch = \"{CHAT}\"\npython = {p:?}\n[[script]]\nmatch = \"{USERMC}\"\npython = {p:?}\n"
    )
}

/// Loads the two scripts under Python 2.7 and measures `n` hooks of each.
///
/// # Errors
/// No Python 2.7 was found, a load failed, or a hook did not allow.
pub fn measure(lab: &mut Lab, n: usize) -> Result<Figures> {
    let Some(python2) = lab.python2.clone() else {
        anyhow::bail!("no Python 2.7 found (set VH_BENCH_PYTHON2)");
    };
    std::fs::write(lab.runner.dir.path().join(CHAT), crate::lab::CHAT_PY)?;
    std::fs::write(lab.runner.dir.path().join(USERMC), crate::lab::USERMC_PY)?;
    let chat_id = lab.load(CHAT)?;
    let worker = lab.worker_pid(chat_id)?;
    let idle_kb = procfs::settled_rss_kb(worker, Duration::from_secs(3)).unwrap_or(0);
    let bare_kb = scenarios::bare_python_kb(&python2)?;
    let (chat, _) = scenarios::chat_hooks(lab, chat_id, n)?;
    let usermc_id = lab.load(USERMC)?;
    let (usermc, _) = scenarios::chat_hooks(lab, usermc_id, n / 2)?;
    lab.hub.unload(chat_id);
    lab.hub.unload(usermc_id);
    Ok(Figures {
        python2,
        chat,
        usermc,
        idle_kb,
        bare_kb,
    })
}
