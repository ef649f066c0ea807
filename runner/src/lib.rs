//! The vh-runner supervisor: runs each Verlihub Python script in its own
//! worker process and serves the hub's shim on a Unix socket (docs/architecture.md
//! "runner").
//!
//! Parts, from the socket down (each module's own `//!` text says more;
//! ownership runs one way, session → supervisor → worker, with the
//! registry as shared state and [`control`] as what flows between them,
//! docs/architecture.md "Code conventions"; no module cycles, see `tools/structure.py`):
//! * [`server`]: the Unix socket, systemd notification;
//! * [`access`]: who may connect (SO_PEERCRED);
//! * [`session`]: one hub's stream, routed to the scripts' supervisors;
//! * [`supervisor`]: one script's restarts, with [`policy`] (backoff and
//!   intensity);
//! * [`worker`]: one worker process: `worker/process` (spawn, limits,
//!   reaping), `worker/output` (its output into the log), `worker/frames`
//!   (the frame loop: hooks, calls, stuck hooks);
//! * [`control`]: commands to a supervisor, the stream back to the shim;
//! * [`registry`]: what every script is doing, shared state that imports
//!   none of the above;
//! * [`direct`]: handing the hub a direct link to each worker;
//! * [`sandbox`]: Landlock restrictions of sandboxed scripts, their state
//!   folders;
//! * [`shutdown`]: the clean stop on SIGTERM/SIGINT;
//! * [`config`]: the TOML configuration: `config/settings` (per-script
//!   settings), `config/sandbox_keys` (their sandbox keys checked);
//! * [`sdk`]: the shipped `vh` package on the workers' `PYTHONPATH`;
//! * [`admin`]: the admin service behind `vh-runner status`, `logs`,
//!   `restart`, `stop`; [`client`]: those commands' side;
//! * [`cli`]: the command line (clap);
//! * [`install`]: `install-shim` / `uninstall-shim`, with [`elf`] (reading
//!   the plugin and its wrappers) and [`swap`] (write + fsync + rename);
//! * [`doctor`]: `vh-runner doctor`: `doctor/finding`, `doctor/setup`,
//!   `doctor/socket`, `doctor/python`, `doctor/probe`.

pub mod access;
pub mod admin;
pub mod cli;
pub mod client;
pub mod config;
pub mod control;
pub mod direct;
pub mod doctor;
pub mod elf;
pub mod install;
pub mod policy;
pub mod py2;
pub mod registry;
pub mod sandbox;
pub mod sdk;
pub mod server;
pub mod session;
pub mod shutdown;
pub mod supervisor;
pub mod swap;
pub mod worker;
