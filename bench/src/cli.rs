//! The command line: options, where the parts under test are, and which
//! build of the SDK the workers use.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::lab::Parts;

pub const USAGE: &str =
    "usage: vh-bench [--short] [--strict] [--rss] [--hub] [--throughput] [--paced] [--workers] [--python PATH] [--bin-dir DIR]

  --short        small counts, to check that the bench runs (CI); not timed
  --strict       exit with status 2 if a target is missed (full run, --rss)
  --rss          only a worker's idle RSS against bare python3: 5 fresh
                 workers and 5 bare interpreters, the medians and the
                 ratio (a few seconds)
  --hub          only the hub-shaped scenario: its rounds, its
                 table and its targets (about a minute; with --short, 2
                 small rounds)
  --throughput   only the sustained throughput, 1 script and 4 scripts
                 alternated over 5 rounds of 5 s each, every round and the
                 medians (about a minute); for comparing spin and
                 placement rules within minutes
  --paced        only hooks at human rates: one event every 20 ms to a
                 Python 3 and a Python 2 worker, beside a raw paced
                 ping-pong and the in-process plugin, taking turns event
                 by event; p50/p90/p99, CPU per hook, targets (about 60 s)
  --workers      only the chat hook and the hook with vh.usermc back to
                 back to a Python 3 and a Python 2 worker, alternated in 5
                 rounds, and each worker's chat hooks per second: every
                 round, the medians and the ratios (about two minutes)
  --python PATH  the workers' interpreter, with the vh package
                 [default: $VH_BENCH_PYTHON, else <repo>/.venv/bin/python]
  --bin-dir DIR  where libvh_python_wrapper.so and vh-runner are
                 [default: the directory of this program, target/release]
  --soak SECONDS only send chat hooks to one script for SECONDS, printing
                 the pids of the hub, the runner and the worker first (to
                 attach perf or a profiler), then the latency; no table

Build first: cargo build --release (the shim and the runner), make sdk (.venv).";

/// Command-line options.
pub struct Options {
    /// `--short`.
    pub short: bool,
    /// `--strict`.
    pub strict: bool,
    /// `--python`.
    pub python: Option<PathBuf>,
    /// `--bin-dir`.
    pub bin_dir: Option<PathBuf>,
    /// `--soak`.
    pub soak: Option<f64>,
    /// `--rss`.
    pub rss: bool,
    /// `--hub`.
    pub hub: bool,
    /// `--throughput`.
    pub throughput: bool,
    /// `--paced`.
    pub paced: bool,
    /// `--workers`.
    pub workers: bool,
}

/// Parses this program's arguments (`args[0]` is its name).
///
/// # Errors
/// An unknown argument or a missing value.
pub fn options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        short: false,
        strict: false,
        python: None,
        bin_dir: None,
        soak: None,
        rss: false,
        hub: false,
        throughput: false,
        paced: false,
        workers: false,
    };
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--short" => o.short = true,
            "--strict" => o.strict = true,
            "--rss" => o.rss = true,
            "--hub" => o.hub = true,
            "--throughput" => o.throughput = true,
            "--paced" => o.paced = true,
            "--workers" => o.workers = true,
            "--python" => o.python = it.next().map(PathBuf::from),
            "--bin-dir" => o.bin_dir = it.next().map(PathBuf::from),
            "--soak" => {
                let v = it.next().and_then(|v| v.parse().ok());
                o.soak = Some(v.context("--soak needs a number of seconds")?);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    Ok(o)
}

/// Finds the shim, the runner and the workers' python.
///
/// # Errors
/// One of them is missing (the message says how to build it).
pub fn parts(o: &Options) -> Result<Parts> {
    let bin_dir = match &o.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()
            .context("finding vh-bench")?
            .parent()
            .map(Path::to_path_buf)
            .context("vh-bench has no directory")?,
    };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = manifest.parent().unwrap_or(manifest);
    let python = o
        .python
        .clone()
        .or_else(|| std::env::var_os("VH_BENCH_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| repo.join(".venv/bin/python"));
    // Absolute, not canonical: a venv's python is a symlink that must stay
    // one (the runner starts workers in the script's folder).
    let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let p = Parts {
        shim: absolute(bin_dir.join("libvh_python_wrapper.so")),
        runner: absolute(bin_dir.join("vh-runner")),
        python: absolute(python),
    };
    for (what, path, how) in [
        ("the shim", &p.shim, "cargo build --release"),
        ("the runner", &p.runner, "cargo build --release"),
        ("the workers' python", &p.python, "make sdk, or --python"),
    ] {
        if !path.exists() {
            bail!("{what} is missing at {} ({how})", path.display());
        }
    }
    Ok(p)
}

/// Where the workers' `vh._core` is, and whether it is a debug build
/// (`make sdk` runs `maturin develop`, which builds one): only a debug
/// build has overflow checks, hence their panic messages.
///
/// # Errors
/// The interpreter cannot import `vh._core`, or the file cannot be read.
pub fn sdk_core(python: &Path) -> Result<(PathBuf, bool)> {
    let out = std::process::Command::new(python)
        .args(["-c", "import vh._core as c; print(c.__file__)"])
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "{} cannot import vh._core: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let marker = b"attempt to add with overflow";
    let debug = bytes.windows(marker.len()).any(|w| w == marker);
    Ok((path, debug))
}
