//! Baselines that need no vh-runner: a raw ping-pong of a hook-sized
//! message over a Unix socket between two processes (the physical limit of
//! one hop), the same through a relay process (the limit of the design's
//! two hops), and two hops whose far end is a Python loop (the limit of a
//! Python worker reading its socket on its main thread).
//!
//! The far ends are this program again in a hidden mode ([`child_main`]),
//! with their sockets on fds 3 and 4: blocking `read`/`write`, no threads,
//! no framing, so nothing but the kernel is measured.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};
use prost::Message;
use vh_proto::v1::{
    FromWorker, HookCall, HookResult, RunnerMessage, ShimMessage, ToWorker, Value, from_worker,
    runner_message, shim_message, to_worker, value::Kind,
};

use crate::stats::Summary;

/// The chat line every hook measurement sends: nick and text, as a hub
/// would pass them.
pub const NICK: &str = "bench";
/// See [`NICK`].
pub const TEXT: &str = "hello everyone, how is the hub doing today?";

/// Hidden first argument: echo fixed-size messages on fd 3.
const ECHO: &str = "__vh_bench_echo";
/// Hidden first argument: relay fixed-size messages between fds 3 and 4.
const RELAY: &str = "__vh_bench_relay";

/// Bytes of one hook call and of its answer on the shim's socket.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// The chat line's `HookCall` in its `ToWorker` inside a
    /// `ShimMessage`, with its gRPC and HTTP/2 frame headers.
    pub request: usize,
    /// A `HookResult` with one `l` in its `FromWorker` inside a
    /// `RunnerMessage`, with the same headers.
    pub reply: usize,
}

/// gRPC length prefix (5 bytes) plus an HTTP/2 DATA frame header (9).
const WIRE_HEADERS: usize = 5 + 9;

/// The sizes the shim's stream carries for one chat hook.
pub fn hook_sizes() -> Sizes {
    let s = |b: &str| Value {
        kind: Some(Kind::S(b.as_bytes().to_vec())),
    };
    let call = ShimMessage {
        kind: Some(shim_message::Kind::ToWorker(ToWorker {
            kind: Some(to_worker::Kind::Hook(HookCall {
                script_id: 1,
                hub_cpu: 1,
                call_id: 123_456,
                hook: 3,
                args: vec![s(NICK), s(TEXT)],
            })),
        })),
    };
    let result = RunnerMessage {
        kind: Some(runner_message::Kind::FromWorker(FromWorker {
            kind: Some(from_worker::Kind::HookResult(HookResult {
                script_id: 1,
                call_id: 123_456,
                no_opinion: false,
                values: vec![Value {
                    kind: Some(Kind::L(1)),
                }],
            })),
        })),
    };
    Sizes {
        request: call.encoded_len() + WIRE_HEADERS,
        reply: result.encoded_len() + WIRE_HEADERS,
    }
}

/// A child process killed and reaped when dropped.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the processes of a ping-pong run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Wherever the scheduler puts them.
    Free,
    /// All on one CPU: every wake-up is a switch on that CPU.
    OneCpu(usize),
    /// The measuring process on the first CPU, the others on the second:
    /// every wake-up crosses CPUs.
    TwoCpus(usize, usize),
}

impl Placement {
    /// The CPU of the measuring process, if pinned.
    fn mine(self) -> Option<usize> {
        match self {
            Placement::Free => None,
            Placement::OneCpu(c) | Placement::TwoCpus(c, _) => Some(c),
        }
    }

    /// The CPU of the other processes, if pinned.
    fn theirs(self) -> Option<usize> {
        match self {
            Placement::Free => None,
            Placement::OneCpu(c) | Placement::TwoCpus(_, c) => Some(c),
        }
    }
}

/// Starts `cmd` with `fds` as its fds 3, 4, ... (all else closed on exec),
/// on CPU `cpu` if given.
fn spawn_with_fds(cmd: &mut Command, fds: &[RawFd], cpu: Option<usize>) -> io::Result<ChildGuard> {
    let fds = fds.to_vec();
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET only writes into it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if let Some(c) = cpu {
        // SAFETY: see above.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: only async-signal-safe calls (sched_setaffinity, fcntl, dup2)
    // between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if cpu.is_some() && libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) < 0 {
                return Err(io::Error::last_os_error());
            }
            // Move every source out of the way first, so that dup2 onto 3, 4, ...
            // never overwrites a source still to be copied.
            let mut high = Vec::with_capacity(fds.len());
            for &fd in &fds {
                let h = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100);
                if h < 0 {
                    return Err(io::Error::last_os_error());
                }
                high.push(h);
            }
            for (i, &h) in high.iter().enumerate() {
                if libc::dup2(h, 3 + i as RawFd) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.stdin(Stdio::null()).spawn().map(ChildGuard)
}

