//! vh-bench: the benchmark. In one run on one machine it measures the
//! physical limits (a raw Unix-socket ping-pong of a hook-sized message, one
//! and two hops), the in-process CPython plugin (`c/inproc.c`), and
//! vh-runner through its real shim driven from C as python_pi drives it,
//! with a real runner and real workers; then prints absolute figures,
//! ratios and the targets (docs/performance.md).
//!
//! ```text
//! cargo build --release && cargo run --release -p vh-bench [-- --short] [--strict]
//! ```
//!
//! Parts:
//! * [`baseline`]: ping-pong baselines (and their child processes);
//! * [`inproc`], [`inproc_build`]: the in-process CPython baseline, built
//!   against Python 3 (generation B) and Python 2.7 (generation A);
//! * [`lab`], [`driver`], [`runner`]: the runner, the hub and the shim;
//! * [`scenarios`]: the measurements through vh-runner;
//! * [`py2`]: a Python 2.7 worker's figures ([`py2_setup`]: finding the
//!   Python 2.7, its runner config);
//! * [`paced`]: hooks at human rates (one every 20 ms), Python 3 and 2
//!   workers beside a paced raw ping-pong and the in-process plugin
//!   ([`paced_parts`]), the series taking turns event by event;
//! * [`hubshaped`]: the hub-shaped scenario (a competing process,
//!   rounds, pipelined calls, round trips per hook);
//! * [`procfs`], [`stats`]: readings, figures;
//! * [`results`]: what one run measured; [`report`]: its table, in the
//!   [`units`] it prints;
//! * [`target`], [`targets`]: one target, and the bench's targets judged;
//! * [`cli`], [`plan`], [`suite`]: the command line, the counts, and the
//!   order of the run.

mod baseline;
mod cli;
mod driver;
mod hubshaped;
mod inproc;
mod inproc_build;
mod lab;
mod paced;
mod paced_parts;
mod plan;
mod procfs;
mod py2;
mod py2_setup;
mod report;
mod results;
mod runner;
mod scenarios;
mod stats;
mod suite;
mod target;
mod targets;
mod units;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(code) = baseline::child_main(&args) {
        std::process::exit(code);
    }
    if let Some(code) = hubshaped::clients_main(&args) {
        std::process::exit(code);
    }
    match suite::run(&args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("vh-bench: {e:#}");
            std::process::exit(1);
        }
    }
}
