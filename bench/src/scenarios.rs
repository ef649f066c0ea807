//! The measurements through vh-runner, each on a [`Lab`]: hook latency,
//! re-entrant `vh.*` calls, hooks whose result the hub ignores, `w_HasHook`,
//! throughput, isolation from a busy script, memory.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::baseline::{ChildGuard, NICK, TEXT};
use crate::driver::{Counts, Event};
use crate::lab::Lab;
use crate::procfs::{self, Delta, ThreadStat};
use crate::stats::{Summary, slope};

/// Hook indices (docs/abi.md §4.1).
pub const ON_PARSED_MSG_CHAT: i32 = 3;
/// See [`ON_PARSED_MSG_CHAT`].
pub const ON_PARSED_MSG_PM: i32 = 4;
/// See [`ON_PARSED_MSG_CHAT`].
pub const ON_PARSED_MSG_SEARCH: i32 = 6;
/// See [`ON_PARSED_MSG_CHAT`].
pub const ON_USER_LOGOUT: i32 = 36;

/// A latency series and what the plugin saw.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    /// Per-event times, ns.
    pub lat: Summary,
    /// Results.
    pub counts: Counts,
}

/// Where one hook's time goes: CPU time and context switches per hook of
/// each thread group, and the runner's own view of its worker leg.
#[derive(Debug, Clone, Default)]
pub struct Hops {
    /// Per hook: thread group, CPU ns, context switches.
    pub groups: Vec<(String, f64, f64)>,
    /// Runner → worker → runner, median and 99th percentile of the last
    /// 1024 hooks as the runner measured them, µs.
    pub worker_leg_us: (u64, u64),
}

/// Hooks per second through the runner.
#[derive(Debug, Clone, Default)]
pub struct Rate {
    /// Scripts each event went to.
    pub scripts: usize,
    /// `w_CallHook` calls per second.
    pub hooks_per_s: f64,
    /// Results.
    pub counts: Counts,
}

/// Memory figures, KiB.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    /// `python -c 'import time; time.sleep(60)'` with the workers' python.
    pub bare_python_kb: u64,
    /// A worker that loaded `chat.py` and has served no hook.
    pub worker_idle_kb: u64,
    /// The same worker after every latency run.
    pub worker_after_kb: u64,
    /// The runner before any load, and with `many` scripts loaded.
    pub runner_empty_kb: u64,
    /// See `runner_empty_kb`.
    pub runner_many_kb: u64,
    /// Scripts loaded for `runner_many_kb`.
    pub many: usize,
    /// RSS and PSS summed over the `many` workers.
    pub workers_many_rss_kb: u64,
    /// See `workers_many_rss_kb`.
    pub workers_many_pss_kb: u64,
}

/// RSS over the long run of hooks: one reading per step.
#[derive(Debug, Clone, Default)]
pub struct Growth {
    /// Hooks made at each reading.
    pub hooks: Vec<f64>,
    /// This process (hub + shim) RSS, KiB.
    pub shim_rss_kb: Vec<f64>,
    /// malloc'ed bytes in use in this process, KiB (`mallinfo2`).
    pub shim_heap_kb: Vec<f64>,
    /// The runner's and the worker's RSS, KiB.
    pub runner_rss_kb: Vec<f64>,
    /// See `runner_rss_kb`.
    pub worker_rss_kb: Vec<f64>,
    /// Hooks per second over the run.
    pub hooks_per_s: f64,
    /// Results.
    pub counts: Counts,
}

impl Growth {
    /// Least-squares slope of `series`, KiB per 100,000 hooks.
    pub fn per_100k(&self, series: &[f64]) -> f64 {
        slope(&self.hooks, series) * 100_000.0
    }
}

fn snapshot(pids: &[u32]) -> Vec<Vec<ThreadStat>> {
    pids.iter().map(|&p| procfs::threads(p)).collect()
}

