//! `vh-runner install-shim` and `uninstall-shim`: put the shim
//! in the place of every wrapper file python_pi would load, and put the
//! originals back.
//!
//! Which files: [`survey`] (docs/abi.md §1.1, §1.3). How: a file a
//! running hub has mapped is never written in place (that corrupts the
//! hub's code); the shim is written to a new file in the same directory,
//! fsynced, and renamed over the old name, so a running hub keeps its old
//! inode. The original stays as `NAME.orig` (a hard link to its inode).
//! Both commands check everything before they change anything, are
//! idempotent, and refuse with a [`Refusal`] (exit 2) when something does
//! not match.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::elf::{self, Object, PLUGIN, WRAPPER};
pub use crate::swap::{keep_original, orig_of, replace, sync_dir};

/// A clear "no": something does not match, nothing was changed. The
/// command exits 2 with this message.
#[derive(Debug)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

fn refuse<T>(msg: impl Into<String>) -> Result<T> {
    Err(Refusal(msg.into()).into())
}

/// Where python_pi is usually installed (Verlihub's CMake `PLUGINDIR`
/// defaults to its `LIBDIR`).
pub const PLUGIN_DIRS: &[&str] = &[
    "/usr/local/lib",
    "/usr/local/lib64",
    "/usr/local/lib/verlihub",
    "/usr/lib",
    "/usr/lib64",
    "/usr/lib/verlihub",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
];

