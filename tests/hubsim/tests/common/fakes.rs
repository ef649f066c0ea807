//! Fake python_pi layouts built with gcc (docs/abi.md §1.1, §1.3):
//! original wrappers exporting the §1.2 symbols, and plugins with their
//! compiled-in wrapper paths and, for generation B, a `DT_NEEDED` entry
//! found through RUNPATH.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs gcc; panics with its output if it fails.
pub fn gcc(args: &[&str]) {
    let out = Command::new("gcc").args(args).output().expect("run gcc");
    assert!(
        out.status.success(),
        "gcc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An original wrapper at `path`, told apart from the others by `tag`.
pub fn original_wrapper(work: &Path, path: &Path, tag: &str) -> Vec<u8> {
    let src = work.join(format!("wrapper-{tag}.c"));
    std::fs::write(
        &src,
        format!(
            "int w_Begin(void *cb) {{ (void)cb; return 42; }}\n\
             int w_End(void) {{ return 1; }}\n\
             int w_Load(void *a) {{ (void)a; return 0; }}\n\
             void *w_CallHook(int id, int hook, void *p) {{ (void)id; (void)hook; return p; }}\n\
             void w_free_args(void *a) {{ (void)a; }}\n\
             const char *fake_wrapper_tag = \"ORIGINAL-{tag}\";\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    gcc(&[
        "-shared",
        "-fPIC",
        "-Wl,-soname,libvh_python_wrapper.so",
        "-o",
        path.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    std::fs::read(path).unwrap()
}

/// A python_pi plugin at `dir/libpython_pi.so` with `dlopen_paths`
/// compiled in; with `needed_dir`, it links the wrapper found there
/// (generation B: `DT_NEEDED` + RUNPATH).
pub fn plugin(
    work: &Path,
    dir: &Path,
    dlopen_paths: &[&Path],
    needed_dir: Option<&Path>,
) -> PathBuf {
    let src = work.join("plugin.c");
    let paths: Vec<String> = dlopen_paths
        .iter()
        .map(|p| format!("\"{}\"", p.display()))
        .collect();
    let mut c = format!(
        "__attribute__((used)) const char *vh_paths[] = {{{}}};\n",
        paths.join(", ")
    );
    if needed_dir.is_some() {
        c.push_str("extern int w_Begin(void *);\nint plugin_begin(void) { return w_Begin(0); }\n");
    }
    std::fs::write(&src, c).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join("libpython_pi.so");
    let mut args = vec![
        "-shared".to_string(),
        "-fPIC".into(),
        "-o".into(),
        out.display().to_string(),
        src.display().to_string(),
    ];
    if let Some(d) = needed_dir {
        args.extend([
            "-Wl,--no-as-needed".into(),
            format!("-L{}", d.display()),
            "-lvh_python_wrapper".into(),
            format!("-Wl,--enable-new-dtags,-rpath,{}", d.display()),
        ]);
    }
    gcc(&args.iter().map(String::as_str).collect::<Vec<_>>());
    out
}