/// CPU and switches per call of each thread group between two snapshots of
/// (this process, runner, worker of script `id`).
fn hops(lab: &Lab, id: i32, worker: u32, before: &[Vec<ThreadStat>], calls: u64) -> Result<Hops> {
    let me = std::process::id();
    let after = snapshot(&[me, lab.runner.pid(), worker]);
    let c = calls.max(1) as f64;
    let per = |d: Delta| (d.label, d.run_ns as f64 / c, d.switches as f64 / c);
    let groups = vec![
        per(procfs::delta(
            "hub thread (shim)",
            &before[0],
            &after[0],
            |t| t.tid == me,
        )),
        per(procfs::delta(
            "shim IPC thread",
            &before[0],
            &after[0],
            |t| t.name == "vh-shim-ipc",
        )),
        per(procfs::delta(
            "runner, all threads",
            &before[1],
            &after[1],
            |_| true,
        )),
        per(procfs::delta(
            "worker reader threads (runner + direct link)",
            &before[2],
            &after[2],
            |t| t.name.starts_with("vh-core-"),
        )),
        per(procfs::delta(
            "worker main thread (Python)",
            &before[2],
            &after[2],
            |t| t.tid == worker,
        )),
    ];
    let s = lab.runner.script(id)?;
    Ok(Hops {
        groups,
        worker_leg_us: (s.p50_us, s.p99_us),
    })
}

/// `n` timed chat events to script `id`, with the per-hop attribution.
///
/// # Errors
/// The runner cannot be asked, or a hook did not return `l:1`.
pub fn chat_hooks(lab: &mut Lab, id: i32, n: usize) -> Result<(Latency, Hops)> {
    let worker = lab.worker_pid(id)?;
    let ids = [id];
    let e = Event {
        ids: &ids,
        hook: ON_PARSED_MSG_CHAT,
        args: &[NICK, TEXT],
    };
    lab.driver.events(&e, n / 10 + 100, false)?; // warm-up
    lab.hub.clear_records();
    let before = snapshot(&[std::process::id(), lab.runner.pid(), worker]);
    let (mut lat, counts, _) = lab.driver.events(&e, n, true)?;
    let hops = hops(lab, id, worker, &before, counts.calls)?;
    lab.hub.clear_records();
    if counts.allowed != n as u64 {
        bail!("chat hooks to #{id}: expected {n} results l:1, got {counts:?}");
    }
    Ok((
        Latency {
            lat: Summary::of(&mut lat),
            counts,
        },
        hops,
    ))
}

/// Hooks whose result the hub ignores (`OnUserLogout`): the hub thread's
/// time per call. In batches of 100, each followed by one (untimed) chat
/// hook, so that answers do not pile up as they would not on a hub.
///
/// # Errors
/// A loop failed.
pub fn ignored_hooks(lab: &mut Lab, n: usize) -> Result<Latency> {
    let id = lab.chat;
    ignored_hooks_to(lab, id, n)
}

/// [`ignored_hooks`] to script `id`.
///
/// # Errors
/// A loop failed.
pub fn ignored_hooks_to(lab: &mut Lab, id: i32, n: usize) -> Result<Latency> {
    let ids = [id];
    let logout = Event {
        ids: &ids,
        hook: ON_USER_LOGOUT,
        args: &[NICK],
    };
    let chat = Event {
        ids: &ids,
        hook: ON_PARSED_MSG_CHAT,
        args: &[NICK, TEXT],
    };
    let mut all = Vec::with_capacity(n);
    let mut counts = Counts::default();
    while all.len() < n {
        let (lat, c, _) = lab.driver.events(&logout, 100.min(n - all.len()), true)?;
        all.extend_from_slice(&lat);
        for (sum, add) in [
            (&mut counts.events, c.events),
            (&mut counts.calls, c.calls),
            (&mut counts.nulls, c.nulls),
            (&mut counts.allowed, c.allowed),
            (&mut counts.blocked, c.blocked),
            (&mut counts.other, c.other),
        ] {
            *sum += add;
        }
        lab.driver.events(&chat, 1, false)?;
    }
    Ok(Latency {
        lat: Summary::of(&mut all),
        counts,
    })
}