/// Finds `libpython_pi.so`: `arg` (the file, or a directory holding it),
/// else the one file in [`PLUGIN_DIRS`].
///
/// # Errors
/// A [`Refusal`] if none or several are found.
pub fn find_plugin(arg: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = arg {
        let p = if p.is_dir() {
            p.join(PLUGIN)
        } else {
            p.to_path_buf()
        };
        if !p.is_file() {
            return refuse(format!("no python_pi plugin at {}", p.display()));
        }
        return Ok(p);
    }
    let found: Vec<PathBuf> = PLUGIN_DIRS
        .iter()
        .map(|d| Path::new(d).join(PLUGIN))
        .filter(|p| p.is_file())
        .collect();
    match found.len() {
        0 => refuse(format!(
            "no {PLUGIN} in {}; name it with --plugin PATH",
            PLUGIN_DIRS.join(", ")
        )),
        1 => Ok(found.into_iter().next().unwrap_or_default()),
        _ => refuse(format!(
            "several python_pi plugins: {}; name one with --plugin PATH",
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// One wrapper file the plugin would load, and why.
#[derive(Debug, Clone)]
pub struct WrapperFile {
    /// Its path (a symlink is replaced as a name, not followed).
    pub path: PathBuf,
    /// Why the plugin loads it ("beside the plugin", "DT_NEEDED via the
    /// plugin's RUNPATH", ...).
    pub why: Vec<String>,
}

/// The plugin and every wrapper file it would load.
pub struct Survey {
    /// The plugin, read.
    pub plugin: Object,
    /// 'A' or 'B' (docs/abi.md §6.4; here from the file: B links the wrapper).
    pub generation: char,
    /// Existing wrapper files, without duplicates.
    pub wrappers: Vec<WrapperFile>,
    /// Places the plugin would look that hold no file.
    pub absent: Vec<(PathBuf, String)>,
}

/// The same name for two spellings of one path (its folder resolved).
fn key(p: &Path) -> PathBuf {
    match (
        p.parent().and_then(|d| d.canonicalize().ok()),
        p.file_name(),
    ) {
        (Some(d), Some(n)) => d.join(n),
        _ => p.to_path_buf(),
    }
}

/// Lists the wrapper files `plugin` would load: the `dlopen` paths
/// compiled into it (B tries its build-tree copy first, docs/abi.md §1.1), the
/// file beside it, and B's `DT_NEEDED` entry as the runtime linker finds it.
///
/// # Errors
/// The plugin cannot be read or parsed.
pub fn survey(plugin_path: &Path) -> Result<Survey> {
    let plugin = Object::read(plugin_path)?;
    let generation = if plugin.links_wrapper() { 'B' } else { 'A' };
    let mut wrappers: Vec<WrapperFile> = Vec::new();
    let mut absent = Vec::new();
    let mut add = |path: PathBuf, why: String, absent: &mut Vec<(PathBuf, String)>| {
        if std::fs::symlink_metadata(&path).is_err() {
            absent.push((path, why));
            return;
        }
        let k = key(&path);
        match wrappers.iter_mut().find(|w| key(&w.path) == k) {
            Some(w) => w.why.push(why),
            None => wrappers.push(WrapperFile {
                path,
                why: vec![why],
            }),
        }
    };
    for p in plugin.wrapper_paths() {
        let why = if generation == 'B' && p.ends_with(format!("plugins/python/{WRAPPER}")) {
            "generation B's build-tree copy (tried first)"
        } else {
            "python_pi's dlopen path"
        };
        add(p, why.into(), &mut absent);
    }
    if let Some(dir) = plugin_path.parent() {
        add(dir.join(WRAPPER), "beside the plugin".into(), &mut absent);
    }
    if generation == 'B' {
        match elf::resolve_needed(&plugin, WRAPPER) {
            Some((p, how)) => add(p, format!("DT_NEEDED, found through {how}"), &mut absent),
            None => absent.push((
                PathBuf::from(WRAPPER),
                "DT_NEEDED: not found in the plugin's RUNPATH, the ld.so cache or the default directories".into(),
            )),
        }
    }
    Ok(Survey {
        plugin,
        generation,
        wrappers,
        absent,
    })
}

/// Finds the shim to install: `arg`, else beside this executable, in
/// `../lib/vh-runner/` from it (the .deb), or in /usr/lib/vh-runner.
///
/// # Errors
/// A [`Refusal`] if there is none.
pub fn find_shim(arg: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = arg {
        return Ok(p.to_path_buf());
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf));
    let mut candidates = Vec::new();
    if let Some(d) = &exe_dir {
        candidates.push(d.join(WRAPPER));
        candidates.push(d.join("../lib/vh-runner").join(WRAPPER));
    }
    candidates.push(Path::new("/usr/lib/vh-runner").join(WRAPPER));
    match candidates.iter().find(|p| p.is_file()) {
        Some(p) => Ok(p.clone()),
        None => refuse(format!(
            "no shim found (looked at {}); name it with --shim PATH",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn labels(w: &WrapperFile) -> String {
    w.why.join("; ")
}

/// What install-shim does with one wrapper file.
enum Step {
    Nothing(&'static str),
    Install { keep_orig: bool },
}

/// `vh-runner install-shim`; returns what it did, one line each.
///
/// # Errors
/// A [`Refusal`] when something does not match (nothing changed), or an
/// I/O error while changing files.
pub fn install(plugin: Option<&Path>, shim: Option<&Path>) -> Result<String> {
    let shim_path = find_shim(shim)?;
    let shim = Object::read(&shim_path).map_err(|e| Refusal(format!("{e:#}")))?;
    if !shim.is_shim() {
        return refuse(format!("{} is not the vh-runner shim", shim_path.display()));
    }
    let missing = shim.missing_symbols();
    if !missing.is_empty() {
        return refuse(format!(
            "the shim {} lacks {} (docs/abi.md §1.2, §1.3)",
            shim_path.display(),
            missing.join(", ")
        ));
    }
    let survey = survey(&find_plugin(plugin)?).map_err(|e| Refusal(format!("{e:#}")))?;
    elf::same_machine(&survey.plugin, &shim).map_err(|e| Refusal(e.to_string()))?;
    let mut out = header(&survey);
    if survey.wrappers.is_empty() {
        return refuse(format!("{out}no wrapper file found: nothing to replace"));
    }
    // Check everything first.
    let mut plan = Vec::new();
    for w in &survey.wrappers {
        if key(&w.path) == key(&shim_path) {
            return refuse(format!(
                "{out}the shim to install is itself {}: copy it elsewhere first",
                w.path.display()
            ));
        }
        let cur = Object::read(&w.path).map_err(|e| Refusal(format!("{e:#}")))?;
        if !cur.is_wrapper() {
            return refuse(format!(
                "{out}{} does not export w_Begin, w_Load and w_CallHook: not a python_pi wrapper; left alone",
                w.path.display()
            ));
        }
        let orig = orig_of(&w.path);
        let step = if cur.bytes == shim.bytes {
            Step::Nothing("the shim is already in place")
        } else if cur.is_shim() {
            Step::Install { keep_orig: false }
        } else if orig.exists() {
            if std::fs::read(&orig).ok().as_deref() != Some(&cur.bytes[..]) {
                return refuse(format!(
                    "{out}{} is an original wrapper and {} holds a different one (a hub upgrade?): keep the one you want as {}, remove the other, and run install-shim again",
                    w.path.display(),
                    orig.display(),
                    orig.display()
                ));
            }
            Step::Install { keep_orig: false }
        } else {
            Step::Install { keep_orig: true }
        };
        plan.push((w, step));
    }
    for (w, step) in plan {
        let what = match step {
            Step::Nothing(why) => why.to_string(),
            Step::Install { keep_orig } => {
                let meta = std::fs::metadata(&w.path)?;
                let mut what = String::new();
                if keep_orig {
                    keep_original(&w.path, &meta)?;
                    what.push_str("original kept as .orig; ");
                } else if !orig_of(&w.path).exists() {
                    what.push_str("no .orig to keep (it was already a shim); ");
                }
                replace(&w.path, &shim.bytes, &meta)?;
                let now = Object::read(&w.path)?;
                let missing = now.missing_symbols();
                if now.bytes != shim.bytes || !missing.is_empty() {
                    anyhow::bail!(
                        "{} does not read back as the shim (missing: {})",
                        w.path.display(),
                        missing.join(", ")
                    );
                }
                what.push_str("shim installed (write + rename), symbols checked");
                what
            }
        };
        let _ = writeln!(out, "  {} [{}]: {what}", w.path.display(), labels(w));
    }
    let _ = writeln!(
        out,
        "done; a running hub picks the shim up at its next `!onplug python` or restart"
    );
    Ok(out)
}

fn header(s: &Survey) -> String {
    let mut out = format!(
        "python_pi: {} (generation {}{})\n",
        s.plugin.path.display(),
        s.generation,
        if s.generation == 'B' {
            ": links the wrapper directly"
        } else {
            ""
        }
    );
    for (p, why) in &s.absent {
        let _ = writeln!(out, "  {} [{why}]: no such file; skipped", p.display());
    }
    out
}

/// `vh-runner uninstall-shim`; returns what it did, one line each.
///
/// # Errors
/// A [`Refusal`] when something does not match (nothing changed), or an
/// I/O error while changing files.
pub fn uninstall(plugin: Option<&Path>) -> Result<String> {
    let survey = survey(&find_plugin(plugin)?).map_err(|e| Refusal(format!("{e:#}")))?;
    let mut out = header(&survey);
    if survey.wrappers.is_empty() {
        return refuse(format!("{out}no wrapper file found"));
    }
    let mut plan = Vec::new();
    for w in &survey.wrappers {
        let cur = Object::read(&w.path).map_err(|e| Refusal(format!("{e:#}")))?;
        let orig = orig_of(&w.path);
        let orig_obj = if orig.exists() {
            Some(Object::read(&orig).map_err(|e| Refusal(format!("{e:#}")))?)
        } else {
            None
        };
        let restore = match (cur.is_shim(), &orig_obj) {
            (false, None) => false,
            (false, Some(o)) if o.bytes == cur.bytes => false,
            (false, Some(_)) => {
                return refuse(format!(
                    "{out}{} is not the shim and {} differs from it: left both alone",
                    w.path.display(),
                    orig.display()
                ));
            }
            (true, None) => {
                return refuse(format!(
                    "{out}{} is the shim but there is no {} to restore",
                    w.path.display(),
                    orig.display()
                ));
            }
            (true, Some(o)) if o.is_shim() || !o.is_wrapper() => {
                return refuse(format!(
                    "{out}{} is not an original python_pi wrapper: not restored",
                    orig.display()
                ));
            }
            (true, Some(_)) => true,
        };
        plan.push((w, restore));
    }
    for (w, restore) in plan {
        let what = if restore {
            // rename(2) is the write + rename: the shim's inode lives on
            // in a hub that has it mapped.
            std::fs::rename(orig_of(&w.path), &w.path)
                .with_context(|| format!("restoring {}", w.path.display()))?;
            sync_dir(w.path.parent().unwrap_or(Path::new(".")))?;
            "original restored from .orig (rename)"
        } else if orig_of(&w.path).exists() {
            std::fs::remove_file(orig_of(&w.path))?;
            "already the original; its identical .orig removed"
        } else {
            "already the original"
        };
        let _ = writeln!(out, "  {} [{}]: {what}", w.path.display(), labels(w));
    }
    let _ = writeln!(
        out,
        "done; a running hub picks the original up at its next `!onplug python` or restart"
    );
    Ok(out)
}
