//! Big and odd data through every link, with real parts (hubsim
//! driving the shim, a real runner, real workers): 1 MiB messages both
//! ways, a 10,000-user nick list, arbitrary NUL-free bytes in every string
//! field, and hub callbacks that return NULL or a wrong format (hubsim's
//! `hubsim_fault_callback` knob). Each gives a clear result or error,
//! crashes nothing and leaves the other scripts alone.

mod common;

use std::ffi::{CString, c_char, c_int};
use std::time::{Duration, Instant};

use common::{Runner, actions, script, serial, shim_env, shim_path, show};
use vh_hubsim::{Generation, Hub};

unsafe extern "C" {
    /// See `c/hubsim.h`.
    fn hubsim_fault_callback(name: *const c_char, mode: c_int) -> c_int;
}

const FAULT_NONE: c_int = 0;
const FAULT_NULL: c_int = 1;
const FAULT_FORMAT: c_int = 2;
const FAULT_OPAQUE: c_int = 3;

fn fault(name: &str, mode: c_int) {
    let name = CString::new(name).unwrap();
    // SAFETY: a valid C string; hubsim is open (the caller holds a Hub).
    assert_eq!(unsafe { hubsim_fault_callback(name.as_ptr(), mode) }, 0);
}

/// Deterministic NUL-free bytes (xorshift64*), excluding `avoid`.
fn bytes(seed: u64, n: usize, avoid: &[u8]) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let b = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8;
        if b != 0 && !avoid.contains(&b) {
            out.push(b);
        }
    }
    out
}

fn login(hub: &mut Hub, nick: &[u8], class: i64) -> bool {
    hub.login(nick, class, b"10.0.0.1", b"", b"", b"", b"", b"0")
}

fn open(runner: &Runner, generation: Generation, deadline_ms: u64) -> Hub {
    shim_env(&runner.socket(), deadline_ms);
    Hub::open(&shim_path(), generation).expect("hubsim opens the shim")
}

fn record(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut r = prefix.to_vec();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            r.push(b'\t');
        }
        r.extend_from_slice(p);
    }
    r
}

#[test]
fn one_mib_messages_cross_every_link_both_ways() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = open(&runner, Generation::A, 10_000);
    let echo = hub.load(&script("big_echo.py"));
    let ping = hub.load(&script("ping.py"));
    assert!(echo >= 0 && ping >= 0, "{}", runner.log());
    assert!(login(&mut hub, b"big", 0));
    for size in [64 * 1024, 1024 * 1024, 3 * 1024 * 1024] {
        // Not a command: no '!' or '+' first.
        let mut text = b"x".to_vec();
        text.extend(bytes(size as u64, size - 1, b""));
        hub.clear_records();
        let t = Instant::now();
        assert!(hub.chat(b"big", &text), "{size} bytes");
        let took = t.elapsed();
        let records = actions(&hub.records());
        eprintln!("{size} bytes: hook, vh.usermc and substitution in {took:?}");
        assert!(
            records.contains(&record(b"USERMC ", &[b"big", b"Verlihub", &text])),
            "{size} bytes: the vh.usermc copy differs"
        );
        assert!(
            records.contains(&record(b"MC ", &[b"big", &text])),
            "{size} bytes: the substitution differs"
        );
        let hooks: Vec<_> = hub
            .records()
            .into_iter()
            .filter(|r| r.starts_with(b"HOOK OnParsedMsgChat"))
            .collect();
        assert_eq!(hooks.len(), 2, "both scripts got the hook");
        assert!(took < Duration::from_secs(5), "{size} bytes took {took:?}");
    }
    hub.clear_records();
    assert!(!hub.chat(b"big", b"!ping"), "ping.py unaffected");
    assert!(
        actions(&hub.records()).contains(&b"USERMC big\tVerlihub\tpong".to_vec()),
        "{}",
        show(&hub.records())
    );
}

