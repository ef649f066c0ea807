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

#[path = "src/inproc_build.rs"]
mod inproc_build;

fn main() {
    for path in [
        "c/driver.c",
        "c/inproc.c",
        "build.rs",
        "src/inproc_build.rs",
    ] {
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

/// `python3-config`, or the one `PYTHON3_CONFIG` names.
fn python3_config() -> PathBuf {
    env::var_os("PYTHON3_CONFIG").map_or_else(|| PathBuf::from("python3-config"), PathBuf::from)
}

/// Compiles and links `c/inproc.c` against libpython; returns the program.
fn build_inproc(out_dir: &Path) -> Result<PathBuf, String> {
    let tool = python3_config();
    let includes = inproc_build::config_flags(&tool, &["--includes"])?;
    let ldflags = inproc_build::config_flags(&tool, &["--ldflags", "--embed"])?;
    let program = out_dir.join("vh-bench-inproc");
    let compiler = cc::Build::new().get_compiler().to_command();
    inproc_build::compile(
        compiler,
        Path::new("c/inproc.c"),
        &program,
        &includes,
        &ldflags,
    )?;
    Ok(program)
}
