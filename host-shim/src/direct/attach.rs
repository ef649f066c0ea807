//! How links arrive: the shim's side connection to the runner socket,
//! on which the runner passes each worker's end of a socketpair
//! (`SCM_RIGHTS`) after the shim's token (docs/protocol.md "Direct links").

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use tokio::io::{AsyncWriteExt, Interest};

use super::{DirectLink, Links};
use crate::shim_log;

/// First bytes of the shim's direct-link connection to the runner socket
/// (runner: `vh_runner::direct::MAGIC`).
const MAGIC: &[u8; 8] = b"VHLINK01";
/// 16 random bytes for `Hello.direct_token`, or `None` if the kernel has
/// none to give (then the shim takes no links).
pub fn new_token() -> Option<Vec<u8>> {
    let mut token = vec![0u8; 16];
    // SAFETY: writes at most 16 bytes into `token`.
    let n = unsafe { libc::getrandom(token.as_mut_ptr().cast(), token.len(), 0) };
    (n == 16).then_some(token)
}

/// Opens the direct-link connection to the runner at `socket` and adopts
/// every link the runner sends on it, until the runner closes it.
pub async fn attach(socket: &Path, token: &[u8], links: Arc<Links>) {
    let mut conn = match crate::fds::connect(socket).await {
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
            Ok(Some((id, fd, compact))) => adopt(id, fd, compact, &links),
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

/// Receives one `(script id, fd, compact)` message (8 bytes: the script
/// id, little-endian; 1 in the fifth byte for a Python 2 worker's link,
/// which takes compact frames; then zeros); `None` at the end of the
/// stream.
fn receive_link(conn: RawFd) -> std::io::Result<Option<(i32, OwnedFd, bool)>> {
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
                // It came at the lowest free number, which may be 0..2.
                if fd.is_none() {
                    fd = Some(vh_proto::fd::above_stdio(owned)?);
                }
            }
        }
    }
    let bytes = msg.bytes;
    let id = i32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    match fd {
        Some(fd) if bytes == 8 => Ok(Some((id, fd, head[4] == 1))),
        _ => Err(std::io::Error::other(
            "a direct-link message without a descriptor",
        )),
    }
}

/// Makes `fd` script `id`'s link (`compact`: a Python 2 worker's, see
/// `vh_proto::direct::compact`). Only the hub thread reads and writes it
/// from here on.
fn adopt(id: i32, fd: OwnedFd, compact: bool, links: &Links) {
    // SAFETY: fcntl on a descriptor we own.
    let ok = unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    };
    if !ok {
        shim_log!(
            1,
            "script #{id}: no direct link: {}",
            std::io::Error::last_os_error()
        );
        return;
    }
    links.insert(Arc::new(DirectLink {
        script_id: id,
        fd,
        broken: AtomicBool::new(false),
        compact,
        inbox: Mutex::new(vh_proto::direct::frame::Inbox::default()),
        out: Mutex::default(),
        owed: Mutex::default(),
    }));
}