/// `(pid, counter)` that state.py reports for a chat line.
fn state_of(hub: &mut Hub) -> (i64, i64) {
    hub.clear_records();
    hub.chat(b"big", b"count");
    actions(&hub.records())
        .iter()
        .find_map(|r| {
            let t = r.strip_prefix(b"USERMC big\tVerlihub\t")?;
            let n: Vec<i64> = String::from_utf8_lossy(t)
                .split(' ')
                .filter_map(|x| x.parse().ok())
                .collect();
            (n.len() == 3).then(|| (n[0], n[2]))
        })
        .unwrap_or_else(|| panic!("no answer from state.py: {}", show(&hub.records())))
}

#[test]
fn messages_up_to_16_mib_pass_and_a_bigger_call_fails_alone() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = open(&runner, Generation::A, 10_000);
    let echo = hub.load(&script("big_echo.py"));
    let state = hub.load(&script("state.py"));
    assert!(echo >= 0 && state >= 0, "{}", runner.log());
    assert!(login(&mut hub, b"big", 0));
    // state.py counts every chat line: the big one and its own "count".
    let (pid, mut n) = state_of(&mut hub);
    // Over tonic's 4 MiB default, under the 16 MiB frame limit: both ways.
    let mut text = b"x".to_vec();
    text.resize(5 << 20, b'y');
    hub.clear_records();
    assert!(hub.chat(b"big", &text));
    let records = actions(&hub.records());
    assert!(
        records.contains(&record(b"MC ", &[b"big", &text])),
        "5 MiB substitution"
    );
    n += 2;
    assert_eq!(state_of(&mut hub), (pid, n), "state.py disturbed by 5 MiB");
    // A 17 MiB chat line is over the limit: neither script's hook call is
    // sent (no opinion: the hub lets the line through), and the stream
    // stays (a reconnection would load state.py again: new pid, counter 0).
    let mut huge = b"x".to_vec();
    huge.resize(17 << 20, b'y');
    hub.clear_records();
    let t = Instant::now();
    assert!(hub.chat(b"big", &huge), "no opinion on a 17 MiB line");
    eprintln!("17 MiB chat line: {:?}", t.elapsed());
    assert!(
        !actions(&hub.records())
            .iter()
            .any(|r| r.starts_with(b"USERMC")),
        "a script got the 17 MiB line"
    );
    n += 1;
    assert_eq!(state_of(&mut hub), (pid, n), "state.py disturbed by 17 MiB");
    // Hub callback results: 5 MiB reaches the script, 17 MiB fails that
    // call alone (classic: None; strict: HubRefusedError naming the limit).
    for size in [5usize << 20, 17 << 20] {
        hub.set_config(b"config", b"big", &vec![b'c'; size]);
        hub.clear_records();
        hub.chat(b"big", b"!config big");
        let line = actions(&hub.records())
            .iter()
            .find_map(|r| {
                r.strip_prefix(b"USERMC big\tVerlihub\tconfig=")
                    .map(<[u8]>::to_vec)
            })
            .map(|r| String::from_utf8_lossy(&r).into_owned())
            .unwrap_or_else(|| panic!("no answer to !config: {}", show(&hub.records())));
        if size < 16 << 20 {
            assert_eq!(line, format!("{size} strict={size}"));
        } else {
            assert!(
                line.starts_with("None strict=refused: ") && line.contains("exceeds the limit"),
                "{line}"
            );
        }
        n += 2;
        assert_eq!(
            state_of(&mut hub),
            (pid, n),
            "state.py disturbed by a {size}-byte config value"
        );
    }
    hub.set_config(b"config", b"big", b"");
    for (size, delivered) in [(15_000_000, true), (17_000_000, false)] {
        hub.clear_records();
        let t = Instant::now();
        hub.chat(b"big", format!("!blob {size}").as_bytes());
        let took = t.elapsed();
        let longest = actions(&hub.records())
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0);
        eprintln!("vh.usermc of {size} bytes: {took:?}, longest record {longest}");
        // Over 16 MiB the call fails in the script (vh.usermc returns
        // False; nothing is sent), alone.
        assert_eq!(longest > size, delivered, "{size} bytes");
        n += 2;
        assert_eq!(state_of(&mut hub), (pid, n), "state.py disturbed by {size}");
    }
    let status = String::from_utf8_lossy(&runner.cli(&["status"]).stdout).into_owned();
    assert_eq!(status.matches(" running ").count(), 2, "{status}");
    let log = runner.log();
    assert!(!log.contains("hub stream failed"), "{log}");
}

