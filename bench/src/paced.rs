//! Hooks at human event rates: one event every [`INTERVAL`] (20 ms), so
//! that every hook finds its worker asleep and its caches cold, as on a
//! real hub where a chat line comes now and then. In one run, in rounds
//! that alternate the series (so that a slow minute of a shared machine
//! hits them all alike):
//!
//! * a raw ping-pong of the hook-sized messages with a native echo process,
//!   paced the same way: the floor, two wake-ups and nothing else;
//! * the in-process CPython plugin (`c/inproc.c --paced`): chat hook and
//!   chat hook + `vh.usermc`;
//! * vh-runner with a Python 3 worker and with a Python 2.7 worker
//!   (`python = python2.7`), the same two scripts, on direct links.
//!
//! Each series gives p50/p90/p99 of the hub thread's time per event (from
//! after its own wake-up to the result), and, for the vh-runner ones, the
//! CPU and context switches per hook of the hub thread and the worker's
//! main thread.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::baseline::{self, ChildGuard, NICK, Sizes, TEXT};
use crate::driver::Event;
use crate::lab::Lab;
use crate::procfs::{self, ThreadStat};
use crate::scenarios::ON_PARSED_MSG_CHAT;

/// Time between two events of a series.
pub const INTERVAL: Duration = Duration::from_millis(20);

/// Percentiles of one paced series, ns.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pct {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Pct {
    /// Nearest-rank percentiles of `samples` (sorted in place).
    pub fn of(samples: &mut [u64]) -> Pct {
        if samples.is_empty() {
            return Pct::default();
        }
        samples.sort_unstable();

        let n = samples.len();
        let rank = |p: f64| samples[((p * n as f64).ceil() as usize).clamp(1, n) - 1] as f64;
        Pct {
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
        }
    }
}

/// One vh-runner series: its percentiles and CPU per hook.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// What was measured.
    pub label: String,
    /// Per-event time.
    pub lat: Pct,
    /// Hub thread CPU per hook, ns.
    pub hub_cpu_ns: f64,
    /// Worker main thread CPU per hook, ns.
    pub worker_cpu_ns: f64,
    /// Context switches per hook: hub thread, worker main thread.
    pub switches: (f64, f64),
}

/// Everything the paced scenario measured.
#[derive(Debug, Clone)]
pub struct Paced {
    /// Rounds and events per series per round.
    pub rounds: usize,
    /// See `rounds`.
    pub per_round: usize,
    /// The raw paced ping-pong.
    pub raw: Pct,
    /// In-process chat hook and hook with `vh.usermc` (or why missing).
    pub inproc: Result<(Pct, Pct), String>,
    /// vh-runner series, in [`Paced::LABELS`] order (Python 2 ones missing
    /// when no Python 2.7 was found).
    pub runner: Vec<Series>,
    /// Why the Python 2 series are missing, if they are.
    pub py2_missing: Option<String>,
}

impl Paced {
    /// Labels of the vh-runner series.
    pub const LABELS: [&'static str; 4] = [
        "Python 3 worker: chat hook",
        "Python 3 worker: chat hook + vh.usermc",
        "Python 2 worker: chat hook",
        "Python 2 worker: chat hook + vh.usermc",
    ];
}

/// A paced raw ping-pong: a native echo process on a socketpair.
struct Echo {
    s: UnixStream,
    _child: ChildGuard,
    sizes: Sizes,
}

impl Echo {
    fn start(sizes: Sizes) -> Result<Echo> {
        let (s, child) = baseline::echo_pair(sizes)?;
        Ok(Echo {
            s,
            _child: child,
            sizes,
        })
    }

    /// `n` round trips, one every [`INTERVAL`]; each one's time.
    fn round(&mut self, n: usize) -> Result<Vec<u64>> {
        let (out, mut inb) = (
            vec![0x5au8; self.sizes.request],
            vec![0u8; self.sizes.reply],
        );
        let mut lat = Vec::with_capacity(n);
        let mut due = Instant::now();
        for _ in 0..n {
            due += INTERVAL;
            sleep_until(due);
            let t = Instant::now();
            self.s.write_all(&out)?;
            self.s.read_exact(&mut inb)?;
            lat.push(t.elapsed().as_nanos() as u64);
        }
        Ok(lat)
    }
}

fn sleep_until(due: Instant) {
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
    }
}

