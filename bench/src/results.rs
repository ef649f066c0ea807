//! What one bench run measured ([`Report`]), filled in by the suite and
//! printed by `report`, judged by `targets`.

use crate::baseline::Sizes;
use crate::inproc::InProc;
use crate::scenarios::{Growth, Hops, Latency, Memory, Rate};
use crate::stats::Summary;

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// `--short`.
    pub short: bool,
    /// The hub-shaped scenario, or why it could not run.
    pub hub_shaped: Result<crate::hubshaped::HubShaped, String>,
    /// Machine and load, at start and end.
    pub conditions: String,
    /// Load average at the end.
    pub load_end: String,
    /// Message sizes of the ping-pong baselines.
    pub sizes: Option<Sizes>,
    /// Raw ping-pong: one hop, at the start of the vh-runner part.
    pub one_hop: Summary,
    /// Raw ping-pong: one hop, again at the end of the run.
    pub one_hop_end: Summary,
    /// Raw ping-pong: one hop, both processes on one CPU / on two CPUs
    /// (absent on a single-CPU machine).
    pub one_hop_one_cpu: Option<Summary>,
    /// See `one_hop_one_cpu`.
    pub one_hop_two_cpus: Option<Summary>,
    /// Chat hook with the hub, the runner and the worker on one CPU, and
    /// the throughput so.
    pub sync_one_cpu: Option<(Latency, Hops, Rate)>,
    /// Raw ping-pong through a relay process, native and Python far end.
    pub two_hops: Summary,
    /// See `two_hops`.
    pub two_hops_python: Summary,
    /// Two hops to a Python loop, every process on one CPU.
    pub two_hops_python_one_cpu: Option<Summary>,
    /// The in-process CPython baseline, or why it is missing.
    pub inproc: Result<InProc, String>,
    /// Cost of one `clock_gettime` in the driver, ns.
    pub clock_ns: f64,
    /// Chat hook through vh-runner, and where its time goes.
    pub sync: Latency,
    /// See `sync`.
    pub sync_hops: Hops,
    /// The same chat hook relayed through the runner (`direct_link =
    /// false`), as placed by the scheduler and on one CPU.
    pub relayed: Latency,
    /// See `relayed`.
    pub relayed_one_cpu: Option<Latency>,
    /// Chat hook with one `vh.usermc`.
    pub usermc: Latency,
    /// See `usermc`.
    pub usermc_hops: Hops,
    /// A hook whose result the hub ignores (`OnUserLogout`).
    pub ignored: Latency,
    /// `w_HasHook`, hook defined / not defined, ns.
    pub has_hook_yes_ns: f64,
    /// See `has_hook_yes_ns`.
    pub has_hook_no_ns: f64,
    /// One event of a hook no script has, ns.
    pub no_hook_ns: f64,
    /// Throughput with 1 and with 4 scripts.
    pub rates: Vec<Rate>,
    /// Chat hook beside `busy.py` sleeping / spinning in a long hook.
    pub busy: Vec<(String, Latency)>,
    /// Memory.
    pub memory: Memory,
    /// RSS over the long run.
    pub growth: Growth,
    /// A Python 2.7 worker's figures, or why they are missing.
    pub py2: Result<crate::py2::Figures, String>,
    /// Hooks at human rates (one every 20 ms).
    pub paced: Result<crate::paced::Paced, String>,
}
