//! Linux Landlock through its three raw syscalls (the kernel's
//! `<linux/landlock.h>`): ask the kernel's ABI version, build a ruleset in
//! the runner, and restrict a freshly forked worker with it before `exec`.
//!
//! No crate: the worker side has to run between `fork` and `exec`, where
//! only async-signal-safe calls are allowed (no allocation, no locks), so
//! the ruleset is built here in the parent and the child only adds its own
//! `/proc/self` and calls `prctl(PR_SET_NO_NEW_PRIVS)` and
//! `landlock_restrict_self` ([`ChildHook::enforce`]).
//!
//! What each ABI adds: 1 file access; 2 `REFER` (moving files between
//! folders); 3 `TRUNCATE`; 4 TCP bind/connect rules; 5 device ioctls; 6
//! scopes (signals and abstract Unix sockets stay inside the sandbox); 7
//! audit logging flags.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

/// `landlock_create_ruleset` flag: return the ABI version.
const CREATE_RULESET_VERSION: u32 = 1 << 0;
/// `landlock_add_rule` rule type: a file hierarchy.
const RULE_PATH_BENEATH: libc::c_int = 1;

/// Run a file (`execve`).
pub const FS_EXECUTE: u64 = 1 << 0;
/// Open a file for writing.
pub const FS_WRITE_FILE: u64 = 1 << 1;
/// Open a file for reading.
pub const FS_READ_FILE: u64 = 1 << 2;
/// List a folder.
pub const FS_READ_DIR: u64 = 1 << 3;
/// Remove an empty folder.
pub const FS_REMOVE_DIR: u64 = 1 << 4;
/// Remove (unlink) a file.
pub const FS_REMOVE_FILE: u64 = 1 << 5;
/// Create a character device.
pub const FS_MAKE_CHAR: u64 = 1 << 6;
/// Create a folder.
pub const FS_MAKE_DIR: u64 = 1 << 7;
/// Create a regular file.
pub const FS_MAKE_REG: u64 = 1 << 8;
/// Create a Unix socket file.
pub const FS_MAKE_SOCK: u64 = 1 << 9;
/// Create a named pipe.
pub const FS_MAKE_FIFO: u64 = 1 << 10;
/// Create a block device.
pub const FS_MAKE_BLOCK: u64 = 1 << 11;
/// Create a symbolic link.
pub const FS_MAKE_SYM: u64 = 1 << 12;
/// Link or rename a file into another folder (ABI 2).
pub const FS_REFER: u64 = 1 << 13;
/// Truncate a file (ABI 3).
pub const FS_TRUNCATE: u64 = 1 << 14;
/// ioctl on a device file (ABI 5).
pub const FS_IOCTL_DEV: u64 = 1 << 15;

/// Bind a TCP port (ABI 4).
pub const NET_BIND_TCP: u64 = 1 << 0;
/// Connect to a TCP port (ABI 4).
pub const NET_CONNECT_TCP: u64 = 1 << 1;

/// No connecting to abstract Unix sockets made outside the sandbox (ABI 6).
pub const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
/// No signals to processes outside the sandbox (ABI 6).
pub const SCOPE_SIGNAL: u64 = 1 << 1;

/// Read files and list folders.
pub const READ: u64 = FS_READ_FILE | FS_READ_DIR;
/// Read, list and run.
pub const READ_EXEC: u64 = READ | FS_EXECUTE;
/// Read and change everything in a folder (no running, no devices).
pub const READ_WRITE: u64 = READ
    | FS_WRITE_FILE
    | FS_REMOVE_DIR
    | FS_REMOVE_FILE
    | FS_MAKE_DIR
    | FS_MAKE_REG
    | FS_MAKE_SOCK
    | FS_MAKE_FIFO
    | FS_MAKE_SYM
    | FS_REFER
    | FS_TRUNCATE;
/// The rights that apply to a file (not a folder).
const FILE_RIGHTS: u64 = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;

