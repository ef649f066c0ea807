//! Conformance of the hook table (docs/abi.md §4) for both
//! plugin generations: every one of the 41 hooks reaches a classic script
//! with its arguments as Python values (§4.1), and every kind of return
//! value comes back to the hub as generation A's wrapper built it (§4.4),
//! byte for byte as the plugin unpacks it (`HOOK` records). The script is
//! `scripts/conf_hooks.py`: each hook reports `Name(<ascii(arg)>, ...)`
//! through `vh.SendToOpChat` and returns the Python expression the test
//! wrote to `conf_return.txt`.
//!
//! The hooks whose result the hub ignores (`OnCloseConn`, `OnCloseConnEx`,
//! `OnUnLoad`, `OnScriptCommand`, `OnUserLogout`) are delivered without
//! waiting (docs/architecture.md "host-shim"): their `HOOK` result is `NULL` (no
//! opinion) and the script's `vh.*` calls from them run at the hub's next
//! entry into the shim.

mod common;

use std::time::{Duration, Instant};

use common::{Runner, script, serial, shim_env, shim_path, show};
use vh_hubsim::{Generation, HookArg, Hub};

const GENERATIONS: [Generation; 2] = [Generation::A, Generation::B];

/// Hooks the shim delivers without waiting (proto `RESULT_IGNORED`).
const FIRE_AND_FORGET: [i32; 5] = [1, 2, 15, 33, 36];

/// A hook index no script defines: dispatching it only enters the shim
/// (`w_HasHook`), which runs the `vh.*` calls queued meanwhile.
const NO_HOOK: i32 = 99;

/// Hub bytes of `text`: each char is one byte (U+0000..U+00FF), which is
/// what the hub's default CP1252 has for the characters used here.
fn hub(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("a one-byte character"))
        .collect()
}

/// A loaded `conf_hooks.py` (and more scripts) on a fresh hub.
struct Fixture {
    hub: Hub,
    ids: Vec<i32>,
    dir: std::path::PathBuf,
}

impl Fixture {
    fn open(runner: &Runner, generation: Generation, scripts: &[&str]) -> Fixture {
        shim_env(&runner.socket(), 5_000);
        let mut hub = Hub::open(&shim_path(), generation).expect("hubsim opens the shim");
        let ids = scripts
            .iter()
            .map(|name| {
                let id = hub.load(&script(name));
                assert!(id >= 0, "{name} under {generation:?}:\n{}", runner.log());
                id
            })
            .collect();
        let dir = runner.dir.path().to_path_buf();
        let _ = std::fs::remove_file(dir.join("conf_return.txt"));
        Fixture { hub, ids, dir }
    }

    /// The hooks return `expression` (Python) from now on.
    fn returns(&self, expression: &str) {
        std::fs::write(self.dir.join("conf_return.txt"), expression).expect("conf_return.txt");
    }

    /// Calls hook `index` with `args` packed as `fmt`; the combined result
    /// and the records it made.
    fn call(&mut self, index: i32, fmt: &str, args: &[HookArg<'_>]) -> (bool, Vec<Vec<u8>>) {
        self.hub.clear_records();
        let allowed = self.hub.call_hook(index, fmt, args).expect("call_hook");
        (allowed, self.hub.records())
    }

    /// Enters the shim (a dispatch of a hook nobody defines) until the
    /// records hold `n` `OPCHAT` reports; 5 s at most.
    fn pump_reports(&mut self, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let records = self.hub.records();
            let reports = records.iter().filter(|r| r.starts_with(b"OPCHAT ")).count();
            if reports >= n {
                return records;
            }
            assert!(
                Instant::now() < deadline,
                "{n} reports not seen in 5 s:\n{}",
                show(&records)
            );
            std::thread::sleep(Duration::from_millis(2));
            self.hub.call_hook(NO_HOOK, "", &[]).expect("call_hook");
        }
    }
}

fn s(bytes: &[u8]) -> HookArg<'_> {
    HookArg::Str(Some(bytes))
}

/// One hook of §4.1 with test arguments and what the script must see.
struct HookCase {
    index: i32,
    name: &'static str,
    fmt: &'static str,
    args: Vec<HookArg<'static>>,
    /// The arguments as the script reports them (`ascii()` of each).
    seen: &'static str,
}

