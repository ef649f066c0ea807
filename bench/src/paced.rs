//! Hooks at human event rates: one event every [`INTERVAL`] (20 ms), so
//! that every hook finds its worker asleep and its caches cold, as on a
//! real hub where a chat line comes now and then. The series:
//!
//! * a raw ping-pong of the hook-sized messages with a native echo process,
//!   paced the same way: the floor, two wake-ups and nothing else;
//! * the same ping-pong with a Python 3 and a Python 2.7 loop at the far
//!   end that calls a chat hook function for each message
//!   (`baseline::python_floor_pair`): the floor of any design that runs
//!   scripts in a Python process of their own;
//! * the in-process CPython plugin of each generation (`c/inproc.c
//!   --paced`, [`crate::paced_parts`]; B's built against Python 3, A's
//!   against the Python 2.7 of the Python 2 workers): chat hook and chat
//!   hook + `vh.usermc`; each worker's added latency is read against its
//!   own generation's ([`Paced::baseline`]);
//! * vh-runner with a Python 3 worker and with a Python 2.7 worker
//!   (`python = python2.7`), the same two scripts, on direct links.
//!
//! The series take turns event by event (the raw ping-pong, the Python
//! floor loops and each vh-runner series, in an order that shifts by one
//! each turn), and the in-process children run their own events at the
//! same time, between the bench's (half an interval off them with one
//! child, a third with two): a paced
//! hook's cost is mostly its cold cache lines, whose price changes several
//! times over from one second of a shared machine to the next
//! (docs/performance.md "Hooks at human rates"), so series measured one
//! after the other, even alternated by rounds of seconds, are not
//! comparable.
//!
//! Each series gives p50/p90/p99 of the hub thread's time per event (from
//! after its own wake-up to the result), and, for the vh-runner ones, the
//! CPU and context switches per hook of the hub thread (its wake-up
//! included) and of the worker's main thread.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::baseline::{self, ChildGuard, NICK, Sizes, TEXT};
use crate::driver::{Counts, Event};
use crate::lab::Lab;
use crate::paced_parts::{Inproc, main_thread, mono_ns, sleep_until, this_thread};
use crate::procfs::ThreadStat;
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
    /// The Python floor loops ([`Paced::FLOOR_LABELS`] order; the Python 2
    /// one missing when no Python 2.7 was found).
    pub floors: Vec<(&'static str, Pct)>,
    /// The bench thread's CPU per event of the raw ping-pong and of each
    /// floor loop (its wake-up included), ns: what the hub thread's CPU
    /// per hook compares with.
    pub echo_cpu_ns: Vec<f64>,
    /// In-process chat hook and hook with `vh.usermc` (or why missing),
    /// in [`Paced::INPROC_LABELS`] order: Python 3, then Python 2.7 when
    /// the Python 2 workers run.
    pub inproc: Vec<Result<(Pct, Pct), String>>,
    /// vh-runner series, in [`Paced::LABELS`] order (Python 2 ones missing
    /// when no Python 2.7 was found).
    pub runner: Vec<Series>,
    /// Why the Python 2 series are missing, if they are.
    pub py2_missing: Option<String>,
}

impl Paced {
    /// Labels of the in-process baselines.
    pub const INPROC_LABELS: [&'static str; 2] = [
        "in-process CPython 3 (generation B)",
        "in-process CPython 2.7 (generation A)",
    ];

    /// The in-process hook a vh-runner series is measured against: the
    /// plugin that runs its worker's scripts in-process (generation A's
    /// Python 2.7 for the Python 2 worker, generation B's Python 3 for the
    /// Python 3 one), or the Python 3 one when that is all there is; with
    /// its label.
    pub fn baseline(&self, s: &Series) -> Option<(&'static str, Pct)> {
        let wanted = usize::from(s.label.starts_with("Python 2"));
        let k = match self.inproc.get(wanted) {
            Some(Ok(_)) => wanted,
            _ => 0,
        };
        let (c, u) = self.inproc.get(k)?.as_ref().ok()?;
        Some((
            Self::INPROC_LABELS[k],
            if s.label.contains("usermc") { *u } else { *c },
        ))
    }

    /// Labels of the Python floor loops.
    pub const FLOOR_LABELS: [&'static str; 2] = [
        "Python 3 loop calling the hook, paced (floor)",
        "Python 2 loop calling the hook, paced (floor)",
    ];

    /// Labels of the vh-runner series.
    pub const LABELS: [&'static str; 4] = [
        "Python 3 worker: chat hook",
        "Python 3 worker: chat hook + vh.usermc",
        "Python 2 worker: chat hook",
        "Python 2 worker: chat hook + vh.usermc",
    ];
}

/// A paced ping-pong: a native echo process (or a Python floor loop) on a
/// socketpair.
struct Echo {
    s: UnixStream,
    _child: ChildGuard,
    sizes: Sizes,
}

