//! Finding the Python 2.7 of the Python 2 worker tests (issue 13):
//! `VH_TEST_PYTHON2`, then `python2.7`/`python2` on `PATH`, then pyenv's
//! 2.7.18 (`$PYENV_ROOT` or `~/.pyenv`). Without one the tests say so and
//! pass as skipped, except under `CI=true`, where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn is_python27(p: &Path) -> bool {
    Command::new(p)
        .args([
            "-c",
            "import sys; sys.exit(0 if sys.version_info[:2] == (2, 7) else 1)",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VH_TEST_PYTHON2").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            is_python27(&p),
            "VH_TEST_PYTHON2={} is not a Python 2.7",
            p.display()
        );
        return Some(p);
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

/// The Python 2.7 to test with, or `None` (with a line saying the test is
/// skipped). Under `CI=true` a missing Python 2.7 fails the test.
pub fn python2() -> Option<PathBuf> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    let found = FOUND.get_or_init(find).clone();
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no Python 2.7 found (VH_TEST_PYTHON2, python2.7 on PATH, pyenv 2.7.18) and CI=true"
        );
        eprintln!("SKIPPED: no Python 2.7 found (set VH_TEST_PYTHON2)");
    }
    found
}

/// A Python 2 test script from `tests/scripts_py2/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts_py2")
        .join(name)
}

/// `[defaults] python2 = "<python2>"` plus `extra` lines of `[defaults]`.
pub fn config(python2: &Path, extra: &str) -> String {
    format!(
        "[defaults]\npython2 = {:?}\n{extra}",
        python2.display().to_string()
    )
}
