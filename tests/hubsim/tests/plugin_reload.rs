//! `!offplug python` / `!onplug python` — `w_End` then `w_Begin`
//! again in the same process — 100 times in a row, with a script loaded
//! each time: no crash, no leaked thread or fd, memory flat.

mod common;

use common::{Runner, script, serial, shim_env, shim_path};
use vh_hubsim::{Generation, Hub};

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn plugin_reload_100_times_leaks_no_thread_fd_or_memory() {
    let _serial = serial();
    let runner = Runner::start();
    shim_env(&runner.socket(), 5_000);
    let cycle = |i: usize| {
        let generation = if i.is_multiple_of(2) {
            Generation::A
        } else {
            Generation::B
        };
        let mut hub = Hub::open(&shim_path(), generation).expect("open");
        let id = hub.load(&script("ping.py"));
        assert!(id >= 0, "cycle {i}: {}", runner.log());
        assert!(hub.login(b"u", 0, b"10.0.0.1", b"", b"", b"", b"", b"0"));
        assert!(!hub.chat(b"u", b"!ping"), "cycle {i}");
        drop(hub); // unloads the script, w_End, dlclose
    };
    // Warm up: the first cycles create what lives for the process anyway.
    for i in 0..5 {
        cycle(i);
    }
    let (threads, fds, rss) = (count("/proc/self/task"), count("/proc/self/fd"), rss_kib());
    for i in 0..100 {
        cycle(i);
    }
    let (threads_after, fds_after, rss_after) =
        (count("/proc/self/task"), count("/proc/self/fd"), rss_kib());
    assert_eq!(threads_after, threads, "threads before/after 100 reloads");
    assert_eq!(fds_after, fds, "fds before/after 100 reloads");
    eprintln!("RSS before {rss} KiB, after 100 reloads {rss_after} KiB");
    assert!(
        rss_after < rss + 8 * 1024,
        "RSS grew from {rss} to {rss_after} KiB over 100 reloads"
    );
}