/// All 41 hooks of docs/abi.md §4.1, in index order, with 8-bit text, NMDC
/// separators and control bytes where the hub has them.
fn hook_cases() -> Vec<HookCase> {
    use HookArg::{Double, Long};
    let c = |index, name, fmt, args, seen| HookCase {
        index,
        name,
        fmt,
        args,
        seen,
    };
    vec![
        c(0, "OnNewConn", "s", vec![s(b"10.0.0.1")], "'10.0.0.1'"),
        c(1, "OnCloseConn", "s", vec![s(b"10.0.0.1")], "'10.0.0.1'"),
        c(
            2,
            "OnCloseConnEx",
            "sls",
            vec![s(b"10.0.0.1"), Long(21), s(b"J\xfcrgen")],
            r"'10.0.0.1', 21, 'J\xfcrgen'",
        ),
        c(
            3,
            "OnParsedMsgChat",
            "ss",
            vec![s(b"alice"), s(b"a $ b | c \x98")],
            r"'alice', 'a $ b | c \u02dc'",
        ),
        c(
            4,
            "OnParsedMsgPM",
            "sss",
            vec![s(b"alice"), s(b"psst"), s(b"bob")],
            "'alice', 'psst', 'bob'",
        ),
        c(
            5,
            "OnParsedMsgMCTo",
            "sss",
            vec![s(b"alice"), s(b"hi there"), s(b"bob")],
            "'alice', 'hi there', 'bob'",
        ),
        c(
            6,
            "OnParsedMsgSearch",
            "ss",
            vec![s(b"alice"), s(b"$Search Hub:alice F?T?0?9?TTH:ABC")],
            "'alice', '$Search Hub:alice F?T?0?9?TTH:ABC'",
        ),
        c(
            7,
            "OnParsedMsgSR",
            "ss",
            vec![s(b"alice"), s(b"$SR alice f.txt\x0510 1/2\x05TTH:X (hub)")],
            r"'alice', '$SR alice f.txt\x0510 1/2\x05TTH:X (hub)'",
        ),
        c(
            8,
            "OnParsedMsgMyINFO",
            "ssssss",
            vec![
                s(b"alice"),
                s(b"d\xe9sc"),
                s(b"<++ V:0.868,M:A,H:1/0/0,S:3>"),
                s(b"100\x01"),
                s(b""),
                s(b"1234"),
            ],
            r"'alice', 'd\xe9sc', '<++ V:0.868,M:A,H:1/0/0,S:3>', '100\x01', '', '1234'",
        ),
        c(
            9,
            "OnFirstMyINFO",
            "ssssss",
            vec![
                s(b"alice"),
                s(b""),
                s(b""),
                s(b"LAN(T1)\x05"),
                s(b"a@b.c"),
                s(b"0"),
            ],
            r"'alice', '', '', 'LAN(T1)\x05', 'a@b.c', '0'",
        ),
        c(
            10,
            "OnParsedMsgValidateNick",
            "s",
            vec![s(b"J\xfcrgen")],
            r"'J\xfcrgen'",
        ),
        c(
            11,
            "OnParsedMsgAny",
            "ss",
            vec![s(b"alice"), s(b"$GetNickList")],
            "'alice', '$GetNickList'",
        ),
        c(
            12,
            "OnParsedMsgAnyEx",
            "ss",
            vec![s(b"10.0.0.1"), s(b"$Key abc")],
            "'10.0.0.1', '$Key abc'",
        ),
        c(
            13,
            "OnOpChatMessage",
            "ss",
            vec![s(b"alice"), s(b"ops, help")],
            "'alice', 'ops, help'",
        ),
        c(
            14,
            "OnPublicBotMessage",
            "ssll",
            vec![s(b"Verlihub"), s(b"news"), Long(0), Long(10)],
            "'Verlihub', 'news', 0, 10",
        ),
        c(15, "OnUnLoad", "l", vec![Long(9)], "9"),
        c(
            16,
            "OnCtmToHub",
            "sslls",
            vec![
                s(b"alice"),
                s(b"10.0.0.1"),
                Long(41000),
                Long(411),
                s(b"$ConnectToMe bob 10.0.0.9:411"),
            ],
            "'alice', '10.0.0.1', 41000, 411, '$ConnectToMe bob 10.0.0.9:411'",
        ),
        c(
            17,
            "OnParsedMsgSupports",
            "sss",
            vec![
                s(b"10.0.0.1"),
                s(b"$Supports NoGetINFO UserIP2"),
                s(b"$Supports OpPlus NoGetINFO"),
            ],
            "'10.0.0.1', '$Supports NoGetINFO UserIP2', '$Supports OpPlus NoGetINFO'",
        ),
        c(
            18,
            "OnParsedMsgMyHubURL",
            "ss",
            vec![s(b"alice"), s(b"$MyHubURL dchub://h:411")],
            "'alice', '$MyHubURL dchub://h:411'",
        ),
        c(
            19,
            "OnParsedMsgExtJSON",
            "ss",
            vec![s(b"alice"), s(b"$ExtJSON alice {\"a\":1}")],
            r#"'alice', '$ExtJSON alice {"a":1}'"#,
        ),
        c(
            20,
            "OnParsedMsgBotINFO",
            "ss",
            vec![s(b"alice"), s(b"$BotINFO pinger")],
            "'alice', '$BotINFO pinger'",
        ),
        c(
            21,
            "OnParsedMsgVersion",
            "ss",
            vec![s(b"10.0.0.1"), s(b"$Version 1,0091")],
            "'10.0.0.1', '$Version 1,0091'",
        ),
        c(
            22,
            "OnParsedMsgMyPass",
            "ss",
            vec![s(b"alice"), s(b"s3cr\xe9t")],
            r"'alice', 's3cr\xe9t'",
        ),
        c(
            23,
            "OnParsedMsgConnectToMe",
            "ssss",
            vec![s(b"alice"), s(b"bob"), s(b"10.0.0.1"), s(b"412")],
            "'alice', 'bob', '10.0.0.1', '412'",
        ),
        c(
            24,
            "OnParsedMsgRevConnectToMe",
            "ss",
            vec![s(b"alice"), s(b"bob")],
            "'alice', 'bob'",
        ),
        c(
            25,
            "OnUnknownMsg",
            "ss",
            vec![s(b"alice"), s(b"$Foo bar")],
            "'alice', '$Foo bar'",
        ),
        c(
            26,
            "OnOperatorCommand",
            "ss",
            vec![s(b"alice"), s(b"!kick bob")],
            "'alice', '!kick bob'",
        ),
        c(
            27,
            "OnOperatorKicks",
            "sss",
            vec![s(b"op"), s(b"bob"), s(b"spam")],
            "'op', 'bob', 'spam'",
        ),
        c(
            28,
            "OnOperatorDrops",
            "ss",
            vec![s(b"op"), s(b"bob")],
            "'op', 'bob'",
        ),
        c(
            29,
            "OnOperatorDropsWithReason",
            "sss",
            vec![s(b"op"), s(b"bob"), s(b"flood")],
            "'op', 'bob', 'flood'",
        ),
        c(
            30,
            "OnValidateTag",
            "ss",
            vec![s(b"alice"), s(b"<++ V:0.868>")],
            "'alice', '<++ V:0.868>'",
        ),
        c(
            31,
            "OnUserCommand",
            "ss",
            vec![s(b"alice"), s(b"+help")],
            "'alice', '+help'",
        ),
        c(
            32,
            "OnHubCommand",
            "sslls",
            vec![s(b"alice"), s(b"help me"), Long(1), Long(1), s(b"+")],
            "'alice', 'help me', 1, 1, '+'",
        ),
        c(
            33,
            "OnScriptCommand",
            "ssss",
            vec![s(b"cmd"), s(b"d\xe4ta"), s(b"python"), s(b"/x/other.py")],
            r"'cmd', 'd\xe4ta', 'python', '/x/other.py'",
        ),
        c(34, "OnUserInList", "s", vec![s(b"alice")], "'alice'"),
        c(35, "OnUserLogin", "s", vec![s(b"alice")], "'alice'"),
        c(36, "OnUserLogout", "s", vec![s(b"alice")], "'alice'"),
        c(
            37,
            "OnTimer",
            "d",
            vec![Double(1_700_000_000.25)],
            "1700000000.25",
        ),
        c(
            38,
            "OnNewReg",
            "ssl",
            vec![s(b"op"), s(b"newbie"), Long(1)],
            "'op', 'newbie', 1",
        ),
        c(
            39,
            "OnNewBan",
            "ssss",
            vec![s(b"op"), s(b"10.0.0.9"), s(b"bob"), s(b"spam")],
            "'op', '10.0.0.9', 'bob', 'spam'",
        ),
        c(
            40,
            "OnSetConfig",
            "sssssl",
            vec![
                s(b"Verlihub"),
                s(b"config"),
                s(b"hub_topic"),
                s(b"new"),
                s(b"old"),
                Long(-1),
            ],
            "'Verlihub', 'config', 'hub_topic', 'new', 'old', -1",
        ),
    ]
}

