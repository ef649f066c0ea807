//! The in-process baseline: `c/inproc.c`, a small program embedding
//! CPython that does what python_pi and the original wrapper do for one
//! hook (see the file's header), run with the same scripts and arguments.
//! `build.rs` builds it against Python 3 (generation B's plugin);
//! [`build_for_python2`] builds it against the Python 2.7 the bench's
//! Python 2 workers run (generation A's, python_pi 1.6), at run time,
//! since only then is that interpreter known.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};

use crate::stats::Summary;

/// Figures of the in-process baseline, nanoseconds.
#[derive(Debug, Clone, Default)]
pub struct InProc {
    /// One `clock_gettime` (the timer's own cost in per-call series).
    pub clock_ns: f64,
    /// `w_HasHook` for a hook the script has / lacks.
    pub has_hook_yes_ns: f64,
    /// See `has_hook_yes_ns`.
    pub has_hook_no_ns: f64,
    /// One event of a hook no script has: `w_pack`, `w_HasHook`, `free`.
    pub no_hook_ns: f64,
    /// The chat hook, per call.
    pub chat: Summary,
    /// The chat hook, mean of a batch without per-call timing.
    pub chat_batch_ns: f64,
    /// The chat hook with one `vh.usermc`, per call.
    pub usermc: Summary,
    /// See `chat_batch_ns`.
    pub usermc_batch_ns: f64,
}

/// Runs the baseline program with `n` calls per series.
///
/// # Errors
/// The program was not built (the build's reason is given), did not run,
/// or printed something unexpected.
pub fn run(chat: &Path, usermc: &Path, n: usize) -> Result<InProc> {
    let program = python3_program()?;
    let out = Command::new(program)
        .arg(chat)
        .arg(usermc)
        .arg(n.to_string())
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// The baseline built against Python 3 by `build.rs`.
///
/// # Errors
/// It was not built (the build's reason is given).
pub fn python3_program() -> Result<&'static Path> {
    let program = env!("VH_BENCH_INPROC");
    if program.is_empty() {
        bail!(
            "not built ({}); install python3 with headers and rebuild",
            env!("VH_BENCH_INPROC_ERROR")
        );
    }
    Ok(Path::new(program))
}

/// Builds the baseline against the Python 2.7 at `python2` (its headers
/// and `libpython2.7`, as `python2.7-config` beside it gives them) into
/// `dir`, with the C compiler `$CC` (default `cc`); returns the program.
///
/// # Errors
/// No `python2.7-config` beside the interpreter (a Python 2.7 without its
/// headers, as Debian's `python2.7` without `python2.7-dev`), or the
/// compiler failed; the message says which.
pub fn build_for_python2(python2: &Path, dir: &Path) -> Result<PathBuf> {
    let bin = python2.parent().unwrap_or(Path::new("."));
    let config = ["python2.7-config", "python2-config"]
        .iter()
        .map(|name| bin.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!(
                "no python2.7-config beside {} (Python 2.7's headers are needed)",
                python2.display()
            )
        })?;
    let flags =
        |args: &[&str]| crate::inproc_build::config_flags(&config, args).map_err(|e| anyhow!(e));
    let includes = flags(&["--includes"])?;
    let ldflags = flags(&["--ldflags"])?;
    let source = dir.join("inproc.c");
    std::fs::write(&source, include_str!("../c/inproc.c"))?;
    let program = dir.join("vh-bench-inproc-python2");
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    crate::inproc_build::compile(Command::new(cc), &source, &program, &includes, &ldflags)
        .map_err(|e| anyhow!("against Python 2.7: {e}"))?;
    Ok(program)
}

fn parse(text: &str) -> Result<InProc> {
    let mut values = HashMap::new();
    let mut series = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| -> Result<f64> {
            f.get(i)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| anyhow!("bad line from the baseline: {line:?}"))
        };
        match f.first() {
            Some(&"value") if f.len() == 3 => {
                values.insert(f[1].to_string(), num(2)?);
            }
            Some(&"series") if f.len() == 6 => {
                let s = Summary {
                    n: 0,
                    p50: num(2)?,
                    p99: num(3)?,
                    p999: num(4)?,
                    mean: num(5)?,
                    max: num(4)?,
                };
                series.insert(f[1].to_string(), s);
            }
            _ => {}
        }
    }
    let v = |k: &str| {
        values
            .get(k)
            .copied()
            .ok_or_else(|| anyhow!("the baseline did not report {k}"))
    };
    let s = |k: &str| {
        series
            .get(k)
            .copied()
            .ok_or_else(|| anyhow!("the baseline did not report {k}"))
    };
    Ok(InProc {
        clock_ns: v("clock")?,
        has_hook_yes_ns: v("hashook_yes")?,
        has_hook_no_ns: v("hashook_no")?,
        no_hook_ns: v("nohook")?,
        chat: s("chat")?,
        chat_batch_ns: v("chat_batch")?,
        usermc: s("usermc")?,
        usermc_batch_ns: v("usermc_batch")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_programs_output() {
        let text = "value clock 21.5\nvalue hashook_yes 2.1\nvalue hashook_no 2.0\n\
                    value nohook 40\nvalue chat_batch 350\nseries chat 340 500 900 360.5\n\
                    value usermc_batch 700\nseries usermc 690 900 1500 710\n";
        let p = parse(text).expect("parses");
        assert_eq!(p.chat.p99, 500.0);
        assert_eq!(p.usermc_batch_ns, 700.0);
        assert!(parse("value clock 1\n").is_err());
    }
}
