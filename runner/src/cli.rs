//! Command line of `vh-runner` (clap derive; the doc comments are `--help`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{DEFAULT_SOCKET, Overrides};

/// Out-of-process Python scripting for the Verlihub hub: one isolated
/// worker process per script, driven by the hub's unchanged python_pi
/// plugin through the vh-runner shim (libvh_python_wrapper.so).
#[derive(Debug, Parser)]
#[command(name = "vh-runner", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the hub's shim on the Unix socket until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Print the effective configuration (file plus flags) as TOML.
    CheckConfig(ServeArgs),
    /// Show every script: pid, state, uptime, restarts, hooks, latency,
    /// link, Python version (PY).
    Status(SocketArg),
    /// Print a script's recent output (and follow it with -f).
    Logs {
        /// Script id, file name or path.
        script: String,
        /// Keep printing new lines.
        #[arg(short, long)]
        follow: bool,
        /// How many recent lines (0 = all kept).
        #[arg(short = 'n', long, default_value_t = 100)]
        lines: u32,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Start a script's worker again (also after it failed).
    Restart {
        /// Script id, file name or path.
        script: String,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Write the Python 2 `vh` package that Python 2.7 workers import into
    /// DIR (the runner does so itself at start-up; for inspection and for
    /// running a Python 2 script's tests).
    Py2Package {
        /// Directory to write into (created, mode 0700).
        dir: PathBuf,
    },
    /// Stop a script's worker; its hooks allow until `restart`.
    Stop {
        /// Script id, file name or path.
        script: String,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Put the shim in place of every wrapper python_pi would load
    /// (keeping each original as NAME.orig); idempotent; exit 2 if
    /// something does not match.
    InstallShim {
        /// libpython_pi.so, or its directory [default: the usual places].
        #[arg(long)]
        plugin: Option<PathBuf>,
        /// The shim to install [default: beside vh-runner, or
        /// /usr/lib/vh-runner/libvh_python_wrapper.so].
        #[arg(long)]
        shim: Option<PathBuf>,
    },
    /// Restore the original wrappers kept by install-shim; idempotent;
    /// exit 2 if something does not match.
    UninstallShim {
        /// libpython_pi.so, or its directory [default: the usual places].
        #[arg(long)]
        plugin: Option<PathBuf>,
    },
    /// Check the installation and explain each finding with its fix:
    /// config, socket against the hub's user, wrapper, Python 3 with `vh`,
    /// Python 2.7, systemd unit. Exit 0 only when all is well.
    Doctor {
        #[command(flatten)]
        serve: ServeArgs,
        /// libpython_pi.so, or its directory [default: the usual places].
        #[arg(long)]
        plugin: Option<PathBuf>,
        /// The user the hub runs as.
        #[arg(long, default_value = "verlihub")]
        hub_user: String,
        /// The systemd unit file [default: /etc/systemd/system,
        /// /lib/systemd/system, /usr/lib/systemd/system].
        #[arg(long)]
        unit: Option<PathBuf>,
    },
}

/// The socket of a running runner.
#[derive(Debug, Args, Clone)]
pub struct SocketArg {
    /// The runner's Unix socket.
    #[arg(long, env = "VH_RUNNER_SOCKET", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

/// Options of `serve` and `check-config`; flags override the file.
#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    /// Unix socket to listen on [default: /run/vh-runner/runner.sock, or
    /// $VH_RUNNER_SOCKET].
    #[arg(long, env = "VH_RUNNER_SOCKET")]
    pub socket: Option<PathBuf>,
    /// Configuration file [default: /etc/vh-runner/runner.toml if it exists].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Python interpreter for the workers (needs the `vh` package) [default: python3].
    #[arg(long)]
    pub python: Option<PathBuf>,
}

impl ServeArgs {
    /// The flags that override the configuration file
    /// ([`crate::config::Config::with_overrides`]).
    pub fn overrides(&self) -> Overrides {
        Overrides {
            socket: self.socket.clone(),
            python: self.python.clone(),
        }
    }
}
