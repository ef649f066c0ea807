//! Direct links to workers (docs/protocol.md "Direct links"): for each
//! worker the runner hands the shim one end of a socketpair whose other end
//! the worker holds, so that a hook goes hub -> worker -> hub over one
//! socket instead of through the runner.
//!
//! The hub thread writes frames (`vh_proto::frame`: 4-byte little-endian
//! length, one `ToWorker`) to a link itself, without blocking past a bound;
//! the IPC thread reads every link and queues what the worker says
//! (`FromWorker`, tagged with the script id) on the same event channel as
//! the runner's messages, so the hub thread's waits and the re-entrancy
//! rules (spec/wrapper-abi.md §9.2) are the same whichever way a message
//! came.

use std::collections::HashMap;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::UnixStream;
use vh_proto::frame::MAX_FRAME_LEN;
use vh_proto::v1::{FromWorker, RunnerMessage, ToWorker, from_worker, runner_message};

use crate::ipc::Event;
use crate::shim_log;

/// First bytes of the shim's direct-link connection to the runner socket
/// (runner: `vh_runner::direct::MAGIC`).
const MAGIC: &[u8; 8] = b"VHLINK01";
/// Longest the hub thread waits for room in a link's socket buffer to
/// finish a frame it began, before it gives up on the link.
const WRITE_STALL: Duration = Duration::from_millis(100);

/// The shim's end of one worker's link, as the hub thread writes to it.
pub struct DirectLink {
    script_id: i32,
    /// A descriptor of its own (the reader task holds another), so that it
    /// stays valid while the hub thread writes, whatever the reader does.
    fd: OwnedFd,
    /// Set when a frame was cut short: the stream is unusable.
    broken: AtomicBool,
}

/// Why a frame did not go out on a link.
#[derive(Debug)]
pub enum SendError {
    /// Nothing was written (peer gone, or no room): send it another way.
    NotSent(String),
    /// Part of the frame was written: the link is broken and closed.
    Broken(String),
}

impl DirectLink {
    /// Writes `msg` as one frame from the hub thread. Never raises SIGPIPE
    /// (MSG_NOSIGNAL: the hub process may not ignore it); never waits if
    /// the socket buffer is full when the frame would begin, and at most
    /// [`WRITE_STALL`] to finish a frame it began.
    ///
    /// # Errors
    /// [`SendError`]; after `Broken` the link is shut down.
    pub fn send(&self, msg: &ToWorker) -> Result<(), SendError> {
        if self.broken.load(Ordering::Acquire) {
            return Err(SendError::NotSent("the link is closed".into()));
        }
        let len = msg.encoded_len();
        if len > MAX_FRAME_LEN {
            return Err(SendError::NotSent(format!(
                "a message of {len} bytes exceeds the {MAX_FRAME_LEN}-byte frame limit"
            )));
        }
        let mut buf = Vec::with_capacity(4 + len);
        buf.extend_from_slice(&(len as u32).to_le_bytes());
        msg.encode(&mut buf)
            .map_err(|e| SendError::NotSent(e.to_string()))?;
        let mut done = 0;
        let mut stalled_since: Option<Instant> = None;
        while done < buf.len() {
            let rest = &buf[done..];
            // SAFETY: `rest` is valid for reads of its length; the fd is ours.
            let n = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                done += n as usize;
                stalled_since = None;
                continue;
            }
            let err = std::io::Error::last_os_error();
            match err.kind() {
                std::io::ErrorKind::Interrupted => continue,
                // A full buffer before the frame began: the worker is not
                // reading its link (busy, or hostile); the caller sends
                // through the runner instead, without waiting.
                std::io::ErrorKind::WouldBlock if done == 0 => {
                    return Err(SendError::NotSent("the link's buffer is full".into()));
                }
                std::io::ErrorKind::WouldBlock => {
                    let since = *stalled_since.get_or_insert_with(Instant::now);
                    let left = WRITE_STALL.saturating_sub(since.elapsed());
                    if left.is_zero() {
                        return Err(self.fail(done, "the worker does not read its link".into()));
                    }
                    let mut pfd = libc::pollfd {
                        fd: self.fd.as_raw_fd(),
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
                }
                _ => return Err(self.fail(done, err.to_string())),
            }
        }
        Ok(())
    }

