//! Readings from `/proc`: resident memory, and per-thread CPU time and
//! context switches (for the per-hop attribution).

use std::fs;
use std::time::{Duration, Instant};

/// A `kB` field (`VmRSS:`, `Pss:`) of a `/proc` file, in KiB.
fn kb_field(path: &str, field: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Resident set size of process `pid`, KiB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    kb_field(&format!("/proc/{pid}/status"), "VmRSS:")
}

/// Proportional set size of process `pid` (shared pages divided among
/// their users), KiB.
pub fn pss_kb(pid: u32) -> Option<u64> {
    kb_field(&format!("/proc/{pid}/smaps_rollup"), "Pss:")
}

/// Waits until the RSS of `pid` has not changed for 200 ms (or `limit`
/// passed); returns the last reading, KiB.
pub fn settled_rss_kb(pid: u32, limit: Duration) -> Option<u64> {
    let deadline = Instant::now() + limit;
    let mut last = rss_kb(pid)?;
    let mut same_since = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        let now = rss_kb(pid)?;
        if now != last {
            last = now;
            same_since = Instant::now();
        } else if same_since.elapsed() >= Duration::from_millis(200) {
            break;
        }
    }
    Some(last)
}

/// CPU time and context switches of one thread so far.
#[derive(Debug, Clone, Default)]
pub struct ThreadStat {
    /// Thread id.
    pub tid: u32,
    /// `comm` (thread name, 15 bytes at most).
    pub name: String,
    /// Time on a CPU, ns (`schedstat`, first field).
    pub run_ns: u64,
    /// Voluntary context switches (the thread blocked: a wait, a read).
    pub voluntary: u64,
    /// Involuntary context switches (preempted).
    pub involuntary: u64,
}

/// Every thread of process `pid` (empty if it is gone).
pub fn threads(pid: u32) -> Vec<ThreadStat> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let base = format!("/proc/{pid}/task/{tid}");
        let name = fs::read_to_string(format!("{base}/comm"))
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default();
        let run_ns = fs::read_to_string(format!("{base}/schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        let status = fs::read_to_string(format!("{base}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        out.push(ThreadStat {
            tid,
            name,
            run_ns,
            voluntary: field("voluntary_ctxt_switches:"),
            involuntary: field("nonvoluntary_ctxt_switches:"),
        });
    }
    out.sort_by_key(|t| t.tid);
    out
}

/// CPU time and switches of a group of threads between two snapshots.
#[derive(Debug, Clone, Default)]
pub struct Delta {
    /// What the group is ("hub thread", "runner", ...).
    pub label: String,
    /// CPU time, ns.
    pub run_ns: u64,
    /// Voluntary plus involuntary context switches.
    pub switches: u64,
}

/// Sums the change of the threads in `after` that `pick` selects against
/// the same threads in `before` (threads new since then count from zero).
pub fn delta(
    label: &str,
    before: &[ThreadStat],
    after: &[ThreadStat],
    pick: impl Fn(&ThreadStat) -> bool,
) -> Delta {
    let mut d = Delta {
        label: label.into(),
        ..Delta::default()
    };
    for a in after.iter().filter(|t| pick(t)) {
        let b = before.iter().find(|b| b.tid == a.tid);
        let (run, vol, inv) = b.map_or((0, 0, 0), |b| (b.run_ns, b.voluntary, b.involuntary));
        d.run_ns += a.run_ns.saturating_sub(run);
        d.switches += a.voluntary.saturating_sub(vol) + a.involuntary.saturating_sub(inv);
    }
    d
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` shows them.
pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Number of CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The CPU model name, if `/proc/cpuinfo` says.
pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The CPUs thread `tid` may run on (0 = the calling thread).
///
/// # Errors
/// The thread is gone or the call is refused.
pub fn affinity(tid: u32) -> std::io::Result<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    if unsafe { libc::sched_getaffinity(tid as i32, std::mem::size_of_val(&set), &mut set) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: i is below CPU_SETSIZE.
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect())
}

/// Lets thread `tid` (0 = the calling thread) run only on `cpus`.
///
/// # Errors
/// The thread is gone or the call is refused.
pub fn set_affinity(tid: u32, cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: CPU_SET ignores numbers past the set's size.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    if unsafe { libc::sched_setaffinity(tid as i32, std::mem::size_of_val(&set), &set) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Lets every thread of every process in `pids` run only on `cpus`.
/// Threads that end meanwhile are skipped.
pub fn pin_processes(pids: &[u32], cpus: &[usize]) {
    for &pid in pids {
        for t in threads(pid) {
            let _ = set_affinity(t.tid, cpus);
        }
    }
}

/// Puts every thread of process `pid` under `SCHED_IDLE` (`idle`: it runs
/// only when nothing else wants the CPU, and any other thread that wakes
/// preempts it) or back under `SCHED_OTHER`. Threads that end meanwhile
/// are skipped.
pub fn set_idle_policy(pid: u32, idle: bool) {
    let policy = if idle {
        libc::SCHED_IDLE
    } else {
        libc::SCHED_OTHER
    };
    let param = libc::sched_param { sched_priority: 0 };
    for t in threads(pid) {
        // SAFETY: a valid sched_param for a policy without priorities.
        unsafe { libc::sched_setscheduler(t.tid as i32, policy, &param) };
    }
}
