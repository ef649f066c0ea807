//! `vh-runner`: runs each Verlihub Python script in its own worker process
//! and serves the hub's shim on a Unix socket (docs/architecture.md "runner").

use anyhow::Result;
use clap::Parser;

use vh_runner::cli::{Cli, Command};
use vh_runner::client;
use vh_runner::config::Config;

fn main() {
    // Started with stdin, stdout or stderr closed, the listening socket,
    // the workers' socketpairs and accepted connections would take those
    // numbers, and a child's stdio set-up would overwrite them: /dev/null
    // holds them instead (vh_proto::fd, docs/abi.md §1.1).
    vh_proto::fd::fill_closed_stdio();
    if let Err(e) = run() {
        eprintln!("vh-runner: {e:#}");
        // A refusal (install-shim, uninstall-shim, doctor) changed nothing.
        let refused = e.downcast_ref::<vh_runner::install::Refusal>().is_some();
        std::process::exit(if refused { 2 } else { 1 });
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
            let config = Config::load(args.config.as_deref())?.with_overrides(&args.overrides());
            let result = rt.block_on(vh_runner::server::serve(config));
            // The stop has already bounded everything worth waiting for
            // (runner/src/shutdown.rs); tasks still parked do not delay the exit.
            rt.shutdown_timeout(std::time::Duration::from_millis(100));
            result
        }
        Command::CheckConfig(args) => {
            let config = Config::load(args.config.as_deref())?.with_overrides(&args.overrides());
            print!("{}", config.to_toml()?);
            Ok(())
        }
        Command::InstallShim { plugin, shim } => {
            print!(
                "{}",
                vh_runner::install::install(plugin.as_deref(), shim.as_deref())?
            );
            Ok(())
        }
        Command::UninstallShim { plugin } => {
            print!("{}", vh_runner::install::uninstall(plugin.as_deref())?);
            Ok(())
        }
        Command::Doctor {
            serve,
            plugin,
            hub_user,
            unit,
        } => {
            let findings = vh_runner::doctor::run(&vh_runner::doctor::Options {
                serve,
                plugin,
                hub_user,
                unit,
            });
            print!("{}", vh_runner::doctor::render(&findings));
            let problems = findings
                .iter()
                .any(|f| f.level == vh_runner::doctor::Level::Problem);
            if problems {
                std::process::exit(1);
            }
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