/// Runs a hidden child mode if `args` (this program's arguments) asks for
/// one; returns its exit code.
pub fn child_main(args: &[String]) -> Option<i32> {
    let mode = args.get(1)?.as_str();
    if mode != ECHO && mode != RELAY {
        return None;
    }
    let size = |i: usize| {
        args.get(i)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
    };
    let (request, reply) = (size(2), size(3));
    // SAFETY: the parent passed its socket ends as fds 3 (and 4); we own them.
    let up = unsafe { UnixStream::from_raw_fd(3) };
    let result = if mode == ECHO {
        echo(up, request, reply)
    } else {
        relay(up, unsafe { UnixStream::from_raw_fd(4) }, request, reply)
    };
    Some(i32::from(result.is_err()))
}

fn echo(mut s: UnixStream, request: usize, reply: usize) -> io::Result<()> {
    let (mut inb, out) = (vec![0u8; request], vec![0xa5u8; reply]);
    loop {
        if s.read_exact(&mut inb).is_err() {
            return Ok(()); // the parent closed its end
        }
        s.write_all(&out)?;
    }
}

fn relay(mut up: UnixStream, mut down: UnixStream, request: usize, reply: usize) -> io::Result<()> {
    let (mut q, mut r) = (vec![0u8; request], vec![0u8; reply]);
    loop {
        if up.read_exact(&mut q).is_err() {
            return Ok(());
        }
        down.write_all(&q)?;
        down.read_exact(&mut r)?;
        up.write_all(&r)?;
    }
}

/// The far end of a two-hop chain.
#[derive(Debug, Clone, Copy)]
pub enum FarEnd<'a> {
    /// This program's echo mode (native code).
    Native,
    /// A Python loop (`socket.recv` / `sendall` on its main thread) run by
    /// this interpreter.
    Python(&'a Path),
}

/// Python end of [`FarEnd::Python`]: `argv` is request and reply size.
const PY_ECHO: &str = r#"
import socket, sys
s = socket.socket(fileno=3)
q, r = int(sys.argv[1]), bytes(int(sys.argv[2]))
while True:
    b = s.recv(q, socket.MSG_WAITALL)
    if len(b) < q:
        break
    s.sendall(r)
"#;

/// The least a Python process per script does for a hook, run by Python 3
/// or 2.7 (`python_floor_pair`): wake in `recv`, read the event, call the
/// script's function with its two strings, answer. What a Python worker
/// cannot do without, whatever its design: the floor of a paced hook that
/// runs Python out of the hub's process (docs/performance.md).
const PY_FLOOR: &str = r#"
import socket, sys
s = socket.fromfd(3, socket.AF_UNIX, socket.SOCK_STREAM)
q, r = int(sys.argv[1]), b"\xa5" * int(sys.argv[2])
def OnParsedMsgChat(nick, message):
    return 1
while True:
    b = s.recv(q, socket.MSG_WAITALL)
    if len(b) < q:
        break
    OnParsedMsgChat(b[:8].decode("latin-1"), b[8:].decode("latin-1"))
    s.sendall(r)
"#;

/// A socketpair with [`PY_FLOOR`] run by `python` at its other end.
///
/// # Errors
/// The child cannot be started.
pub fn python_floor_pair(python: &Path, sizes: Sizes) -> Result<(UnixStream, ChildGuard)> {
    let (mine, theirs) = UnixStream::pair().context("socketpair")?;
    let mut cmd = Command::new(python);
    cmd.args(["-c", PY_FLOOR])
        .arg(sizes.request.to_string())
        .arg(sizes.reply.to_string());
    let child = spawn_with_fds(&mut cmd, &[theirs.as_raw_fd()], None)
        .with_context(|| format!("starting {} with the Python floor loop", python.display()))?;
    drop(theirs);
    Ok((mine, child))
}

