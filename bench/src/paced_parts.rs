//! Parts of the paced scenario (module `paced`): its clocks, and the
//! in-process series (`c/inproc.c --paced`), run beside the bench's own paced events rather than after them: the
//! child loads CPython and both scripts, says `ready`, and is then given
//! the time of its first event, which falls between two of the bench's, so
//! that the in-process hooks and the vh-runner ones see the same seconds
//! of a shared machine (docs/performance.md "Hooks at human rates").

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::procfs::{self, ThreadStat};

/// A started `inproc --paced` child, ready for its first event time.
pub struct Inproc {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Inproc {
    /// Starts `program` (a build of `c/inproc.c`, [`crate::inproc`]) for
    /// `n` events to each script, one every `interval`, and waits until it
    /// has loaded them.
    ///
    /// # Errors
    /// The child failed to start or to load the scripts.
    pub fn start(
        program: &Path,
        chat: &Path,
        usermc: &Path,
        n: usize,
        interval: Duration,
    ) -> Result<Inproc> {
        let mut child = Command::new(program)
            .arg("--paced")
            .arg(chat)
            .arg(usermc)
            .arg(n.to_string())
            .arg(interval.as_micros().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("running {} --paced", program.display()))?;
        let stdout = child.stdout.take().context("the child's stdout")?;
        let mut p = Inproc {
            child,
            out: BufReader::new(stdout),
        };
        let mut line = String::new();
        p.out.read_line(&mut line)?;
        if line.trim() != "ready" {
            let _ = p.child.kill();
            bail!(
                "{} --paced did not load the scripts: {line:?}",
                program.display()
            );
        }
        Ok(p)
    }

    /// Lets the child run its first event at `CLOCK_MONOTONIC` `due_ns`.
    ///
    /// # Errors
    /// The child is gone.
    pub fn go(&mut self, due_ns: u64) -> Result<()> {
        let stdin = self.child.stdin.as_mut().context("the child's stdin")?;
        writeln!(stdin, "{due_ns}")?;
        stdin.flush()?;
        Ok(())
    }

    /// Waits for the child's end: each chat and `vh.usermc` event's time.
    ///
    /// # Errors
    /// The child failed or printed no samples.
    pub fn finish(mut self) -> Result<(Vec<u64>, Vec<u64>)> {
        let mut text = String::new();
        self.out.read_to_string(&mut text)?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("inproc --paced failed: {status}");
        }
        let samples = |name: &str| -> Result<Vec<u64>> {
            let line = text
                .lines()
                .find(|l| l.split_whitespace().nth(1) == Some(name))
                .ok_or_else(|| anyhow!("inproc --paced printed no {name} samples"))?;
            line.split_whitespace()
                .skip(2)
                .map(|v| v.parse::<u64>().map_err(|e| anyhow!("{e}: {line:?}")))
                .collect()
        };
        Ok((samples("chat")?, samples("usermc")?))
    }
}

impl Drop for Inproc {
    fn drop(&mut self) {
        // Only a child left running (an error on the way) is killed.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `CLOCK_MONOTONIC` now, ns (the clock of `c/driver.c` and `c/inproc.c`).
pub fn mono_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Sleeps in `clock_nanosleep` until `CLOCK_MONOTONIC` reaches `due_ns`.
pub fn sleep_until(due_ns: u64) {
    let due = libc::timespec {
        tv_sec: (due_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (due_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: a valid timespec; no remainder is asked for (absolute time).
    while unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &due,
            std::ptr::null_mut(),
        )
    } != 0
    {}
}

/// This thread's CPU time (ns) and context switches so far.
pub fn this_thread() -> (u64, u64) {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: all-zero is a valid rusage; both are ours to fill.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t);
        libc::getrusage(libc::RUSAGE_THREAD, &mut r);
    }
    let cpu = t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64;
    (cpu, (r.ru_nvcsw + r.ru_nivcsw) as u64)
}

/// The main thread of process `pid` (its thread id is the pid).
pub fn main_thread(pid: u32) -> ThreadStat {
    procfs::threads(pid)
        .into_iter()
        .find(|t| t.tid == pid)
        .unwrap_or_default()
}
