//! A worker waits for its next hook on the hub thread's CPU
//! (docs/performance.md "Waiting on the hub's CPU"), through real parts:
//! hubsim's hub thread (this test's thread) pinned to one CPU and then to
//! another, the dlopened shim, a real runner and worker. While the worker
//! sleeps for its next hook (hooks coming densely, from a hub thread that
//! does not spin for answers) it may run only on the CPU the hub thread
//! sent the last hook from; while it runs a hook, it and every thread it
//! starts may run on all the CPUs of the worker; a mask set for the whole
//! worker holds; `VH_WAIT_ON_HUB_CPU=0` leaves its mask alone.

mod common;

use std::time::Duration;

use common::{Runner, script, serial, shim_env, shim_path, show};
use vh_hubsim::{Generation, Hub};

/// The CPUs the calling thread may run on.
fn own_cpus() -> Vec<usize> {
    // SAFETY: an all-zero cpu_set_t is valid; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid set of the size given; 0 is the calling thread.
    let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
    assert_eq!(rc, 0, "sched_getaffinity");
    // SAFETY: indexes below CPU_SETSIZE.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}

/// The CPUs this thread may use if there are two or more; else `None`,
/// saying that the test is skipped (there is no other CPU to wait on).
fn two_cpus() -> Option<Vec<usize>> {
    let all = own_cpus();
    if all.len() < 2 {
        eprintln!("skipped: this test needs two CPUs, the machine gives it {all:?}");
        return None;
    }
    Some(all)
}

/// Restricts the calling thread (the hub thread) to `cpus`.
fn pin_to(cpus: &[usize]) {
    // SAFETY: an all-zero cpu_set_t is the empty set; indexes are CPUs the
    // thread was allowed.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: c < CPU_SETSIZE (it came from own_cpus).
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: a valid set of the size given.
    let rc = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    assert_eq!(rc, 0, "sched_setaffinity");
}

/// `Cpus_allowed_list` of the worker's main thread, as the kernel shows it.
fn allowed_list(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("worker status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list")
        .trim()
        .to_owned()
}

/// The kernel's list form of `cpus` (`0-1`, `3`, `0,2`): what
/// `Cpus_allowed_list` shows for that set.
fn list_form(cpus: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        while i + 1 < cpus.len() && cpus[i + 1] == cpus[i] + 1 {
            i += 1;
        }
        parts.push(if cpus[i] == start {
            start.to_string()
        } else {
            format!("{start}-{}", cpus[i])
        });
        i += 1;
    }
    parts.join(",")
}

/// Alice's chat line to hub_cpu.py: `(worker pid, main thread's CPUs, a new
/// thread's CPUs)` as the script saw them during the hook.
fn probe(hub: &mut Hub) -> (u32, String, String) {
    hub.clear_records();
    assert!(hub.chat(b"alice", b"where"), "{}", show(&hub.records()));
    let records = hub.records();
    let line = records
        .iter()
        .find_map(|r| r.strip_prefix(b"USERMC alice\t".as_slice()))
        .unwrap_or_else(|| panic!("no answer: {}", show(&records)));
    let text = String::from_utf8_lossy(line).into_owned();
    let (_from, text) = text.split_once('\t').expect("usermc record");
    let (pid, rest) = text.split_once(' ').expect("pid");
    let (main, thread) = rest.split_once("] ").expect("two lists");
    (
        pid.parse().expect("pid"),
        format!("{main}]"),
        thread.to_owned(),
    )
}

/// A hub on `runner` with hub_cpu.py loaded and alice in. Its hub thread
/// never spins for answers (`VH_SPIN_US=0`), so it tells the worker its CPU
/// with every hook, as on a busy machine (`HookCall.hub_cpu`).
fn hub_on(runner: &Runner) -> Hub {
    shim_env(&runner.socket(), 10_000);
    // SAFETY: tests hold `serial()`; nothing else reads the environment now.
    unsafe { std::env::set_var("VH_SPIN_US", "0") };
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    assert!(hub.load(&script("hub_cpu.py")) >= 0, "{}", runner.log());
    assert!(hub.login(b"alice", 3, b"10.0.0.1", b"", b"", b"", b"", b"0"));
    hub
}

