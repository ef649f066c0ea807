//! The vh-runner supervisor.
//!
//! * [`cli`]: command line (clap); [`client`]: the admin commands;
//! * [`config`]: the TOML configuration, per-script settings; [`sdk`]:
//!   the shipped `vh` package on the workers' `PYTHONPATH`;
//! * [`server`]: the Unix socket, systemd notification; [`access`]: who may
//!   connect (SO_PEERCRED);
//! * [`session`]: one hub's stream, routed to the scripts' supervisors;
//! * [`supervisor`]: one script's restarts ([`policy`]: backoff and
//!   intensity); [`worker`]: one worker process and its frames;
//! * [`sandbox`]: Landlock restrictions of sandboxed scripts, their state
//!   folders;
//! * [`shutdown`]: the clean stop on SIGTERM/SIGINT;
//! * [`install`]: `install-shim` / `uninstall-shim` ([`elf`]: reading the
//!   plugin and its wrappers; [`swap`]: write + fsync + rename);
//! * [`doctor`], [`doctor_socket`], [`doctor_python`]: `vh-runner doctor`;
//! * [`registry`], [`admin`]: what `vh-runner status` and `logs` show.

pub mod access;
pub mod admin;
pub mod cli;
pub mod client;
pub mod config;
pub mod control;
pub mod direct;
pub mod doctor;
pub mod doctor_python;
pub mod doctor_socket;
pub mod elf;
pub mod install;
pub mod policy;
pub mod registry;
pub mod sandbox;
pub mod sdk;
pub mod server;
pub mod session;
pub mod shutdown;
pub mod supervisor;
pub mod swap;
pub mod worker;
