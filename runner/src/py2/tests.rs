//! Unit tests of [`super`]: Python 2 failures told apart, the package and
//! its `PYTHONPATH`, `[defaults] python2`.

use super::*;

/// A worker's load failure ending in `last`.
fn tb(last: &str) -> String {
    format!("Traceback (most recent call last):\n  File \"x.py\", line 1\n{last}\n")
}

#[test]
fn python2_failures_are_told_from_others() {
    assert!(fails_as_python2(&tb("SyntaxError: Missing parentheses in call to 'print'")).is_some());
    assert!(fails_as_python2(&tb("ModuleNotFoundError: No module named 'urllib2'")).is_some());
    assert!(fails_as_python2(&tb("ModuleNotFoundError: No module named 'ConfigParser'")).is_some());
    assert!(fails_as_python2(&tb("ImportError: No module named 'Queue'")).is_some());
    assert!(fails_as_python2(&tb("ModuleNotFoundError: No module named 'requests'")).is_none());
    assert!(fails_as_python2(&tb("ZeroDivisionError: division by zero")).is_none());
    assert!(fails_as_python2("").is_none());
}

#[test]
fn python3_failures_under_python2_are_told_from_others() {
    assert!(fails_as_python3(&tb("SyntaxError: invalid syntax")).is_some());
    assert!(fails_as_python3(&tb("ImportError: No module named queue")).is_some());
    assert!(fails_as_python3(&tb("ImportError: No module named fastapi")).is_some());
    // A Python 2 script's own errors stay its own.
    assert!(fails_as_python3(&tb("NameError: name 'x' is not defined")).is_none());
    assert!(fails_as_python3(&tb("ImportError: cannot import name foo")).is_none());
    assert!(fails_as_python3("the worker exited with code 1").is_none());
}

#[test]
fn the_package_is_written_privately() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("pkg");
    install(&target).unwrap();
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    for (name, text) in PACKAGE {
        assert_eq!(&std::fs::read_to_string(target.join(name)).unwrap(), text);
    }
    let native = target.join("vh/_native.so");
    assert_eq!(std::fs::read(&native).unwrap(), NATIVE);
    // Again over the old files (a runner restart): the compiled module is
    // a new file renamed over the old one, never rewritten in place (a
    // worker running may have the old one mapped).
    let before = std::fs::metadata(&native).unwrap().ino();
    install(&target).unwrap();
    assert!(target.join("vh/_schema.py").exists());
    assert_ne!(std::fs::metadata(&native).unwrap().ino(), before);
    assert_eq!(std::fs::read(&native).unwrap(), NATIVE);
}

#[test]
fn defaults_python2_is_read_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("runner.toml");
    std::fs::write(&file, "[defaults]\npython2 = \"/usr/bin/python2.7\"\n").unwrap();
    let config = crate::config::Config::load(Some(&file)).unwrap();
    assert_eq!(
        config.defaults.python2.as_deref(),
        Some(Path::new("/usr/bin/python2.7"))
    );
    let resolved = config.resolve("old.py");
    assert!(!resolved.explicit_python && !resolved.py2 && !resolved.py2_fallback);
}

#[test]
fn the_link_module_lists_the_hooks_the_hub_ignores() {
    assert_eq!(
        link_module().lines().last(),
        Some("RESULT_IGNORED = frozenset([1, 2, 15, 33, 36])")
    );
}

#[test]
fn the_package_goes_beside_the_socket_only_into_a_private_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("runner.sock");
    let got = package_dir(Some(&socket)).unwrap();
    assert_eq!(got, dir.path().join("runner.sock.py2"));
    assert!(got.join("vh/_schema.py").exists());
    // Again (a restart): the same directory, rewritten.
    assert_eq!(package_dir(Some(&socket)).unwrap(), got);
    // Someone else's directory or a symlink there is not used.
    let open = dir.path().join("open.sock.py2");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let elsewhere = package_dir(Some(&dir.path().join("open.sock"))).unwrap();
    assert_ne!(elsewhere, open);
    assert!(!open.join("vh").exists());
    std::os::unix::fs::symlink(&got, dir.path().join("link.sock.py2")).unwrap();
    let other = package_dir(Some(&dir.path().join("link.sock"))).unwrap();
    assert_ne!(other, dir.path().join("link.sock.py2"));
    let _ = std::fs::remove_dir_all(elsewhere);
    let _ = std::fs::remove_dir_all(other);
}

#[test]
fn pythonpath_puts_the_package_first() {
    let d = Path::new("/run/x");
    assert_eq!(pythonpath(d, None), "/run/x");
    assert_eq!(pythonpath(d, Some("")), "/run/x");
    assert_eq!(pythonpath(d, Some("/a:/b")), "/run/x:/a:/b");
}

#[test]
fn when_both_interpreters_fail_the_hub_gets_the_scripts_own_language_error() {
    let missing = tb("ImportError: No module named requests");
    let print = tb("SyntaxError: Missing parentheses in call to 'print'");
    // A hub, a Python 2 script whose module is missing: 2.7's error.
    let told = both_failed(("Python 2.7", &missing), ("Python 3", &print));
    assert!(told.starts_with(missing.trim_end()), "{told}");
    assert!(told.ends_with(
        "(vh-runner: under Python 3 it failed too: SyntaxError: Missing parentheses in call to 'print')"
    ));
    // A hub, a Python 3 script (2.7 could not compile it) with its own bug.
    let f_string = tb("SyntaxError: invalid syntax");
    let zero = tb("ZeroDivisionError: division by zero");
    let told = both_failed(("Python 2.7", &f_string), ("Python 3", &zero));
    assert!(told.starts_with(zero.trim_end()), "{told}");
    assert!(told.contains("under Python 2.7 it failed too: SyntaxError"));
    // B hub, a Python 2 script: 2.7's error after Python 3's SyntaxError.
    let told = both_failed(("Python 3", &print), ("Python 2.7", &missing));
    assert!(told.starts_with(missing.trim_end()), "{told}");
}