/// `OPCHAT OpChat\t<report>` then `HOOK <name>\t<id>\t<result>`.
fn reported(report: &str, name: &str, id: i32, result: &[u8]) -> Vec<Vec<u8>> {
    let mut hook = format!("HOOK {name}\t{id}\t").into_bytes();
    hook.extend_from_slice(result);
    vec![hub(&format!("OPCHAT OpChat\t{report}")), hook]
}

#[test]
fn every_hook_reaches_the_script_with_its_arguments_as_python_values() {
    let _serial = serial();
    let runner = Runner::start();
    let cases = hook_cases();
    assert_eq!(cases.len(), 41, "docs/abi.md §4.1 has 41 hooks");
    for generation in GENERATIONS {
        let mut f = Fixture::open(&runner, generation, &["conf_hooks.py"]);
        let id = f.ids[0];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(case.index, i as i32, "cases are in index order");
            let (allowed, mut records) = f.call(case.index, case.fmt, &case.args);
            let report = format!("{}({})", case.name, case.seen);
            let mut want = reported(&report, case.name, id, b"l:1");
            if FIRE_AND_FORGET.contains(&case.index) {
                // The hub does not wait: no opinion now, the report later.
                let hook = format!("HOOK {}\t{id}\tNULL", case.name).into_bytes();
                want = vec![hook, want[0].clone()];
                records = f.pump_reports(1);
            }
            assert_eq!(
                records,
                want,
                "{generation:?} {}:\n{}",
                case.name,
                show(&records)
            );
            assert!(allowed, "{generation:?} {}: None allows", case.name);
        }
        // NULL strings (legal in every 's', docs/abi.md §12) arrive as None.
        let (_, records) = f.call(
            39,
            "ssss",
            &[s(b"op"), HookArg::Str(None), s(b"bob"), HookArg::Str(None)],
        );
        let want = reported("OnNewBan('op', None, 'bob', None)", "OnNewBan", id, b"l:1");
        assert_eq!(records, want, "{generation:?}:\n{}", show(&records));
    }
}

