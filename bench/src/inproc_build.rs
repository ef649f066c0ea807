//! Building `c/inproc.c` against an embedded CPython, shared by
//! `build.rs` (Python 3, when the bench is built) and the `inproc` module
//! (Python 2.7, when the bench runs and knows its interpreter): the flags
//! come from that Python's own `python-config` script.

use std::path::Path;
use std::process::Command;

/// Runs the `python-config` script `tool` with `args` (`--includes`,
/// `--ldflags`, ...) and splits its output into flags.
///
/// # Errors
/// The script did not run or failed; the message says which and why.
pub fn config_flags(tool: &Path, args: &[&str]) -> Result<Vec<String>, String> {
    let out = Command::new(tool)
        .args(args)
        .output()
        .map_err(|e| format!("running {}: {e}", tool.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {} failed: {}",
            tool.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect())
}

/// Compiles and links `source` into `program` with `compiler` (a C
/// compiler's command, nothing added yet), `includes` and `ldflags`.
///
/// # Errors
/// The compiler did not run or failed; its messages are given.
pub fn compile(
    mut compiler: Command,
    source: &Path,
    program: &Path,
    includes: &[String],
    ldflags: &[String],
) -> Result<(), String> {
    let out = compiler
        .args(["-std=c11", "-O2", "-Wall", "-Wextra", "-D_GNU_SOURCE"])
        .args(includes)
        .arg("-o")
        .arg(program)
        .arg(source)
        .args(ldflags)
        .output()
        .map_err(|e| format!("running the C compiler: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "compiling c/inproc.c failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}
