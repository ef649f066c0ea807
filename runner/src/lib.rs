//! The vh-runner supervisor.
//!
//! * [`cli`]: command line (clap); [`client`]: the admin commands;
//! * [`config`]: the TOML configuration, per-script settings;
//! * [`server`]: the Unix socket, systemd notification; [`access`]: who may
//!   connect (SO_PEERCRED);
//! * [`session`]: one hub's stream, routed to the scripts' supervisors;
//! * [`supervisor`]: one script's restarts ([`policy`]: backoff and
//!   intensity); [`worker`]: one worker process and its frames;
//! * [`registry`], [`admin`]: what `vh-runner status` and `logs` show.

pub mod access;
pub mod admin;
pub mod cli;
pub mod client;
pub mod config;
pub mod direct;
pub mod policy;
pub mod py2;
pub mod registry;
pub mod server;
pub mod session;
pub mod supervisor;
pub mod worker;
