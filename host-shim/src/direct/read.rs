//! The hub thread's reads on a direct link: whole frames out of what the
//! worker sent so far, as runner messages tagged with the script id.

use std::os::fd::AsRawFd;

use vh_proto::direct::frame;
use vh_proto::v1::{FromWorker, RunnerMessage, from_worker, runner_message};

use super::DirectLink;
use crate::shim_log;

impl DirectLink {
    /// Reads what the worker has sent so far without blocking and returns
    /// every whole message in it, tagged with the script id as the runner
    /// would tag it.
    ///
    /// # Errors
    /// The worker closed its end (`None`: it exited; the runner reports
    /// why), or sent something that is not a frame (`Some(why)`); the
    /// link is closed either way.
    pub fn read_available(&self) -> Result<Vec<RunnerMessage>, Option<String>> {
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        let mut chunk = [0u8; 16 * 1024];
        let mut closed = false;
        loop {
            // SAFETY: `chunk` is valid for writes of its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    chunk.as_mut_ptr().cast(),
                    chunk.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            match n {
                0 => {
                    closed = true;
                    break;
                }
                n if n > 0 => inbox.extend_from_slice(&chunk[..n as usize]),
                _ => match std::io::Error::last_os_error().kind() {
                    std::io::ErrorKind::Interrupted => {}
                    std::io::ErrorKind::WouldBlock => break,
                    _ => {
                        closed = true;
                        break;
                    }
                },
            }
        }
        let mut out = Vec::new();
        let mut used = 0;
        let bad = loop {
            match frame::decode::<FromWorker>(&inbox[used..]) {
                Ok(None) => break None,
                Ok(Some((msg, took))) => {
                    if let Some(msg) = msg.kind.and_then(|k| tagged(self.script_id, k)) {
                        out.push(msg);
                    }
                    used += took;
                }
                Err(e) => break Some(format!("a bad frame: {e}")),
            }
        };
        inbox.drain(..used);
        if let Some(why) = bad {
            self.close();
            shim_log!(
                0,
                "script #{}: {why} on its direct link; the link is closed, its hooks go through the runner",
                self.script_id
            );
            return Err(Some(why));
        }
        if closed && out.is_empty() {
            self.close();
            return Err(None);
        }
        Ok(out)
    }
}

/// A worker's message as the runner would have passed it on: tagged with
/// the script id. Load and unload reports never come on a link.
fn tagged(id: i32, kind: from_worker::Kind) -> Option<RunnerMessage> {
    let kind = match kind {
        from_worker::Kind::HookResult(mut r) => {
            r.script_id = id;
            runner_message::Kind::HookResult(r)
        }
        from_worker::Kind::HubCall(mut c) => {
            c.script_id = id;
            runner_message::Kind::HubCall(c)
        }
        from_worker::Kind::DynamicCall(mut c) => {
            c.script_id = id;
            runner_message::Kind::DynamicCall(c)
        }
        from_worker::Kind::FunctionResult(mut r) => {
            r.script_id = id;
            runner_message::Kind::FunctionResult(r)
        }
        from_worker::Kind::Pong(mut p) => {
            p.script_id = id;
            runner_message::Kind::Pong(p)
        }
        from_worker::Kind::Loaded(_) | from_worker::Kind::Unloaded(_) => return None,
    };
    Some(RunnerMessage { kind: Some(kind) })
}