/// One return value and what the hub must get for it.
#[derive(Clone)]
struct ResultCase {
    /// The hook's return value, a Python expression.
    returns: &'static str,
    /// The `HOOK` record's result field (raw hub bytes).
    result: &'static [u8],
    /// The combined result the hub acts on.
    allowed: bool,
    /// A `RAW <nick>\t<data>` record of a `(str, n)` reply, if any.
    reply: Option<&'static [u8]>,
}

fn r(
    returns: &'static str,
    result: &'static [u8],
    allowed: bool,
    reply: Option<&'static [u8]>,
) -> ResultCase {
    ResultCase {
        returns,
        result,
        allowed,
        reply,
    }
}

/// Runs every case on one hook (arguments `args`, reply connection `conn`).
fn check_results(
    f: &mut Fixture,
    generation: Generation,
    (index, name, fmt): (i32, &str, &str),
    args: &[HookArg<'_>],
    conn: &str,
    cases: &[ResultCase],
) {
    let id = f.ids[0];
    for case in cases {
        f.returns(case.returns);
        let (allowed, records) = f.call(index, fmt, args);
        let hooks: Vec<&Vec<u8>> = records.iter().filter(|r| r.starts_with(b"HOOK ")).collect();
        let mut want_hook = format!("HOOK {name}\t{id}\t").into_bytes();
        want_hook.extend_from_slice(case.result);
        assert_eq!(
            hooks,
            [&want_hook],
            "{generation:?} {name} returning {}:\n{}",
            case.returns,
            show(&records)
        );
        let replies: Vec<&Vec<u8>> = records.iter().filter(|r| r.starts_with(b"RAW ")).collect();
        let want_reply: Vec<Vec<u8>> = case
            .reply
            .map(|data| {
                let mut line = format!("RAW {conn}\t").into_bytes();
                line.extend_from_slice(data);
                line
            })
            .into_iter()
            .collect();
        assert_eq!(
            replies,
            want_reply.iter().collect::<Vec<_>>(),
            "{generation:?} {name} returning {}:\n{}",
            case.returns,
            show(&records)
        );
        assert_eq!(
            allowed, case.allowed,
            "{generation:?} {name} returning {}",
            case.returns
        );
    }
}

/// `cases` as generation B's wrapper answers them (docs/abi.md §4.3): a
/// `str` is "s", a `float` "d" (the plugin logs both as unexpected and goes
/// on), an exception or a value of another type but a tuple is NULL (no
/// opinion); the rest as under A.
fn under_b(generation: Generation, cases: &[ResultCase]) -> Vec<ResultCase> {
    const B: [(&str, &[u8]); 11] = [
        ("'text'", b"unexpected:s ( s:<text> )"),
        ("'new text'", b"unexpected:s ( s:<new text> )"),
        ("'\\u02dc|$'", b"unexpected:s ( s:<\x98|$> )"),
        ("'desc'", b"unexpected:s ( s:<desc> )"),
        ("1.5", b"unexpected:d ( d:<1.5> )"),
        ("b'bytes'", b"NULL"),
        ("[0]", b"NULL"),
        ("{'a': 0}", b"NULL"),
        ("['d', 't', 's', 'e', 'sh']", b"NULL"),
        ("1/0", b"NULL"),
        ("None", b"l:1"),
    ];
    cases
        .iter()
        .map(
            |c| match B.iter().find(|(returns, _)| *returns == c.returns) {
                Some((_, result)) if generation == Generation::B => {
                    r(c.returns, result, true, None)
                }
                _ => c.clone(),
            },
        )
        .collect()
}

#[test]
fn generic_hook_results_map_as_generation_a_in_both_generations() {
    let _serial = serial();
    let runner = Runner::start();
    let cases = [
        r("None", b"l:1", true, None),
        r("1", b"l:1", true, None),
        r("0", b"l:0", false, None),
        r("7", b"l:7", true, None),
        r("-3", b"l:-3", true, None),
        r("True", b"l:1", true, None),
        r("False", b"l:0", false, None),
        // Python ints beyond a C long are clamped (docs/abi.md §4.4).
        r("2**70", b"l:9223372036854775807", true, None),
        r("-2**70", b"l:-9223372036854775808", true, None),
        // (str, n): str to the user's connection ('|' added), then act on n.
        r("('sorry', 0)", b"sl:sorry:0", false, Some(b"sorry|")),
        r("('ok|', 1)", b"sl:ok|:1", true, Some(b"ok|")),
        r(
            "('caf\\xe9', True)",
            b"sl:caf\xe9:1",
            true,
            Some(b"caf\xe9|"),
        ),
        r("(None, 0)", b"sl:(null):0", false, None),
        r("('', 1)", b"sl::1", true, None),
        r(
            "('big', 2**70)",
            b"sl:big:9223372036854775807",
            true,
            Some(b"big|"),
        ),
        // Anything else allows (A: "l" 1, and a log line). Under B as B's
        // wrapper gave it (`under_b`): "s"/"d" (the plugin logs
        // "unexpected" and goes on) or NULL (no opinion): the same effect.
        // Its "l" 0 for None (blocks, though B's docs say None equals 1)
        // and its "tab" tuples (heap corruption) are departures
        // (docs/compatibility.md).
        r("'text'", b"l:1", true, None),
        r("b'bytes'", b"l:1", true, None),
        r("1.5", b"l:1", true, None),
        r("[0]", b"l:1", true, None),
        r("{'a': 0}", b"l:1", true, None),
        r("('a', 'b')", b"l:1", true, None),
        r("(0, 0)", b"l:1", true, None),
        r("('x', 1.0)", b"l:1", true, None),
        r("('a', 0, 0)", b"l:1", true, None),
        r("('d', 't', 's', 'e', 'sh')", b"l:1", true, None),
        // An exception allows (A: traceback, then "l" 1).
        r("1/0", b"l:1", true, None),
    ];
    for generation in GENERATIONS {
        let mut f = Fixture::open(&runner, generation, &["conf_hooks.py"]);
        let pm = [s(b"alice"), s(b"hi"), s(b"bob")];
        check_results(
            &mut f,
            generation,
            (4, "OnParsedMsgPM", "sss"),
            &pm,
            "alice",
            &under_b(generation, &cases),
        );
        // A hook without a connection: a (str, n) reply goes nowhere.
        let no_conn = [
            r("('reply', 1)", b"sl:reply:1", true, None),
            r("('reply', 0)", b"sl:reply:0", false, None),
            r("0", b"l:0", false, None),
        ];
        check_results(
            &mut f,
            generation,
            (13, "OnOpChatMessage", "ss"),
            &[s(b"alice"), s(b"x")],
            "-",
            &no_conn,
        );
    }
}

#[test]
fn chat_hook_results_substitute_nick_and_text_in_both_generations() {
    let _serial = serial();
    let runner = Runner::start();
    let cases = [
        r("None", b"l:1", true, None),
        r("0", b"l:0", false, None),
        r("1", b"l:1", true, None),
        // str: replace only the text; (nick, text): either, None keeps.
        r("'new text'", b"ss:(null):new text", true, None),
        r("'\\u02dc|$'", b"ss:(null):\x98|$", true, None),
        r("('bob', 'hi')", b"ss:bob:hi", true, None),
        r("(None, 'hi')", b"ss:(null):hi", true, None),
        r("('bob', None)", b"ss:bob:(null)", true, None),
        r("(None, None)", b"ss:(null):(null)", true, None),
        r("('nope', 0)", b"sl:nope:0", false, Some(b"nope|")),
        r("('fine', 1)", b"sl:fine:1", true, Some(b"fine|")),
        // A turned a 5-tuple into "sssss" the chat handler does not
        // understand ("unexpected"); here it allows as "l" 1 (same effect).
        r("('a', 'b', 'c', 'd', 'e')", b"l:1", true, None),
        r("('x', 'y', 'z')", b"l:1", true, None),
        r("(1, 'y')", b"l:1", true, None),
        r("1/0", b"l:1", true, None),
    ];
    // Generation B's plugin never read a str as the new text (B's wrapper
    // gave "s", which the chat handler logs as unexpected): it allows.
    for generation in GENERATIONS {
        let mut f = Fixture::open(&runner, generation, &["conf_hooks.py"]);
        let args = [s(b"alice"), s(b"hello")];
        let cases = under_b(generation, &cases);
        check_results(
            &mut f,
            generation,
            (3, "OnParsedMsgChat", "ss"),
            &args,
            "alice",
            &cases,
        );
    }
}

#[test]
fn myinfo_hook_results_substitute_the_five_fields_in_both_generations() {
    let _serial = serial();
    let runner = Runner::start();
    let cases = [
        r("None", b"l:1", true, None),
        r("0", b"l:0", false, None),
        r(
            "('d\\xe9sc', '<t>', '100\\x01', 'e@x', '42')",
            b"sssss:d\xe9sc:<t>:100\x01:e@x:42",
            true,
            None,
        ),
        r(
            "(None, None, None, None, '0')",
            b"sssss:(null):(null):(null):(null):0",
            true,
            None,
        ),
        r("('m', 0)", b"sl:m:0", false, Some(b"m|")),
        r("'desc'", b"l:1", true, None),
        r("('a', 'b')", b"l:1", true, None),
        r("('d', 't', 's', 'e')", b"l:1", true, None),
        r("('d', 't', 's', 'e', 5)", b"l:1", true, None),
        r("['d', 't', 's', 'e', 'sh']", b"l:1", true, None),
        r("1/0", b"l:1", true, None),
    ];
    for generation in GENERATIONS {
        let mut f = Fixture::open(&runner, generation, &["conf_hooks.py"]);
        let args = [
            s(b"alice"),
            s(b"desc"),
            s(b"<++>"),
            s(b"100\x01"),
            s(b""),
            s(b"0"),
        ];
        for (index, name) in [(8, "OnParsedMsgMyINFO"), (9, "OnFirstMyINFO")] {
            check_results(
                &mut f,
                generation,
                (index, name, "ssssss"),
                &args,
                "alice",
                &under_b(generation, &cases),
            );
        }
    }
}

#[test]
fn on_timer_is_called_with_or_without_its_argument() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Fixture::open(
            &runner,
            generation,
            &["conf_hooks.py", "conf_timer_noarg.py"],
        );
        let (with_arg, without) = (f.ids[0], f.ids[1]);
        f.hub.clear_records();
        assert!(f.hub.timer(1_700_000_000.5));
        let mut want = reported("OnTimer(1700000000.5)", "OnTimer", with_arg, b"l:1");
        want.extend(reported("OnTimer()", "OnTimer", without, b"l:1"));
        let records = f.hub.records();
        assert_eq!(records, want, "{generation:?}:\n{}", show(&records));

        // Both styles' results count; no early stop (docs/abi.md §4.2).
        f.returns("0");
        f.hub.clear_records();
        assert!(!f.hub.timer(1_700_000_001.0));
        let mut want = reported("OnTimer(1700000001.0)", "OnTimer", with_arg, b"l:0");
        want.extend(reported("OnTimer()", "OnTimer", without, b"l:0"));
        let records = f.hub.records();
        assert_eq!(records, want, "{generation:?}:\n{}", show(&records));
    }
}

