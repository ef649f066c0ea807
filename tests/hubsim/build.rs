//! Builds the C hub simulator.
//!
//! * `c/*.c` (the simulator) becomes the static library `hubsim`, linked with `-ldl`.
//! * `c/plugin_face.c` is built twice as a shared object, `libhubsim_plugin_a.so` and
//!   `libhubsim_plugin_b.so`. At `hubsim_open` the simulator loads the one of the
//!   requested plugin generation with `RTLD_GLOBAL`, so the callbacks in the table handed to
//!   `w_Begin` are exported symbols named `_SendToOpChat`, `_mc`, ... exactly as python_pi's
//!   are (docs/abi.md §1.1, §6.4), and the B face has the B plugin's link-time
//!   references to `w_free_args` and `stringListToJson` (§1.3).

use std::env;
use std::path::PathBuf;

const SOURCES: &[&str] = &[
    "c/hubsim.c",
    "c/dispatch.c",
    "c/events.c",
    "c/callbacks.c",
    "c/callbacks_hub.c",
    "c/callback_table.c",
    "c/console.c",
    "c/replay.c",
    "c/cli.c",
    "c/abi_callers.c",
];

const HEADERS: &[&str] = &["c/hubsim.h", "c/internal.h", "c/callback_list.h"];

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    for path in SOURCES
        .iter()
        .chain(HEADERS)
        .chain(&["c/plugin_face.c", "build.rs"])
    {
        println!("cargo:rerun-if-changed={path}");
    }

    build_faces(&out_dir);

    let face_dir = out_dir.to_str().expect("OUT_DIR is valid UTF-8");
    cc::Build::new()
        .files(SOURCES)
        .std("c11")
        .define("_GNU_SOURCE", None)
        .define("HUBSIM_FACE_DIR", Some(format!("\"{face_dir}\"").as_str()))
        .flag("-Wall")
        .flag("-Wextra")
        .compile("hubsim");
    println!("cargo:rustc-link-lib=dl");
}

/// Compiles `c/plugin_face.c` into the two plugin-face shared objects in `out_dir`.
fn build_faces(out_dir: &std::path::Path) {
    let compiler = cc::Build::new().get_compiler();
    for (generation, extra) in [("a", None), ("b", Some("-DHUBSIM_GEN_B"))] {
        let so = out_dir.join(format!("libhubsim_plugin_{generation}.so"));
        let mut cmd = compiler.to_command();
        cmd.args(["-std=c11", "-shared", "-fPIC", "-Wall", "-Wextra"]);
        if let Some(flag) = extra {
            cmd.arg(flag);
        }
        cmd.arg("-o").arg(&so).arg("c/plugin_face.c");
        let status = cmd
            .status()
            .unwrap_or_else(|e| panic!("running the C compiler for {}: {e}", so.display()));
        assert!(status.success(), "building {} failed", so.display());
    }
}
