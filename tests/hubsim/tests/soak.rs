//! Load and soak. Ten scripts (copies of `soak_seq.py`) get N
//! hooks each while they make numbered `vh.*` calls from their hooks, a
//! thread and asyncio; workers are SIGKILLed now and then (some mid-hook)
//! and the runner is killed and restarted once. Every call is accounted
//! for by its sequence number:
//!
//! * each hook call gets exactly one result: the script's `ack <k>`, or
//!   "no opinion" when its worker was down or died under it (a call in
//!   flight fails visibly, it is never silently lost);
//! * a hook's `vh.usermc(k)` reaches the hub at most once overall and in
//!   increasing k per worker incarnation (never duplicated or reordered),
//!   and before the hook's own result;
//! * per worker incarnation, the thread's and the asyncio task's calls
//!   arrive as 0, 1, 2, ... with nothing missing, doubled or swapped.
//!
//! The RSS of the runner and of this process (the hub with the shim) is
//! sampled as it goes; the slopes are printed and must stay small, and no
//! fd leaks, in the hub or the runner.
//!
//! Size: `VH_SOAK_HOOKS` hooks per script (default 1,000: about a minute
//! in a debug build), `VH_SOAK_KILLS` worker kills (default 10). The full
//! run (docs/reliability.md):
//! `VH_SOAK_HOOKS=1000000 VH_SOAK_KILLS=200 cargo test --release -p vh-hubsim --test soak -- --nocapture`.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Runner, script, serial, shim_env, shim_path, wait_until};
use vh_hubsim::{Generation, Hub};

const SCRIPTS: usize = 10;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn fd_count(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The parent of process `pid`, from /proc.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| parent_of(p) == Some(pid))
        .collect()
}

/// Least-squares slope of y over x.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    if den == 0.0 { 0.0 } else { num / den }
}

/// What the hub has seen of one script, in constant memory (this process
/// is the hub whose RSS the test measures).
#[derive(Default)]
struct Account {
    /// HOOK records: one per hook call.
    results: u64,
    /// Hooks answered with the script's `ack <k>`, and the last k.
    acked: u64,
    last_acked: Option<u64>,
    /// Hooks answered "no opinion" (worker down or died under the call).
    failed: u64,
    /// `vh.usermc` calls from hooks, and the highest k among them.
    from_hook: u64,
    last_k: Option<u64>,
    /// k of hook calls whose result has not come yet: the one in flight,
    /// and those whose worker died under them.
    unanswered: BTreeSet<u64>,
    /// Next expected number of the thread's / asyncio's calls per worker.
    thread_next: HashMap<u32, u64>,
    aio_next: HashMap<u32, u64>,
    /// Worker pids seen, and the last one.
    pids: BTreeSet<u32>,
    pid: u32,
}

impl Account {
    /// A hook's `vh.usermc`: hooks reach the scripts in k order and are
    /// never sent twice, so k only grows, across workers too.
    fn hook_call(&mut self, pid: u32, k: u64) {
        if let Some(last) = self.last_k {
            assert!(
                k > last,
                "worker {pid}: vh.usermc of hook {k} after hook {last} (doubled or reordered)"
            );
        }
        self.last_k = Some(k);
        self.from_hook += 1;
        self.unanswered.insert(k);
        self.pids.insert(pid);
        self.pid = pid;
    }

    fn ack(&mut self, k: u64) {
        assert!(
            self.unanswered.contains(&k),
            "hook {k} acked before its vh.usermc arrived"
        );
        if let Some(last) = self.last_acked {
            assert!(k > last, "hook {k} acked after hook {last}");
        }
        self.last_acked = Some(k);
        self.acked += 1;
        self.unanswered = self.unanswered.split_off(&(k + 1));
    }

    fn numbered(next: &mut HashMap<u32, u64>, what: &str, pid: u32, n: u64) {
        let want = next.entry(pid).or_insert(0);
        assert_eq!(
            n, *want,
            "worker {pid}: {what} call {n} where {} was due (lost, doubled or reordered)",
            *want
        );
        *want += 1;
    }
}

/// Parses one batch of records into the accounts.
fn account(records: &[Vec<u8>], names: &HashMap<i32, String>, acc: &mut BTreeMap<String, Account>) {
    for r in records {
        let r = String::from_utf8_lossy(r);
        let fields: Vec<&str> = r.split('\t').collect();
        if fields[0] == "HOOK OnParsedMsgChat" {
            let id: i32 = fields[1].parse().expect("script id");
            let a = acc.get_mut(&names[&id]).expect("known script");
            a.results += 1;
            let result = fields[2];
            if result == "NULL" {
                a.failed += 1;
            } else {
                let k: u64 = result
                    .strip_prefix(&format!("sl:ack {} ", names[&id]))
                    .and_then(|t| t.strip_suffix(":1"))
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_else(|| panic!("unexpected hook result {r}"));
                a.ack(k);
            }
        } else if fields[0] == "USERMC u" {
            let w: Vec<&str> = fields[2].split(' ').collect();
            let a = acc.get_mut(w[0]).expect("known script");
            a.hook_call(w[1].parse().unwrap(), w[2].parse().unwrap());
        } else if fields[0] == "OPCHAT OpChat" {
            let w: Vec<&str> = fields[1].split(' ').collect();
            let a = acc.get_mut(w[1]).expect("known script");
            let (pid, n) = (w[2].parse().unwrap(), w[3].parse().unwrap());
            match w[0] {
                "thr" => Account::numbered(&mut a.thread_next, "thread", pid, n),
                "aio" => Account::numbered(&mut a.aio_next, "asyncio", pid, n),
                other => panic!("unexpected OPCHAT {other}"),
            }
        }
    }
}

