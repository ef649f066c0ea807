//! Replacing a library that a running hub may have mapped:
//! never in place (`cp` keeps the inode and changes the code under the
//! hub), always a new file in the same folder, fsynced, renamed over the
//! old name; the folder fsynced after.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// `NAME.orig` beside `path`.
pub fn orig_of(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".orig");
    PathBuf::from(s)
}

/// Writes `bytes` to a new file beside `path` with `like`'s mode and
/// owner, fsyncs it, renames it over `path` and fsyncs the folder: a
/// process that has the old file mapped keeps its old inode intact.
///
/// # Errors
/// Any I/O failure (the new file is removed then; `path` is unchanged).
pub fn replace(path: &Path, bytes: &[u8], like: &std::fs::Metadata) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.vh-runner-{}.new", std::process::id()));
    let write = || -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(like.mode() & 0o7777)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        // As the file it replaces; only root may give it away.
        let _ = std::os::unix::fs::fchown(&f, Some(like.uid()), Some(like.gid()));
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(
            like.mode() & 0o7777,
        ))?;
        f.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// fsyncs a folder, so that a rename in it is on disk.
///
/// # Errors
/// Any I/O failure.
pub fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing the folder {}", dir.display()))
}

/// The original as `NAME.orig`: a hard link to its inode, or a copy made
/// by write + rename where links are not possible.
///
/// # Errors
/// Any I/O failure.
pub fn keep_original(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    let orig = orig_of(path);
    if std::fs::hard_link(path, &orig).is_err() {
        let bytes = std::fs::read(path)?;
        replace(&orig, &bytes, meta)?;
    }
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}
