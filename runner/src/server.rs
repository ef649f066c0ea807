//! The gRPC server on the runner's Unix socket (DESIGN.md "runner").

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::pin::Pin;

use anyhow::{Context, Result, bail};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::{UnboundedReceiverStream, UnixListenerStream};
use tonic::{Request, Response, Status, Streaming};
use vh_proto::v1::runner_server::{Runner, RunnerServer};
use vh_proto::v1::{RunnerMessage, ShimMessage};

use crate::config::Config;
use crate::session;

/// Socket file mode: owner and group (the hub's user shares the group).
const SOCKET_MODE: u32 = 0o660;

/// The `Runner` service: one [`session`] per `Attach` stream.
pub struct RunnerService {
    config: Config,
}

type OutStream = Pin<Box<dyn Stream<Item = Result<RunnerMessage, Status>> + Send>>;

#[tonic::async_trait]
impl Runner for RunnerService {
    type AttachStream = OutStream;

    async fn attach(
        &self,
        request: Request<Streaming<ShimMessage>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(session::run(request.into_inner(), tx, self.config.clone()));
        Ok(Response::new(Box::pin(UnboundedReceiverStream::new(rx))))
    }
}

/// Binds `path`, refusing to steal the socket of a runner that is alive and
/// removing a stale one left by a dead runner.
async fn bind(path: &Path) -> Result<UnixListener> {
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            bail!("another vh-runner is already serving {}", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("removing stale socket {}", path.display()))?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    Ok(listener)
}

/// Serves until SIGINT or SIGTERM, then removes the socket file.
///
/// # Errors
/// The socket cannot be bound, or the server fails.
pub async fn serve(config: Config) -> Result<()> {
    let listener = bind(&config.socket).await?;
    let path = config.socket.clone();
    tracing::info!(socket = %path.display(), python = %config.python.display(), "vh-runner listening");
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        tracing::info!("shutting down");
    };
    let result = tonic::transport::Server::builder()
        .add_service(RunnerServer::new(RunnerService { config }))
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), shutdown)
        .await;
    let _ = std::fs::remove_file(&path);
    result.context("serving the runner socket")
}
