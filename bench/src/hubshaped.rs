//! The hub-shaped scenario: chat lines back to back to a script
//! that answers each with `vh.usermc`, in rounds. Each line costs the hub
//! what a chat line costs a hub: the plugin's hook, then the line sent to
//! each of [`CLIENTS`] client sockets; a separate clients process reads
//! and parses them, competing for the CPUs as a hub's clients do. Each
//! round measures, as the hub thread sees it (µs per line: a batch's time
//! over its lines):
//!
//! * the in-process baseline (`c/inproc.c --lines`, embedded CPython as
//!   python_pi runs it) with `usermc.py` and with `sends3.py`;
//! * vh-runner with every call waiting (`pipeline_calls = false`) and with
//!   pipelined calls, each with `usermc.py` (one discarded `vh.usermc`)
//!   and `sends3.py` (three).
//!
//! Round trips per hook come from the shim's own counters
//! (`vh_shim_round_trips`, docs/protocol.md "Pipelined calls"). The part
//! of each line the hub spent in its 20 sends is reported apart: a send
//! that wakes a sleeping clients process costs the hub several times one
//! that finds it busy, so the slower a line, the dearer its sends
//! (docs/performance.md "Hub-shaped chat lines").

use std::ffi::CString;
use std::fmt::Write as _;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};

use crate::baseline::{ChildGuard, NICK, TEXT};
use crate::driver::Event;
use crate::lab::{Lab, SENDS3_PY, USERMC_PY};
use crate::target::Target;

/// `argv[1]` of the clients process.
pub const CLIENTS_MODE: &str = "__vh_bench_clients";

/// Client sockets the hub sends each chat line to.
pub const CLIENTS: usize = 20;

/// The chat line as the hub broadcasts it (`c/inproc.c` sends the same).
const LINE: &[u8] = b"<bench> hello everyone, how is the hub doing today?|";

/// Rounds of a client's protocol parsing per byte received: what a DC
/// client does with a line (find the `|`, split, look the nick up, draw).
const CLIENT_WORK_PER_BYTE: u32 = 8;

/// Hook index of `OnParsedMsgChat` (docs/abi.md §4.1).
const ON_PARSED_MSG_CHAT: i32 = 3;

/// The variants of a round, in the order measured and reported.
pub const VARIANTS: [&str; 6] = [
    "in-process CPython, 1 usermc",
    "in-process CPython, 3 sends",
    "vh-runner, calls wait, 1 usermc",
    "vh-runner, pipelined, 1 usermc",
    "vh-runner, calls wait, 3 sends",
    "vh-runner, pipelined, 3 sends",
];

/// Script file of each vh-runner variant (the runner's config turns
/// pipelining off for the `-wait` ones, `lab::Lab::start`).
const RUNNER_SCRIPTS: [(&str, &str); 4] = [
    ("usermc-wait.py", USERMC_PY),
    ("usermc.py", USERMC_PY),
    ("sends3-wait.py", SENDS3_PY),
    ("sends3.py", SENDS3_PY),
];

/// The scenario's figures.
#[derive(Debug, Clone, Default)]
pub struct HubShaped {
    /// µs per line, `[variant][round]`, in the order of [`VARIANTS`].
    pub us_per_line: Vec<Vec<f64>>,
    /// Of those, µs per line spent in the sends to the clients,
    /// `[variant][round]`.
    pub sends_us: Vec<Vec<f64>>,
    /// Round trips per hook of the vh-runner variants (hook + answered
    /// `vh.*` calls, over all rounds), in [`VARIANTS`] order from index 2.
    pub round_trips: Vec<f64>,
    /// Lines per variant and round.
    pub lines: usize,
}

