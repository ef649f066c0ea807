//! The `Admin` service behind `vh-runner status|logs|restart|stop`, on the
//! runner's socket.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::broadcast::error::RecvError;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use vh_proto::v1::admin_server::Admin;
use vh_proto::v1::{AdminReply, LogLine, LogsRequest, ScriptRef, StatusReply, StatusRequest};

use crate::control::Control;
use crate::registry::{Entry, Registry};

/// The admin service over the shared [`Registry`].
pub struct AdminService {
    /// Every script of every attached hub.
    pub registry: Arc<Registry>,
    /// When the runner started.
    pub started: Instant,
}

impl AdminService {
    fn one(&self, reference: &str) -> Result<Arc<Entry>, Status> {
        let mut found = self.registry.find(reference);
        match found.len() {
            0 => Err(Status::not_found(format!(
                "no script {reference:?} is loaded; `vh-runner status` lists them"
            ))),
            1 => Ok(found.remove(0)),
            n => Err(Status::invalid_argument(format!(
                "{n} scripts match {reference:?}; name one by its id"
            ))),
        }
    }

    fn command(
        &self,
        reference: &str,
        control: Control,
        done: &str,
    ) -> Result<Response<AdminReply>, Status> {
        let entry = self.one(reference)?;
        entry
            .control
            .upgrade()
            .ok_or_else(|| Status::unavailable("the script is shutting down"))?
            .send(control)
            .map_err(|_| Status::unavailable("the script is shutting down"))?;
        Ok(Response::new(AdminReply {
            message: format!("script #{} {}: {done}", entry.script_id, entry.name),
        }))
    }
}

type LogStream = Pin<Box<dyn Stream<Item = Result<LogLine, Status>> + Send>>;

#[tonic::async_trait]
impl Admin for AdminService {
    type LogsStream = LogStream;

    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusReply>, Status> {
        Ok(Response::new(StatusReply {
            scripts: self.registry.all().iter().map(|e| e.status()).collect(),
            runner_version: env!("CARGO_PKG_VERSION").into(),
            uptime_s: self.started.elapsed().as_secs(),
        }))
    }

    async fn logs(&self, request: Request<LogsRequest>) -> Result<Response<LogStream>, Status> {
        let req = request.into_inner();
        let entry = self.one(&req.script)?;
        let (backlog, mut live) = entry.logs(req.tail as usize);
        drop(entry);
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            for line in backlog {
                if tx.send(Ok(line)).await.is_err() {
                    return;
                }
            }
            if !req.follow {
                return;
            }
            loop {
                tokio::select! {
                    got = live.recv() => match got {
                        Ok(line) => if tx.send(Ok(line)).await.is_err() { return },
                        Err(RecvError::Lagged(_)) => {}
                        // The script was unloaded.
                        Err(RecvError::Closed) => return,
                    },
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn restart(&self, request: Request<ScriptRef>) -> Result<Response<AdminReply>, Status> {
        self.command(&request.into_inner().script, Control::Restart, "restarting")
    }

    async fn stop(&self, request: Request<ScriptRef>) -> Result<Response<AdminReply>, Status> {
        self.command(
            &request.into_inner().script,
            Control::Stop,
            "stopped; its hooks allow until `vh-runner restart`",
        )
    }
}
