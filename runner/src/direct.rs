//! Direct links (docs/protocol.md "Direct links"): the runner gives each
//! worker a second socketpair and hands the other end to the hub's shim
//! with `SCM_RIGHTS`, so that a hook goes hub -> worker -> hub over one
//! socket instead of through the runner (the relay cost two
//! thread hops and two protobuf round trips per hook).
//!
//! The shim asks for links by opening a second connection to the runner
//! socket that starts with [`MAGIC`] and the 16-byte token of its `Hello`
//! (instead of the HTTP/2 preface of a gRPC connection). The runner then
//! sends, per worker incarnation, one 8-byte message (script id as a
//! little-endian i32, 4 zero bytes) carrying the shim's end of the pair.

use std::collections::HashMap;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use tokio::io::{AsyncReadExt, Interest};
use tokio::net::UnixStream;
use tokio::sync::watch;

/// First bytes of a direct-link connection (a gRPC one starts with
/// `PRI * HTTP/2.0`).
pub const MAGIC: &[u8; 8] = b"VHLINK01";
/// Length of the token that follows [`MAGIC`].
pub const TOKEN_LEN: usize = 16;
/// How long a worker's link waits for the shim's connection, and a new
/// connection for its first bytes.
const ATTACH_WAIT: Duration = Duration::from_secs(3);

/// The shim's direct-link connection of one hub session, once it arrives.
pub struct LinkSlot {
    conn: watch::Sender<Option<Arc<UnixStream>>>,
    /// Set once a hand-over waited `ATTACH_WAIT` (3 s) in vain: later ones do
    /// not wait again (a shim whose connection failed would otherwise slow
    /// every worker start by that long).
    gave_up: std::sync::atomic::AtomicBool,
}

impl LinkSlot {
    /// Sends the shim its end of script `script_id`'s link (`compact`: a
    /// Python 2 worker's, which reads and writes compact frames,
    /// `vh_proto::direct::compact`). Waits up to `ATTACH_WAIT` (3 s) for
    /// the shim's connection.
    ///
    /// # Errors
    /// No connection came, or it failed.
    pub async fn hand_over(
        &self,
        script_id: i32,
        fd: &OwnedFd,
        compact: bool,
    ) -> std::io::Result<()> {
        use std::sync::atomic::Ordering;
        let mut rx = self.conn.subscribe();
        let wait = if self.gave_up.load(Ordering::Relaxed) {
            Duration::ZERO
        } else {
            ATTACH_WAIT
        };
        let conn = tokio::time::timeout(wait, rx.wait_for(Option::is_some))
            .await
            .map_err(|_| {
                self.gave_up.store(true, Ordering::Relaxed);
                std::io::Error::other("the hub never opened its direct-link connection")
            })?
            .map_err(|_| std::io::Error::other("the hub session ended"))?
            .clone()
            .expect("waited for Some");
        let mut head = [0u8; 8];
        head[..4].copy_from_slice(&script_id.to_le_bytes());
        head[4] = u8::from(compact);
        let fds = [fd.as_raw_fd()];
        conn.async_io(Interest::WRITABLE, || {
            sendmsg::<()>(
                conn.as_raw_fd(),
                &[IoSlice::new(&head)],
                &[ControlMessage::ScmRights(&fds)],
                MsgFlags::MSG_NOSIGNAL,
                None,
            )
            .map_err(std::io::Error::from)
        })
        .await
        .and_then(|n| {
            if n == head.len() {
                Ok(())
            } else {
                Err(std::io::Error::other(
                    "short write on the direct-link connection",
                ))
            }
        })
    }
}

/// Hub sessions waiting for (or holding) their direct-link connection, by
/// token.
#[derive(Default)]
pub struct Links {
    slots: Mutex<HashMap<[u8; TOKEN_LEN], Arc<LinkSlot>>>,
}

impl Links {
    /// Registers the session whose `Hello` carried `token`; `None` if the
    /// token is not [`TOKEN_LEN`] bytes (the shim takes no links).
    pub fn register(&self, token: &[u8]) -> Option<Arc<LinkSlot>> {
        let token: [u8; TOKEN_LEN] = token.try_into().ok()?;
        let slot = Arc::new(LinkSlot {
            conn: watch::Sender::new(None),
            gave_up: std::sync::atomic::AtomicBool::new(false),
        });
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token, Arc::clone(&slot));
        Some(slot)
    }

    /// Forgets a session's token (the session ended).
    pub fn unregister(&self, token: &[u8]) {
        if let Ok(token) = <[u8; TOKEN_LEN]>::try_from(token) {
            self.slots
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&token);
        }
    }

    /// Serves a connection that began with [`MAGIC`]: reads the token and
    /// attaches the connection to its session. An unknown token or a peer
    /// that stalls is logged and dropped.
    pub async fn accept(&self, mut stream: UnixStream) {
        let mut head = [0u8; MAGIC.len() + TOKEN_LEN];
        match tokio::time::timeout(ATTACH_WAIT, stream.read_exact(&mut head)).await {
            Ok(Ok(_)) => {}
            _ => {
                tracing::warn!("a direct-link connection sent no token; dropped");
                return;
            }
        }
        let token: [u8; TOKEN_LEN] = head[MAGIC.len()..].try_into().expect("sized");
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&token)
            .cloned();
        match slot {
            Some(slot) => {
                slot.conn.send_replace(Some(Arc::new(stream)));
                tracing::debug!("hub direct-link connection attached");
            }
            None => tracing::warn!("a direct-link connection with an unknown token; dropped"),
        }
    }
}

/// What a new connection on the runner socket is.
pub enum Kind {
    /// Starts with [`MAGIC`].
    Direct,
    /// Anything else (gRPC: the HTTP/2 preface).
    Grpc,
}

/// Looks at a new connection's first bytes without consuming them. A peer
/// that sends fewer than 8 bytes within `ATTACH_WAIT` (3 s) is treated as
/// gRPC (tonic then deals with it).
pub async fn classify(stream: &UnixStream) -> Kind {
    let peek = async {
        loop {
            if stream.readable().await.is_err() {
                return Kind::Grpc;
            }
            let mut buf = [0u8; MAGIC.len()];
            let got = stream.try_io(Interest::READABLE, || {
                nix::sys::socket::recv(stream.as_raw_fd(), &mut buf, MsgFlags::MSG_PEEK)
                    .map_err(std::io::Error::from)
            });
            match got {
                Ok(n) if n == MAGIC.len() => {
                    return if &buf == MAGIC {
                        Kind::Direct
                    } else {
                        Kind::Grpc
                    };
                }
                // EOF, or a prefix that already differs.
                Ok(0) => return Kind::Grpc,
                Ok(n) if buf[..n] != MAGIC[..n] => return Kind::Grpc,
                // A partial prefix: wait for the rest.
                Ok(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return Kind::Grpc,
            }
        }
    };
    tokio::time::timeout(ATTACH_WAIT, peek)
        .await
        .unwrap_or(Kind::Grpc)
}
