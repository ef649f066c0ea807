//! The IPC thread's connection to the runner: connect over the Unix
//! socket, attach the gRPC stream, send `Hello`, check the `Welcome`'s
//! protocol version (`vh_proto::PROTOCOL`), send the loads to replay, ask
//! for direct links, pass each runner message to the hub thread (a
//! worker's `FromWorker` payload as it is, the runner's `ScriptDown`), and
//! connect again with backoff when the stream ends.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::{Endpoint, Uri};
use vh_proto::v1::{
    Hello, RunnerMessage, ShimMessage, ToWorker, runner_client::RunnerClient, runner_message,
    shim_message, to_worker,
};

use super::{Connection, Event, Ipc, Loads, Queued};
use crate::shim_log;
use crate::stats::STATS_EVERY;

/// Longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Why a session never got attached.
struct NotAttached {
    /// For the log and for `w_Load`'s failure.
    why: String,
    /// The runner speaks another protocol version: an admin's error, not a
    /// runner that is merely down.
    incompatible: bool,
}

impl From<String> for NotAttached {
    fn from(why: String) -> NotAttached {
        NotAttached {
            why,
            incompatible: false,
        }
    }
}

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
            let state = match self.session(&socket, &hello, &loads, &events).await {
                Ok(reason) => {
                    backoff = Duration::from_millis(100);
                    logged_down = false;
                    self.disconnects.fetch_add(1, Ordering::AcqRel);

                    let _ = self.deliver(&events, Event::Disconnected(reason.clone()));
                    shim_log!(0, "lost the runner at {}: {reason}", socket.display());
                    Connection::Down(reason)
                }
                Err(NotAttached { why, incompatible }) => {
                    // A runner of another protocol version is the admin's
                    // to fix: always logged (once, as a runner that is
                    // down).
                    if !logged_down && incompatible {
                        shim_log!(
                            0,
                            "cannot attach to the runner at {}: {why}",
                            socket.display()
                        );
                    } else if !logged_down {
                        shim_log!(1, "cannot reach the runner at {}: {why}", socket.display());
                    }
                    logged_down = true;
                    if incompatible {
                        Connection::Incompatible(why)
                    } else {
                        Connection::Down(why)
                    }
                }
            };
            self.set_connection(state);
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

    /// One connected period. `Err` if it never got attached (no runner, or
    /// one that does not speak [`vh_proto::PROTOCOL`]); `Ok(reason)` when
    /// an established stream ends.
    async fn session(
        &self,
        socket: &Path,
        hello: &Hello,
        loads: &Loads,
        events: &crossbeam_channel::Sender<Queued>,
    ) -> Result<String, NotAttached> {
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
        welcomed(&mut inbound, hello).await?;
        // Scripts the hub has loaded come back under their ids, before any
        // new message of the hub thread can be queued behind them.
        let reloads = loads.all();
        if !reloads.is_empty() {
            shim_log!(0, "loading {} script(s) again in the runner", reloads.len());
        }
        for load in reloads {
            let _ = tx.send(ShimMessage {
                kind: Some(shim_message::Kind::ToWorker(ToWorker {
                    kind: Some(to_worker::Kind::Load(load)),
                })),
            });
        }
        *self.out.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        self.set_connection(Connection::Connected);
        shim_log!(1, "connected to the runner at {}", socket.display());
        // The runner knows our token once it has welcomed us: ask for
        // direct links now.
        let side = (!hello.direct_token.is_empty()).then(|| {
            let (socket, token) = (socket.to_path_buf(), hello.direct_token.clone());
            let links = Arc::clone(&self.links);
            tokio::spawn(async move {
                crate::direct::attach(&socket, &token, links).await;
            })
        });
        let mut stats_tick = tokio::time::interval(STATS_EVERY);
        stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let reason = loop {
            tokio::select! {
                _ = stats_tick.tick() => self.flush_round_trips(),
                msg = inbound.message() => match msg {
                    // The runner is stopping (SIGTERM): a lost runner, as
                    // if the stream had ended; reconnect and reload later.
                    Ok(Some(RunnerMessage { kind: Some(runner_message::Kind::Stopping(s)) })) => {
                        break format!("the runner is stopping: {}", s.reason);
                    }
                    Ok(Some(m)) => {
                        let ev = match m.kind {
                            Some(runner_message::Kind::FromWorker(w)) => w.kind.map(Event::Worker),
                            Some(runner_message::Kind::Down(d)) => Some(Event::Down(d)),
                            // A second Welcome, or a message of a later
                            // protocol minor: nothing to act on.
                            _ => None,
                        };
                        if let Some(ev) = ev && !self.deliver(events, ev) {
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

/// Reads the runner's first message: a `Welcome` of this protocol
/// version lets the session go on; anything else ends it before a load or
/// a hook goes out, with one line naming both versions when they differ.
async fn welcomed(
    inbound: &mut tonic::Streaming<RunnerMessage>,
    hello: &Hello,
) -> Result<(), NotAttached> {
    let first = tokio::time::timeout(Duration::from_secs(5), inbound.message())
        .await
        .map_err(|_| "the runner sent no Welcome within 5 s".to_string())?;
    let welcome = match first {
        Ok(Some(RunnerMessage {
            kind: Some(runner_message::Kind::Welcome(w)),
        })) => w,
        Ok(Some(_)) => {
            return Err("the runner's first message was not a Welcome"
                .to_string()
                .into());
        }
        Ok(None) => {
            return Err("the runner closed the stream before its Welcome"
                .to_string()
                .into());
        }
        // A runner of a later protocol version refuses this one with the
        // line naming both (FAILED_PRECONDITION).
        Err(status) => {
            return Err(NotAttached {
                why: format!("the runner refused the stream: {}", status.message()),
                incompatible: status.code() == tonic::Code::FailedPrecondition,
            });
        }
    };
    if welcome.protocol == vh_proto::PROTOCOL {
        return Ok(());
    }
    Err(NotAttached {
        why: vh_proto::direct::mismatch(
            &hello.shim_version,
            hello.protocol,
            &welcome.runner_version,
            welcome.protocol,
        ),
        incompatible: true,
    })
}
