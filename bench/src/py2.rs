//! Python 2 workers, reported beside the Python 3 figures: the same bench
//! scripts run by a Python 2.7 worker (they are Python 2 code too), on
//! direct links as the Python 3 ones: the chat hook (placed, and with
//! every process on one CPU), the hook with `vh.usermc`, hooks whose
//! result the hub ignores, sustained throughput, and the worker's idle RSS
//! against a bare `python2.7` (the paced scenario has its own Python 2
//! series, `paced`).

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
    /// Chat hook with the hub, the runner and the worker on one CPU.
    pub one_cpu: Option<Latency>,
    /// `OnUserLogout`, whose result the hub ignores: the hub thread's time.
    pub ignored: Latency,
    /// Chat hooks per second, back to back.
    pub hooks_per_s: f64,
    /// The chat worker, loaded and idle, KiB.
    pub idle_kb: u64,
    /// `python2.7 -c 'import time; time.sleep(60)'`, KiB.
    pub bare_kb: u64,
}

/// Loads the two scripts under Python 2.7 and measures `n` hooks of each.
///
/// # Errors
/// No Python 2.7 was found, a load failed, or a hook did not allow.
pub fn measure(lab: &mut Lab, n: usize, sustained: Duration) -> Result<Figures> {
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
    let all_cpus = procfs::affinity(0)?;
    let one_cpu = match all_cpus[..] {
        [cpu, _, ..] => {
            let pids = [std::process::id(), lab.runner.pid(), worker];
            procfs::pin_processes(&pids, &[cpu]);
            let r = scenarios::chat_hooks(lab, chat_id, n / 2);
            procfs::pin_processes(&pids, &all_cpus);
            Some(r?.0)
        }
        _ => None,
    };
    let ignored = scenarios::ignored_hooks_to(lab, chat_id, n)?;
    let hooks_per_s = scenarios::sustained(lab, &[chat_id], sustained)?.hooks_per_s;
    let usermc_id = lab.load(USERMC)?;
    let (usermc, _) = scenarios::chat_hooks(lab, usermc_id, n / 2)?;
    lab.hub.unload(chat_id);
    lab.hub.unload(usermc_id);
    Ok(Figures {
        python2,
        chat,
        usermc,
        one_cpu,
        ignored,
        hooks_per_s,
        idle_kb,
        bare_kb,
    })
}