/// Child mode: the hub's clients. Reads every client socket given by fd
/// number (`argv[2..]`) and parses what comes, until every socket closed.
pub fn clients_main(args: &[String]) -> Option<i32> {
    if args.get(1).map(String::as_str) != Some(CLIENTS_MODE) {
        return None;
    }
    let mut fds: Vec<libc::pollfd> = args[2..]
        .iter()
        .filter_map(|a| a.parse::<RawFd>().ok())
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut buf = [0u8; 64 * 1024];
    let mut sink = 0u64;
    while fds.iter().any(|p| p.fd >= 0) {
        // SAFETY: valid pollfds; negative fds are ignored by poll.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 1000) };
        if n < 0 {
            continue;
        }
        for p in fds.iter_mut().filter(|p| p.revents != 0) {
            // SAFETY: the parent handed us this fd; ManuallyDrop keeps it open.
            let mut s = std::mem::ManuallyDrop::new(unsafe { UnixStream::from_raw_fd(p.fd) });
            match s.read(&mut buf) {
                Ok(0) | Err(_) => p.fd = -1,
                Ok(got) => {
                    for &b in &buf[..got] {
                        for _ in 0..CLIENT_WORK_PER_BYTE {
                            sink = std::hint::black_box(sink.rotate_left(5) ^ u64::from(b));
                        }
                    }
                }
            }
        }
    }
    std::hint::black_box(sink);
    Some(0)
}

/// Makes `fds` survive `exec` in a child started from `cmd`.
fn inherit(cmd: &mut Command, fds: Vec<RawFd>) {
    // SAFETY: only fcntl, async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Runs `rounds` rounds of `lines` lines per variant with a competing
/// process burning a CPU.
///
/// # Errors
/// A script fails to load, a hook fails, or the baseline cannot run.
pub fn run(lab: &mut Lab, rounds: usize, lines: usize) -> Result<HubShaped> {
    let mut ids = Vec::new();
    for (name, text) in RUNNER_SCRIPTS {
        let id = if name == "usermc.py" {
            lab.usermc
        } else {
            std::fs::write(lab.runner.dir.path().join(name), text)
                .with_context(|| format!("writing {name}"))?;
            lab.load(name)?
        };
        ids.push(id);
    }
    let scripts = tempfile::tempdir().context("temp dir")?;
    let (usermc, sends3) = (
        scripts.path().join("usermc.py"),
        scripts.path().join("sends3.py"),
    );
    std::fs::write(&usermc, USERMC_PY)?;
    std::fs::write(&sends3, SENDS3_PY)?;
    let mut hub_ends = Vec::new();
    let mut client_ends = Vec::new();
    for _ in 0..CLIENTS {
        let (hub, client) = UnixStream::pair().context("client socketpair")?;
        hub.set_nonblocking(true)?;
        hub_ends.push(hub);
        client_ends.push(client);
    }
    let hub_fds: Vec<RawFd> = hub_ends.iter().map(AsRawFd::as_raw_fd).collect();
    let client_fds: Vec<RawFd> = client_ends.iter().map(AsRawFd::as_raw_fd).collect();
    let me = std::env::current_exe().context("the bench's own path")?;
    let mut cmd = Command::new(me);
    cmd.arg(CLIENTS_MODE)
        .args(client_fds.iter().map(|fd| fd.to_string()))
        .stdin(Stdio::null());
    inherit(&mut cmd, client_fds);
    let _clients = ChildGuard(cmd.spawn().context("starting the clients process")?);
    drop(client_ends);
    let counters = RoundTrips::find(&lab.shim_path)?;
    let mut out = HubShaped {
        us_per_line: vec![Vec::new(); VARIANTS.len()],
        sends_us: vec![Vec::new(); VARIANTS.len()],
        round_trips: vec![0.0; RUNNER_SCRIPTS.len()],
        lines,
    };
    let mut trips = vec![(0u64, 0u64); RUNNER_SCRIPTS.len()];
    for round in 0..rounds {
        eprintln!("vh-bench: hub-shaped round {}/{rounds}", round + 1);
        for (i, script) in [&usermc, &sends3].into_iter().enumerate() {
            let (line_us, sends_us) = inproc_lines(script, lines, &hub_fds)?;
            out.us_per_line[i].push(line_us);
            out.sends_us[i].push(sends_us);
        }
        for (i, &id) in ids.iter().enumerate() {
            let before = counters.read();
            let (line_us, sends_us) = runner_lines(lab, id, lines, &hub_fds)?;
            let after = counters.read();
            trips[i].0 += after.0 - before.0;
            trips[i].1 += (after.0 - before.0) + (after.1 - before.1);
            out.us_per_line[2 + i].push(line_us);
            out.sends_us[2 + i].push(sends_us);
        }
    }
    for (i, (hooks, round_trips)) in trips.iter().enumerate() {
        out.round_trips[i] = *round_trips as f64 / (*hooks).max(1) as f64;
    }
    for id in ids {
        if id != lab.usermc {
            lab.hub.unload(id);
        }
    }
    Ok(out)
}

/// `lines` hub-shaped chat lines to script `id` through the shim, back to
/// back (after a warm-up), each sent to the clients `fds`; µs per line, and
/// of those µs in the sends.
fn runner_lines(lab: &mut Lab, id: i32, lines: usize, fds: &[RawFd]) -> Result<(f64, f64)> {
    let ids = [id];
    let e = Event {
        ids: &ids,
        hook: ON_PARSED_MSG_CHAT,
        args: &[NICK, TEXT],
    };
    lab.driver.lines(&e, lines / 10 + 10, fds, LINE)?;
    lab.hub.clear_records();
    let (counts, _dropped, took, sends) = lab.driver.lines(&e, lines, fds, LINE)?;
    lab.hub.clear_records();
    if counts.allowed != lines as u64 {
        bail!("hub-shaped lines to #{id}: expected {lines} results l:1, got {counts:?}");
    }
    let per_line = |d: std::time::Duration| d.as_nanos() as f64 / 1000.0 / lines as f64;
    Ok((per_line(took), per_line(sends)))
}

/// The in-process baseline's µs per line for `script`, each line sent to
/// the clients `fds` (inherited by the program), and of those µs in the
/// sends.
fn inproc_lines(script: &Path, lines: usize, fds: &[RawFd]) -> Result<(f64, f64)> {
    let program = env!("VH_BENCH_INPROC");
    if program.is_empty() {
        bail!(
            "in-process baseline not built ({})",
            env!("VH_BENCH_INPROC_ERROR")
        );
    }
    let mut cmd = Command::new(program);
    cmd.arg("--lines")
        .arg(script)
        .arg(lines.to_string())
        .args(fds.iter().map(|fd| fd.to_string()));
    inherit(&mut cmd, fds.to_vec());
    let out = cmd.output().with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} --lines failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok((parse_value(&text, "lines")?, parse_value(&text, "sends")?))
}

