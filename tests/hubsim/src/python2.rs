//! Finding a Python 2.7 for the tests and the bench that run Python 2
//! scripts: the runner itself never looks one up this way (its
//! `python2` key or the doctor does), so this is test and bench support,
//! kept in one place for both.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether `python` runs and reports version 2.7.
pub fn is_python27(python: &Path) -> bool {
    Command::new(python)
        .args([
            "-c",
            "import sys; sys.exit(0 if sys.version_info[:2] == (2, 7) else 1)",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A Python 2.7, looked for in this order: the path in environment variable
/// `env_var` (when set and not empty: it is the answer if it is a 2.7, and
/// `None` if it is not, so that a wrong setting is not silently replaced),
/// then `python2.7` and `python2` in each `PATH` directory, then pyenv's
/// 2.7.18 under `$PYENV_ROOT` or `~/.pyenv` (where this project's machine
/// images keep it).
pub fn find_python27(env_var: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env_var).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| is_python27(p));
    }
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            candidates.push(dir.join("python2.7"));
            candidates.push(dir.join("python2"));
        }
    }
    let roots = [
        std::env::var_os("PYENV_ROOT").map(PathBuf::from),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")),
    ];
    for root in roots.into_iter().flatten() {
        candidates.push(root.join("versions/2.7.18/bin/python2.7"));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file() && is_python27(p))
}
