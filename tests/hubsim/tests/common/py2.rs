//! Finding the Python 2.7 of the Python 2 worker tests:
//! `VH_TEST_PYTHON2`, then `python2.7`/`python2` on `PATH`, then pyenv's
//! 2.7.18 (`$PYENV_ROOT` or `~/.pyenv`). Without one the tests say so and
//! pass as skipped, except under `CI=true`, where they fail.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn find() -> Option<PathBuf> {
    let found = vh_hubsim::python2::find_python27("VH_TEST_PYTHON2");
    if let Some(p) = std::env::var_os("VH_TEST_PYTHON2").filter(|p| !p.is_empty()) {
        assert!(
            found.is_some(),
            "VH_TEST_PYTHON2={} is not a Python 2.7",
            PathBuf::from(p).display()
        );
    }
    found
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

/// A `[[script]]` section that runs script `name` under `python2` (its
/// own `python` wins over the automatic choice).
pub fn script_section(python2: &Path, name: &str) -> String {
    format!(
        "[[script]]\nmatch = {name:?}\npython = {:?}\n",
        python2.display().to_string()
    )
}

/// `[defaults] python2 = "<python2>"` plus `extra` lines of `[defaults]`.
pub fn config(python2: &Path, extra: &str) -> String {
    format!(
        "[defaults]\npython2 = {:?}\n{extra}",
        python2.display().to_string()
    )
}
