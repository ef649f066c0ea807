//! Verlihub's own `libvh_python_wrapper.so` of each generation, built from
//! the source tree `VERLIHUB_SRC_A` (python_pi 1.6: Python 2.7) or
//! `VERLIHUB_SRC_B` (PR 214: Python 3) points at, for running the same C
//! calls against the original and the shim (abi_callers.rs). Unset: the
//! comparison is skipped with a line saying so. Set but not buildable: the
//! test fails under `CI=true`, else it is skipped with the reason.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::target_dir;

/// A built original wrapper and the environment hubsim needs to run it.
pub struct Original {
    /// The wrapper library.
    pub wrapper: PathBuf,
    /// Variables for the hubsim process (its Python's home and libraries).
    pub env: Vec<(String, String)>,
}

fn skip_or_fail(g: char, why: &str) -> Option<Original> {
    let var = format!("VERLIHUB_SRC_{g}");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{var} is set but its original wrapper cannot be used: {why}"
    );
    eprintln!("SKIPPED (original {g}): {var} is set but: {why}");
    None
}

/// `python -c code`'s output, trimmed.
fn ask(python: &Path, code: &str) -> Option<String> {
    let out = Command::new(python).args(["-c", code]).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Compiles `sources` into `out` (written beside it, then renamed: a .so
/// is never overwritten in place).
fn compile(compiler: &str, args: &[String], out: &Path) -> Result<(), String> {
    let tmp = out.with_extension("so.tmp");
    let result = Command::new(compiler)
        .args(args)
        .arg("-o")
        .arg(&tmp)
        .output()
        .map_err(|e| format!("{compiler}: {e}"))?;
    if !result.status.success() {
        let text = String::from_utf8_lossy(&result.stderr);
        return Err(format!(
            "{compiler} failed:\n{}",
            text.lines().take(20).collect::<Vec<_>>().join("\n")
        ));
    }
    std::fs::rename(&tmp, out).map_err(|e| format!("{}: {e}", out.display()))
}

/// Generation `g`'s original wrapper, built once per target dir.
pub fn original(g: char) -> Option<Original> {
    let var = format!("VERLIHUB_SRC_{g}");
    let Some(src) = std::env::var_os(&var).filter(|v| !v.is_empty()) else {
        eprintln!("SKIPPED (original {g}): set {var} to a Verlihub source tree to compare");
        return None;
    };
    let src = PathBuf::from(src);
    let plugin = src.join("plugins/python");
    if !plugin.join("wrapper.cpp").exists() {
        return skip_or_fail(g, &format!("no {}", plugin.join("wrapper.cpp").display()));
    }
    let dir = target_dir().join(format!("abi-originals/{g}"));
    std::fs::create_dir_all(&dir).expect("abi-originals dir");
    let wrapper = dir.join("libvh_python_wrapper.so");
    let mut args: Vec<String> = ["-shared", "-fPIC", "-O1", "-w", "-DU_USING_ICU_NAMESPACE=1"]
        .map(String::from)
        .to_vec();
    for inc in [&src, &src.join("src"), &plugin] {
        args.push(format!("-I{}", inc.display()));
    }
    let mut env = Vec::new();
    if g == 'A' {
        let Some(py2) = super::py2::python2() else {
            return skip_or_fail('A', "no Python 2.7 (VH_TEST_PYTHON2) for its headers");
        };
        let Some(prefix) = ask(&py2, "import sys; print(sys.prefix)") else {
            return skip_or_fail('A', "the Python 2.7 does not run");
        };
        args.push("-DPYTHON_PI_VERSION=\"1.6.0.0\"".into());
        args.push(format!("-I{prefix}/include/python2.7"));
        args.push(plugin.join("wrapper.cpp").display().to_string());
        args.push(format!("-L{prefix}/lib"));
        args.push("-lpython2.7".into());
        env.push(("PYTHONHOME".into(), prefix.clone()));
        env.push(("LD_LIBRARY_PATH".into(), format!("{prefix}/lib")));
    } else {
        let py3 = Path::new("/usr/bin/python3");
        let (Some(include), Some(ldversion)) = (
            ask(
                py3,
                "import sysconfig; print(sysconfig.get_paths()['include'])",
            ),
            ask(
                py3,
                "import sysconfig; print(sysconfig.get_config_var('LDVERSION'))",
            ),
        ) else {
            return skip_or_fail('B', "no /usr/bin/python3 to find the Python 3 headers");
        };
        args.push("-DPYTHON_PI_VERSION=\"1.7.0.0\"".into());
        args.push("-DHAVE_RAPIDJSON".into());
        args.push(format!("-I{include}"));
        args.push(plugin.join("wrapper.cpp").display().to_string());
        args.push(plugin.join("json_marshal.cpp").display().to_string());
        args.push(format!("-lpython{ldversion}"));
        // The hub symbols B's wrapper takes from the hub process (§1.4).
        let stub = dir.join("libhub_stub.so");
        let stub_src = Path::new(env!("CARGO_MANIFEST_DIR")).join("c/original_b_stub.c");
        if !stub.exists()
            && let Err(e) = compile(
                "gcc",
                &[
                    "-shared".into(),
                    "-fPIC".into(),
                    stub_src.display().to_string(),
                ],
                &stub,
            )
        {
            return skip_or_fail('B', &e);
        }
        env.push(("LD_PRELOAD".into(), stub.display().to_string()));
    }
    if !wrapper.exists()
        && let Err(e) = compile("g++", &args, &wrapper)
    {
        return skip_or_fail(g, &e);
    }
    Some(Original { wrapper, env })
}