/// `c/inproc.c --paced`: `n` paced events to each of the two scripts.
fn inproc_round(chat: &Path, usermc: &Path, n: usize) -> Result<(Vec<u64>, Vec<u64>)> {
    let program = env!("VH_BENCH_INPROC");
    if program.is_empty() {
        bail!("not built ({})", env!("VH_BENCH_INPROC_ERROR"));
    }
    let out = Command::new(program)
        .arg("--paced")
        .arg(chat)
        .arg(usermc)
        .arg(n.to_string())
        .arg(INTERVAL.as_micros().to_string())
        .output()
        .with_context(|| format!("running {program} --paced"))?;
    if !out.status.success() {
        bail!(
            "{program} --paced failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let samples = |name: &str| -> Result<Vec<u64>> {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .ok_or_else(|| anyhow!("{program} --paced printed no {name} samples"))?;
        line.split_whitespace()
            .skip(2)
            .map(|v| v.parse::<u64>().map_err(|e| anyhow!("{e}: {line:?}")))
            .collect()
    };
    Ok((samples("chat")?, samples("usermc")?))
}

/// CPU ns and switches of the hub thread and of the worker's main thread.
fn cpu_of(worker: u32) -> (ThreadStat, ThreadStat) {
    let me = std::process::id();
    let find = |pid: u32, tid: u32| {
        procfs::threads(pid)
            .into_iter()
            .find(|t| t.tid == tid)
            .unwrap_or_default()
    };
    (find(me, me), find(worker, worker))
}

/// Runs the paced scenario: `rounds` rounds of `per_round` events per
/// series. The Python 2 series need `lab.python2`.
///
/// # Errors
/// A load, a child process or a hook failed.
pub fn run(lab: &mut Lab, rounds: usize, per_round: usize) -> Result<Paced> {
    let dir = lab.runner.dir.path().to_path_buf();
    let (chat_py, usermc_py) = (dir.join("chat.py"), dir.join("usermc.py"));
    let mut ids = vec![lab.chat, lab.usermc];
    let mut py2_missing = None;
    match lab.python2.clone() {
        Some(_) => {
            std::fs::write(dir.join(crate::py2::CHAT), crate::lab::CHAT_PY)?;
            std::fs::write(dir.join(crate::py2::USERMC), crate::lab::USERMC_PY)?;
            ids.push(lab.load(crate::py2::CHAT)?);
            ids.push(lab.load(crate::py2::USERMC)?);
        }
        None => py2_missing = Some("no Python 2.7 found (set VH_BENCH_PYTHON2)".to_string()),
    }
    let workers: Vec<u32> = ids
        .iter()
        .map(|&id| lab.worker_pid(id))
        .collect::<Result<_>>()?;
    let mut echo = Echo::start(baseline::hook_sizes())?;
    let mut raw = Vec::new();
    let mut inproc: Result<(Vec<u64>, Vec<u64>), String> = Ok((Vec::new(), Vec::new()));
    let mut lat: Vec<Vec<u64>> = vec![Vec::new(); ids.len()];
    let mut cpu = vec![(0u64, 0u64, 0u64, 0u64); ids.len()];
    for _ in 0..rounds {
        raw.extend(echo.round(per_round)?);
        if let Ok((c, u)) = &mut inproc {
            match inproc_round(&chat_py, &usermc_py, per_round) {
                Ok((c2, u2)) => {
                    c.extend(c2);
                    u.extend(u2);
                }
                Err(e) => inproc = Err(format!("{e:#}")),
            }
        }
        for (k, &id) in ids.iter().enumerate() {
            let one = [id];
            let e = Event {
                ids: &one,
                hook: ON_PARSED_MSG_CHAT,
                args: &[NICK, TEXT],
            };
            // Two untimed events: the worker has just slept ~ a round.
            lab.driver.events_paced(&e, 2, INTERVAL)?;
            let before = cpu_of(workers[k]);
            let (l, counts) = lab.driver.events_paced(&e, per_round, INTERVAL)?;
            let after = cpu_of(workers[k]);
            if counts.allowed != per_round as u64 {
                bail!(
                    "paced chat hooks to #{id}: expected {per_round} results l:1, got {counts:?}"
                );
            }
            lat[k].extend(l);
            let c = &mut cpu[k];
            c.0 += after.0.run_ns.saturating_sub(before.0.run_ns);
            c.1 += after.1.run_ns.saturating_sub(before.1.run_ns);
            let sw = |t: &ThreadStat| t.voluntary + t.involuntary;
            c.2 += sw(&after.0).saturating_sub(sw(&before.0));
            c.3 += sw(&after.1).saturating_sub(sw(&before.1));
        }
        lab.hub.clear_records();
    }
    if ids.len() > 2 {
        lab.hub.unload(ids[2]);
        lab.hub.unload(ids[3]);
    }
    let hooks = (rounds * per_round).max(1) as f64;
    let runner = lat
        .iter_mut()
        .zip(&cpu)
        .zip(Paced::LABELS)
        .map(|((l, c), label)| Series {
            label: label.to_string(),
            lat: Pct::of(l),
            hub_cpu_ns: c.0 as f64 / hooks,
            worker_cpu_ns: c.1 as f64 / hooks,
            switches: (c.2 as f64 / hooks, c.3 as f64 / hooks),
        })
        .collect();
    Ok(Paced {
        rounds,
        per_round,
        raw: Pct::of(&mut raw),
        inproc: inproc.map(|(mut c, mut u)| (Pct::of(&mut c), Pct::of(&mut u))),
        runner,
        py2_missing,
    })
}

fn us(ns: f64) -> f64 {
    ns / 1000.0
}

/// The paced table: percentiles, the added latency over the in-process
/// hook against the raw ping-pong (targets: p50 and p90 each at most 3x
/// the ping-pong's), Python 2 against Python 3, CPU per hook. With
/// `short`, the targets are not judged (`-`).
pub fn render(p: &Paced, short: bool) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\nPaced hooks: one event every {} ms, {} rounds of {} per series, alternated; us",
        INTERVAL.as_millis(),
        p.rounds,
        p.per_round
    );
    let _ = writeln!(
        o,
        "{:<52} {:>7} {:>7} {:>7}   {:>9} {:>9}  {:>8} {:>8} {:>6} {:>6}",
        "", "p50", "p90", "p99", "added p50", "added p90", "hub CPU", "wkr CPU", "hub sw", "wkr sw"
    );
    let row = |o: &mut String, label: &str, l: &Pct| {
        let _ = write!(
            o,
            "{label:<52} {:>7.1} {:>7.1} {:>7.1}",
            us(l.p50),
            us(l.p90),
            us(l.p99)
        );
    };
    row(&mut o, "raw ping-pong, 1 hop, paced (floor)", &p.raw);
    o.push('\n');
    let inproc = p.inproc.as_ref().ok();
    match &p.inproc {
        Ok((c, u)) => {
            row(&mut o, "in-process CPython: chat hook", c);
            o.push('\n');
            row(&mut o, "in-process CPython: chat hook + vh.usermc", u);
            o.push('\n');
        }
        Err(e) => {
            let _ = writeln!(o, "{:<52} missing: {e}", "in-process CPython");
        }
    }
    for s in &p.runner {
        let base = inproc.map(|(c, u)| if s.label.contains("usermc") { u } else { c });
        row(&mut o, &s.label, &s.lat);
        match base {
            Some(b) => {
                let _ = write!(
                    o,
                    "   {:>9.1} {:>9.1}",
                    us(s.lat.p50 - b.p50),
                    us(s.lat.p90 - b.p90)
                );
            }
            None => {
                let _ = write!(o, "   {:>9} {:>9}", "-", "-");
            }
        }
        let _ = writeln!(
            o,
            "  {:>8.1} {:>8.1} {:>6.2} {:>6.2}",
            us(s.hub_cpu_ns),
            us(s.worker_cpu_ns),
            s.switches.0,
            s.switches.1
        );
    }
    if let Some(why) = &p.py2_missing {
        let _ = writeln!(o, "{:<52} missing: {why}", "Python 2 worker");
    }
    let _ = writeln!(
        o,
        "(added: p50/p90 minus the in-process hook's p50/p90; CPU us and context switches per hook)"
    );
    for t in targets(p) {
        let status = match (short, t.met) {
            (true, _) => "-",
            (false, true) => "met",
            (false, false) => "MISSED",
        };
        let _ = writeln!(o, "{:<64} {:<36} {status}", t.what, t.measured);
    }
    o
}