/// `w_HasHook` for a hook `chat.py` has and one it lacks (ns per call),
/// and one event of a hook no script has (`w_pack`, `w_HasHook`, `free`).
///
/// # Errors
/// A loop failed.
pub fn has_hook(lab: &mut Lab, n: usize) -> Result<(f64, f64, f64)> {
    let (yes_ns, yes) = lab.driver.has_hook(lab.chat, ON_PARSED_MSG_CHAT, n);
    let (no_ns, no) = lab.driver.has_hook(lab.chat, ON_PARSED_MSG_SEARCH, n);
    if yes != n as u64 || no != 0 {
        bail!("w_HasHook answered {yes}/{n} for a defined hook and {no}/{n} for an undefined one");
    }
    let ids = [lab.chat];
    let e = Event {
        ids: &ids,
        hook: ON_PARSED_MSG_SEARCH,
        args: &[NICK, TEXT],
    };
    let (_, c, total) = lab.driver.events(&e, n / 10, false)?;
    if c.calls != 0 {
        bail!("a hook no script has was called: {c:?}");
    }
    Ok((yes_ns, no_ns, total.as_nanos() as f64 / (n / 10) as f64))
}

/// Chat events to every script in `ids` for `duration`, back to back.
///
/// # Errors
/// A loop failed or hooks did not all return `l:1`.
pub fn sustained(lab: &mut Lab, ids: &[i32], duration: Duration) -> Result<Rate> {
    let e = Event {
        ids,
        hook: ON_PARSED_MSG_CHAT,
        args: &[NICK, TEXT],
    };
    lab.driver.events(&e, 200, false)?;
    let (_, counts, took) = lab.driver.events_for(&e, duration, 1 << 40, false)?;
    if counts.allowed != counts.calls {
        bail!("sustained run: not every hook returned l:1: {counts:?}");
    }
    Ok(Rate {
        scripts: ids.len(),
        hooks_per_s: counts.calls as f64 / took.as_secs_f64(),
        counts,
    })
}

/// Chat hooks to `chat.py` while `busy.py` is in a long hook (`kind`:
/// `sleep` or `spin`), which the hub gave up waiting for after its short
/// deadline. With `demote`, the bench puts the busy worker under
/// `SCHED_IDLE` once the hub has given up on it, as the runner could (see
/// docs/performance.md), and back under `SCHED_OTHER` afterwards.
///
/// # Errors
/// A loop failed or a chat hook did not return `l:1`.
pub fn beside_busy(lab: &mut Lab, kind: &str, busy: Duration, demote: bool) -> Result<Latency> {
    let busy_ids = [lab.busy];
    let message = format!("{kind} {:.3}", busy.as_secs_f64());
    let pm = Event {
        ids: &busy_ids,
        hook: ON_PARSED_MSG_PM,
        args: &[NICK, &message, NICK],
    };
    let started = Instant::now();
    let (_, c, _) = lab.driver.events(&pm, 1, false)?;
    if c.nulls != 1 {
        bail!("busy.py answered within its deadline: {c:?}");
    }
    let busy_pid = lab.worker_pid(lab.busy)?;
    if demote {
        procfs::set_idle_policy(busy_pid, true);
    }
    let ids = [lab.chat, lab.busy];
    let chat = Event {
        ids: &ids,
        hook: ON_PARSED_MSG_CHAT,
        args: &[NICK, TEXT],
    };
    let window = busy.saturating_sub(started.elapsed() + Duration::from_millis(100));
    let run = lab.driver.events_for(&chat, window, 2_000_000, true);
    // Let busy.py finish, then drain its late answer.
    std::thread::sleep(busy.saturating_sub(started.elapsed()) + Duration::from_millis(300));
    if demote {
        procfs::set_idle_policy(busy_pid, false);
    }
    let (mut lat, counts, _) = run?;
    if counts.allowed != counts.calls {
        bail!("chat beside a busy script: {counts:?}");
    }
    lab.driver.events(&chat, 10, false)?;
    Ok(Latency {
        lat: Summary::of(&mut lat),
        counts,
    })
}

