//! `vh-runner`: runs each Verlihub Python script in its own worker process
//! and serves the hub's shim on a Unix socket (DESIGN.md "runner").

use anyhow::Result;
use clap::Parser;

use vh_runner::cli::{Cli, Command};
use vh_runner::client;
use vh_runner::config::Config;

fn main() {
    if let Err(e) = run() {
        eprintln!("vh-runner: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VH_RUNNER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => {
            let config = Config::load(args.config.as_deref())?.with_overrides(&args);
            rt.block_on(vh_runner::server::serve(config))
        }
        Command::CheckConfig(args) => {
            let config = Config::load(args.config.as_deref())?.with_overrides(&args);
            print!("{}", config.to_toml()?);
            Ok(())
        }
        Command::Status(s) => rt.block_on(client::status(&s.socket)),
        Command::Logs {
            script,
            follow,
            lines,
            socket,
        } => rt.block_on(client::logs(&socket.socket, &script, follow, lines)),
        Command::Restart { script, socket } => {
            rt.block_on(client::command(&socket.socket, &script, true))
        }
        Command::Py2Package { dir } => {
            vh_runner::py2::install(&dir)?;
            println!("{}", dir.join("vh").display());
            Ok(())
        }
        Command::Stop { script, socket } => {
            rt.block_on(client::command(&socket.socket, &script, false))
        }
    }
}
