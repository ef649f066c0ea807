//! The shim's sockets, all numbered 3 or more (docs/abi.md
//! §1.1): a hub may run with fds 0, 1 and 2 closed, and its `printf` log
//! lines (and anything else it writes to "stdout") must never land in the
//! shim's socket to the runner. See `vh_proto::fd` (and
//! `vh_proto::direct::wake::eventfd` for the eventfd).

use std::os::fd::OwnedFd;
use std::path::Path;

use tokio::net::UnixStream;
use vh_proto::fd::above_stdio;

/// Connects to the Unix socket at `path`; the socket is numbered 3 or more.
///
/// # Errors
/// The connect or `fcntl` error.
pub async fn connect(path: &Path) -> std::io::Result<UnixStream> {
    let low = UnixStream::connect(path).await?.into_std()?;
    let high = std::os::unix::net::UnixStream::from(above_stdio(OwnedFd::from(low))?);
    high.set_nonblocking(true)?;
    UnixStream::from_std(high)
}
