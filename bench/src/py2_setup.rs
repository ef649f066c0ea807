//! Finding a Python 2.7 for the Python 2 figures and the runner config
//! that puts the bench scripts under it; the `py2` module
//! measures, the `lab` starts the runner with this config.

use std::path::{Path, PathBuf};

/// The bench scripts under Python 2: same text, other names.
pub const CHAT: &str = "chat_py2.py";
/// See [`CHAT`].
pub const USERMC: &str = "usermc_py2.py";

/// `VH_BENCH_PYTHON2`, else `python2.7`/`python2` on `PATH`, else pyenv's
/// 2.7.18 (`$PYENV_ROOT` or `~/.pyenv`).
pub fn find_python2() -> Option<PathBuf> {
    vh_hubsim::python2::find_python27("VH_BENCH_PYTHON2")
}

/// The runner config sections that put [`CHAT`] and [`USERMC`] under
/// `python2`.
pub fn config(python2: &Path) -> String {
    let p = python2.display().to_string();
    format!(
        "[[script]]\nmatch = \"{CHAT}\"\npython = {p:?}\n[[script]]\nmatch = \"{USERMC}\"\npython = {p:?}\n"
    )
}