/// `struct landlock_ruleset_attr` (ABI 6 layout; an older kernel accepts
/// it as long as the fields it does not know are zero).
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_path_beneath_attr`.
#[repr(C, packed)]
#[derive(Clone, Copy)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The kernel's Landlock ABI version (1..), or `None` when the kernel has
/// no Landlock or it is disabled at boot (`lsm=` without `landlock`).
/// Asked once per process.
pub fn kernel_abi() -> Option<u32> {
    static ABI: OnceLock<Option<u32>> = OnceLock::new();
    *ABI.get_or_init(|| {
        // SAFETY: a NULL attribute with size 0 and the VERSION flag is the
        // documented way to ask the version; nothing is written.
        let v = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<RulesetAttr>(),
                0usize,
                CREATE_RULESET_VERSION,
            )
        };
        u32::try_from(v).ok().filter(|v| *v >= 1)
    })
}

/// One line for `vh-runner doctor`: the kernel's Landlock ABI and what the
/// sandbox can enforce with it (docs/admin.md "Sandbox").
pub fn describe_kernel_abi() -> String {
    match kernel_abi() {
        None => "Landlock: not available in this kernel; `sandbox = true` is not enforced \
                 (scripts with `sandbox_required = true` are refused)"
            .into(),
        Some(abi) => {
            let mut what = vec!["files"];
            if abi >= 4 {
                what.push("TCP bind/connect (network = false)");
            } else {
                what.push("no network rules (network = false not enforced; needs ABI 4)");
            }
            if abi >= 6 {
                what.push("signals and abstract sockets kept inside");
            }
            format!("Landlock: ABI {abi}: {}", what.join(", "))
        }
    }
}

/// File-system rights the kernel of ABI `abi` knows.
pub fn fs_rights(abi: u32) -> u64 {
    let mut all = (1 << 13) - 1;
    if abi >= 2 {
        all |= FS_REFER;
    }
    if abi >= 3 {
        all |= FS_TRUNCATE;
    }
    if abi >= 5 {
        all |= FS_IOCTL_DEV;
    }
    all
}

/// A Landlock ruleset being built in the runner for one worker.
pub struct Ruleset {
    fd: OwnedFd,
    handled_fs: u64,
}

impl Ruleset {
    /// A ruleset that handles (denies unless a rule allows) every file
    /// right the kernel of `abi` knows, TCP bind and connect when
    /// `deny_tcp` (ABI ≥ 4), and the signal and abstract-socket scopes
    /// (ABI ≥ 6).
    ///
    /// # Errors
    /// The kernel refused the ruleset (no Landlock, bad ABI).
    pub fn new(abi: u32, deny_tcp: bool) -> io::Result<Ruleset> {
        let handled_fs = fs_rights(abi);
        let attr = RulesetAttr {
            handled_access_fs: handled_fs,
            handled_access_net: if deny_tcp && abi >= 4 {
                NET_BIND_TCP | NET_CONNECT_TCP
            } else {
                0
            },
            scoped: if abi >= 6 {
                SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
            } else {
                0
            },
        };
        // Older kernels know a shorter struct and insist on exactly it
        // when the rest is not zero; the fields they lack are zero here.
        let size = if abi >= 6 {
            std::mem::size_of::<RulesetAttr>()
        } else if abi >= 4 {
            16
        } else {
            8
        };
        // SAFETY: `attr` is a valid landlock_ruleset_attr of at least `size` bytes.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &attr as *const RulesetAttr,
                size,
                0u32,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the syscall returned a new fd (O_CLOEXEC) that we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        // Above the fds the worker's spawn moves onto 3 and 4, so that
        // those dup2s can never close it before the child uses it.
        // SAFETY: plain fcntl on our own fd.
        let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
        if high < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fcntl returned a new fd that we own.
        let fd = unsafe { OwnedFd::from_raw_fd(high) };
        Ok(Ruleset { fd, handled_fs })
    }

    /// Allows `access` (file rights, masked to what the kernel knows and,
    /// for a file, to what applies to files) on `path` and everything
    /// below it. Symbolic links are followed: the rule is on the target.
    ///
    /// # Errors
    /// `NotFound` if the path does not exist; other open or kernel errors.
    pub fn allow(&mut self, path: &Path, access: u64) -> io::Result<()> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
        // SAFETY: `c` is a valid C string; O_PATH opens without reading.
        let raw = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: open returned a new fd that we own.
        let target = unsafe { OwnedFd::from_raw_fd(raw) };
        let is_dir = std::fs::metadata(path)?.is_dir();
        let mut allowed = access & self.handled_fs;
        if !is_dir {
            allowed &= FILE_RIGHTS;
        }
        if allowed == 0 {
            return Ok(());
        }
        let attr = PathBeneathAttr {
            allowed_access: allowed,
            parent_fd: target.as_raw_fd(),
        };
        // SAFETY: valid ruleset fd, rule type and attribute.
        let r = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                self.fd.as_raw_fd(),
                RULE_PATH_BENEATH,
                &attr as *const PathBeneathAttr,
                0u32,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// What the forked worker runs before `exec`; valid while `self` lives
    /// (keep the ruleset until `spawn` has returned).
    pub fn child_hook(&self, proc_self_access: u64) -> ChildHook {
        ChildHook {
            ruleset_fd: self.fd.as_raw_fd(),
            proc_self: proc_self_access & self.handled_fs,
        }
    }
}

/// The part of the sandbox that runs in the forked worker, between `fork`
/// and `exec`: plain data and raw syscalls only.
#[derive(Clone, Copy)]
pub struct ChildHook {
    ruleset_fd: RawFd,
    proc_self: u64,
}

impl ChildHook {
    /// Adds the worker's own `/proc/self` (opened here, in the child, it is
    /// the child's `/proc/<pid>`: opened in the runner it would be the
    /// runner's), then sets `no_new_privs` and restricts the process.
    ///
    /// The rule goes into the ruleset the runner built; that ruleset is the
    /// child's own (one per spawn), so the runner never sees it used again.
    ///
    /// # Safety
    /// Only between `fork` and `exec` of the worker (it restricts the
    /// calling process for good); async-signal-safe: no allocation, no
    /// locks, raw syscalls only.
    ///
    /// # Errors
    /// `prctl` or `landlock_restrict_self` failed; `spawn` reports it.
    pub unsafe fn enforce(&self) -> io::Result<()> {
        // SAFETY: a static C string; O_PATH needs no read right.
        let proc_fd = unsafe {
            libc::open(
                c"/proc/self".as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        // No /proc mounted: nothing to allow there.
        if proc_fd >= 0 && self.proc_self != 0 {
            let attr = PathBeneathAttr {
                allowed_access: self.proc_self,
                parent_fd: proc_fd,
            };
            // SAFETY: valid fds and attribute on this stack frame.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_landlock_add_rule,
                    self.ruleset_fd,
                    RULE_PATH_BENEATH,
                    &attr as *const PathBeneathAttr,
                    0u32,
                )
            };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        if proc_fd >= 0 {
            // SAFETY: our own fd.
            unsafe { libc::close(proc_fd) };
        }
        // SAFETY: plain prctl; required by landlock_restrict_self for an
        // unprivileged process, and keeps setuid programs from gaining rights.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: valid ruleset fd, no flags.
        if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, self.ruleset_fd, 0u32) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_grow_with_the_abi() {
        assert_eq!(fs_rights(1), (1 << 13) - 1);
        assert_eq!(fs_rights(2) & FS_REFER, FS_REFER);
        assert_eq!(fs_rights(2) & FS_TRUNCATE, 0);
        assert_eq!(fs_rights(7), (1 << 16) - 1);
        assert_eq!(READ_WRITE & (FS_EXECUTE | FS_MAKE_CHAR | FS_MAKE_BLOCK), 0);
    }

    #[test]
    fn a_ruleset_takes_rules_when_the_kernel_has_landlock() {
        let Some(abi) = kernel_abi() else {
            assert!(describe_kernel_abi().contains("not available"));
            return;
        };
        assert!(describe_kernel_abi().contains(&format!("ABI {abi}")));
        let mut rs = Ruleset::new(abi, true).unwrap();
        assert!(rs.fd.as_raw_fd() >= 10);
        rs.allow(Path::new("/dev/null"), READ_WRITE).unwrap();
        rs.allow(Path::new("/"), READ).unwrap();
        let err = rs.allow(Path::new("/no/such/path"), READ).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