/// Waits until every script answers a hook again (all workers up).
fn all_up(
    hub: &mut Hub,
    names: &HashMap<i32, String>,
    acc: &mut BTreeMap<String, Account>,
    k: &mut u64,
) {
    wait_until(Duration::from_secs(60), "all ten scripts up", || {
        // Whatever came before is accounted for first, then each round.
        account(&hub.records(), names, acc);
        hub.clear_records();
        hub.timer(0.0);
        hub.chat(b"u", format!("seq {k}").as_bytes());
        *k += 1;
        let records = hub.records();
        hub.clear_records();
        account(&records, names, acc);
        records
            .iter()
            .filter(|r| r.starts_with(b"HOOK OnParsedMsgChat") && !r.ends_with(b"NULL"))
            .count()
            == SCRIPTS
    });
}

#[test]
fn ten_scripts_with_worker_kills_and_a_runner_restart_lose_no_call() {
    let _serial = serial();
    let hooks = env_usize("VH_SOAK_HOOKS", 1_000) as u64;
    let kills = env_usize("VH_SOAK_KILLS", 10) as u64;
    let mut runner = Runner::start_with(
        "[defaults]\nrestart_initial_ms = 100\nrestart_max_ms = 500\nmax_crashes = 1000000\n\
         crash_window_s = 1\nhook_kill_timeout_ms = 60000\nenv = { SOAK_PAUSE_S = \"0.02\" }\n",
    );
    let dir = runner.dir.path().join("soak");
    std::fs::create_dir_all(&dir).unwrap();
    shim_env(&runner.socket(), 2_000);
    // The plugin's level-1 lines ("unpack: format strings don't match",
    // python_pi probing each result's format) would be millions here.
    // SAFETY: tests hold `serial()`; nothing else reads the environment now.
    unsafe { std::env::set_var("HUBSIM_LOG_LEVEL", "0") };
    // Warm-up: the first open creates what lives for the process anyway
    // (as in plugin_reload.rs).
    drop(Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim"));
    let fds_before = fd_count("self");
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    let mut names = HashMap::new();
    let mut acc: BTreeMap<String, Account> = BTreeMap::new();
    for i in 0..SCRIPTS {
        let name = format!("soak_{i:02}");
        let path = dir.join(format!("{name}.py"));
        std::fs::copy(script("soak_seq.py"), &path).unwrap();
        let id = hub.load(&path);
        assert!(id >= 0, "{name}: {}", runner.log());
        names.insert(id, name.clone());
        acc.insert(name, Account::default());
    }
    assert!(hub.login(b"u", 0, b"10.0.0.1", b"", b"", b"", b"", b"0"));

    let started = Instant::now();
    let (mut k, mut killed) = (0u64, 0u64);
    let delivered = Arc::new(AtomicU64::new(0));
    let kill_every = (hooks / (kills + 1)).max(1);
    let restart_at = hooks / 2;
    // About 1,000 RSS samples whatever the size, allocated up front.
    let batch = (hooks / 1000).max(100);
    let mut samples: Vec<(u64, u64, u64, u32)> = Vec::with_capacity((hooks / batch + 2) as usize);
    let mut runner_fds_steady = None;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    while k < hooks {
        let batch_end = (k + batch).min(hooks);
        while k < batch_end {
            if k > 0 && k % kill_every == 0 && killed < kills {
                // Kill one worker 0-3 ms from now: often inside a hook.
                account(&hub.records(), &names, &mut acc);
                hub.clear_records();
                let victim = acc.values().nth((killed as usize) % SCRIPTS).unwrap().pid;
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let delay = Duration::from_micros(rng % 3000);
                let parent = runner.pid();
                let delivered = Arc::clone(&delivered);
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    // Only a live worker of this runner (never pid 0 or a reused pid).
                    if victim > 0 && parent_of(victim) == Some(parent) {
                        // SAFETY: plain kill(2) of that worker.
                        if unsafe { libc::kill(victim as i32, libc::SIGKILL) } == 0 {
                            delivered.fetch_add(1, Ordering::AcqRel);
                        }
                    }
                });
                killed += 1;
            }
            if k == restart_at {
                runner.restart();
                all_up(&mut hub, &names, &mut acc, &mut k);
                wait_until(Duration::from_secs(10), "runner fds settle", || {
                    std::thread::sleep(Duration::from_millis(200));
                    let n = fd_count(&runner.pid().to_string());
                    let steady = runner_fds_steady == Some(n);
                    runner_fds_steady = Some(n);
                    steady
                });
                continue;
            }
            hub.chat(b"u", format!("seq {k}").as_bytes());
            k += 1;
        }
        account(&hub.records(), &names, &mut acc);
        hub.clear_records();
        samples.push((
            k,
            rss_kib("self"),
            rss_kib(&runner.pid().to_string()),
            runner.pid(),
        ));
    }
    // Let the last kills' workers come back, then count what the runner holds.
    all_up(&mut hub, &names, &mut acc, &mut k);
    for _ in 0..20 {
        hub.timer(0.0);
        std::thread::sleep(Duration::from_millis(25));
    }
    account(&hub.records(), &names, &mut acc);
    hub.clear_records();
    let elapsed = started.elapsed();
    let killed = delivered.load(Ordering::Acquire);
    let runner_pid = runner.pid().to_string();
    let mut runner_fds_end = 0;
    wait_until(Duration::from_secs(10), "runner fds back to steady", || {
        runner_fds_end = fd_count(&runner_pid);
        Some(runner_fds_end) == runner_fds_steady
    });
    let workers = children(runner.pid()).len();
    drop(hub);
    // SAFETY: as above.
    unsafe { std::env::remove_var("HUBSIM_LOG_LEVEL") };
    let fds_after = fd_count("self");

    // Every call accounted for.
    let total_hooks = k;
    let mut report = Vec::new();
    for (name, a) in &acc {
        assert_eq!(
            a.results, total_hooks,
            "{name}: {} results for {total_hooks} hook calls",
            a.results
        );
        assert_eq!(a.acked + a.failed, a.results, "{name}");
        assert!(
            a.acked > total_hooks / 2,
            "{name}: only {} of {total_hooks} hooks answered",
            a.acked
        );
        let thread: u64 = a.thread_next.values().sum();
        let aio: u64 = a.aio_next.values().sum();
        assert!(thread > 0 && aio > 0, "{name}: no thread or asyncio calls");
        report.push(format!(
            "{name}: {} hooks answered, {} failed visibly ({} of them after their vh.usermc ran: \
             died under the call), {thread} calls from a thread, {aio} from asyncio, {} workers",
            a.acked,
            a.failed,
            a.from_hook - a.acked,
            a.pids.len()
        ));
    }
    // Memory: slopes over the runner's second incarnation, after warm-up.
    let second = samples.last().map(|s| s.3).unwrap_or(0);
    let points = |pick: fn(&(u64, u64, u64, u32)) -> u64, only_second: bool| -> Vec<(f64, f64)> {
        let chosen: Vec<_> = samples
            .iter()
            .filter(|s| !only_second || s.3 == second)
            .collect();
        let skip = chosen.len() / 5;
        chosen[skip..]
            .iter()
            .map(|s| (s.0 as f64, pick(s) as f64))
            .collect()
    };
    let hub_pts = points(|s| s.1, false);
    let runner_pts = points(|s| s.2, true);
    // KiB per 10,000 hook calls (1,000 events to ten scripts).
    let hub_slope = slope(&hub_pts) * 1000.0;
    let runner_slope = slope(&runner_pts) * 1000.0;
    let (first, last) = (samples.first().unwrap(), samples.last().unwrap());
    eprintln!(
        "soak: {SCRIPTS} scripts x {total_hooks} hooks = {} hook calls in {elapsed:?} ({:.0} hook calls/s), {killed} worker kills, 1 runner restart\n{}\n\
         RSS hub+shim {} -> {} KiB, slope {hub_slope:.1} KiB per 10k hook calls; runner {} -> {} KiB, slope {runner_slope:.1} KiB per 10k hook calls (2nd incarnation)\n\
         fds: hub {fds_before} before, {fds_after} after; runner {} steady, {runner_fds_end} at the end; {workers} workers",
        SCRIPTS as u64 * total_hooks,
        (SCRIPTS as u64 * total_hooks) as f64 / elapsed.as_secs_f64(),
        report.join("\n"),
        first.1,
        last.1,
        first.2,
        last.2,
        runner_fds_steady.unwrap_or(0),
    );
    assert_eq!(fds_after, fds_before, "fds of the hub process");
    assert!(killed > 0 || kills == 0, "no worker was killed");
    assert_eq!(workers, SCRIPTS, "worker processes of the runner");
    let hub_growth = hub_slope * (total_hooks as f64 / 1000.0);
    let runner_growth = runner_slope * (total_hooks as f64 / 2000.0);
    assert!(
        hub_growth < 16.0 * 1024.0,
        "hub RSS grows {hub_slope:.1} KiB per 10k hook calls"
    );
    assert!(
        runner_growth < 16.0 * 1024.0,
        "runner RSS grows {runner_slope:.1} KiB per 10k hook calls"
    );
}