/// One paced target.
#[derive(Debug, Clone)]
pub struct Target {
    /// What it asks.
    pub what: String,
    /// What was measured.
    pub measured: String,
    /// Whether it holds.
    pub met: bool,
}

/// The paced targets: added p50 and p90 over the in-process hook at most 3x
/// the raw ping-pong's p50 and p90; the Python 2 worker's p50 at most 1.5x
/// the Python 3 worker's, for both scripts.
pub fn targets(p: &Paced) -> Vec<Target> {
    let mut out = Vec::new();
    let Ok((c, u)) = &p.inproc else {
        return out;
    };
    for s in &p.runner {
        let b = if s.label.contains("usermc") { u } else { c };
        for (name, added, floor) in [
            ("p50", s.lat.p50 - b.p50, p.raw.p50),
            ("p90", s.lat.p90 - b.p90, p.raw.p90),
        ] {
            out.push(Target {
                what: format!("{}: added {name} <= 3x raw ping-pong {name}", s.label),
                measured: format!(
                    "{:.1} us = {:.2}x {:.1} us",
                    us(added),
                    added / floor,
                    us(floor)
                ),
                met: added <= 3.0 * floor,
            });
        }
    }
    for k in 0..2 {
        if let (Some(py3), Some(py2)) = (p.runner.get(k), p.runner.get(k + 2)) {
            let r = py2.lat.p50 / py3.lat.p50;
            out.push(Target {
                what: format!("{}: p50 <= 1.5x Python 3's", py2.label),
                measured: format!("{:.2}x", r),
                met: r <= 1.5,
            });
        }
    }
    out
}
