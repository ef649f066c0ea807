//! Python 2 workers, reported next to the Python 3 figures, with
//! no target yet: a chat hook and a chat hook with `vh.usermc` to the same
//! bench scripts run by a Python 2.7 worker (they are Python 2 code too),
//! and that worker's idle RSS against a bare `python2.7`. Both scripts take
//! direct links, as the Python 3 ones do.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::lab::Lab;
use crate::procfs;
pub use crate::py2_setup::{CHAT, USERMC};
use crate::scenarios::{self, Latency};

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
