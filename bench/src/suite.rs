//! The whole run: every measurement in order, then the table; and
//! `--soak`, one long run of chat hooks for profiling.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::baseline::{self, FarEnd, Placement};
use crate::cli;
use crate::inproc;
use crate::lab::{self, Lab, Parts};
use crate::plan::Plan;
use crate::procfs;
use crate::report;
use crate::results::Report;
use crate::scenarios;
use crate::targets;
use crate::units::mib;

fn say(what: &str) {
    eprintln!("vh-bench: {what}");
}

/// Runs what `args` asks for; returns the exit status.
///
/// # Errors
/// A part is missing, fails to start, or a measurement fails; every
/// process started so far is stopped.
pub fn run(args: &[String]) -> Result<i32> {
    let o = cli::options(args)?;
    let parts = cli::parts(&o)?;
    let plan = Plan::new(o.short);
    if let Some(seconds) = o.soak {
        return soak(&parts, seconds);
    }
    let conditions = conditions(&parts)?;
    if o.rss {
        return rss_only(&parts, &conditions, o.strict);
    }
    if o.hub {
        return hub_only(&parts, &plan, &conditions, o.strict);
    }
    if o.throughput {
        return throughput_only(&parts, &plan, &conditions);
    }
    if o.paced {
        return paced_only(&parts, &plan, &conditions);
    }
    if o.workers {
        return workers_only(&parts, &plan, &conditions);
    }
    say(&format!(
        "shim {}, runner {}, python {}",
        parts.shim.display(),
        parts.runner.display(),
        parts.python.display()
    ));

    say("in-process CPython baseline");
    let scripts = tempfile::tempdir().context("temp dir")?;
    let (chat, usermc) = (
        scripts.path().join("chat.py"),
        scripts.path().join("usermc.py"),
    );
    std::fs::write(&chat, lab::CHAT_PY)?;
    std::fs::write(&usermc, lab::USERMC_PY)?;
    let inproc = inproc::run(&chat, &usermc, plan.inproc_calls).map_err(|e| format!("{e:#}"));

    say("starting vh-runner and the hub");
    let mut lab = Lab::start(&parts)?;
    let mut memory = scenarios::Memory {
        runner_empty_kb: lab.runner_empty_kb,
        ..Default::default()
    };
    let chat_worker = lab.worker_pid(lab.chat)?;
    memory.worker_idle_kb =
        procfs::settled_rss_kb(chat_worker, Duration::from_secs(3)).unwrap_or(0);
    memory.bare_python_kb = scenarios::bare_python_kb(&parts.python)?;

    say("raw ping-pong baselines");
    let sizes = baseline::hook_sizes();
    let one_hop = baseline::one_hop(sizes, plan.ping_pongs, Placement::Free)?;
    let all_cpus = procfs::affinity(0).context("reading this process's CPUs")?;
    let (one_cpu, two_cpus) = match all_cpus[..] {
        [a, b, ..] => (
            Some(baseline::one_hop(
                sizes,
                plan.ping_pongs,
                Placement::OneCpu(a),
            )?),
            Some(baseline::one_hop(
                sizes,
                plan.ping_pongs,
                Placement::TwoCpus(a, b),
            )?),
        ),
        _ => (None, None),
    };
    let two_hops = baseline::two_hops(sizes, plan.ping_pongs, FarEnd::Native, Placement::Free)?;
    let python = FarEnd::Python(&parts.python);
    let two_hops_python = baseline::two_hops(sizes, plan.ping_pongs / 4, python, Placement::Free)?;
    let two_hops_python_one_cpu = match all_cpus.first() {
        Some(&cpu) if all_cpus.len() > 1 => Some(baseline::two_hops(
            sizes,
            plan.ping_pongs / 4,
            python,
            Placement::OneCpu(cpu),
        )?),
        _ => None,
    };

    say("synchronous chat hooks");
    let clock_ns = lab.driver.clock_cost(100_000);
    let (chat_id, usermc_id) = (lab.chat, lab.usermc);
    let (sync, sync_hops) = scenarios::chat_hooks(&mut lab, chat_id, plan.sync_hooks)?;
    let sync_one_cpu = match all_cpus.first() {
        Some(&cpu) if all_cpus.len() > 1 => {
            say("synchronous chat hooks, every process on one CPU");
            let pids = [std::process::id(), lab.runner.pid(), chat_worker];
            procfs::pin_processes(&pids, &[cpu]);
            let r = scenarios::chat_hooks(&mut lab, chat_id, plan.sync_hooks / 2).and_then(|r| {
                let rate = scenarios::sustained(&mut lab, &[chat_id], plan.sustained)?;
                Ok((r.0, r.1, rate))
            });
            procfs::pin_processes(&pids, &all_cpus);
            Some(r?)
        }
        _ => None,
    };
    say("synchronous chat hooks through the runner (direct_link = false)");
    let relayed_id = lab.relayed;
    let relayed_worker = lab.worker_pid(relayed_id)?;
    let (relayed, _) = scenarios::chat_hooks(&mut lab, relayed_id, plan.sync_hooks)?;
    let relayed_one_cpu = match all_cpus.first() {
        Some(&cpu) if all_cpus.len() > 1 => {
            let pids = [std::process::id(), lab.runner.pid(), relayed_worker];
            procfs::pin_processes(&pids, &[cpu]);
            let r = scenarios::chat_hooks(&mut lab, relayed_id, plan.sync_hooks / 2);
            procfs::pin_processes(&pids, &all_cpus);
            Some(r?.0)
        }
        _ => None,
    };
    say("chat hooks with vh.usermc");
    let (usermc_l, usermc_hops) = scenarios::chat_hooks(&mut lab, usermc_id, plan.sync_hooks / 2)?;
    say("Python 2 worker: chat hooks, with vh.usermc, idle RSS");
    let py2 = crate::py2::measure(&mut lab, plan.sync_hooks / 4, plan.sustained)
        .map_err(|e| format!("{e:#}"));
    say("paced hooks (one every 20 ms), Python 3 and Python 2 workers");
    let paced = crate::paced::run(
        &mut lab,
        &parts.python,
        plan.paced_rounds,
        plan.paced_events,
    )
    .map_err(|e| format!("{e:#}"));
    say("hooks whose result is ignored");
    let ignored = scenarios::ignored_hooks(&mut lab, plan.ignored_hooks)?;
    say("w_HasHook");
    let (has_hook_yes_ns, has_hook_no_ns, no_hook_ns) =
        scenarios::has_hook(&mut lab, plan.has_hook_calls)?;
    memory.worker_after_kb = procfs::rss_kb(chat_worker).unwrap_or(0);

    say("sustained throughput");
    let mut rates = vec![scenarios::sustained(&mut lab, &[chat_id], plan.sustained)?];
    lab.load_copies(3)?;
    let four: Vec<i32> = std::iter::once(lab.chat)
        .chain(lab.copies.iter().copied())
        .collect();
    rates.push(scenarios::sustained(&mut lab, &four, plan.sustained)?);

    say("chat hooks beside a busy script");
    let mut busy = Vec::new();
    for (kind, label, demote) in [
        ("sleep", "another script sleeping in a hook", false),
        ("spin", "another script spinning in a hook", false),
        ("spin", "the spinning one under SCHED_IDLE", true),
    ] {
        let l = scenarios::beside_busy(&mut lab, kind, plan.busy, demote)?;
        busy.push((label.to_string(), l));
    }

    say("hub-shaped scenario");
    let hub_shaped = crate::hubshaped::run(&mut lab, plan.hub_rounds, plan.hub_lines)
        .map_err(|e| format!("{e:#}"));

    say(&format!("RSS over {} hooks", plan.rss_hooks));
    let growth = scenarios::growth(&mut lab, plan.rss_hooks, plan.rss_step)?;

    say(&format!("{} scripts loaded", plan.many_scripts));
    lab.load_copies(plan.many_scripts.saturating_sub(3))?;
    let status = lab.runner.status()?;
    memory.many = status.iter().filter(|s| s.pid != 0).count();
    memory.runner_many_kb =
        procfs::settled_rss_kb(lab.runner.pid(), Duration::from_secs(3)).unwrap_or(0);
    for s in status.iter().filter(|s| s.pid != 0) {
        memory.workers_many_rss_kb += procfs::rss_kb(s.pid).unwrap_or(0);
        memory.workers_many_pss_kb += procfs::pss_kb(s.pid).unwrap_or(0);
    }

    say("raw ping-pong again");
    let one_hop_end = baseline::one_hop(sizes, plan.ping_pongs, Placement::Free)?;
    say("stopping");
    drop(lab);

    let report = Report {
        short: plan.short,
        hub_shaped,
        conditions,
        load_end: procfs::loadavg(),
        sizes: Some(sizes),
        one_hop,
        one_hop_end,
        one_hop_one_cpu: one_cpu,
        one_hop_two_cpus: two_cpus,
        sync_one_cpu,
        two_hops,
        two_hops_python,
        two_hops_python_one_cpu,
        inproc,
        clock_ns,
        sync,
        sync_hops,
        relayed,
        relayed_one_cpu,
        usermc: usermc_l,
        usermc_hops,
        ignored,
        has_hook_yes_ns,
        has_hook_no_ns,
        no_hook_ns,
        rates,
        busy,
        memory,
        growth,
        py2,
        paced,
    };
    print!("{}", report::render(&report));
    Ok(if o.strict && !o.short && !targets::all_met(&report) {
        2
    } else {
        0
    })
}

