//! `vh-runner install-shim` / `uninstall-shim` on fake python_pi
//! layouts of both generations (docs/abi.md §1.1, §1.3), built
//! here with gcc: a plugin with its compiled-in wrapper paths (and, for B,
//! a `DT_NEEDED` entry found through its RUNPATH), original wrappers with
//! the exported symbols of §1.2, and a process that has the old wrappers
//! mapped during the swap and keeps running.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::fakes::{gcc, original_wrapper, plugin};
use common::{shim_path, target_dir, wait_until};

const WRAPPER: &str = "libvh_python_wrapper.so";

/// A process that dlopens `libs` (RTLD_NOW | RTLD_GLOBAL, as the hub
/// does) and calls their `w_Begin` (or the plugin's `plugin_begin`) every
/// millisecond; it exits 0 when `stop` appears, 4 if a call goes wrong.
fn holder(work: &Path, libs: &[&Path], stop: &Path) -> Child {
    let src = work.join("holder.c");
    std::fs::write(
        &src,
        r#"#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int (*f[8])(void *);
    int n = 0;
    for (int i = 2; i < argc && n < 8; i++) {
        void *h = dlopen(argv[i], RTLD_NOW | RTLD_GLOBAL);
        if (!h) { fprintf(stderr, "%s\n", dlerror()); return 3; }
        void *s = dlsym(h, "plugin_begin");
        if (!s) s = dlsym(h, "w_Begin");
        if (!s) return 3;
        f[n++] = (int (*)(void *))s;
    }
    printf("mapped\n");
    fflush(stdout);
    for (;;) {
        for (int i = 0; i < n; i++)
            if (f[i](0) != 42) return 4;
        if (access(argv[1], F_OK) == 0) return 0;
        usleep(1000);
    }
}
"#,
    )
    .unwrap();
    let exe = work.join("holder");
    gcc(&["-o", exe.to_str().unwrap(), src.to_str().unwrap(), "-ldl"]);
    let mut child = Command::new(&exe)
        .arg(stop)
        .args(libs)
        // cargo's LD_LIBRARY_PATH holds target/debug, where the shim is: it
        // would win over the plugin's RUNPATH, as it would in a real hub.
        .env_remove("LD_LIBRARY_PATH")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the holder");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "mapped\n", "the holder could not map the wrappers");
    std::thread::sleep(Duration::from_millis(50));
    let early = child.try_wait().unwrap();
    assert!(
        early.is_none(),
        "the holder failed before any swap: {early:?}"
    );
    child
}

fn vh_runner(args: &[&str]) -> Output {
    Command::new(target_dir().join("vh-runner"))
        .args(args)
        .output()
        .expect("run vh-runner")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn install(plugin: &Path) -> Output {
    vh_runner(&[
        "install-shim",
        "--plugin",
        plugin.to_str().unwrap(),
        "--shim",
        shim_path().to_str().unwrap(),
    ])
}

fn uninstall(plugin: &Path) -> Output {
    vh_runner(&["uninstall-shim", "--plugin", plugin.to_str().unwrap()])
}

fn orig(p: &Path) -> PathBuf {
    PathBuf::from(format!("{}.orig", p.display()))
}

/// The holder keeps running through the swap and ends cleanly.
fn holder_survives(mut holder: Child, stop: &Path) {
    std::thread::sleep(Duration::from_millis(100));
    let early = holder.try_wait().unwrap();
    assert!(
        early.is_none(),
        "the process with the old wrapper mapped died during the swap: {early:?}"
    );
    std::fs::write(stop, "").unwrap();
    let mut status = None;
    wait_until(Duration::from_secs(5), "the holder to exit", || {
        status = holder.try_wait().unwrap();
        status.is_some()
    });
    assert_eq!(
        status.unwrap().code(),
        Some(0),
        "the old wrapper's code changed under it"
    );
}

/// Installs, installs again, uninstalls, uninstalls again: `wrappers` are
/// the files with their original bytes; `labels` must show in the output.
fn round_trip(
    plugin_dir: &Path,
    wrappers: &[(PathBuf, Vec<u8>)],
    labels: &[&str],
    holder: Child,
    stop: &Path,
) {
    let shim = std::fs::read(shim_path()).unwrap();
    let out = install(plugin_dir);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    for label in labels {
        assert!(said.contains(label), "no {label:?} in:\n{said}");
    }
    for (path, original) in wrappers {
        assert!(
            std::fs::read(path).unwrap() == shim,
            "{} is not the shim:\n{said}",
            path.display()
        );
        assert!(
            &std::fs::read(orig(path)).unwrap() == original,
            "{}.orig",
            path.display()
        );
    }
    holder_survives(holder, stop);
    // Idempotent: nothing changes the second time.
    let inodes: Vec<u64> = wrappers
        .iter()
        .map(|(p, _)| std::fs::metadata(p).unwrap().ino())
        .collect();
    let out = install(plugin_dir);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert_eq!(
        said.matches("already in place").count(),
        wrappers.len(),
        "{said}"
    );
    let again: Vec<u64> = wrappers
        .iter()
        .map(|(p, _)| std::fs::metadata(p).unwrap().ino())
        .collect();
    assert_eq!(inodes, again, "a second install-shim rewrote files");

    let out = uninstall(plugin_dir);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    for (path, original) in wrappers {
        assert!(
            &std::fs::read(path).unwrap() == original,
            "{} not restored:\n{said}",
            path.display()
        );
        assert!(!orig(path).exists());
    }
    let out = uninstall(plugin_dir);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert_eq!(
        said.matches("already the original").count(),
        wrappers.len(),
        "{said}"
    );
}

#[test]
fn generation_a_layout_round_trip_with_the_wrapper_mapped() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let lib = w.join("prefix/lib");
    let wrapper = lib.join(WRAPPER);
    let original = original_wrapper(w, &wrapper, "A");
    plugin(w, &lib, &[&wrapper], None);
    let stop = w.join("stop");
    let holder = holder(w, &[&wrapper], &stop);
    round_trip(
        &lib,
        &[(wrapper.clone(), original)],
        &[
            "generation A",
            "python_pi's dlopen path; beside the plugin",
            "original kept as .orig",
        ],
        holder,
        &stop,
    );
}

