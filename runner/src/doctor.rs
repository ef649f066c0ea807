//! `vh-runner doctor`: checks what a hub admin would otherwise
//! find out alone, and explains each finding with its fix: the config
//! file, the runner socket against the hub's user, which wrapper python_pi
//! loads ([`crate::install::survey`]), the Python 3 interpreter and `import
//! vh` in it (with the workers' `PYTHONPATH`), a Python 2.7 for legacy
//! scripts and its compiled hook loop, the kernel's Landlock and the systemd unit. Exit 0 only when no
//! finding is a problem (notes do not count).
//!
//! * [`finding`]: one finding, and the printed report ([`render`]);
//! * [`setup`]: the config file, the wrapper, Landlock, the systemd unit;
//! * [`socket`]: the runner socket against the hub's user;
//! * [`python`]: the workers' interpreters and Python 2.7;
//! * [`python2_loop`]: whether Python 2 hooks run in the compiled loop;
//! * [`probe`]: finding and running outside programs with a deadline.

pub mod finding;
pub mod probe;
pub mod python;
pub mod python2_loop;
pub mod setup;
pub mod socket;

use std::path::PathBuf;

pub use finding::{Finding, Level, render};

use crate::cli::ServeArgs;
use setup::{check_config, check_landlock, check_unit, check_wrapper};

/// What `vh-runner doctor` is told.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--config`, `--socket`, `--python` as for `serve`.
    pub serve: ServeArgs,
    /// python_pi's plugin (file or folder) [default: the usual places].
    pub plugin: Option<PathBuf>,
    /// The user the hub runs as.
    pub hub_user: String,
    /// The systemd unit file [default: the usual places].
    pub unit: Option<PathBuf>,
}

/// Runs every check.
pub fn run(opts: &Options) -> Vec<Finding> {
    let mut out = Vec::new();
    let config = check_config(opts, &mut out);
    socket::check(&config, &opts.hub_user, &mut out);
    check_wrapper(opts.plugin.as_deref(), &mut out);
    python::check_python3(&config, &mut out);
    if let Some(python2) = python::check_python2(&config, &mut out) {
        python2_loop::check(&config, &python2, &mut out);
    }
    check_landlock(&config, &mut out);
    check_unit(opts.unit.as_deref(), &mut out);
    out
}
