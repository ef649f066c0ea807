//! Builds the C parts of the benchmark.
//!
//! * `c/driver.c` becomes the static library `vhbench_driver`: the hub-side
//!   loops that call the shim's `w_pack` / `w_HasHook` / `w_CallHook` /
//!   `free` exactly as python_pi does, timed from C.
//! * `c/inproc.c` becomes the program `vh-bench-inproc` in `OUT_DIR`: the
//!   in-process baseline, which embeds CPython the way the original wrapper
//!   does (flags from `python3-config --includes` and `python3-config
//!   --ldflags --embed`; `PYTHON3_CONFIG` names another `python3-config`).
//!   Its path reaches the bench as `VH_BENCH_INPROC`. If it cannot be built
//!   the build goes on with a warning, `VH_BENCH_INPROC` is empty and the
//!   bench says why in its table (`VH_BENCH_INPROC_ERROR`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    for path in ["c/driver.c", "c/inproc.c", "build.rs"] {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rerun-if-env-changed=PYTHON3_CONFIG");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));

    cc::Build::new()
        .file("c/driver.c")
        .std("c11")
        .define("_GNU_SOURCE", None)
        .opt_level(2)
        .flag("-Wall")
        .flag("-Wextra")
        .compile("vhbench_driver");
    println!("cargo:rustc-link-lib=dl");

    match build_inproc(&out_dir) {
        Ok(program) => {
            println!("cargo:rustc-env=VH_BENCH_INPROC={}", program.display());
            println!("cargo:rustc-env=VH_BENCH_INPROC_ERROR=");
        }
        Err(e) => {
            println!("cargo:warning=in-process baseline not built: {e}");
            println!("cargo:rustc-env=VH_BENCH_INPROC=");
            println!(
                "cargo:rustc-env=VH_BENCH_INPROC_ERROR={}",
                e.replace('\n', " ")
            );
        }
    }
}

/// Runs `python3-config` with `args` and splits its output into flags.
fn python_config(args: &[&str]) -> Result<Vec<String>, String> {
    let tool = env::var("PYTHON3_CONFIG").unwrap_or_else(|_| "python3-config".into());
    let out = Command::new(&tool)
        .args(args)
        .output()
        .map_err(|e| format!("running {tool}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{tool} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect())
}

/// Compiles and links `c/inproc.c` against libpython; returns the program.
fn build_inproc(out_dir: &Path) -> Result<PathBuf, String> {
    let includes = python_config(&["--includes"])?;
    let ldflags = python_config(&["--ldflags", "--embed"])?;
    let program = out_dir.join("vh-bench-inproc");
    let compiler = cc::Build::new().get_compiler();
    let mut cmd = compiler.to_command();
    cmd.args(["-std=c11", "-O2", "-Wall", "-Wextra", "-D_GNU_SOURCE"])
        .args(&includes)
        .arg("-o")
        .arg(&program)
        .arg("c/inproc.c")
        .args(&ldflags);
    let out = cmd
        .output()
        .map_err(|e| format!("running the C compiler: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "compiling c/inproc.c failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(program)
}
