//! Who may use the runner's socket: the runner's own uid, members of the
//! socket's group, and the configured `allow_uids`; checked per connection
//! with SO_PEERCRED (the file mode is the first gate, this the second).

use anyhow::{Context, Result};
use tokio::net::UnixStream;

use crate::config::Config;

/// The allow list of one runner.
#[derive(Debug, Clone)]
pub struct Access {
    own_uid: u32,
    group: u32,
    socket_gid: Option<u32>,
    extra: Vec<u32>,
}

/// The supplementary groups of `pid` (from `/proc/<pid>/status`).
fn groups_of(pid: i32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Groups:")).map(|g| {
                g.split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
        })
        .unwrap_or_default()
}

impl Access {
    /// The allow list of `config`.
    ///
    /// # Errors
    /// `socket_group` names no group.
    pub fn from_config(config: &Config) -> Result<Access> {
        let socket_gid = match &config.socket_group {
            None => None,
            Some(g) => Some(match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => nix::unistd::Group::from_name(g)
                    .with_context(|| format!("looking up socket_group {g:?}"))?
                    .with_context(|| format!("socket_group: no group named {g:?}"))?
                    .gid
                    .as_raw(),
            }),
        };
        Ok(Access {
            own_uid: nix::unistd::getuid().as_raw(),
            group: socket_gid.unwrap_or_else(|| nix::unistd::getgid().as_raw()),
            socket_gid,
            extra: config.allow_uids.clone(),
        })
    }

    /// The gid to give the socket file, if configured.
    pub fn socket_gid(&self) -> Option<u32> {
        self.socket_gid
    }

    /// True if a peer with these credentials may connect.
    pub fn allows(&self, uid: u32, gid: u32, pid: Option<i32>) -> bool {
        uid == self.own_uid
            || self.extra.contains(&uid)
            || gid == self.group
            || pid.is_some_and(|p| groups_of(p).contains(&self.group))
    }

    /// Checks a new connection; logs and refuses one that is not allowed.
    pub fn admit(&self, stream: &UnixStream) -> bool {
        match stream.peer_cred() {
            // Same uid, but a sandboxed script (sandbox::peers).
            Ok(c) if c.pid().is_some_and(crate::sandbox::peers::inside) => {
                tracing::warn!(
                    pid = c.pid(),
                    "refused a connection from a sandboxed script's process"
                );
                false
            }
            Ok(c) if self.allows(c.uid(), c.gid(), c.pid()) => true,
            Ok(c) => {
                tracing::warn!(
                    uid = c.uid(),
                    gid = c.gid(),
                    pid = c.pid(),
                    "refused a connection: uid not allowed"
                );
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused a connection: no peer credentials");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_uid_group_and_extra_uids_are_allowed() {
        let a = Access {
            own_uid: 1000,
            group: 500,
            socket_gid: Some(500),
            extra: vec![42],
        };
        assert!(a.allows(1000, 1, None));
        assert!(a.allows(7, 500, None));
        assert!(a.allows(42, 1, None));
        assert!(!a.allows(7, 1, None));
    }
}
