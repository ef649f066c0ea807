//! Finding a Python 2.7 for the Python 2 figures and the runner config
//! that puts the bench scripts under it (issue 13); the `py2` module
//! measures, the `lab` starts the runner with this config.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The bench scripts under Python 2: same text, other names.
pub const CHAT: &str = "chat_py2.py";
/// See [`CHAT`].
pub const USERMC: &str = "usermc_py2.py";

fn is_python27(p: &Path) -> bool {
    Command::new(p)
        .args([
            "-c",
            "import sys; sys.exit(0 if sys.version_info[:2] == (2, 7) else 1)",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `VH_BENCH_PYTHON2`, else `python2.7`/`python2` on `PATH`, else pyenv's
/// 2.7.18 (`$PYENV_ROOT` or `~/.pyenv`).
pub fn find_python2() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VH_BENCH_PYTHON2").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| is_python27(p));
    }
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            candidates.push(dir.join("python2.7"));
            candidates.push(dir.join("python2"));
        }
    }
    for root in [
        std::env::var_os("PYENV_ROOT").map(PathBuf::from),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")),
    ]
    .into_iter()
    .flatten()
    {
        candidates.push(root.join("versions/2.7.18/bin/python2.7"));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file() && is_python27(p))
}

/// The runner config sections that put [`CHAT`] and [`USERMC`] under
/// `python2`.
pub fn config(python2: &Path) -> String {
    let p = python2.display().to_string();
    format!(
        "[[script]]\nmatch = \"{CHAT}\"\npython = {p:?}\n[[script]]\nmatch = \"{USERMC}\"\npython = {p:?}\n"
    )
}
