//! `vh-runner`: runs each Verlihub Python script in its own worker process
//! and serves the hub's shim on a Unix socket (DESIGN.md "runner").

use anyhow::Result;
use clap::Parser;

use vh_runner::cli::{Cli, Command};
use vh_runner::config::Config;

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VH_RUNNER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Serve(args) => {
            let config = Config::load(args.config.as_deref())?.with_overrides(&args);
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(vh_runner::server::serve(config))
        }
        Command::CheckConfig(args) => {
            let config = Config::load(args.config.as_deref())?.with_overrides(&args);
            print!("{}", config.to_toml()?);
            Ok(())
        }
    }
}