fn echo_command(far: FarEnd<'_>, sizes: Sizes) -> Result<Command> {
    let mut cmd = match far {
        FarEnd::Native => {
            let mut c = Command::new(std::env::current_exe().context("finding vh-bench")?);
            c.arg(ECHO);
            c
        }
        FarEnd::Python(python) => {
            let mut c = Command::new(python);
            c.args(["-c", PY_ECHO]);
            c
        }
    };
    cmd.arg(sizes.request.to_string())
        .arg(sizes.reply.to_string());
    Ok(cmd)
}

/// `n` timed round trips (after `n / 10` untimed ones) on `s`, with this
/// thread on CPU `cpu` if given (its affinity is restored afterwards).
fn ping_pong(
    s: &mut UnixStream,
    sizes: Sizes,
    n: usize,
    cpu: Option<usize>,
) -> io::Result<Summary> {
    let saved = crate::procfs::affinity(0)?;
    if let Some(c) = cpu {
        crate::procfs::set_affinity(0, &[c])?;
    }
    let result = ping_pong_here(s, sizes, n);
    crate::procfs::set_affinity(0, &saved)?;
    result
}

fn ping_pong_here(s: &mut UnixStream, sizes: Sizes, n: usize) -> io::Result<Summary> {
    let (out, mut inb) = (vec![0x5au8; sizes.request], vec![0u8; sizes.reply]);
    for _ in 0..n / 10 + 1 {
        s.write_all(&out)?;
        s.read_exact(&mut inb)?;
    }
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        s.write_all(&out)?;
        s.read_exact(&mut inb)?;
        lat.push(t.elapsed().as_nanos() as u64);
    }
    Ok(Summary::of(&mut lat))
}

/// A socketpair with this program's native echo process at its other end
/// (the raw ping-pong's far end), for a caller's own loop.
///
/// # Errors
/// The child cannot be started.
pub fn echo_pair(sizes: Sizes) -> Result<(UnixStream, ChildGuard)> {
    let (mine, theirs) = UnixStream::pair().context("socketpair")?;
    let child = spawn_with_fds(
        &mut echo_command(FarEnd::Native, sizes)?,
        &[theirs.as_raw_fd()],
        None,
    )
    .context("starting the echo process")?;
    drop(theirs);
    Ok((mine, child))
}

/// Raw ping-pong with one other process: the price of one hop.
///
/// # Errors
/// The child cannot be started or the socket fails.
pub fn one_hop(sizes: Sizes, n: usize, at: Placement) -> Result<Summary> {
    let (mut mine, theirs) = UnixStream::pair().context("socketpair")?;
    let _child = spawn_with_fds(
        &mut echo_command(FarEnd::Native, sizes)?,
        &[theirs.as_raw_fd()],
        at.theirs(),
    )
    .context("starting the echo process")?;
    drop(theirs);
    ping_pong(&mut mine, sizes, n, at.mine()).context("ping-pong")
}

/// Raw ping-pong through a relay process to `far`: the price of the
/// design's two hops (shim → runner → worker) with nothing else on them
/// (`at`: [`Placement::TwoCpus`] puts the relay and the far end together on
/// the second CPU).
///
/// # Errors
/// A child cannot be started or a socket fails.
pub fn two_hops(sizes: Sizes, n: usize, far: FarEnd<'_>, at: Placement) -> Result<Summary> {
    let (mut mine, relay_up) = UnixStream::pair().context("socketpair")?;
    let (relay_down, far_end) = UnixStream::pair().context("socketpair")?;
    let exe = std::env::current_exe().context("finding vh-bench")?;
    let mut relay = Command::new(exe);
    relay
        .arg(RELAY)
        .arg(sizes.request.to_string())
        .arg(sizes.reply.to_string());
    let _relay = spawn_with_fds(
        &mut relay,
        &[relay_up.as_raw_fd(), relay_down.as_raw_fd()],
        at.theirs(),
    )
    .context("starting the relay process")?;
    let _far = spawn_with_fds(
        &mut echo_command(far, sizes)?,
        &[far_end.as_raw_fd()],
        at.theirs(),
    )
    .context("starting the far end")?;
    drop((relay_up, relay_down, far_end));
    ping_pong(&mut mine, sizes, n, at.mine()).context("ping-pong")
}