/// FNV-1a 64, as big_nicklist.py computes it.
fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn a_ten_thousand_user_nick_list_reaches_a_script_whole() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in [Generation::A, Generation::B] {
        let mut hub = open(&runner, generation, 10_000);
        hub.set_config(b"config", b"hub_encoding", b"CP1251");
        assert!(
            hub.load(&script("big_nicklist.py")) >= 0,
            "{}",
            runner.log()
        );
        let mut nicks: Vec<Vec<u8>> = vec![b"Verlihub".to_vec(), b"OpChat".to_vec()];
        // JSON needs escapes for these under B; 8-bit bytes stay as they are.
        for odd in [
            &b"q\"uote"[..],
            b"back\\slash",
            b"\xcf\xee\xeb\xfc",
            b"tab\x09",
        ] {
            nicks.push(odd.to_vec());
        }
        for i in nicks.len()..10_002 {
            nicks.push(format!("user{i:05}").into_bytes());
        }
        let t = Instant::now();
        for nick in &nicks[2..] {
            assert!(login(&mut hub, nick, 0));
        }
        let logins = t.elapsed();
        assert!(login(&mut hub, b"op", 0));
        nicks.push(b"op".to_vec());
        hub.clear_records();
        let t = Instant::now();
        assert!(!hub.chat(b"op", b"!nicks"));
        let took = t.elapsed();
        let mut sorted = nicks.clone();
        sorted.sort();
        let want = format!(
            "USERMC op\tVerlihub\tnicks={} fnv={:x}",
            nicks.len(),
            fnv1a64(&sorted.join(&b'\n'))
        );
        let records = actions(&hub.records());
        eprintln!(
            "{generation:?}: {} logins in {logins:?}; GetNickList of {} nicks through a script in {took:?}",
            nicks.len() - 3,
            nicks.len()
        );
        assert_eq!(
            records,
            vec![want.into_bytes()],
            "{generation:?}: {}",
            show(&records)
        );
    }
}

#[test]
fn arbitrary_bytes_in_every_string_field_come_back_unchanged() {
    let _serial = serial();
    let runner = Runner::start();
    for encoding in ["CP1252", "CP1251", "UTF-8"] {
        let mut hub = open(&runner, Generation::A, 5_000);
        hub.set_config(b"config", b"hub_encoding", encoding.as_bytes());
        assert!(hub.load(&script("big_fields.py")) >= 0, "{}", runner.log());
        assert!(login(&mut hub, b"peer", 0));
        for seed in 1..=4u64 {
            // Nick and IP: no NMDC separators; the rest any NUL-free byte.
            let nick = bytes(seed, 24, b" $|");
            let ip = bytes(seed + 10, 15, b" $|");
            let fields: Vec<Vec<u8>> = (0..4).map(|i| bytes(seed * 7 + i, 200, b"")).collect();
            let share = b"1234567890".to_vec();
            hub.clear_records();
            assert!(
                hub.login(
                    &nick, 0, &ip, &fields[0], &fields[1], &fields[2], &fields[3], &share
                ),
                "{encoding} seed {seed}"
            );
            let records = actions(&hub.records());
            let mut myinfo = b"MYINFO $MyINFO $ALL ".to_vec();
            for part in [
                &nick[..],
                b" ",
                &fields[0],
                &fields[1],
                b"$ $",
                &fields[2],
                b"$",
                &fields[3],
                b"$",
                &share,
                b"$",
            ] {
                myinfo.extend_from_slice(part);
            }
            let echoed = |label: &str, value: &[u8]| {
                let mut text = label.as_bytes().to_vec();
                text.extend_from_slice(value);
                record(b"USERMC ", &[&nick, b"Verlihub", &text])
            };
            let mut want = vec![myinfo, echoed("f0=", &nick)];
            for (i, f) in fields.iter().chain([&share]).enumerate() {
                want.push(echoed(&format!("f{}=", i + 1), f));
            }
            want.push(echoed("ip=", &ip));
            assert_eq!(records, want, "{encoding} seed {seed}:\n{}", show(&records));
            let text = bytes(seed + 100, 1000, b"");
            let mut chat = b"x".to_vec();
            chat.extend_from_slice(&text);
            hub.clear_records();
            assert!(hub.chat(&nick, &chat));
            assert!(
                actions(&hub.records()).contains(&echoed("cfg=", &chat)),
                "{encoding}: config value:\n{}",
                show(&hub.records())
            );
            hub.clear_records();
            assert!(hub.pm(&nick, b"peer", &text));
            let mut pm = b"pm=".to_vec();
            pm.extend_from_slice(&text);
            assert!(
                actions(&hub.records()).contains(&record(b"PM ", &[&nick, b"peer", b"peer", &pm])),
                "{encoding}: PM:\n{}",
                show(&hub.records())
            );
            hub.logout(&nick);
        }
    }
}