#[test]
fn generation_b_layout_build_tree_and_dt_needed_round_trip_with_wrappers_mapped() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let lib = w.join("prefix/lib");
    let installed = lib.join(WRAPPER);
    let build_tree = w.join("build/plugins/python").join(WRAPPER);
    let needed = w.join("ldpath").join(WRAPPER);
    let wrappers = vec![
        (
            build_tree.clone(),
            original_wrapper(w, &build_tree, "build"),
        ),
        (
            installed.clone(),
            original_wrapper(w, &installed, "installed"),
        ),
        (needed.clone(), original_wrapper(w, &needed, "needed")),
    ];
    let plugin_path = plugin(
        w,
        &lib,
        &[&build_tree, &installed],
        Some(needed.parent().unwrap()),
    );
    let stop = w.join("stop");
    // As a B hub: the plugin (which pulls in its DT_NEEDED wrapper) and
    // the build-tree copy it dlopens.
    let holder = holder(w, &[&plugin_path, &build_tree], &stop);
    round_trip(
        &lib,
        &wrappers,
        &[
            "generation B",
            "generation B's build-tree copy (tried first)",
            "DT_NEEDED, found through the plugin's RUNPATH",
        ],
        holder,
        &stop,
    );
}

#[test]
fn mismatches_are_refused_with_exit_2_and_change_nothing() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    // No plugin there.
    let empty = w.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = install(&empty);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no python_pi plugin"), "{}", text(&out));

    // A plugin whose compiled-in path holds a library that is no wrapper,
    // and a good wrapper beside it: neither is touched.
    let lib = w.join("prefix/lib");
    let wrapper = lib.join(WRAPPER);
    let original = original_wrapper(w, &wrapper, "good");
    let junk = w.join("other").join(WRAPPER);
    std::fs::create_dir_all(junk.parent().unwrap()).unwrap();
    std::fs::write(w.join("junk.c"), "int something_else(void) { return 1; }\n").unwrap();
    gcc(&[
        "-shared",
        "-fPIC",
        "-o",
        junk.to_str().unwrap(),
        w.join("junk.c").to_str().unwrap(),
    ]);
    plugin(w, &lib, &[&junk], None);
    let out = install(&lib);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not a python_pi wrapper"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&wrapper).unwrap(), original);
    assert!(!orig(&wrapper).exists());

    // A "shim" that is an original wrapper is refused.
    std::fs::remove_file(&junk).unwrap();
    let not_shim = w.join("not-a-shim.so");
    original_wrapper(w, &not_shim, "fake");
    let out = vh_runner(&[
        "install-shim",
        "--plugin",
        lib.to_str().unwrap(),
        "--shim",
        not_shim.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("is not the vh-runner shim"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&wrapper).unwrap(), original);

    // The shim is in place; then a hub upgrade puts a new original there:
    // install-shim will not pick between the two originals.
    let out = install(&lib);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let upgraded = original_wrapper(w, &w.join("new.so"), "upgraded");
    std::fs::write(&wrapper, &upgraded).unwrap();
    let out = install(&lib);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("holds a different one"),
        "{}",
        text(&out)
    );
    let out = uninstall(&lib);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(std::fs::read(&wrapper).unwrap(), upgraded);
    assert_eq!(std::fs::read(orig(&wrapper)).unwrap(), original);

    // The shim with no original kept: nothing to restore.
    std::fs::remove_file(orig(&wrapper)).unwrap();
    std::fs::copy(shim_path(), &wrapper).unwrap();
    let out = uninstall(&lib);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no") && text(&out).contains("to restore"),
        "{}",
        text(&out)
    );
}
