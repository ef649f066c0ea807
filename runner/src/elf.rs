//! What `install-shim`, `uninstall-shim` and `doctor` need to know about
//! python_pi (`libpython_pi.so`) and its wrapper (`libvh_python_wrapper.so`):
//! which wrapper files the plugin would load (docs/abi.md §1.1:
//! the path compiled into the plugin, generation B's build-tree copy first,
//! and B's `DT_NEEDED` entry resolved as the runtime linker does), and
//! whether a wrapper file is the vh-runner shim or an original.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use goblin::elf::Elf;
use goblin::elf::section_header::SHN_UNDEF;
use goblin::elf::sym::{STB_GLOBAL, STB_WEAK};

/// The wrapper's file name (docs/abi.md §1.1: fixed by python_pi).
pub const WRAPPER: &str = "libvh_python_wrapper.so";
/// The plugin's file name.
pub const PLUGIN: &str = "libpython_pi.so";

/// Symbols python_pi resolves with `dlsym` (docs/abi.md §1.2; `w_CallFunction`
/// is required by generation B) and those generation B links directly
/// against (docs/abi.md §1.3). A wrapper that lacks one leaves the plugin offline
/// or unloadable.
pub const REQUIRED_SYMBOLS: &[&str] = &[
    "w_Begin",
    "w_End",
    "w_ReserveID",
    "w_Load",
    "w_Unload",
    "w_HasHook",
    "w_CallHook",
    "w_CallFunction",
    "w_HookName",
    "w_pack",
    "w_unpack",
    "w_LogLevel",
    "w_packprint",
    "w_free_args",
    "_ZN9nVerliHub13nPythonPlugin16stringListToJsonERKSt6vectorINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEESaIS7_EE",
];

/// Bytes only the shim holds: the variable naming its runner socket. No
/// original wrapper mentions the runner.
const SHIM_MARK: &[u8] = b"VH_RUNNER_SOCKET";

/// One ELF shared object, read whole.
pub struct Object {
    /// Where it was read from.
    pub path: PathBuf,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// `e_machine` and 64-bitness: a library of another machine cannot be
    /// loaded by the plugin.
    pub machine: (u16, bool),
    /// `DT_NEEDED` entries.
    pub needed: Vec<String>,
    /// `DT_RUNPATH` entries, or `DT_RPATH` ones if there is no RUNPATH
    /// (`$ORIGIN` expanded), split on `:`.
    pub search_path: Vec<PathBuf>,
    /// Defined global or weak dynamic symbols.
    pub exports: Vec<String>,
}

impl Object {
    /// Reads and parses `path`.
    ///
    /// # Errors
    /// The file cannot be read or is not an ELF object.
    pub fn read(path: &Path) -> Result<Object> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let (machine, needed, paths, exports) = {
            let elf = Elf::parse(&bytes)
                .with_context(|| format!("{} is not an ELF shared object", path.display()))?;
            let exports = elf
                .dynsyms
                .iter()
                .filter(|s| {
                    s.st_shndx != SHN_UNDEF as usize && matches!(s.st_bind(), STB_GLOBAL | STB_WEAK)
                })
                .filter_map(|s| elf.dynstrtab.get_at(s.st_name).map(str::to_string))
                .collect();
            let paths = if elf.runpaths.is_empty() {
                &elf.rpaths
            } else {
                &elf.runpaths
            };
            (
                (elf.header.e_machine, elf.is_64),
                elf.libraries.iter().map(|s| s.to_string()).collect(),
                paths.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                exports,
            )
        };
        let origin = path.parent().unwrap_or(Path::new("/"));
        let search_path = paths
            .iter()
            .flat_map(|p| p.split(':'))
            .filter(|p| !p.is_empty())
            .map(|p| {
                PathBuf::from(
                    p.replace("${ORIGIN}", &origin.to_string_lossy())
                        .replace("$ORIGIN", &origin.to_string_lossy()),
                )
            })
            .collect();
        Ok(Object {
            path: path.to_path_buf(),
            bytes,
            machine,
            needed,
            search_path,
            exports,
        })
    }

    /// True if it is the vh-runner shim.
    pub fn is_shim(&self) -> bool {
        contains(&self.bytes, SHIM_MARK)
    }

    /// Symbols of [`REQUIRED_SYMBOLS`] it does not export.
    pub fn missing_symbols(&self) -> Vec<&'static str> {
        REQUIRED_SYMBOLS
            .iter()
            .copied()
            .filter(|s| !self.exports.iter().any(|e| e == s))
            .collect()
    }

    /// True if it exports what every wrapper has (an original of either
    /// generation, or the shim).
    pub fn is_wrapper(&self) -> bool {
        ["w_Begin", "w_Load", "w_CallHook"]
            .iter()
            .all(|s| self.exports.iter().any(|e| e == s))
    }

    /// Absolute paths to a wrapper file compiled into it (python_pi's
    /// `dlopen` targets, docs/abi.md §1.1), in the order they appear.
    pub fn wrapper_paths(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for chunk in self.bytes.split(|&b| b == 0) {
            let Ok(s) = std::str::from_utf8(chunk) else {
                continue;
            };
            if s.starts_with('/') && s.ends_with(&format!("/{WRAPPER}")) {
                let p = PathBuf::from(s);
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// True if it links the wrapper directly (generation B, docs/abi.md §1.3).
    pub fn links_wrapper(&self) -> bool {
        self.needed.iter().any(|n| n == WRAPPER)
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Where the runtime linker finds `name` for `plugin`, and by which rule:
/// the plugin's RUNPATH/RPATH, then `ldconfig -p` (the ld.so cache), then
/// the default directories. `LD_LIBRARY_PATH` of the hub is not known here.
pub fn resolve_needed(plugin: &Object, name: &str) -> Option<(PathBuf, &'static str)> {
    for dir in &plugin.search_path {
        let p = dir.join(name);
        if p.exists() {
            return Some((p, "the plugin's RUNPATH"));
        }
    }
    if let Some(p) = ldconfig_lookup(name) {
        return Some((p, "the ld.so cache"));
    }
    for dir in DEFAULT_LIB_DIRS {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return Some((p, "a default library directory"));
        }
    }
    None
}

/// The runtime linker's default directories (and Debian's multiarch ones).
const DEFAULT_LIB_DIRS: &[&str] = &[
    "/lib",
    "/usr/lib",
    "/lib64",
    "/usr/lib64",
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
];

fn ldconfig_lookup(name: &str) -> Option<PathBuf> {
    let out = ["/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"]
        .iter()
        .find_map(|exe| std::process::Command::new(exe).arg("-p").output().ok())?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let (lib, path) = l.trim().split_once(" => ")?;
        (lib.split_whitespace().next() == Some(name)).then(|| PathBuf::from(path.trim()))
    })
}

/// Checks that `lib` can be loaded beside `plugin` (same machine and class).
///
/// # Errors
/// A clear message if not.
pub fn same_machine(plugin: &Object, lib: &Object) -> Result<()> {
    if plugin.machine != lib.machine {
        bail!(
            "{} is for another machine than {} (e_machine {} / {}-bit against {} / {}-bit)",
            lib.path.display(),
            plugin.path.display(),
            lib.machine.0,
            if lib.machine.1 { 64 } else { 32 },
            plugin.machine.0,
            if plugin.machine.1 { 64 } else { 32 },
        );
    }
    Ok(())
}
