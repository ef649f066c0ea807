//! The runner's Unix socket: binding it with the configured mode and group,
//! refusing peers whose uid is not allowed (SO_PEERCRED), serving the
//! `Runner` (hub) and `Admin` services, and telling systemd (Type=notify:
//! READY, WATCHDOG) how it goes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{UnboundedReceiverStream, UnixListenerStream};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};
use vh_proto::v1::admin_server::AdminServer;
use vh_proto::v1::runner_server::{Runner, RunnerServer};
use vh_proto::v1::{RunnerMessage, ShimMessage};

use crate::access::Access;
use crate::admin::AdminService;
use crate::config::Config;
use crate::direct::{self, Links};
use crate::registry::Registry;
use crate::session;
use crate::shutdown::{self, Shutdown};

/// The `Runner` service: one [`session`] per `Attach` stream.
pub struct RunnerService {
    config: Arc<Config>,
    registry: Arc<Registry>,
    links: Arc<Links>,
    shutdown: Shutdown,
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
        tokio::spawn(session::run(
            request.into_inner(),
            tx,
            Arc::clone(&self.config),
            Arc::clone(&self.registry),
            Arc::clone(&self.links),
            self.shutdown.clone(),
        ));
        // When the runner stops, the stream ends with a goodbye.
        let stopping = self.shutdown.stopping.clone().cancelled_owned();
        let shutdown = self.shutdown.clone();
        let out = futures_util::StreamExt::chain(
            futures_util::StreamExt::take_until(UnboundedReceiverStream::new(rx), stopping),
            futures_util::stream::once(async move { Ok(shutdown.goodbye()) }),
        );
        Ok(Response::new(Box::pin(out)))
    }
}

/// Accepts connections, drops those of peers `access` refuses, and sorts
/// the rest: direct-link connections go to `links`, everything else to the
/// gRPC server (the returned stream). Each connection is sorted in its own
/// task, so a peer that sends nothing cannot hold up the others.
fn route(
    listener: UnixListener,
    access: Arc<Access>,
    links: Arc<Links>,
    stopping: tokio_util::sync::CancellationToken,
) -> UnboundedReceiverStream<std::io::Result<UnixStream>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut accepted = UnixListenerStream::new(listener);
        // On stop the listener closes at once: a reconnecting shim is
        // refused instead of waiting on a server that no longer answers.
        while let Some(conn) = tokio::select! {
            c = accepted.next() => c,
            () = stopping.cancelled() => None,
        } {
            let stream = match conn {
                Ok(s) if access.admit(&s) => s,
                Ok(_) => continue,
                Err(e) => {
                    if tx.send(Err(e)).is_err() {
                        break;
                    }
                    continue;
                }
            };
            let (tx, links) = (tx.clone(), Arc::clone(&links));
            tokio::spawn(async move {
                match direct::classify(&stream).await {
                    direct::Kind::Direct => links.accept(stream).await,
                    direct::Kind::Grpc => {
                        let _ = tx.send(Ok(stream));
                    }
                }
            });
        }
    });
    UnboundedReceiverStream::new(rx)
}

/// Binds `path`, refusing to steal the socket of a runner that is alive and
/// removing a stale one left by a dead runner; sets mode and group.
async fn bind(config: &Config, gid: Option<u32>) -> Result<UnixListener> {
    let path: &Path = &config.socket;
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
    let mode = config.socket_mode_bits().map_err(anyhow::Error::msg)?;
    let listener =
        UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    if let Some(gid) = gid {
        nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid)))
            .with_context(|| format!("setting the group of {}", path.display()))?;
    }
    Ok(listener)
}

/// Tells systemd the runner is ready and keeps its watchdog fed, if it
/// runs under systemd with `Type=notify` / `WatchdogSec=`; no-op otherwise.
fn notify_systemd() {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    if let Some(period) = sd_notify::watchdog_enabled() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period / 2);
            loop {
                tick.tick().await;
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            }
        });
    }
}

/// Serves until SIGINT or SIGTERM, then stops cleanly
/// ([`crate::shutdown`]: hubs told, scripts unloaded within 2 s, leftovers
/// killed) and removes the socket file.
///
/// # Errors
/// The socket cannot be bound (names the path and why), the socket group
/// does not exist, or the server fails.
pub async fn serve(config: Config) -> Result<()> {
    // Python 2 set-up before the socket exists: it runs
    // interpreters (the workers' Python 3 for `status`, the candidates for
    // Python 2.7), which must neither hold a hub's load waiting nor leave
    // short-lived pipes open while hubs are served.
    crate::py2::configure(config.defaults.python2.as_deref(), &config.socket);
    let python = config.python.clone();
    let _ = tokio::task::spawn_blocking(move || {
        crate::py2::version_of(&python);
        crate::py2::get();
    })
    .await;
    let access = Arc::new(Access::from_config(&config)?);
    let listener = bind(&config, access.socket_gid()).await?;
    let path = config.socket.clone();
    let identity = shutdown::socket_identity(&path);
    tracing::info!(socket = %path.display(), python = %config.python.display(), mode = %config.socket_mode, "vh-runner listening");
    let shutdown = Shutdown::default();
    let links = Arc::new(Links::default());
    let incoming = route(
        listener,
        access,
        Arc::clone(&links),
        shutdown.stopping.clone(),
    );
    let registry = Arc::new(Registry::default());
    let config = Arc::new(config);
    notify_systemd();
    let server = tonic::transport::Server::builder()
        .add_service(
            // Hub messages may be as large as worker frames (16 MiB), not
            // tonic's 4 MiB default.
            RunnerServer::new(RunnerService {
                config,
                registry: Arc::clone(&registry),
                links,
                shutdown: shutdown.clone(),
            })
            .max_decoding_message_size(vh_proto::direct::frame::MAX_FRAME_LEN)
            .max_encoding_message_size(vh_proto::direct::frame::MAX_FRAME_LEN),
        )
        .add_service(AdminServer::new(AdminService {
            registry: Arc::clone(&registry),
            started: Instant::now(),
        }))
        .serve_with_incoming_shutdown(incoming, shutdown.stopping.clone().cancelled_owned());
    let mut server = tokio::spawn(async move { server.await.context("serving the runner socket") });
    let signal = tokio::select! {
        s = shutdown::signal() => s,
        // The server failed on its own: no stop sequence to run.
        r = &mut server => {
            let _ = std::fs::remove_file(&path);
            crate::py2::cleanup();
            return r.context("the server task")?;
        }
    };
    let stopped = shutdown::stop(signal, &shutdown, &registry, (path, identity), server).await;
    crate::py2::cleanup();
    stopped
}
