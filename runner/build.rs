//! Builds `vh._native`, the Python 2.7 worker's compiled hook loop
//! (`py-sdk/python2-native`), for `runner/src/py2.rs` to embed: vh-runner
//! writes it into the Python 2 `vh` package at start-up, so admins need
//! no compiler and no Python 2 headers. The crate has no dependencies, so
//! rustc alone builds it, for the runner's own target.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let src = manifest.join("../py-sdk/python2-native/src");
    println!("cargo:rerun-if-changed={}", src.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("_native.so");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = std::env::var("TARGET").expect("set by cargo");
    let status = Command::new(rustc)
        .args([
            "--crate-type",
            "cdylib",
            "--crate-name",
            "_native",
            "--edition",
            "2024",
        ])
        .args([
            "-C",
            "opt-level=3",
            // As the workspace's release profile (Cargo.toml): one unit,
            // whole-program LTO, for a hook that runs cold.
            "-C",
            "codegen-units=1",
            "-C",
            "lto=fat",
            "-C",
            "panic=abort",
            "-C",
            "strip=debuginfo",
        ])
        .args(["--target", &target])
        .arg(src.join("lib.rs"))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run rustc for py-sdk/python2-native");
    assert!(status.success(), "rustc failed on py-sdk/python2-native");
}