#[test]
fn hub_callbacks_that_return_null_or_a_wrong_format_give_clear_errors() {
    let _serial = serial();
    let runner = Runner::start();
    let mut hub = open(&runner, Generation::A, 5_000);
    let probe = hub.load(&script("big_probe.py"));
    let ping = hub.load(&script("ping.py"));
    assert!(probe >= 0 && ping >= 0, "{}", runner.log());
    assert!(login(&mut hub, b"op", 0));
    let mut seen = Vec::new();
    for name in [
        "GetNickList",
        "GetUserClass",
        "GetUserIP",
        "GetMyINFO",
        "GetServFreq",
        "GetConfig",
        "mc",
    ] {
        for mode in [FAULT_NULL, FAULT_FORMAT, FAULT_OPAQUE, FAULT_NONE] {
            fault(name, mode);
            hub.clear_records();
            let t = Instant::now();
            assert!(!hub.chat(b"op", format!("!probe {name}").as_bytes()));
            let took = t.elapsed();
            let records = actions(&hub.records());
            let line = records
                .iter()
                .find_map(|r| r.strip_prefix(b"OPCHAT OpChat\tprobe "))
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .unwrap_or_else(|| panic!("{name}/{mode}: no report:\n{}", show(&records)));
            assert!(took < Duration::from_secs(2), "{name}/{mode}: {took:?}");
            seen.push((name, mode, line));
            // The other script is not affected.
            hub.clear_records();
            assert!(!hub.chat(b"op", b"!ping"), "{name}/{mode}: ping.py");
        }
    }
    for (_, mode, line) in &seen {
        eprintln!("mode {mode}: {line}");
    }
    for (name, mode, line) in &seen {
        match (*mode, *name) {
            (FAULT_NONE, _) => assert!(!line.contains("raised"), "{line}"),
            // "mc" says success or failure only: any result is success.
            (FAULT_FORMAT, "mc") => assert!(
                line.contains("classic=ok True") && line.contains("strict=ok None"),
                "{line}"
            ),
            // A refused or unreadable result, or one in another format than
            // the callback's own (docs/abi.md §6.3): the classic failure value and
            // vh.strict's HubRefusedError; never another exception.
            _ => {
                let failure = if *name == "mc" {
                    "classic=ok False"
                } else {
                    "classic=ok None"
                };
                assert!(
                    line.contains(failure) && line.contains("strict=raised HubRefusedError"),
                    "{mode}: {line}"
                );
            }
        }
    }
    let log = runner.log();
    assert!(
        !log.contains("worker crashed") && !log.contains("panicked"),
        "{log}"
    );
}
