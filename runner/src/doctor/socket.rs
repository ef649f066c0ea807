//! `vh-runner doctor`'s socket check: is a runner listening on the
//! configured socket, does the file have the configured mode, and can the
//! hub's user reach it, through the folders (search permission), the file
//! mode (write permission, which `connect(2)` needs) and the runner's own
//! SO_PEERCRED check ([`crate::access`]: its uid, the socket's group, or
//! `allow_uids`).

use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::finding::Finding;
use crate::config::Config;

/// The hub's user as the kernel sees it.
struct HubUser {
    name: String,
    uid: u32,
    groups: Vec<u32>,
}

fn hub_user(name: &str) -> Option<HubUser> {
    let user = nix::unistd::User::from_name(name).ok().flatten()?;
    let cname = CString::new(name).ok()?;
    let groups = nix::unistd::getgrouplist(&cname, user.gid)
        .map(|g| g.iter().map(|g| g.as_raw()).collect())
        .unwrap_or_else(|_| vec![user.gid.as_raw()]);
    Some(HubUser {
        name: name.to_string(),
        uid: user.uid.as_raw(),
        groups,
    })
}

/// The permission bits (`rwx` as 4/2/1) `who` has on a file with `meta`.
fn bits_for(who: &HubUser, meta: &std::fs::Metadata) -> u32 {
    let mode = meta.mode();
    if who.uid == 0 {
        return 7;
    }
    if who.uid == meta.uid() {
        (mode >> 6) & 7
    } else if who.groups.contains(&meta.gid()) {
        (mode >> 3) & 7
    } else {
        mode & 7
    }
}

fn group_name(gid: u32) -> String {
    nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
        .ok()
        .flatten()
        .map_or_else(|| gid.to_string(), |g| g.name)
}

/// Adds the socket's findings to `out`.
pub fn check(config: &Config, hub_user_name: &str, out: &mut Vec<Finding>) {
    let path = &config.socket;
    let meta = match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_socket() => m,
        Ok(_) => {
            out.push(Finding::problem(
                "socket",
                format!("{} is not a socket", path.display()),
                "remove it, or set `socket` in runner.toml to another path",
            ));
            return;
        }
        Err(_) => {
            out.push(Finding::problem(
                "socket",
                format!("no socket at {}: the runner is not running (or uses another socket)", path.display()),
                "`systemctl start vh-runner` (`journalctl -u vh-runner` says why it stopped), or `vh-runner serve`",
            ));
            return;
        }
    };
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => out.push(Finding::ok(
            "socket",
            format!("{}: a runner listens", path.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => out.push(Finding::note(
            "socket",
            format!(
                "{}: cannot connect as this user to see whether a runner listens",
                path.display()
            ),
            "run doctor as root or as the hub's user",
        )),
        Err(e) => out.push(Finding::problem(
            "socket",
            format!(
                "{}: no runner answers ({e}); a stale socket",
                path.display()
            ),
            "`systemctl restart vh-runner` (it removes a stale socket)",
        )),
    }
    if let Ok(want) = config.socket_mode_bits() {
        let have = meta.mode() & 0o777;
        if have != want {
            out.push(Finding::problem(
                "socket",
                format!(
                    "{} has mode {have:04o}, runner.toml says socket_mode = \"{want:04o}\": the runner serving it has another configuration",
                    path.display()
                ),
                "restart the runner with this configuration (`systemctl restart vh-runner`)",
            ));
        }
    }
    let Some(hub) = hub_user(hub_user_name) else {
        out.push(Finding::problem(
            "socket",
            format!("no user {hub_user_name:?} to check the hub's access for"),
            "name the user the hub runs as with --hub-user NAME",
        ));
        return;
    };
    check_access(config, path, &meta, &hub, out);
}

fn check_access(
    config: &Config,
    path: &Path,
    meta: &std::fs::Metadata,
    hub: &HubUser,
    out: &mut Vec<Finding>,
) {
    let group = group_name(meta.gid());
    for dir in path.ancestors().skip(1) {
        let Ok(m) = std::fs::metadata(dir) else {
            continue;
        };
        if bits_for(hub, &m) & 1 == 0 {
            out.push(Finding::problem(
                "socket",
                format!(
                    "{} cannot enter {} (mode {:04o}, group {})",
                    hub.name,
                    dir.display(),
                    m.mode() & 0o7777,
                    group_name(m.gid())
                ),
                format!(
                    "put {} in group {}: `usermod -aG {} {}`, then restart the hub",
                    hub.name,
                    group_name(m.gid()),
                    group_name(m.gid()),
                    hub.name
                ),
            ));
            return;
        }
    }
    if bits_for(hub, meta) & 2 == 0 {
        out.push(Finding::problem(
            "socket",
            format!(
                "{} may not connect to {} (mode {:04o}, group {group})",
                hub.name,
                path.display(),
                meta.mode() & 0o777
            ),
            format!(
                "`usermod -aG {group} {}` and restart the hub, or set socket_group = \"<the hub's group>\" in runner.toml",
                hub.name
            ),
        ));
        return;
    }
    // The runner's second gate, SO_PEERCRED (crate::access): the runner's
    // uid (the socket's owner), the socket's group, or allow_uids.
    let admitted = hub.uid == meta.uid()
        || hub.groups.contains(&meta.gid())
        || config.allow_uids.contains(&hub.uid);
    if !admitted {
        out.push(Finding::problem(
            "socket",
            format!(
                "the file mode lets {} in, but the runner refuses it: not the runner's user, not in group {group}, not in allow_uids",
                hub.name
            ),
            format!("`usermod -aG {group} {}`, or add uid {} to allow_uids in runner.toml", hub.name, hub.uid),
        ));
        return;
    }
    out.push(Finding::ok(
        "socket",
        format!(
            "{} can connect (mode {:04o}, group {group})",
            hub.name,
            meta.mode() & 0o777
        ),
    ));
}
