//! The bench's targets (docs/performance.md), judged against the baselines of the same run, and
//! the hub-shaped ones (`crate::hubshaped`).

use crate::results::Report;
use crate::target::Target;
use crate::units::{mib, us};

/// A latency target: `v` at most `limit` times `base`.
fn ratio_target(what: &'static str, v: f64, base: f64, limit: f64) -> Target {
    let x = v / base.max(1.0);
    Target {
        what,
        measured: format!("{x:.1}x ({} vs {} us)", us(v), us(base)),
        met: x <= limit,
        miss: format!("{:.1}x over", x / limit),
    }
}

/// The bench's targets judged on the figures of `r`.
pub fn targets(r: &Report) -> Vec<Target> {
    let mut t = Vec::new();
    // Like for like first: on one CPU neither side pays for cross-CPU
    // wake-ups, whose cost on a VM swings from run to run (see the doc).
    if let (Some((l, _, _)), Some(one)) = (&r.sync_one_cpu, &r.one_hop_one_cpu) {
        t.push(ratio_target(
            "sync p50 <= 4x ping-pong p50 (all on one CPU)",
            l.lat.p50,
            one.p50,
            4.0,
        ));
        t.push(ratio_target(
            "sync p99 <= 10x ping-pong p99 (all on one CPU)",
            l.lat.p99,
            one.p99,
            10.0,
        ));
    }
    t.push(ratio_target(
        "sync p50 <= 4x ping-pong p50 (placed by the scheduler)",
        r.sync.lat.p50,
        r.one_hop.p50,
        4.0,
    ));
    t.push(ratio_target(
        "sync p99 <= 10x ping-pong p99 (placed by the scheduler)",
        r.sync.lat.p99,
        r.one_hop.p99,
        10.0,
    ));
    let ff = r.ignored.lat.p50;
    t.push(Target {
        what: "fire-and-forget <= 1 us hub-thread time (p50)",
        measured: format!("{} us (p99 {} us)", us(ff), us(r.ignored.lat.p99)),
        met: ff <= 1000.0,
        miss: format!("{:.1}x over", ff / 1000.0),
    });
    t.push(Target {
        what: "w_HasHook <= 10 ns",
        measured: format!("{:.1} ns", r.has_hook_yes_ns),
        met: r.has_hook_yes_ns <= 10.0,
        miss: format!("{:.1}x over", r.has_hook_yes_ns / 10.0),
    });
    let rate = r.rates.first().map_or(0.0, |x| x.hooks_per_s);
    t.push(Target {
        what: ">= 50,000 hooks/s, 1 script (placed by the scheduler)",
        measured: format!("{rate:.0} hooks/s"),
        met: rate >= 50_000.0,
        miss: format!("{:.1}x short", 50_000.0 / rate.max(1.0)),
    });
    if let Some((_, _, rate)) = &r.sync_one_cpu {
        t.push(Target {
            what: "  the same, every process on one CPU",
            measured: format!("{:.0} hooks/s", rate.hooks_per_s),
            met: rate.hooks_per_s >= 50_000.0,
            miss: format!("{:.1}x short", 50_000.0 / rate.hooks_per_s.max(1.0)),
        });
    }
    let m = &r.memory;
    let w = m.worker_idle_kb as f64 / (m.bare_python_kb as f64).max(1.0);
    t.push(Target {
        what: "worker idle RSS <= 1.3x bare python3",
        measured: format!(
            "{w:.2}x ({} vs {})",
            mib(m.worker_idle_kb),
            mib(m.bare_python_kb)
        ),
        met: w <= 1.3,
        miss: format!("{:.2}x over", w / 1.3),
    });
    let g = &r.growth;
    let slope = g.per_100k(&g.shim_rss_kb);
    t.push(Target {
        what: "shim RSS flat (< 1 byte/hook = 98 KiB per 100k hooks)",
        measured: format!("{slope:+.1} KiB per 100k hooks"),
        met: slope < 97.7,
        miss: format!("{:.1}x over", slope / 97.7),
    });
    match &r.hub_shaped {
        Ok(h) => t.extend(crate::hubshaped::targets(h)),
        Err(e) => t.push(Target {
            what: "hub-shaped scenario",
            measured: "not measured".into(),
            met: false,
            miss: e.clone(),
        }),
    }
    t
}

/// True if every target is met.
pub fn all_met(r: &Report) -> bool {
    targets(r).iter().all(|t| t.met)
}
