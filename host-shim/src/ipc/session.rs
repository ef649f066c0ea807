//! The IPC thread's connection to the runner: connect over the Unix
//! socket, attach the gRPC stream, send `Hello` and the loads to replay,
//! pass each runner message to the hub thread, ask for direct links once
//! welcomed, and connect again with backoff when the stream ends.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::{Endpoint, Uri};
use vh_proto::v1::{Hello, RunnerMessage, ShimMessage, runner_client::RunnerClient, shim_message};

use super::stats::STATS_EVERY;
use super::{Connection, Event, Ipc, Loads, Queued};
use crate::shim_log;

/// Longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Ipc {
    /// Queues `ev` for the hub thread and wakes it if it sleeps on a
    /// direct link. False if the hub side is gone.
    fn deliver(&self, events: &crossbeam_channel::Sender<Queued>, ev: Event) -> bool {
        let ok = events.send(Queued::new(ev)).is_ok();
        self.hub_wake.notify();
        ok
    }

    /// The IPC thread's life: sessions, with backoff between them, until
    /// [`Ipc::stop`].
    pub(super) async fn run(
        self: Arc<Self>,
        socket: PathBuf,
        hello: Hello,
        loads: Loads,
        events: crossbeam_channel::Sender<Queued>,
    ) {
        let mut backoff = Duration::from_millis(100);
        let mut logged_down = false;
        while !self.stop.load(Ordering::Acquire) {
            self.set_connection(Connection::Connecting);
            let reason = match self.session(&socket, &hello, &loads, &events).await {
                Ok(reason) => {
                    backoff = Duration::from_millis(100);
                    logged_down = false;
                    self.disconnects.fetch_add(1, Ordering::AcqRel);

                    let _ = self.deliver(&events, Event::Disconnected(reason.clone()));
                    shim_log!(0, "lost the runner at {}: {reason}", socket.display());
                    reason
                }
                Err(reason) => {
                    if !logged_down {
                        shim_log!(
                            1,
                            "cannot reach the runner at {}: {reason}",
                            socket.display()
                        );
                        logged_down = true;
                    }
                    reason
                }
            };
            self.set_connection(Connection::Down(reason));
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = self.wake.notified() => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One connected period. `Err` if it never connected; `Ok(reason)` when
    /// an established stream ends.
    async fn session(
        &self,
        socket: &Path,
        hello: &Hello,
        loads: &Loads,
        events: &crossbeam_channel::Sender<Queued>,
    ) -> Result<String, String> {
        let path = socket.to_path_buf();
        let connector = tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { crate::fds::connect(&path).await.map(TokioIo::new) }
        });
        // The URI is required by the HTTP/2 layer but never resolved.
        let endpoint = Endpoint::from_static("http://vh-runner.localhost")
            .connect_timeout(Duration::from_secs(2));
        let channel = endpoint
            .connect_with_connector(connector)
            .await
            .map_err(|e| {
                format!(
                    "{e}: {}",
                    std::error::Error::source(&e)
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                )
            })?;
        // Hub messages may be as large as worker frames (16 MiB), not
        // tonic's 4 MiB default.
        let mut client = RunnerClient::new(channel)
            .max_decoding_message_size(vh_proto::direct::frame::MAX_FRAME_LEN)
            .max_encoding_message_size(vh_proto::direct::frame::MAX_FRAME_LEN);
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(ShimMessage {
            kind: Some(shim_message::Kind::Hello(hello.clone())),
        });
        let response = tokio::time::timeout(
            Duration::from_secs(5),
            client.attach(UnboundedReceiverStream::new(rx)),
        )
        .await
        .map_err(|_| "the runner did not answer within 5 s".to_string())?
        .map_err(|s| format!("the runner refused the stream: {}", s.message()))?;
        let mut inbound = response.into_inner();
        // Scripts the hub has loaded come back under their ids, before any
        // new message of the hub thread can be queued behind them.
        let reloads = loads.all();
        if !reloads.is_empty() {
            shim_log!(0, "loading {} script(s) again in the runner", reloads.len());
        }
        for load in reloads {
            let _ = tx.send(ShimMessage {
                kind: Some(shim_message::Kind::Load(load)),
            });
        }
        *self.out.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        self.set_connection(Connection::Connected);
        shim_log!(1, "connected to the runner at {}", socket.display());
        let mut side: Option<tokio::task::JoinHandle<()>> = None;
        let mut stats_tick = tokio::time::interval(STATS_EVERY);
        stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let reason = loop {
            tokio::select! {
                _ = stats_tick.tick() => self.flush_round_trips(),
                msg = inbound.message() => match msg {
                    // The runner is stopping (SIGTERM): a lost runner, as
                    // if the stream had ended; reconnect and reload later.
                    Ok(Some(RunnerMessage { kind: Some(vh_proto::v1::runner_message::Kind::Stopping(s)) })) => {
                        break format!("the runner is stopping: {}", s.reason);
                    }
                    Ok(Some(m)) => {
                        // The runner knows our token once it has welcomed us:
                        // ask for direct links now.
                        let welcome = matches!(m.kind, Some(vh_proto::v1::runner_message::Kind::Welcome(_)));
                        if welcome && side.is_none() && !hello.direct_token.is_empty() {
                            let (socket, token) = (socket.to_path_buf(), hello.direct_token.clone());
                            let links = Arc::clone(&self.links);
                            side = Some(tokio::spawn(async move {
                                crate::direct::attach(&socket, &token, links).await;
                            }));
                        }

                        if !self.deliver(events, Event::Msg(m)) {
                            break "the shim is shutting down".to_string();
                        }
                    }
                    Ok(None) => break "the runner closed the stream".to_string(),
                    Err(status) => break format!("stream error: {}", status.message()),
                },
                () = self.wake.notified() => {
                    if self.stop.load(Ordering::Acquire) {
                        break "the shim is shutting down".to_string();
                    }
                }
            }
        };
        self.out.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(side) = side {
            side.abort();
        }
        Ok(reason)
    }
}