/// Chat lines back to back until the worker, between two of them, is seen
/// waiting on `cpu` alone (its hooks then come densely: under 1 ms apart);
/// every line's probe must show the full mask `everywhere`. Panics after
/// 500 lines.
fn burst_until_pinned(hub: &mut Hub, cpu: usize, everywhere: &str) {
    for _ in 0..500 {
        let (pid, main, thread) = probe(hub);
        assert_eq!(main, everywhere, "the hook ran with the worker's full mask");
        assert_eq!(
            thread, everywhere,
            "a thread the hook started got the full mask"
        );
        if allowed_list(pid) == cpu.to_string() {
            return;
        }
    }
    panic!("the worker never waited on CPU {cpu} between 500 dense hooks");
}

#[test]
fn a_worker_with_dense_hooks_sleeps_on_the_hub_threads_cpu_and_runs_hooks_anywhere() {
    let _serial = serial();
    let Some(all) = two_cpus() else { return };
    let runner = Runner::start();
    let mut hub = hub_on(&runner);
    let everywhere = format!("{all:?}");
    // The hub thread moves: the worker follows it.
    for cpu in [all[0], all[all.len() - 1], all[0]] {
        pin_to(&[cpu]);
        burst_until_pinned(&mut hub, cpu, &everywhere);
    }
    // A hook after a long quiet spell: the worker sleeps anywhere.
    std::thread::sleep(Duration::from_millis(50));
    let (pid, main, _) = probe(&mut hub);
    assert_eq!(main, everywhere);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        allowed_list(pid),
        list_form(&all),
        "a sparse worker is not pinned"
    );
    pin_to(&all);
    drop(hub);
}

#[test]
fn vh_wait_on_hub_cpu_0_leaves_the_workers_mask_alone() {
    let _serial = serial();
    let Some(all) = two_cpus() else { return };
    let runner = Runner::start_with_env("", &[("VH_WAIT_ON_HUB_CPU", "0")]);
    let mut hub = hub_on(&runner);
    pin_to(&[all[0]]);
    let everywhere = format!("{all:?}");
    for _ in 0..200 {
        let (pid, main, _) = probe(&mut hub);
        assert_eq!(main, everywhere);
        assert_eq!(allowed_list(pid), list_form(&all), "the worker was pinned");
    }
    pin_to(&all);
    drop(hub);
}

/// Restricts every thread of process `pid` to `cpu`, as `taskset -a -p`
/// does.
fn pin_process(pid: u32, cpu: usize) {
    // SAFETY: an all-zero cpu_set_t is the empty set; `cpu` came from the
    // kernel's own list.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut set) };
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("worker threads");
    for tid in tasks.filter_map(|t| t.ok()?.file_name().to_str()?.parse::<i32>().ok()) {
        // SAFETY: a valid set of the size given.
        let rc = unsafe { libc::sched_setaffinity(tid, size_of::<libc::cpu_set_t>(), &set) };
        assert_eq!(rc, 0, "sched_setaffinity on worker thread {tid}");
    }
}

#[test]
fn a_mask_set_for_the_whole_worker_holds_even_while_it_sleeps_pinned() {
    let _serial = serial();
    let Some(all) = two_cpus() else { return };
    let runner = Runner::start();
    let mut hub = hub_on(&runner);
    let (first, last) = (all[0], all[all.len() - 1]);
    pin_to(&[first]);
    let everywhere = format!("{all:?}");
    // Dense hooks: the worker now sleeps on `first` alone.
    burst_until_pinned(&mut hub, first, &everywhere);
    let (pid, _, _) = probe(&mut hub);
    // As `taskset -a -p` would, while the worker sleeps pinned: every
    // thread on `last`, a CPU the hub thread (on `first`) does not use.
    pin_process(pid, last);
    for _ in 0..200 {
        let (_, main, thread) = probe(&mut hub);
        assert_eq!(
            main,
            format!("[{last}]"),
            "the admin's mask held during the hook"
        );
        assert_eq!(thread, format!("[{last}]"), "and for the hook's threads");
        assert_eq!(allowed_list(pid), last.to_string(), "and between hooks");
    }
    pin_to(&all);
    drop(hub);
}