impl Echo {
    fn start(sizes: Sizes, python: Option<&std::path::Path>) -> Result<Echo> {
        let (s, child) = match python {
            None => baseline::echo_pair(sizes)?,
            Some(p) => baseline::python_floor_pair(p, sizes)?,
        };
        Ok(Echo {
            s,
            _child: child,
            sizes,
        })
    }

    /// One round trip at `CLOCK_MONOTONIC` `due_ns`; its time, ns.
    fn at(&mut self, due_ns: u64) -> Result<u64> {
        let (out, mut inb) = (
            vec![0x5au8; self.sizes.request],
            vec![0u8; self.sizes.reply],
        );
        sleep_until(due_ns);
        let t = mono_ns();
        self.s.write_all(&out)?;
        self.s.read_exact(&mut inb)?;
        Ok(mono_ns() - t)
    }
}

/// An in-process child's chat and `vh.usermc` event times, ns.
type Samples = (Vec<u64>, Vec<u64>);

/// Runs the paced scenario: `rounds` rounds of `per_round` events per
/// series, the series taking turns event by event (module doc). The
/// Python 2 series need `lab.python2`; `python` is the Python 3 workers'
/// interpreter (for its floor loop).
///
/// # Errors
/// A load, a child process or a hook failed.
pub fn run(
    lab: &mut Lab,
    python: &std::path::Path,
    rounds: usize,
    per_round: usize,
) -> Result<Paced> {
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
    let one: Vec<[i32; 1]> = ids.iter().map(|&id| [id]).collect();
    let events: Vec<Event<'_>> = one
        .iter()
        .map(|id| Event {
            ids: id,
            hook: ON_PARSED_MSG_CHAT,
            args: &[NICK, TEXT],
        })
        .collect();
    // The raw ping-pong, then the Python floor loops.
    let sizes = baseline::hook_sizes();
    let mut echoes = vec![Echo::start(sizes, None)?, Echo::start(sizes, Some(python))?];
    if let Some(p2) = lab.python2.as_deref() {
        echoes.push(Echo::start(sizes, Some(p2))?);
    }
    let mut floors: Vec<Vec<u64>> = vec![Vec::new(); echoes.len() - 1];
    let mut echo_cpu = vec![0u64; echoes.len()];
    let interval = INTERVAL.as_nanos() as u64;
    // A turn is one event of each bench series; the in-process child's
    // events fall half an interval after the bench's, a whole number of
    // intervals apart, over about the same time.
    let turn = (echoes.len() + ids.len()) as u64;
    let inproc_every = INTERVAL * turn.div_ceil(2) as u32;
    let mut raw = Vec::new();
    // Each far end answers once before the timed events.
    for e in &mut echoes {
        e.at(mono_ns())?;
    }
    // The in-process baselines: Python 3 (generation B's plugin) and,
    // with Python 2 workers, Python 2.7 (generation A's), each a child
    // that runs its own events between the bench's.
    let mut programs = vec![crate::inproc::python3_program().map(std::path::Path::to_path_buf)];
    if let Some(p2) = lab.python2.as_deref() {
        programs.push(crate::inproc::build_for_python2(p2, &dir));
    }
    // Each baseline's program and samples, or why it is missing.
    let mut inproc: Vec<Result<(std::path::PathBuf, Samples), String>> = programs
        .into_iter()
        .map(|p| {
            p.map(|p| (p, (Vec::new(), Vec::new())))
                .map_err(|e| format!("{e:#}"))
        })
        .collect();
    let mut lat: Vec<Vec<u64>> = vec![Vec::new(); ids.len()];
    let mut counts = vec![Counts::default(); ids.len()];
    // Per series: hub CPU ns, hub switches, worker CPU ns, worker switches.
    let mut cpu = vec![(0u64, 0u64, 0u64, 0u64); ids.len()];
    // One untimed event each: the workers' first hook after their load.
    let start = mono_ns() + interval;
    for (k, e) in events.iter().enumerate() {
        lab.driver
            .event_at(e, start + k as u64 * interval, &mut Counts::default())?;
    }
    for _ in 0..rounds {
        let mut children: Vec<Option<Inproc>> = Vec::new();
        for state in &mut inproc {
            let Ok((p, _)) = state else {
                children.push(None);
                continue;
            };
            match Inproc::start(p, &chat_py, &usermc_py, per_round, inproc_every) {
                Ok(c) => children.push(Some(c)),
                Err(e) => {
                    *state = Err(format!("{e:#}"));
                    children.push(None);
                }
            }
        }
        let t0 = mono_ns() + interval;
        // The children's events fall between the bench's, evenly apart.
        let slots = children.len() as u64 + 1;
        for (k, c) in children.iter_mut().enumerate() {
            if let Some(c) = c {
                c.go(t0 + interval * (k as u64 + 1) / slots)?;
            }
        }
        let before: Vec<ThreadStat> = workers.iter().map(|&w| main_thread(w)).collect();
        for i in 0..turn * per_round as u64 {
            let due = t0 + i * interval;
            // The order shifts by one each turn, so that every series
            // follows every other one equally often: in a fixed order the
            // first shim call of a turn came after the echoes' events (a
            // Python process each) and the others right after a shim call,
            // a difference in cold cache lines only one series paid.
            let k = ((i % turn + i / turn) % turn) as usize;
            let Some(k) = k.checked_sub(echoes.len()) else {
                let (c0, _) = this_thread();
                let l = echoes[k].at(due)?;
                echo_cpu[k] += this_thread().0 - c0;
                match k.checked_sub(1) {
                    None => raw.push(l),
                    Some(f) => floors[f].push(l),
                }
                continue;
            };
            let (c0, s0) = this_thread();
            let l = lab.driver.event_at(&events[k], due, &mut counts[k])?;
            let (c1, s1) = this_thread();
            lat[k].push(l);
            cpu[k].0 += c1 - c0;
            cpu[k].1 += s1 - s0;
        }
        for (k, &w) in workers.iter().enumerate() {
            let after = main_thread(w);
            let sw = |t: &ThreadStat| t.voluntary + t.involuntary;
            cpu[k].2 += after.run_ns.saturating_sub(before[k].run_ns);
            cpu[k].3 += sw(&after).saturating_sub(sw(&before[k]));
        }
        for (c, state) in children.into_iter().zip(inproc.iter_mut()) {
            let Some(c) = c else { continue };
            match (c.finish(), &mut *state) {
                (Ok((c2, u2)), Ok((_, (c, u)))) => {
                    c.extend(c2);
                    u.extend(u2);
                }
                (Err(e), _) => *state = Err(format!("{e:#}")),
                _ => {}
            }
        }
        lab.hub.clear_records();
    }
    for (k, c) in counts.iter().enumerate() {
        if c.allowed != (rounds * per_round) as u64 {
            bail!(
                "paced chat hooks to #{}: expected {} results l:1, got {c:?}",
                ids[k],
                rounds * per_round
            );
        }
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
            worker_cpu_ns: c.2 as f64 / hooks,
            switches: (c.1 as f64 / hooks, c.3 as f64 / hooks),
        })
        .collect();
    Ok(Paced {
        rounds,
        per_round,
        raw: Pct::of(&mut raw),
        echo_cpu_ns: echo_cpu.iter().map(|&c| c as f64 / hooks).collect(),
        floors: floors
            .iter_mut()
            .zip(Paced::FLOOR_LABELS)
            .map(|(l, label)| (label, Pct::of(l)))
            .collect(),
        inproc: inproc
            .into_iter()
            .map(|r| r.map(|(_, (mut c, mut u))| (Pct::of(&mut c), Pct::of(&mut u))))
            .collect(),
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
        "\nPaced hooks: one event every {} ms, {} rounds of {} per series, taking turns; us",
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
    let echo_cpu = |o: &mut String, k: usize| {
        if let Some(c) = p.echo_cpu_ns.get(k) {
            let _ = write!(o, "   {:>9} {:>9}  {:>8.1}", "", "", us(*c));
        }
        o.push('\n');
    };
    row(&mut o, "raw ping-pong, 1 hop, paced (floor)", &p.raw);
    echo_cpu(&mut o, 0);
    for (k, (label, l)) in p.floors.iter().enumerate() {
        row(&mut o, label, l);
        echo_cpu(&mut o, k + 1);
    }
    for (label, r) in Paced::INPROC_LABELS.iter().zip(&p.inproc) {
        match r {
            Ok((c, u)) => {
                row(&mut o, &format!("{label}: chat hook"), c);
                o.push('\n');
                row(&mut o, &format!("{label}: + vh.usermc"), u);
                o.push('\n');
            }
            Err(e) => {
                let _ = writeln!(o, "{label:<52} missing: {e}");
            }
        }
    }
    for s in &p.runner {
        let base = p.baseline(s).map(|(_, b)| b);
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
        "(added: p50/p90 minus the p50/p90 of the in-process plugin of the worker's generation; CPU us and context switches per hook)"
    );
    let py2 = p.runner.iter().find(|s| s.label.starts_with("Python 2"));
    if let Some((label, _)) = py2.and_then(|s| p.baseline(s))
        && label != Paced::INPROC_LABELS[1]
    {
        let _ = writeln!(
            o,
            "(the Python 2 worker's added latency is over the {label} hook: generation A's is missing)"
        );
    }
    // What each worker adds beyond the least a Python process does (its
    // own interpreter's floor loop): the part vh-runner's design can cut.
    for s in &p.runner {
        let k = usize::from(s.label.starts_with("Python 2"));
        if let Some((label, f)) = p.floors.get(k) {
            let _ = writeln!(
                o,
                "{:<52} p50 {:>7.1} us over the {} ({:.2}x its p50)",
                s.label,
                us(s.lat.p50 - f.p50),
                label.split(',').next().unwrap_or(label),
                s.lat.p50 / f.p50
            );
        }
    }
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
    for s in &p.runner {
        let Some((_, b)) = p.baseline(s) else {
            continue;
        };
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