/// `value <name> <ns>` of the baseline's output, as µs.
fn parse_value(text: &str, name: &str) -> Result<f64> {
    let prefix = format!("value {name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|ns| ns / 1000.0)
        .ok_or_else(|| anyhow!("the baseline printed no `value {name}`: {text:?}"))
}

/// The loaded shim's `vh_shim_round_trips`.
struct RoundTrips(unsafe extern "C" fn(*mut u64, *mut u64, *mut u64));

impl RoundTrips {
    fn find(shim: &Path) -> Result<RoundTrips> {
        let path = CString::new(shim.as_os_str().as_bytes())?;
        // SAFETY: the hub loaded the library (RTLD_NOLOAD takes a reference
        // to it, never dropped, so the pointer stays valid); the symbol has
        // the signature of host-shim/src/ffi.rs.
        unsafe {
            let lib = libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
            if lib.is_null() {
                bail!("{} is not loaded", shim.display());
            }
            let sym = libc::dlsym(lib, c"vh_shim_round_trips".as_ptr());
            if sym.is_null() {
                bail!("{} has no vh_shim_round_trips", shim.display());
            }
            Ok(RoundTrips(std::mem::transmute::<
                *mut libc::c_void,
                unsafe extern "C" fn(*mut u64, *mut u64, *mut u64),
            >(sym)))
        }
    }

    /// `(hooks waited for, vh.* calls answered)`.
    fn read(&self) -> (u64, u64) {
        let (mut a, mut b) = (0, 0);
        // SAFETY: two valid out-pointers, NULL for the third.
        unsafe { (self.0)(&mut a, &mut b, std::ptr::null_mut()) };
        (a, b)
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(0.0)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

/// The scenario's table: every round, the median and slowest round, the
/// ratio to the in-process baseline with the same script, round trips.
pub fn render(h: &HubShaped) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\nHub-shaped: chat lines back to back, each also sent to {CLIENTS} client sockets read by a clients process ({} lines per round), us per line",
        h.lines
    );
    let _ = writeln!(
        o,
        "{:<34} {:>8} {:>8} {:>8}  {:>6} {:>6}  rounds",
        "", "median", "slowest", "xinproc", "trips", "sends"
    );
    for (i, label) in VARIANTS.iter().enumerate() {
        let v = &h.us_per_line[i];
        // Each against the in-process baseline with the same script.
        let base = median(&h.us_per_line[if matches!(i, 0 | 2 | 3) { 0 } else { 1 }]);
        let trips = if i >= 2 {
            format!("{:.2}", h.round_trips[i - 2])
        } else {
            "-".into()
        };
        let rounds: Vec<String> = v.iter().map(|x| format!("{x:.1}")).collect();
        let _ = writeln!(
            o,
            "{label:<34} {:>8.1} {:>8.1} {:>7.2}x  {trips:>6} {:>6.1}  {}",
            median(v),
            max(v),
            median(v) / base.max(1e-9),
            median(&h.sends_us[i]),
            rounds.join(" ")
        );
    }
    o
}

/// The targets on `h`: pipelined `usermc.py` within 1.3x of the
/// in-process median (slowest round within 1.6x), and one round trip per
/// hook for the pipelined variants.
pub fn targets(h: &HubShaped) -> Vec<Target> {
    let mut t = Vec::new();
    let base = median(&h.us_per_line[0]);
    let piped = &h.us_per_line[3];
    let x = median(piped) / base.max(1e-9);
    t.push(Target {
        what: "hub-shaped, pipelined usermc <= 1.3x in-process (median)",
        measured: format!("{x:.2}x ({:.1} vs {base:.1} us)", median(piped)),
        met: x <= 1.3,
        miss: format!("{:.2}x over", x / 1.3),
    });
    let slow = max(piped) / base.max(1e-9);
    t.push(Target {
        what: "hub-shaped, slowest pipelined round <= 1.6x in-process",
        measured: format!("{slow:.2}x ({:.1} us)", max(piped)),
        met: slow <= 1.6,
        miss: format!("{:.2}x over", slow / 1.6),
    });
    let worst = h.round_trips[1].max(h.round_trips[3]);
    t.push(Target {
        what: "one round trip per hook, 1 or 3 discarded sends",
        measured: format!(
            "{:.2} and {:.2} per hook",
            h.round_trips[1], h.round_trips[3]
        ),
        met: worst <= 1.0 + 1e-9,
        miss: format!("{worst:.2} per hook"),
    });
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(piped: Vec<f64>, trips: f64) -> HubShaped {
        HubShaped {
            us_per_line: vec![
                vec![30.0, 31.0, 29.0, 30.0, 32.0],
                vec![40.0; 5],
                vec![60.0; 5],
                piped,
                vec![90.0; 5],
                vec![45.0; 5],
            ],
            sends_us: vec![vec![7.0; 5]; 6],
            round_trips: vec![2.0, trips, 4.0, trips],
            lines: 100,
        }
    }

    #[test]
    fn targets_judge_the_median_the_slowest_round_and_the_round_trips() {
        let ok = targets(&sample(vec![35.0, 36.0, 38.0, 37.0, 47.0], 1.0));
        assert!(
            ok.iter().all(|t| t.met),
            "{:?}",
            ok.iter().map(|t| &t.measured).collect::<Vec<_>>()
        );
        let slow = targets(&sample(vec![35.0, 36.0, 38.0, 37.0, 49.0], 1.0));
        assert!(slow[0].met && !slow[1].met);
        let trips = targets(&sample(vec![35.0; 5], 1.5));
        assert!(!trips[2].met);
        let text = render(&sample(vec![35.0; 5], 1.0));
        assert!(text.contains("vh-runner, pipelined, 1 usermc"), "{text}");
        assert!(text.contains("35.0 35.0 35.0 35.0 35.0"), "{text}");
    }

    #[test]
    fn parses_the_baselines_lines_and_sends_values() {
        let out = "value lines 25000.0\nvalue sends 7500.0\n";
        assert_eq!(parse_value(out, "lines").ok(), Some(25.0));
        assert_eq!(parse_value(out, "sends").ok(), Some(7.5));
        assert!(parse_value("value clock 20\n", "lines").is_err());
    }
}