#[test]
fn hooks_a_script_does_not_define_are_not_called() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Fixture::open(&runner, generation, &["conf_timer_noarg.py"]);
        f.returns("0");
        let (allowed, records) = f.call(3, "ss", &[s(b"alice"), s(b"hello")]);
        assert!(allowed, "{generation:?}: no opinion allows");
        assert!(records.is_empty(), "{generation:?}:\n{}", show(&records));
        // A's w_HasHook answered 1 for OnOperatorCommand whatever the
        // script defined, and its w_CallHook then found no function: NULL.
        // The shim asks the load-time set only; the hub sees the same.
        let (allowed, records) = f.call(26, "ss", &[s(b"alice"), s(b"!x")]);
        assert!(allowed, "{generation:?}");
        assert!(records.is_empty(), "{generation:?}:\n{}", show(&records));
    }
}

#[test]
fn bot_name_changes_update_vh_botname_before_on_script_command() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Fixture::open(&runner, generation, &["conf_hooks.py"]);
        // What the hub sends to every script when hub_security or
        // opchat_name changes (docs/abi.md §4.1 #33, §4.3 `_update_settings`).
        let changes: [(&[u8], &[u8]); 2] = [
            (b"_hub_security_change", b"N\xe9wBot"),
            (b"_opchat_name_change", b"NewOps"),
        ];
        for (n, (command, data)) in changes.into_iter().enumerate() {
            f.hub
                .call_hook(33, "ssss", &[s(command), s(data), s(b""), s(b"")])
                .expect("call_hook");
            f.pump_reports(n + 1);
        }
        let records = f.hub.records();
        let reports: Vec<&Vec<u8>> = records
            .iter()
            .filter(|r| r.starts_with(b"OPCHAT "))
            .collect();
        let want = match generation {
            Generation::A => [
                hub(
                    "OPCHAT OpChat\tOnScriptCommand('_hub_security_change', 'N\\xe9wBot botname=N\\xe9wBot opchatname=OpChat', '', '')",
                ),
                hub(
                    "OPCHAT OpChat\tOnScriptCommand('_opchat_name_change', 'NewOps botname=N\\xe9wBot opchatname=NewOps', '', '')",
                ),
            ],
            // Generation B never renamed vh.botname / vh.opchatname (§4.3).
            Generation::B => [
                hub(
                    "OPCHAT OpChat\tOnScriptCommand('_hub_security_change', 'N\\xe9wBot botname=Verlihub opchatname=OpChat', '', '')",
                ),
                hub(
                    "OPCHAT OpChat\tOnScriptCommand('_opchat_name_change', 'NewOps botname=Verlihub opchatname=OpChat', '', '')",
                ),
            ],
        };
        assert_eq!(
            reports,
            want.iter().collect::<Vec<_>>(),
            "{generation:?}:\n{}",
            show(&records)
        );
    }
}

