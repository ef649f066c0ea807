//! `vh-runner doctor`'s interpreter checks: each worker interpreter
//! (`python`, and every `[[script]]`'s) imports `vh` with the workers'
//! `PYTHONPATH` ([`crate::sdk`]), and a Python 2.7 is on `PATH` for legacy
//! scripts (a note, not a problem, when missing).

use std::path::PathBuf;
use std::process::Command;

use super::finding::Finding;
use super::probe::{run_bounded, which};
use crate::config::Config;

/// The interpreters the workers use: `python`, then each `[[script]]`'s.
fn interpreters(config: &Config) -> Vec<PathBuf> {
    let mut all = vec![config.python.clone()];
    for s in &config.scripts {
        if let Some(p) = &s.python
            && !all.contains(p)
        {
            all.push(p.clone());
        }
    }
    all
}

/// What doctor runs in each interpreter.
const IMPORT_VH: &str =
    "import sys, vh, vh._core; print('%d.%d' % sys.version_info[:2], vh.__file__)";

/// Adds a finding per worker interpreter to `out`.
pub fn check_python3(config: &Config, out: &mut Vec<Finding>) {
    let pythonpath = crate::sdk::pythonpath(&config.python_path, &config.defaults.env);
    for python in interpreters(config) {
        let Some(exe) = which(&python) else {
            out.push(Finding::problem(
                "python3",
                format!("{}: not found", python.display()),
                "install Python 3.9 or later (`apt install python3`), or set `python` in runner.toml",
            ));
            continue;
        };
        let mut cmd = Command::new(&exe);
        cmd.args(["-c", IMPORT_VH]);
        if let Some(p) = &pythonpath {
            cmd.env("PYTHONPATH", p);
        }
        match run_bounded(&mut cmd) {
            Some((true, said)) => out.push(Finding::ok(
                "python3",
                format!("{}: Python {said}", exe.display()),
            )),
            Some((false, said)) => {
                let last = said.lines().last().unwrap_or("").to_string();
                out.push(Finding::problem(
                    "python3",
                    format!("{}: `import vh` fails: {last}", exe.display()),
                    format!(
                        "install the vh package: the .deb ships it in /usr/lib/vh-runner/python (config `python_path`), or `{} -m pip install vh-runner-sdk` (the wheel `maturin build` makes in py-sdk/)",
                        exe.display()
                    ),
                ));
            }
            None => out.push(Finding::problem(
                "python3",
                format!("{}: did not answer within 20 s", exe.display()),
                "check that interpreter by hand",
            )),
        }
    }
}

/// Interpreters tried for legacy (Python 2) scripts after `[defaults]
/// python2`, first found wins: `python2.7`, then `python2` on `PATH`, as
/// the runner itself looks ([`crate::py2::find_python2`]).
pub const PYTHON2_NAMES: &[&str] = &["python2.7", "python2"];

/// `"2.7"`, `"3.11"`, … as `exe` says of itself, or what it said instead
/// (`None`: no answer within the probe's bound).
fn version(exe: &std::path::Path) -> Option<(bool, String)> {
    run_bounded(Command::new(exe).args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]))
}

/// Adds the Python 2.7 finding to `out`: `[defaults] python2` if the
/// config names one (a problem if it is no Python 2.7: the runner would
/// fall back to `PATH` and say so only in its log), else `PATH`. Returns
/// the Python 2.7 found, if any.
pub fn check_python2(config: &Config, out: &mut Vec<Finding>) -> Option<PathBuf> {
    if let Some(exe) = &config.defaults.python2 {
        match version(exe) {
            Some((true, v)) if v.trim() == "2.7" => {
                out.push(Finding::ok(
                    "python2",
                    format!(
                        "{}: Python 2.7 for legacy scripts ([defaults] python2)",
                        exe.display()
                    ),
                ));
                return Some(exe.clone());
            }
            other => out.push(Finding::problem(
                "python2",
                format!(
                    "[defaults] python2 = {}: not a Python 2.7 ({})",
                    exe.display(),
                    other.map_or_else(|| "no answer".to_string(), |(_, s)| s.trim().to_string())
                ),
                "point `python2` in runner.toml at a python2.7 executable, or remove the key",
            )),
        }
        return None;
    }
    // Every python2.7 / python2 on PATH, in order: a pyenv shim without a
    // selected 2.7 fails, a later one may work.
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let candidates: Vec<PathBuf> = PYTHON2_NAMES
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .filter(|p| p.is_file())
        .collect();
    let mut failed = None;
    for exe in &candidates {
        match version(exe) {
            Some((true, v)) if v.trim() == "2.7" => {
                out.push(Finding::ok(
                    "python2",
                    format!("{}: Python 2.7 for legacy scripts", exe.display()),
                ));
                return Some(exe.clone());
            }
            other => {
                let said = other.map_or_else(|| "no answer".to_string(), |(_, s)| s);
                failed.get_or_insert(format!(
                    "{}: {}",
                    exe.display(),
                    said.lines().next().unwrap_or("not Python 2.7")
                ));
            }
        }
    }
    let what = match failed {
        Some(f) => {
            format!("no working Python 2.7 on PATH ({f}): legacy (Python 2) scripts cannot run")
        }
        None => "no python2.7 or python2 on PATH: legacy (Python 2) scripts cannot run".into(),
    };
    out.push(Finding::note(
        "python2",
        what,
        "only if the hub has Python 2 scripts: install Python 2.7 (e.g. with pyenv) and put it on the runner's PATH",
    ));
    None
}