    /// The error for a write that stopped after `done` bytes.
    fn fail(&self, done: usize, why: String) -> SendError {
        if done == 0 {
            return SendError::NotSent(why);
        }
        self.broken.store(true, Ordering::Release);
        // SAFETY: shutting down our own socket; the worker's reader ends.
        unsafe { libc::shutdown(self.fd.as_raw_fd(), libc::SHUT_RDWR) };
        SendError::Broken(why)
    }

    /// The script this link belongs to.
    pub fn script_id(&self) -> i32 {
        self.script_id
    }
}

/// The links this shim holds, by script id.
#[derive(Default)]
pub struct Links {
    map: RwLock<HashMap<i32, Arc<DirectLink>>>,
}

impl Links {
    /// Script `id`'s link, if it has a usable one.
    pub fn get(&self, id: i32) -> Option<Arc<DirectLink>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(&id)
            .filter(|l| !l.broken.load(Ordering::Acquire))
            .cloned()
    }

    fn insert(&self, link: Arc<DirectLink>) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(link.script_id, link);
    }

    /// Forgets `link` if it is still script's current one (a newer worker's
    /// link may have replaced it).
    pub fn remove(&self, link: &Arc<DirectLink>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map
            .get(&link.script_id)
            .is_some_and(|l| Arc::ptr_eq(l, link))
        {
            map.remove(&link.script_id);
        }
    }

    /// Forgets every link (`w_End`).
    pub fn clear(&self) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// 16 random bytes for `Hello.direct_token`, or `None` if the kernel has
/// none to give (then the shim takes no links).
pub fn new_token() -> Option<Vec<u8>> {
    let mut token = vec![0u8; 16];
    // SAFETY: writes at most 16 bytes into `token`.
    let n = unsafe { libc::getrandom(token.as_mut_ptr().cast(), token.len(), 0) };
    (n == 16).then_some(token)
}

/// Opens the direct-link connection to the runner at `socket` and adopts
/// every link the runner sends on it, until the runner closes it. Each
/// link gets a reader task that queues its messages on `events`.
pub async fn attach(
    socket: &Path,
    token: &[u8],
    links: Arc<Links>,
    events: crossbeam_channel::Sender<Event>,
) {
    let mut conn = match UnixStream::connect(socket).await {
        Ok(c) => c,
        Err(e) => {
            shim_log!(
                1,
                "no direct links: cannot connect to {}: {e}",
                socket.display()
            );
            return;
        }
    };
    let mut hello = MAGIC.to_vec();
    hello.extend_from_slice(token);
    if let Err(e) = conn.write_all(&hello).await {
        shim_log!(1, "no direct links: {e}");
        return;
    }
    loop {
        if conn.readable().await.is_err() {
            return;
        }
        match conn.try_io(Interest::READABLE, || receive_link(conn.as_raw_fd())) {
            Ok(Some((id, fd))) => adopt(id, fd, &links, &events),
            // The runner closed the connection (it stops or restarts).
            Ok(None) => return,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => {
                shim_log!(1, "direct-link connection to the runner failed: {e}");
                return;
            }
        }
    }
}

/// Receives one `(script id, fd)` message; `None` at the end of the stream.
fn receive_link(conn: RawFd) -> std::io::Result<Option<(i32, OwnedFd)>> {
    let mut head = [0u8; 8];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut head)];
    let msg = recvmsg::<()>(conn, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(std::io::Error::from)?;
    if msg.bytes == 0 {
        return Ok(None);
    }
    let mut fd = None;
    for c in msg.cmsgs().map_err(std::io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for raw in fds {
                // SAFETY: the kernel just gave us this descriptor.
                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                fd.get_or_insert(owned);
            }
        }
    }
    let bytes = msg.bytes;
    let id = i32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    match fd {
        Some(fd) if bytes == 8 => Ok(Some((id, fd))),
        _ => Err(std::io::Error::other(
            "a direct-link message without a descriptor",
        )),
    }
}

