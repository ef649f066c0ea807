//! The vh-runner supervisor.
//!
//! * [`cli`]: command line (clap);
//! * [`config`]: the TOML configuration;
//! * [`server`]: the gRPC server on the Unix socket;
//! * [`session`]: one hub's stream: routes loads, hooks and `vh.*` calls;
//! * [`worker`]: one script's worker process and its frames.

pub mod cli;
pub mod config;
pub mod server;
pub mod session;
pub mod worker;