/// Chat hooks to `chat.py` for `duration` (`--soak`); the latency and the
/// per-hop attribution.
///
/// # Errors
/// A loop failed or a hook did not return `l:1`.
pub fn soak(lab: &mut Lab, duration: Duration) -> Result<(Latency, Hops)> {
    let id = lab.chat;
    let worker = lab.worker_pid(id)?;
    let ids = [id];
    let e = Event {
        ids: &ids,
        hook: ON_PARSED_MSG_CHAT,
        args: &[NICK, TEXT],
    };
    let before = snapshot(&[std::process::id(), lab.runner.pid(), worker]);
    let (mut lat, counts, _) = lab.driver.events_for(&e, duration, 2_000_000, true)?;
    let hops = hops(lab, id, worker, &before, counts.calls)?;
    if counts.allowed != counts.calls {
        bail!("soak: not every hook returned l:1: {counts:?}");
    }
    Ok((
        Latency {
            lat: Summary::of(&mut lat),
            counts,
        },
        hops,
    ))
}

/// RSS of `python -c 'import time; time.sleep(60)'`, KiB.
///
/// # Errors
/// The interpreter does not start.
pub fn bare_python_kb(python: &std::path::Path) -> Result<u64> {
    let child = Command::new(python)
        .args(["-c", "import time; time.sleep(60)"])
        .spawn()?;
    let guard = ChildGuard(child);
    let kb = procfs::settled_rss_kb(guard.0.id(), Duration::from_secs(5)).unwrap_or(0);
    Ok(kb)
}

fn heap_kb() -> f64 {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let m = unsafe { libc::mallinfo2() };
    (m.uordblks + m.hblkhd) as f64 / 1024.0
}

/// `total` chat hooks to `chat.py` in steps of `step`, reading memory after
/// each step (the first step is a warm-up and not counted).
///
/// # Errors
/// A loop failed or a hook did not return `l:1`.
pub fn growth(lab: &mut Lab, total: usize, step: usize) -> Result<Growth> {
    let worker = lab.worker_pid(lab.chat)?;
    let ids = [lab.chat];
    let e = Event {
        ids: &ids,
        hook: ON_PARSED_MSG_CHAT,
        args: &[NICK, TEXT],
    };
    lab.driver.events(&e, step, false)?;
    let mut g = Growth::default();
    let me = std::process::id();
    let read = |g: &mut Growth, hooks: usize| {
        g.hooks.push(hooks as f64);
        g.shim_rss_kb.push(procfs::rss_kb(me).unwrap_or(0) as f64);
        g.shim_heap_kb.push(heap_kb());
        g.runner_rss_kb
            .push(procfs::rss_kb(lab.runner.pid()).unwrap_or(0) as f64);
        g.worker_rss_kb
            .push(procfs::rss_kb(worker).unwrap_or(0) as f64);
    };
    read(&mut g, 0);
    let mut done = 0;
    let mut took = Duration::ZERO;
    while done < total {
        let k = step.min(total - done);
        let (_, c, t) = lab.driver.events(&e, k, false)?;
        took += t;
        g.counts.calls += c.calls;
        g.counts.allowed += c.allowed;
        g.counts.nulls += c.nulls;
        done += k;
        read(&mut g, done);
    }
    if g.counts.allowed != g.counts.calls {
        bail!("RSS run: not every hook returned l:1: {:?}", g.counts);
    }
    g.hooks_per_s = done as f64 / took.as_secs_f64();
    Ok(g)
}