/// Makes `fd` script `id`'s link and starts reading it.
fn adopt(id: i32, fd: OwnedFd, links: &Arc<Links>, events: &crossbeam_channel::Sender<Event>) {
    let writer = match fd.try_clone() {
        Ok(w) => w,
        Err(e) => {
            shim_log!(1, "script #{id}: no direct link: {e}");
            return;
        }
    };
    let std_stream = std::os::unix::net::UnixStream::from(fd);
    let reader = match std_stream
        .set_nonblocking(true)
        .and_then(|()| UnixStream::from_std(std_stream))
    {
        Ok(r) => r,
        Err(e) => {
            shim_log!(1, "script #{id}: no direct link: {e}");
            return;
        }
    };
    let link = Arc::new(DirectLink {
        script_id: id,
        fd: writer,
        broken: AtomicBool::new(false),
    });
    links.insert(Arc::clone(&link));
    tokio::spawn(read_link(reader, link, Arc::clone(links), events.clone()));
}

/// Reads a link's frames until the worker closes it, queuing them as
/// runner messages of script `link.script_id`.
async fn read_link(
    mut reader: UnixStream,
    link: Arc<DirectLink>,
    links: Arc<Links>,
    events: crossbeam_channel::Sender<Event>,
) {
    let id = link.script_id;
    let why = loop {
        let mut head = [0u8; 4];
        match reader.read_exact(&mut head).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break None,
            Err(e) => break Some(e.to_string()),
        }
        let len = u32::from_le_bytes(head) as usize;
        if len > MAX_FRAME_LEN {
            break Some(format!("a frame of {len} bytes (limit {MAX_FRAME_LEN})"));
        }
        let mut body = vec![0u8; len];
        if let Err(e) = reader.read_exact(&mut body).await {
            break Some(format!("a frame cut short: {e}"));
        }
        let kind = match FromWorker::decode(body.as_slice()) {
            Ok(FromWorker { kind: Some(k) }) => k,
            Ok(FromWorker { kind: None }) => continue,
            Err(e) => break Some(format!("an undecodable frame: {e}")),
        };
        let Some(msg) = tagged(id, kind) else {
            continue;
        };
        crate::hooktable::PENDING.fetch_add(1, Ordering::AcqRel);
        if events.send(Event::Msg(msg)).is_err() {
            break None;
        }
    };
    links.remove(&link);
    if let Some(why) = why {
        // The worker broke the protocol; it goes on through the runner.
        link.broken.store(true, Ordering::Release);
        shim_log!(
            0,
            "script #{id}: {why} on its direct link; the link is closed, its hooks go through the runner"
        );
        // SAFETY: shutting down our own socket.
        unsafe { libc::shutdown(link.fd.as_raw_fd(), libc::SHUT_RDWR) };
    }
}

/// A worker's message as the runner would have passed it on: tagged with
/// the script id. Load and unload reports never come on a link.
fn tagged(id: i32, kind: from_worker::Kind) -> Option<RunnerMessage> {
    use runner_message::Kind as In;
    let kind = match kind {
        from_worker::Kind::HookResult(mut r) => {
            r.script_id = id;
            In::HookResult(r)
        }
        from_worker::Kind::HubCall(mut c) => {
            c.script_id = id;
            In::HubCall(c)
        }
        from_worker::Kind::DynamicCall(mut c) => {
            c.script_id = id;
            In::DynamicCall(c)
        }
        from_worker::Kind::FunctionResult(mut r) => {
            r.script_id = id;
            In::FunctionResult(r)
        }
        from_worker::Kind::Pong(mut p) => {
            p.script_id = id;
            In::Pong(p)
        }
        from_worker::Kind::Loaded(_) | from_worker::Kind::Unloaded(_) => return None,
    };
    Some(RunnerMessage { kind: Some(kind) })
}