#[test]
fn hub_events_pass_the_hubs_arguments_to_the_hooks() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Fixture::open(&runner, generation, &["conf_hooks.py"]);
        let h = &mut f.hub;
        h.clear_records();
        assert!(h.login(
            b"J\xfcrgen",
            3,
            b"10.0.0.7",
            b"d",
            b"<++ V:1>",
            b"100\x01",
            b"j@x",
            b"5"
        ));
        assert!(h.chat(b"J\xfcrgen", b"hello"));
        assert!(h.chat(b"J\xfcrgen", b"!op cmd"));
        assert!(h.chat(b"J\xfcrgen", b"+user cmd"));
        assert!(h.pm(b"J\xfcrgen", b"OpChat", b"to ops"));
        assert!(h.logout(b"J\xfcrgen"));
        // The three logout hooks are not waited for (module docs).
        let reports: Vec<Vec<u8>> = f
            .pump_reports(17)
            .into_iter()
            .filter_map(|r| r.strip_prefix(b"OPCHAT OpChat\t").map(<[u8]>::to_vec))
            .collect();
        let j = r"'J\xfcrgen'";
        let want: Vec<String> = vec![
            "OnNewConn('10.0.0.7')".into(),
            format!("OnParsedMsgValidateNick({j})"),
            format!("OnFirstMyINFO({j}, 'd', '<++ V:1>', '100\\x01', 'j@x', '5')"),
            format!("OnParsedMsgMyINFO({j}, 'd', '<++ V:1>', '100\\x01', 'j@x', '5')"),
            format!("OnUserInList({j})"),
            format!("OnUserLogin({j})"),
            format!("OnParsedMsgChat({j}, 'hello')"),
            format!("OnHubCommand({j}, 'op cmd', 3, 0, '!')"),
            format!("OnOperatorCommand({j}, '!op cmd')"),
            format!("OnHubCommand({j}, 'user cmd', 3, 0, '+')"),
            format!("OnUserCommand({j}, '+user cmd')"),
            format!("OnParsedMsgPM({j}, 'to ops', 'OpChat')"),
            format!("OnOpChatMessage({j}, 'to ops')"),
            format!("OnUserLogout({j})"),
            "OnCloseConn('10.0.0.7')".into(),
            format!("OnCloseConnEx('10.0.0.7', 4, {j})"),
        ];
        let want: Vec<Vec<u8>> = want.iter().map(|w| w.clone().into_bytes()).collect();
        assert_eq!(reports, want, "{generation:?}:\n{}", show(&f.hub.records()));
    }
}
#[test]
fn a_hook_the_hub_does_not_wait_for_may_call_vh_inside_a_vh_call() {
    let _serial = serial();
    // Generation A's ScriptCommand(cmd, data, instant) under both plugins
    // (B's took three str, never instant): the script chooses A's
    // semantics in runner.toml.
    let runner = Runner::start_with("[[script]]\nmatch = \"conf_hooks.py\"\nsemantics = \"A\"\n");
    for generation in GENERATIONS {
        let mut f = Fixture::open(&runner, generation, &["conf_hooks.py"]);
        let id = f.ids[0];
        // OnParsedMsgPM calls vh.ScriptCommand(instant): the hub fires
        // OnScriptCommand (not waited for) into the same script before the
        // callback returns; that hook's own vh.SendToOpChat runs while the
        // script still waits for ScriptCommand's answer (docs/abi.md §9.2).
        f.returns("vh.ScriptCommand('now', 'x', 1) if name == 'OnParsedMsgPM' else None");
        let started = Instant::now();
        let (allowed, records) = f.call(4, "sss", &[s(b"alice"), s(b"hi"), s(b"bob")]);
        let path = script("conf_hooks.py").display().to_string();
        let want: Vec<Vec<u8>> = [
            "OPCHAT OpChat\tOnParsedMsgPM('alice', 'hi', 'bob')".to_string(),
            format!("HOOK OnScriptCommand\t{id}\tNULL"),
            format!("OPCHAT OpChat\tOnScriptCommand('now', 'x', 'python', '{path}')"),
            format!("HOOK OnParsedMsgPM\t{id}\tl:1"),
        ]
        .iter()
        .map(|r| hub(r))
        .collect();
        assert_eq!(records, want, "{generation:?}:\n{}", show(&records));
        assert!(allowed);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        // The script still answers the next hook.
        f.returns("0");
        let (allowed, _) = f.call(0, "s", &[s(b"10.0.0.9")]);
        assert!(!allowed, "{generation:?}: the script is stuck");
    }
}

#[test]
fn results_the_hub_cannot_take_allow_as_an_exception_does() {
    let _serial = serial();
    let runner = Runner::start();
    for generation in GENERATIONS {
        let mut f = Fixture::open(&runner, generation, &["conf_hooks.py"]);
        let id = f.ids[0];
        // A character the hub's encoding (CP1252) lacks, or a NUL byte (a C
        // string ends there): A's wrapper could not parse such a result
        // either, printed the traceback and went on with "l" 1 (§4.3).
        for returns in [
            "'\\u0416'",
            "('\\u0416', 0)",
            "(None, '\\u0416')",
            "'a\\x00b'",
            "('x\\x00y', 0)",
        ] {
            f.returns(returns);
            let (allowed, records) = f.call(3, "ss", &[s(b"alice"), s(b"hi")]);
            let want = reported(
                "OnParsedMsgChat('alice', 'hi')",
                "OnParsedMsgChat",
                id,
                b"l:1",
            );
            assert_eq!(
                records,
                want,
                "{generation:?} returning {returns}:\n{}",
                show(&records)
            );
            assert!(allowed, "{generation:?} returning {returns}");
        }
    }
}
