//! How much of everything a run does: the full run or `--short`.

use std::time::Duration;

/// How much of everything to do.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// `--short`: small counts, for CI; figures are not meaningful.
    pub short: bool,
    /// Raw ping-pong round trips per baseline.
    pub ping_pongs: usize,
    /// Calls per in-process series.
    pub inproc_calls: usize,
    /// Synchronous chat hooks (and hooks with `vh.usermc`).
    pub sync_hooks: usize,
    /// Hooks whose result is ignored.
    pub ignored_hooks: usize,
    /// `w_HasHook` calls per figure, and events of a hook no script has.
    pub has_hook_calls: usize,
    /// Length of each throughput run.
    pub sustained: Duration,
    /// How long `busy.py` stays in its hook.
    pub busy: Duration,
    /// Scripts loaded for the runner's RSS.
    pub many_scripts: usize,
    /// Hooks of the shim RSS run, and the step between two readings.
    pub rss_hooks: usize,
    /// See `rss_hooks`.
    pub rss_step: usize,
    /// Rounds of the hub-shaped scenario (at least 5).
    pub hub_rounds: usize,
    /// Chat lines per variant and round of the hub-shaped scenario.
    pub hub_lines: usize,
    /// Rounds of the paced scenario, and events per series per round.
    pub paced_rounds: usize,
    /// See `paced_rounds`.
    pub paced_events: usize,
}

impl Plan {
    /// The full run (a few minutes) or the short one (well under a minute).
    pub fn new(short: bool) -> Plan {
        if short {
            Plan {
                short,
                ping_pongs: 2_000,
                inproc_calls: 20_000,
                sync_hooks: 500,
                ignored_hooks: 500,
                has_hook_calls: 100_000,
                sustained: Duration::from_millis(300),
                busy: Duration::from_millis(600),
                many_scripts: 6,
                rss_hooks: 5_000,
                rss_step: 1_000,
                hub_rounds: 2,
                hub_lines: 300,
                paced_rounds: 1,
                paced_events: 10,
            }
        } else {
            Plan {
                short,
                ping_pongs: 200_000,
                inproc_calls: 1_000_000,
                sync_hooks: 100_000,
                ignored_hooks: 100_000,
                has_hook_calls: 10_000_000,
                sustained: Duration::from_secs(5),
                busy: Duration::from_secs(3),
                many_scripts: 50,
                rss_hooks: 1_000_000,
                rss_step: 100_000,
                hub_rounds: 7,
                hub_lines: 20_000,
                paced_rounds: 5,
                paced_events: 100,
            }
        }
    }
}
