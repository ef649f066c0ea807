//! The bench's table: absolute figures, ratios against the baselines of the
//! same run, where the time goes, and the targets ([`crate::targets`]).

use std::fmt::Write;

use crate::inproc::InProc;
use crate::results::Report;
use crate::stats::Summary;
use crate::targets;
use crate::units::{mib, us};

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.1}x", a / b)
    } else {
        "-".into()
    }
}

/// Widths of the latency table: label, then numbers.
const LABEL: usize = 58;

fn latency_row(
    out: &mut String,
    label: &str,
    s: &Summary,
    base: &Summary,
    inproc: Option<&Summary>,
) {
    let _ = writeln!(
        out,
        "{label:<LABEL$} {:>8} {:>8} {:>8} {:>8}   {:>6} {:>6}   {:>7}",
        us(s.p50),
        us(s.p99),
        us(s.p999),
        us(s.mean),
        ratio(s.p50, base.p50),
        ratio(s.p99, base.p99),
        inproc.map_or("".into(), |i| ratio(s.p50, i.p50)),
    );
}

/// The whole table as text.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "vh-bench ({}): {}",
        if r.short {
            "short mode: counts too small to mean anything, targets not judged"
        } else {
            "full run"
        },
        r.conditions
    );
    if let Some(s) = r.sizes {
        let _ = writeln!(
            o,
            "hook-sized messages: {} B request, {} B reply (protobuf + gRPC prefix + HTTP/2 frame header)",
            s.request, s.reply
        );
    }
    let _ = writeln!(o, "\nLatency per hub event, us{:>width$}", "", width = 0);
    let _ = writeln!(
        o,
        "{:<LABEL$} {:>8} {:>8} {:>8} {:>8}   {:>6} {:>6}   {:>7}",
        "", "p50", "p99", "p99.9", "mean", "xpp50", "xpp99", "xinproc"
    );
    // Ratios against the one-CPU ping-pong where there is one: it does not
    // swing with the scheduler's placement.
    let base = r.one_hop_one_cpu.unwrap_or(r.one_hop);
    latency_row(
        &mut o,
        "raw ping-pong, 1 hop (2 processes)",
        &r.one_hop,
        &base,
        None,
    );
    if let (Some(one), Some(two)) = (&r.one_hop_one_cpu, &r.one_hop_two_cpus) {
        latency_row(
            &mut o,
            "raw ping-pong, 1 hop, both on one CPU",
            one,
            &base,
            None,
        );
        latency_row(
            &mut o,
            "raw ping-pong, 1 hop, on two CPUs",
            two,
            &base,
            None,
        );
    }
    latency_row(
        &mut o,
        "raw ping-pong, 2 hops (relay, native echo)",
        &r.two_hops,
        &base,
        None,
    );
    latency_row(
        &mut o,
        "raw ping-pong, 2 hops (relay, Python echo)",
        &r.two_hops_python,
        &base,
        None,
    );
    if let Some(s) = &r.two_hops_python_one_cpu {
        latency_row(
            &mut o,
            "raw ping-pong, 2 hops (relay, Python echo), one CPU",
            s,
            &base,
            None,
        );
    }
    let inproc = r.inproc.as_ref().ok();
    match &r.inproc {
        Ok(i) => {
            latency_row(
                &mut o,
                "in-process CPython: chat hook",
                &i.chat,
                &base,
                None,
            );
            latency_row(
                &mut o,
                "in-process CPython: chat hook + vh.usermc",
                &i.usermc,
                &base,
                None,
            );
        }
        Err(e) => {
            let _ = writeln!(o, "{:<LABEL$} missing: {e}", "in-process CPython baseline");
        }
    }
    latency_row(
        &mut o,
        "vh-runner: chat hook (OnParsedMsgChat -> 1)",
        &r.sync.lat,
        &base,
        inproc.map(|i| &i.chat),
    );
    if let Some((l, _, _)) = &r.sync_one_cpu {
        latency_row(
            &mut o,
            "vh-runner: chat hook, every process on one CPU",
            &l.lat,
            &base,
            inproc.map(|i| &i.chat),
        );
    }
    latency_row(
        &mut o,
        "vh-runner: chat hook relayed by the runner (no direct link)",
        &r.relayed.lat,
        &base,
        inproc.map(|i| &i.chat),
    );
    if let Some(l) = &r.relayed_one_cpu {
        latency_row(
            &mut o,
            "vh-runner: chat hook relayed by the runner, one CPU",
            &l.lat,
            &base,
            inproc.map(|i| &i.chat),
        );
    }
    latency_row(
        &mut o,
        "vh-runner: chat hook + vh.usermc (re-entrant)",
        &r.usermc.lat,
        &base,
        inproc.map(|i| &i.usermc),
    );
    match &r.py2 {
        Ok(p) => {
            latency_row(
                &mut o,
                "Python 2 worker: chat hook (OnParsedMsgChat -> 1)",
                &p.chat.lat,
                &base,
                inproc.map(|i| &i.chat),
            );
            if let Some(l) = &p.one_cpu {
                latency_row(
                    &mut o,
                    "Python 2 worker: chat hook, every process on one CPU",
                    &l.lat,
                    &base,
                    inproc.map(|i| &i.chat),
                );
            }
            latency_row(
                &mut o,
                "Python 2 worker: chat hook + vh.usermc",
                &p.usermc.lat,
                &base,
                inproc.map(|i| &i.usermc),
            );
            latency_row(
                &mut o,
                "Python 2 worker: result ignored (OnUserLogout), hub thread",
                &p.ignored.lat,
                &base,
                inproc.map(|i| &i.chat),
            );
            let one_cpu = match (&p.one_cpu, &r.sync_one_cpu) {
                (Some(l2), Some((l3, _, _))) => {
                    format!(", one CPU {:.2}x", l2.lat.p50 / l3.lat.p50)
                }
                _ => String::new(),
            };
            let _ = writeln!(
                o,
                "(Python 2 / Python 3 worker, p50: chat {:.2}x, + vh.usermc {:.2}x{one_cpu})",
                p.chat.lat.p50 / r.sync.lat.p50,
                p.usermc.lat.p50 / r.usermc.lat.p50,
            );
        }
        Err(e) => {
            let _ = writeln!(o, "{:<LABEL$} missing: {e}", "Python 2 worker");
        }
    }
    latency_row(
        &mut o,
        "vh-runner: result ignored (OnUserLogout), hub thread",
        &r.ignored.lat,
        &base,
        inproc.map(|i| &i.chat),
    );
    for (kind, l) in &r.busy {
        latency_row(
            &mut o,
            &format!("vh-runner: chat hook, {kind}"),
            &l.lat,
            &base,
            inproc.map(|i| &i.chat),
        );
    }
    latency_row(
        &mut o,
        "raw ping-pong, 1 hop (again, end of run)",
        &r.one_hop_end,
        &base,
        None,
    );
    let _ = writeln!(
        o,
        "(xpp50/xpp99: ratio to the p50/p99 of the 1-hop ping-pong on one CPU; xinproc: p50 ratio to the in-process hook; \
         per-event timer {:.0} ns included, in-process {:.0} ns)",
        r.clock_ns,
        inproc.map_or(0.0, |i| i.clock_ns)
    );
    let c = &r.ignored.counts;
    let _ = writeln!(
        o,
        "(result-ignored hooks: {} calls, {} returned NULL at once, {} waited for an answer)",
        c.calls,
        c.nulls,
        c.calls - c.nulls
    );

    let _ = writeln!(
        o,
        "\nPer call, ns{:>width$}vh-runner  in-process  ratio",
        "",
        width = LABEL - 12
    );
    let ip = |f: fn(&InProc) -> f64| inproc.map_or(0.0, f);
    for (label, v, b) in [
        (
            "w_HasHook, hook defined",
            r.has_hook_yes_ns,
            ip(|i| i.has_hook_yes_ns),
        ),
        (
            "w_HasHook, hook not defined",
            r.has_hook_no_ns,
            ip(|i| i.has_hook_no_ns),
        ),
        (
            "event of a hook no script has (w_pack, w_HasHook, free)",
            r.no_hook_ns,
            ip(|i| i.no_hook_ns),
        ),
    ] {
        let _ = writeln!(o, "{label:<LABEL$} {v:>8.1}  {b:>10.1}  {:>5}", ratio(v, b));
    }
    if let Some(i) = inproc {
        let _ = writeln!(
            o,
            "{:<LABEL$} {:>8}  {:>10.0}  (in-process chat hook, batch mean; with vh.usermc {:.0})",
            "", "", i.chat_batch_ns, i.usermc_batch_ns
        );
    }

    let _ = writeln!(
        o,
        "\nThroughput (hub thread back to back, w_CallHook calls per second)"
    );
    for rate in &r.rates {
        let _ = writeln!(
            o,
            "{:<LABEL$} {:>10.0}   ({} calls)",
            format!("{} script(s), every chat event to each", rate.scripts),
            rate.hooks_per_s,
            rate.counts.calls
        );
    }
    if let Ok(p) = &r.py2 {
        let _ = writeln!(
            o,
            "{:<LABEL$} {:>10.0}",
            "1 script, Python 2 worker", p.hooks_per_s
        );
    }
    if let Some((_, _, rate)) = &r.sync_one_cpu {
        let _ = writeln!(
            o,
            "{:<LABEL$} {:>10.0}   ({} calls)",
            "1 script, every process on one CPU", rate.hooks_per_s, rate.counts.calls
        );
    }
    let _ = writeln!(
        o,
        "{:<LABEL$} {:>10.0}",
        "1 script, over the RSS run", r.growth.hooks_per_s
    );

    let m = &r.memory;
    let _ = writeln!(o, "\nMemory (RSS)");
    let _ = writeln!(
        o,
        "{:<LABEL$} {:>10}",
        "bare python3 -c 'import time; time.sleep(60)'",
        mib(m.bare_python_kb)
    );
    let _ = writeln!(
        o,
        "{:<LABEL$} {:>10}   {}",
        "worker, idle (chat.py loaded, no hook yet)",
        mib(m.worker_idle_kb),
        ratio(m.worker_idle_kb as f64, m.bare_python_kb as f64)
    );
    let _ = writeln!(
        o,
        "{:<LABEL$} {:>10}",
        "the same worker after the latency runs",
        mib(m.worker_after_kb)
    );
    let _ = writeln!(
        o,
        "{:<LABEL$} {:>10}",
        "runner, no script",
        mib(m.runner_empty_kb)
    );
    let _ = writeln!(
        o,
        "{:<LABEL$} {:>10}",
        format!("runner, {} scripts loaded", m.many),
        mib(m.runner_many_kb)
    );
    let _ = writeln!(
        o,
        "{:<LABEL$} {:>10}   (PSS {})",
        format!("{} workers, summed", m.many),
        mib(m.workers_many_rss_kb),
        mib(m.workers_many_pss_kb)
    );
    if let Ok(p) = &r.py2 {
        let _ = writeln!(
            o,
            "{:<LABEL$} {:>10}",
            format!("bare {} (sleeping)", p.python2.display()),
            mib(p.bare_kb)
        );
        let _ = writeln!(
            o,
            "{:<LABEL$} {:>10}   {}",
            "Python 2 worker, idle (chat.py loaded)",
            mib(p.idle_kb),
            ratio(p.idle_kb as f64, p.bare_kb as f64)
        );
    }
    let g = &r.growth;
    let last = |v: &[f64]| v.last().copied().unwrap_or(0.0);
    let first = |v: &[f64]| v.first().copied().unwrap_or(0.0);
    let total = last(&g.hooks);
    let _ = writeln!(
        o,
        "Growth over {total:.0} hooks (KiB: first -> last reading, least-squares slope per 100k hooks)"
    );
    for (label, v) in [
        ("hub process (shim) RSS", &g.shim_rss_kb),
        ("hub process malloc in use (mallinfo2)", &g.shim_heap_kb),
        ("runner RSS", &g.runner_rss_kb),
        ("worker RSS", &g.worker_rss_kb),
    ] {
        let _ = writeln!(
            o,
            "{label:<LABEL$} {:>8.0} -> {:>8.0}   {:+.1} KiB/100k",
            first(v),
            last(v),
            g.per_100k(v)
        );
    }

    let mut breakdowns = vec![("sync chat hook", &r.sync, &r.sync_hops)];
    if let Some((l, h, _)) = &r.sync_one_cpu {
        breakdowns.push(("sync chat hook, every process on one CPU,", l, h));
    }
    breakdowns.push(("chat hook + vh.usermc", &r.usermc, &r.usermc_hops));
    for (title, l, h) in breakdowns {
        let _ = writeln!(
            o,
            "\nWhere a {title} goes, per hook (p50 {} us)",
            us(l.lat.p50)
        );
        let _ = writeln!(
            o,
            "{:<LABEL$} {:>8} {:>10}",
            "thread group", "CPU us", "switches"
        );
        let mut cpu = 0.0;
        for (label, ns, sw) in &h.groups {
            cpu += ns;
            let _ = writeln!(o, "{label:<LABEL$} {:>8} {sw:>10.2}", us(*ns));
        }
        let _ = writeln!(o, "{:<LABEL$} {:>8}", "all", us(cpu));
        let (p50, p99) = h.worker_leg_us;
        let _ = writeln!(
            o,
            "the script's last 1024 hooks as `vh-runner status` reports them (on a direct link, the shim's own send-to-result time): p50 {p50} us, p99 {p99} us"
        );
    }

    match &r.hub_shaped {
        Ok(h) => o.push_str(&crate::hubshaped::render(h)),
        Err(e) => {
            let _ = writeln!(o, "\nHub-shaped scenario: not measured: {e}");
        }
    }

    match &r.paced {
        Ok(p) => o.push_str(&crate::paced::render(p, r.short)),
        Err(e) => {
            let _ = writeln!(o, "\nPaced hooks: not measured: {e}");
        }
    }

    let _ = writeln!(o, "\nTargets (ratios against baselines of this run)");
    for t in targets::targets(r) {
        let status = if r.short {
            "-".to_string()
        } else if t.met {
            "met".to_string()
        } else {
            format!("MISSED, {}", t.miss)
        };
        let _ = writeln!(o, "{:<LABEL$} {:<34} {status}", t.what, t.measured);
    }
    let _ = writeln!(o, "\nload average at the end: {}", r.load_end);
    o
}