/// The machine, its load, and the workers' interpreter and `vh._core`
/// build, for the header of the output.
///
/// # Errors
/// The interpreter cannot import `vh._core`.
fn conditions(parts: &Parts) -> Result<String> {
    let (core, debug_core) = cli::sdk_core(&parts.python)?;
    let mut conditions = format!(
        "{}, {} CPU(s), load average {} at start\nworkers: {} with {}{}",
        procfs::cpu_model(),
        procfs::cpus(),
        procfs::loadavg(),
        parts.python.display(),
        core.display(),
        if debug_core {
            " (DEBUG build)"
        } else {
            " (release build)"
        }
    );
    if debug_core {
        conditions.push_str(
            "\nWARNING: the workers' vh._core is a debug build (make sdk builds one); worker \
             figures are worse than a release build's (docs/performance.md, \"Running it\")",
        );
    }
    Ok(conditions)
}

/// Fresh workers (and bare interpreters) measured by `--rss`.
const RSS_SAMPLES: usize = 5;

/// `--rss`: only the idle RSS of a worker that loaded `chat.py`, against
/// `python3 -c 'import time; time.sleep(60)'` with the same interpreter,
/// alternated over [`RSS_SAMPLES`] fresh workers and as many bare
/// interpreters; prints the samples, the medians, the ratio and the target.
/// Exit status 2 with `strict` if the target is missed.
fn rss_only(parts: &Parts, conditions: &str, strict: bool) -> Result<i32> {
    say("starting vh-runner and the hub");
    let mut lab = Lab::start(parts)?;
    let (mut workers, mut bare) = (Vec::new(), Vec::new());
    for i in 0..RSS_SAMPLES {
        say(&format!("worker and bare python3 {}/{RSS_SAMPLES}", i + 1));
        let id = if i == 0 {
            lab.chat
        } else {
            lab.load_copies(i)?;
            lab.copies[i - 1]
        };
        let pid = lab.worker_pid(id)?;
        workers.push(procfs::settled_rss_kb(pid, Duration::from_secs(3)).unwrap_or(0));
        bare.push(scenarios::bare_python_kb(&parts.python)?);
    }
    drop(lab);
    let median = |v: &mut Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let list = |v: &[u64]| {
        v.iter()
            .map(|kb| format!("{:.1}", *kb as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("vh-bench --rss: {conditions}");
    println!(
        "worker, idle (chat.py loaded, no hook yet), MiB:  {}",
        list(&workers)
    );
    println!(
        "bare python3 -c 'import time; time.sleep(60)', MiB: {}",
        list(&bare)
    );
    let (w, b) = (median(&mut workers), median(&mut bare));
    let ratio = w as f64 / (b as f64).max(1.0);
    let met = ratio <= 1.3;
    println!(
        "median: worker {}, bare python3 {}: {ratio:.2}x; target <= 1.3x: {}",
        mib(w),
        mib(b),
        if met { "met" } else { "MISSED" }
    );
    Ok(if strict && !met { 2 } else { 0 })
}

/// `--hub`: only the hub-shaped scenario, its table and targets.
/// Exit status 2 with `strict` (full counts) if a target is missed.
fn hub_only(parts: &Parts, plan: &Plan, conditions: &str, strict: bool) -> Result<i32> {
    say("starting vh-runner and the hub");
    let mut lab = Lab::start(parts)?;
    let h = crate::hubshaped::run(&mut lab, plan.hub_rounds, plan.hub_lines)?;
    drop(lab);
    println!("vh-bench --hub: {conditions}");
    print!("{}", crate::hubshaped::render(&h));
    let mut met = true;
    for t in crate::hubshaped::targets(&h) {
        met &= t.met;
        let status = if plan.short {
            "-".to_string()
        } else if t.met {
            "met".to_string()
        } else {
            format!("MISSED, {}", t.miss)
        };
        println!("{:<60} {:<34} {status}", t.what, t.measured);
    }
    println!("load average at the end: {}", procfs::loadavg());
    Ok(if strict && !plan.short && !met { 2 } else { 0 })
}

/// `--throughput`: the sustained throughput of the full run (one script,
/// then four), alternated over [`THROUGHPUT_ROUNDS`] rounds; prints each
/// round and the medians.
fn throughput_only(parts: &Parts, plan: &Plan, conditions: &str) -> Result<i32> {
    say("starting vh-runner and the hub");
    let mut lab = Lab::start(parts)?;
    let one = [lab.chat];
    lab.load_copies(3)?;
    let four: Vec<i32> = one.iter().chain(lab.copies.iter()).copied().collect();
    let (mut ones, mut fours) = (Vec::new(), Vec::new());
    for round in 1..=THROUGHPUT_ROUNDS {
        say(&format!("throughput round {round}/{THROUGHPUT_ROUNDS}"));
        ones.push(scenarios::sustained(&mut lab, &one, plan.sustained)?.hooks_per_s);
        fours.push(scenarios::sustained(&mut lab, &four, plan.sustained)?.hooks_per_s);
    }
    drop(lab);
    println!("vh-bench --throughput: {conditions}");
    for (label, v) in [("1 script", &mut ones), ("4 scripts", &mut fours)] {
        let rounds: Vec<String> = v.iter().map(|x| format!("{x:.0}")).collect();
        v.sort_by(f64::total_cmp);
        println!(
            "{label:<10} hooks/s median {:>8.0}  rounds {}",
            v[v.len() / 2],
            rounds.join(" ")
        );
    }
    println!("load average at the end: {}", procfs::loadavg());
    Ok(0)
}

/// `--paced`: only the paced scenario, its table and targets.
fn paced_only(parts: &Parts, plan: &Plan, conditions: &str) -> Result<i32> {
    say("starting vh-runner and the hub");
    let mut lab = Lab::start(parts)?;
    say("paced hooks (one every 20 ms)");
    let p = crate::paced::run(
        &mut lab,
        &parts.python,
        plan.paced_rounds,
        plan.paced_events,
    )?;
    drop(lab);
    println!("vh-bench --paced: {conditions}");
    print!("{}", crate::paced::render(&p, plan.short));
    println!("load average at the end: {}", procfs::loadavg());
    Ok(0)
}

/// `--workers`: the chat hook and the hook with `vh.usermc`, back to
/// back, to a Python 3 and a Python 2 worker, alternated over
/// [`THROUGHPUT_ROUNDS`] rounds; every round's p50, the medians and the
/// Python 2 / Python 3 ratios.
fn workers_only(parts: &Parts, plan: &Plan, conditions: &str) -> Result<i32> {
    say("starting vh-runner and the hub");
    let mut lab = Lab::start(parts)?;
    if lab.python2.is_none() {
        anyhow::bail!("no Python 2.7 found (set VH_BENCH_PYTHON2)");
    }
    let dir = lab.runner.dir.path().to_path_buf();
    std::fs::write(dir.join(crate::py2::CHAT), lab::CHAT_PY)?;
    std::fs::write(dir.join(crate::py2::USERMC), lab::USERMC_PY)?;
    let ids = [
        ("Python 3 worker: chat hook", lab.chat),
        ("Python 2 worker: chat hook", lab.load(crate::py2::CHAT)?),
        ("Python 3 worker: chat hook + vh.usermc", lab.usermc),
        (
            "Python 2 worker: chat hook + vh.usermc",
            lab.load(crate::py2::USERMC)?,
        ),
    ];
    let n = plan.sync_hooks / 5;
    let mut p50s = vec![Vec::new(); ids.len()];
    let mut rates = vec![Vec::new(); 2];
    for round in 1..=THROUGHPUT_ROUNDS {
        say(&format!("workers round {round}/{THROUGHPUT_ROUNDS}"));
        for (k, (_, id)) in ids.iter().enumerate() {
            let (l, _) = scenarios::chat_hooks(&mut lab, *id, n)?;
            p50s[k].push(l.lat.p50 / 1000.0);
        }
        for (k, (_, id)) in ids[..2].iter().enumerate() {
            let r = scenarios::sustained(&mut lab, &[*id], plan.sustained / 2)?;
            rates[k].push(r.hooks_per_s);
        }
    }
    drop(lab);
    println!("vh-bench --workers: {conditions}");
    println!("back to back, {n} hooks per round, p50 us");
    let mut medians = Vec::new();
    for ((label, _), v) in ids.iter().zip(&mut p50s) {
        let rounds: Vec<String> = v.iter().map(|x| format!("{x:.1}")).collect();
        v.sort_by(f64::total_cmp);
        let m = v[v.len() / 2];
        medians.push(m);
        println!("{label:<42} median {m:>7.1}  rounds {}", rounds.join(" "));
    }
    println!(
        "Python 2 / Python 3: chat hook {:.2}x, + vh.usermc {:.2}x (target <= 1.5x)",
        medians[1] / medians[0],
        medians[3] / medians[2]
    );
    for (label, v) in ["Python 3 worker", "Python 2 worker"]
        .iter()
        .zip(&mut rates)
    {
        let rounds: Vec<String> = v.iter().map(|x| format!("{x:.0}")).collect();
        v.sort_by(f64::total_cmp);
        println!(
            "{label}: chat hooks/s back to back, median {:>7.0}  rounds {}",
            v[v.len() / 2],
            rounds.join(" ")
        );
    }
    println!("load average at the end: {}", procfs::loadavg());
    Ok(0)
}

/// Rounds of `--throughput`.
const THROUGHPUT_ROUNDS: usize = 5;

/// `--soak`: chat hooks to `chat.py` for `seconds`, for profiling.
fn soak(parts: &Parts, seconds: f64) -> Result<i32> {
    let mut lab = Lab::start(parts)?;
    let chat = lab.chat;
    eprintln!(
        "vh-bench: soak for {seconds} s: hub pid {}, runner pid {}, worker pid {}",
        std::process::id(),
        lab.runner.pid(),
        lab.worker_pid(chat)?
    );
    let (latency, hops) = scenarios::soak(&mut lab, Duration::from_secs_f64(seconds))?;
    for (label, ns, switches) in &hops.groups {
        eprintln!(
            "vh-bench: {label:<28} {:>7.1} us CPU, {switches:.2} switches per hook",
            ns / 1000.0
        );
    }
    eprintln!(
        "vh-bench: runner -> worker -> runner (runner's view): p50 {} us, p99 {} us",
        hops.worker_leg_us.0, hops.worker_leg_us.1
    );
    eprintln!(
        "vh-bench: {} hooks, p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us",
        latency.lat.n,
        latency.lat.p50 / 1000.0,
        latency.lat.p99 / 1000.0,
        latency.lat.p999 / 1000.0
    );
    Ok(0)
}
