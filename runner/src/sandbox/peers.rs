//! Sandboxed workers may not use the runner's own socket. Landlock (up to
//! ABI 7) does not restrict connecting to a Unix socket by path, and the
//! socket admits the runner's own uid, which workers share: a sandboxed
//! script could otherwise attach as a hub and have the runner start an
//! unsandboxed worker, or stop other scripts. The runner keeps the pids of
//! its sandboxed workers; a connection whose peer is one of them or
//! descends from one (checked through `/proc/<pid>/stat`) is refused.
//!
//! Not covered: a process that left the worker's tree (double fork, its
//! parent gone, adopted by init); docs/admin.md "Sandbox" says so.

use std::collections::HashSet;
use std::sync::Mutex;

/// Ancestors looked at, at most (process trees are shallow).
const MAX_DEPTH: usize = 64;

static WORKERS: Mutex<Option<HashSet<u32>>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut HashSet<u32>) -> R) -> R {
    f(WORKERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashSet::new))
}

/// Registers a running sandboxed worker until dropped (drop it once the
/// worker has been reaped, so its pid cannot be reused meanwhile).
pub struct Registered(u32);

impl Registered {
    /// Marks `pid` as a sandboxed worker.
    pub fn new(pid: u32) -> Registered {
        with(|w| w.insert(pid));
        Registered(pid)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        with(|w| w.remove(&self.0));
    }
}

/// The parent pid of `pid`, from `/proc/<pid>/stat` (after the command
/// name, which may hold spaces and parentheses).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// True if `pid` is a sandboxed worker or one of its descendants.
pub fn inside(pid: i32) -> bool {
    let Ok(mut pid) = u32::try_from(pid) else {
        return false;
    };
    let workers: HashSet<u32> = with(|w| w.clone());
    if workers.is_empty() {
        return false;
    }
    for _ in 0..MAX_DEPTH {
        if workers.contains(&pid) {
            return true;
        }
        match parent_of(pid) {
            Some(parent) if parent > 1 => pid = parent,
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendants_of_a_registered_worker_are_inside() {
        let me = std::process::id();
        let parent = parent_of(me).unwrap();
        assert!(!inside(me as i32));
        {
            let _w = Registered::new(parent);
            assert!(inside(me as i32), "a child of a sandboxed worker");
            assert!(inside(parent as i32));
        }
        assert!(!inside(me as i32), "unregistered on drop");
        assert!(!inside(-1));
    }
}
