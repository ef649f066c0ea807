//! The Python 2 worker's wire codec (`py-sdk/python2/vh/_wire.py`,
//! driven by the schema `proto/build.rs` generates from `vh.proto`) against
//! prost, the Rust side's codec: frames prost encodes decode in a real
//! Python 2.7 and encode back to the same bytes; messages Python encodes
//! decode in prost to the values meant.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::py2::python2;
use common::target_dir;
use prost::Message;
use vh_proto::v1::{
    CallResult, FromWorker, FunctionCall, FunctionResult, HookCall, HookResult, HubCall,
    LoadScript, Ping, Pong, ScriptLoaded, ScriptUnloaded, ToWorker, UnloadScript, Value,
    from_worker, to_worker, value::Kind,
};

/// Decodes each `Name hex` line as message `Name`, then prints the
/// message encoded again (hex) and `repr` of what it decoded.
const ROUND_TRIP: &str = r#"
import sys, binascii
from vh import _wire
for line in sys.stdin:
    name, data = line.rstrip("\n").split(" ")
    msg = _wire.decode(name, binascii.unhexlify(data))
    sys.stdout.write(binascii.hexlify(_wire.encode(name, msg)) + " " + repr(msg) + "\n")
"#;

fn v(kind: Kind) -> Value {
    Value { kind: Some(kind) }
}

fn py2_package() -> std::path::PathBuf {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let out = Command::new(target_dir().join("vh-runner"))
        .arg("py2-package")
        .arg(&dir)
        .output()
        .expect("vh-runner py2-package");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn run_python2(
    py2: &std::path::Path,
    package: &std::path::Path,
    code: &str,
    input: &str,
) -> String {
    let mut child = Command::new(py2)
        .args(["-c", code])
        .env("PYTHONPATH", package)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python2.7");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("ascii output")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn prost_frames_round_trip_through_the_python2_codec_byte_for_byte() {
    let Some(py2) = python2() else { return };
    let package = py2_package();
    let to_worker = |k| ToWorker { kind: Some(k) };
    let from_worker = |k| FromWorker { kind: Some(k) };
    let to: Vec<ToWorker> = vec![
        to_worker(to_worker::Kind::Load(LoadScript {
            script_id: 7,
            path: b"/etc/verlihub/scripts/\xe9t\xe9.py".to_vec(),
            botname: b"\xc8\xe2\xe0\xed".to_vec(),
            opchatname: b"OpChat".to_vec(),
            config_dir: b"/etc/verlihub".to_vec(),
            start_time: 1_700_000_000,
            config_name: b"config".to_vec(),
            hub_encoding: "cp1251".into(),
            generation: "A".into(),
            hub_cwd: b"/".to_vec(),
            semantics: "B".into(),
        })),
        to_worker(to_worker::Kind::Hook(HookCall {
            hub_cpu: 0,
            script_id: 0,
            call_id: u64::MAX,
            hook: 40,
            args: vec![
                v(Kind::S(b"J\xfcrgen".to_vec())),
                v(Kind::S(Vec::new())),
                v(Kind::NullS(true)),
                v(Kind::L(0)),
                v(Kind::L(-1)),
                v(Kind::L(i64::MIN)),
                v(Kind::L(i64::MAX)),
                v(Kind::D(1_700_000_000.25)),
                v(Kind::D(-0.0)),
                v(Kind::Json(b"[\"a\"]".to_vec())),
            ],
        })),
        to_worker(to_worker::Kind::CallResult(CallResult {
            script_id: -3,
            call_id: 300,
            ok: true,
            values: vec![v(Kind::L(1)), v(Kind::L(2)), v(Kind::S(b"x".to_vec()))],
            error: "caf\u{e9} \u{2603}".into(),
        })),
        to_worker(to_worker::Kind::Unload(UnloadScript { script_id: 0 })),
        to_worker(to_worker::Kind::Ping(Ping {
            script_id: 1,
            seq: 1 << 63,
        })),
        to_worker(to_worker::Kind::Function(FunctionCall {
            script_id: 2,
            call_id: 9,
            name: b"f".to_vec(),
            args: vec![v(Kind::Json(Vec::new()))],
        })),
        ToWorker { kind: None },
    ];
    let from: Vec<FromWorker> = vec![
        from_worker(from_worker::Kind::Loaded(ScriptLoaded {
            ok: true,
            hooks: vec![0, 3, 33, 40, 300, u32::MAX],
            pid: 4242,
            error: "line\nnext".into(),
            ..ScriptLoaded::default()
        })),
        from_worker(from_worker::Kind::HookResult(HookResult {
            script_id: 0,
            call_id: 5,
            no_opinion: false,
            values: vec![v(Kind::NullS(true)), v(Kind::S(b"\x00\xff".to_vec()))],
        })),
        from_worker(from_worker::Kind::HubCall(HubCall {
            script_id: 0,
            call_id: 6,
            callback: "usermc".into(),
            args: vec![v(Kind::S(b"hi".to_vec())), v(Kind::L(100))],
            pipelined: true,
        })),
        from_worker(from_worker::Kind::FunctionResult(FunctionResult {
            script_id: 0,
            call_id: 7,
            ok: true,
            value: Some(v(Kind::D(2.5))),
            error: String::new(),
        })),
        from_worker(from_worker::Kind::Pong(Pong {
            script_id: 0,
            seq: 0,
        })),
        from_worker(from_worker::Kind::Unloaded(ScriptUnloaded { script_id: 0 })),
    ];
    let mut input = String::new();
    let mut frames = Vec::new();
    for m in &to {
        frames.push(m.encode_to_vec());
        input += &format!("ToWorker {}\n", hex(frames.last().unwrap()));
    }
    for m in &from {
        frames.push(m.encode_to_vec());
        input += &format!("FromWorker {}\n", hex(frames.last().unwrap()));
    }
    let out = run_python2(&py2, &package, ROUND_TRIP, &input);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), frames.len(), "{out}");
    for (line, frame) in lines.iter().zip(&frames) {
        let (again, repr) = line.split_once(' ').unwrap();
        assert_eq!(
            again,
            hex(frame),
            "re-encoded differently; decoded as {repr}"
        );
    }
    // What Python 2 saw: the hub's bytes as str, numbers exact.
    assert!(lines[1].contains(r"{'s': 'J\xfcrgen'}"), "{}", lines[1]);
    assert!(
        lines[1].contains("{'l': -9223372036854775808}"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains("'call_id': 18446744073709551615"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("{'null_s': True}"), "{}", lines[1]);
    assert!(
        lines[7].contains("'hooks': [0, 3, 33, 40, 300, 4294967295]"),
        "{}",
        lines[7]
    );
}

#[test]
fn messages_the_python2_codec_encodes_decode_in_prost() {
    let Some(py2) = python2() else { return };
    let package = py2_package();
    let code = r#"
import binascii
from vh import _wire
print(binascii.hexlify(_wire.encode("FromWorker", {"hub_call": {
    "call_id": 2**64 - 1, "callback": u"caf\xe9", "args": [
        {"s": "\xc8\xe2"}, {"l": -5}, {"l": 2**63 - 1}, {"null_s": True}, {"d": 0.5}]}})))
print(binascii.hexlify(_wire.encode("FromWorker", {"loaded": {"ok": True, "hooks": [3, 37], "pid": 1}})))
print(binascii.hexlify(_wire.encode("FromWorker", {"unloaded": {"script_id": 0}})))
print(binascii.hexlify(_wire.encode("FromWorker", {"loaded": {"error": "caf\xe9 \xc3\xa9"}})))
"#;
    let out = run_python2(&py2, &package, code, "");
    let msgs: Vec<FromWorker> = out
        .lines()
        .map(|l| FromWorker::decode(unhex(l).as_slice()).expect("prost decodes it"))
        .collect();
    assert_eq!(
        msgs[0],
        FromWorker {
            kind: Some(from_worker::Kind::HubCall(HubCall {
                script_id: 0,
                call_id: u64::MAX,
                callback: "caf\u{e9}".into(),
                args: vec![
                    v(Kind::S(b"\xc8\xe2".to_vec())),
                    v(Kind::L(-5)),
                    v(Kind::L(i64::MAX)),
                    v(Kind::NullS(true)),
                    v(Kind::D(0.5)),
                ],
                pipelined: false,
            }))
        }
    );
    assert_eq!(
        msgs[1],
        FromWorker {
            kind: Some(from_worker::Kind::Loaded(ScriptLoaded {
                ok: true,
                hooks: vec![3, 37],
                pid: 1,
                ..ScriptLoaded::default()
            }))
        }
    );
    assert_eq!(
        msgs[2],
        FromWorker {
            kind: Some(from_worker::Kind::Unloaded(ScriptUnloaded { script_id: 0 }))
        }
    );
    // Not UTF-8 (a CP1252 byte), then UTF-8: the first becomes U+FFFD.
    assert_eq!(
        msgs[3],
        FromWorker {
            kind: Some(from_worker::Kind::Loaded(ScriptLoaded {
                error: "caf\u{fffd} \u{e9}".into(),
                ..ScriptLoaded::default()
            }))
        }
    );
}

/// Hook and call-result frames as prost writes them, decoded by the
/// hand-written fast path (`vh/_fast.py`) and by the table-driven codec:
/// the same events, and the fast path takes every one of them.
#[test]
fn the_fast_path_decodes_prost_hooks_and_results_as_the_codec_does() {
    let Some(py2) = python2() else { return };
    let package = py2_package();
    let long = vec![b'x'; 300];
    let huge = vec![0xe9u8; 20_000];
    let values = |extra: Vec<Value>| {
        let mut all = vec![
            v(Kind::S(b"J\xfcrgen".to_vec())),
            v(Kind::S(Vec::new())),
            v(Kind::NullS(true)),
            v(Kind::L(0)),
            v(Kind::L(-1)),
            v(Kind::L(63)),
            v(Kind::L(64)),
            v(Kind::L(i64::MIN)),
            v(Kind::L(i64::MAX)),
            v(Kind::D(1_700_000_000.25)),
            v(Kind::D(-0.0)),
            v(Kind::Json(b"[\"a\"]".to_vec())),
            Value { kind: None },
        ];
        all.extend(extra);
        all
    };
    let hooks: Vec<ToWorker> = vec![
        HookCall {
            script_id: 0,
            call_id: 0,
            hook: 0,
            args: Vec::new(),
            hub_cpu: 0,
        },
        HookCall {
            script_id: 12,
            call_id: 7,
            hook: 3,
            args: vec![
                v(Kind::S(b"bench".to_vec())),
                v(Kind::S(b"hello everyone".to_vec())),
            ],
            hub_cpu: 2,
        },
        HookCall {
            script_id: -3,
            call_id: u64::MAX,
            hook: 40,
            args: values(vec![v(Kind::S(long.clone())), v(Kind::S(huge.clone()))]),
            hub_cpu: 300,
        },
    ]
    .into_iter()
    .map(|h| ToWorker {
        kind: Some(to_worker::Kind::Hook(h)),
    })
    .chain(
        [
            CallResult {
                script_id: 0,
                call_id: 1,
                ok: false,
                values: Vec::new(),
                error: "no such user".into(),
            },
            CallResult {
                script_id: 5,
                call_id: 1 << 40,
                ok: true,
                values: values(vec![v(Kind::S(long))]),
                error: "caf\u{e9} \u{2603}".into(),
            },
        ]
        .into_iter()
        .map(|r| ToWorker {
            kind: Some(to_worker::Kind::CallResult(r)),
        }),
    )
    .collect();
    let code = r#"
import sys, binascii
from vh import _fast, _wire
from vh._channel import Channel
assert _fast.ENABLED
for line in sys.stdin:
    data = binascii.unhexlify(line.strip())
    fast = _fast.decode_event(data)
    slow = Channel._event(_wire.decode("ToWorker", data))
    sys.stdout.write("%s %s\n" % (fast == slow and type(fast[1]) == type(slow[1]), fast is not None))
    # Cut short or with a byte changed, the fast path gives up or agrees.
    for bad in (data[:-1], data[:len(data) // 2], data + b"\x00", data[:1] + b"\xff" + data[2:]):
        got = _fast.decode_event(bad)
        if got is not None:
            try:
                assert got == Channel._event(_wire.decode("ToWorker", bad))
            except _wire.DecodeError:
                raise AssertionError("fast path accepted what the codec refuses")
"#;
    let input: String = hooks
        .iter()
        .map(|m| format!("{}\n", hex(&m.encode_to_vec())))
        .collect();
    let out = run_python2(&py2, &package, code, &input);
    assert_eq!(out.lines().count(), hooks.len(), "{out}");
    for (i, line) in out.lines().enumerate() {
        assert_eq!(line, "True True", "frame {i}: {out}");
    }
}

/// Hook results and `vh.*` calls as the fast path writes them equal
/// prost's encoding of the same messages byte for byte, frame prefix
/// included; values it does not take fall back to the codec.
#[test]
fn the_fast_path_encodes_hook_results_and_hub_calls_as_prost_does() {
    let Some(py2) = python2() else { return };
    let package = py2_package();
    let code = r#"
import binascii
from vh import _frames
VALUES = ["J\xfcrgen", "", None, 0, -1, 63, 64, True, False, -2**63, 2**63 - 1,
          1700000000.25, -0.0, "x" * 125, "x" * 126, "y" * 300, "\xe9" * 20000]
def out(frame):
    print(binascii.hexlify(frame))
out(_frames.hook_result_frame(0, False, []))
out(_frames.hook_result_frame(5, True, []))
out(_frames.hook_result_frame(2**64 - 1, False, VALUES))
out(_frames.hook_result_frame(1, False, [1]))
out(_frames.hub_call_frame(6, "usermc", ["hi", "bench", None], True))
out(_frames.hub_call_frame(300, "GetUserClass", ["bench"]))
out(_frames.hub_call_frame(0, "", VALUES))
out(_frames.hub_call_frame(9, "SendDataToAll", [2**62, -5, 0.5]))
# Python 2 longs in range take the fast path's checks like ints.
out(_frames.hook_result_frame(7, False, [long(3), long(-2**63)]))  # noqa: F821
"#;
    let out = run_python2(&py2, &package, code, "");
    let s = |b: &[u8]| v(Kind::S(b.to_vec()));
    let all = vec![
        s(b"J\xfcrgen"),
        s(b""),
        v(Kind::NullS(true)),
        v(Kind::L(0)),
        v(Kind::L(-1)),
        v(Kind::L(63)),
        v(Kind::L(64)),
        v(Kind::L(1)),
        v(Kind::L(0)),
        v(Kind::L(i64::MIN)),
        v(Kind::L(i64::MAX)),
        v(Kind::D(1_700_000_000.25)),
        v(Kind::D(-0.0)),
        s(&[b'x'; 125]),
        s(&[b'x'; 126]),
        s(&[b'y'; 300]),
        s(&[0xe9; 20_000]),
    ];
    let result = |call_id, no_opinion, values| FromWorker {
        kind: Some(from_worker::Kind::HookResult(HookResult {
            script_id: 0,
            call_id,
            no_opinion,
            values,
        })),
    };
    let call = |call_id, callback: &str, args, pipelined| FromWorker {
        kind: Some(from_worker::Kind::HubCall(HubCall {
            script_id: 0,
            call_id,
            callback: callback.into(),
            args,
            pipelined,
        })),
    };
    let want = [
        result(0, false, Vec::new()),
        result(5, true, Vec::new()),
        result(u64::MAX, false, all.clone()),
        result(1, false, vec![v(Kind::L(1))]),
        call(
            6,
            "usermc",
            vec![s(b"hi"), s(b"bench"), v(Kind::NullS(true))],
            true,
        ),
        call(300, "GetUserClass", vec![s(b"bench")], false),
        call(0, "", all, false),
        call(
            9,
            "SendDataToAll",
            vec![v(Kind::L(1 << 62)), v(Kind::L(-5)), v(Kind::D(0.5))],
            false,
        ),
        result(7, false, vec![v(Kind::L(3)), v(Kind::L(i64::MIN))]),
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), want.len(), "{out}");
    for (line, msg) in lines.iter().zip(&want) {
        let body = msg.encode_to_vec();
        let mut frame = (body.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(&body);
        assert_eq!(*line, hex(&frame), "for {msg:?}");
    }
}

/// Compact frames (docs/protocol.md "Compact frames"), with a real Python
/// 2.7 on one side and `vh_proto::direct::compact` on the other: hook
/// calls the shim writes compact give the worker the event the protobuf
/// frame gives; the hook results and pipelined calls the worker writes
/// compact decode to the messages its protobuf frames hold, and turn into
/// those very frames for the runner's link; what compact frames cannot
/// carry (a Python 2 long, a `unicode`) stays protobuf.
#[test]
fn compact_frames_carry_what_protobuf_frames_carry() {
    use vh_proto::direct::compact;
    let Some(py2) = python2() else { return };
    let package = py2_package();
    let hook = |call_id, args| ToWorker {
        kind: Some(to_worker::Kind::Hook(HookCall {
            script_id: 0,
            call_id,
            hook: 3,
            args,
            hub_cpu: 1,
        })),
    };
    let s = |b: &[u8]| v(Kind::S(b.to_vec()));
    let hooks = [
        hook(1, vec![s(b"J\xfcrgen"), s(b"hello")]),
        hook(
            1 << 40,
            vec![v(Kind::L(-7)), v(Kind::D(0.25)), v(Kind::NullS(true))],
        ),
        hook(5, vec![s(&[b'y'; 70_000])]),
    ];
    let mut input = String::new();
    for h in &hooks {
        let mut pb = Vec::new();
        vh_proto::direct::frame::encode(&mut pb, h).unwrap();
        let c = compact::to_worker_frame(h).expect("a compact form");
        input += &format!("{} {}\n", hex(&c), hex(&pb));
    }
    let code = r#"
import sys, binascii
from vh import _frames
for line in sys.stdin:
    c, pb = [binascii.unhexlify(x) for x in line.split()]
    got, rest, compact = _frames.take_frame(c)
    want, _, _ = _frames.take_frame(pb)
    ok = compact and not rest and _frames.decode_to_worker(got, True) == _frames.decode_to_worker(want)
    print("hook %s" % ok)
VALUES = ["J\xfcrgen", "", None, 0, -1, True, False, int(-2**63), int(2**63 - 1), 0.5, "z" * 300]
for frame in [_frames.compact_frame(9, "result", False, [1]),
              _frames.compact_frame(10, "result", True, VALUES),
              _frames.compact_frame(11, "call", "usermc", ["hi", "bench", None])]:
    print("compact %s %s" % (binascii.hexlify(frame), binascii.hexlify(_frames.protobuf_frames(frame))))
print("refused %s %s %s" % (_frames.compact_frame(12, "result", False, [long(3)]),  # noqa: F821
                            _frames.compact_frame(12, "call", "usermc", [u"x"]),
                            _frames.compact_frame(2**64 - 1, "result", False, [])))
"#;
    let out = run_python2(&py2, &package, code, &input);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), hooks.len() + 4, "{out}");
    for line in &lines[..hooks.len()] {
        assert_eq!(*line, "hook True", "{out}");
    }
    for line in &lines[hooks.len()..hooks.len() + 3] {
        let mut parts = line.split(' ').skip(1);
        let (c, pb) = (unhex(parts.next().unwrap()), unhex(parts.next().unwrap()));
        assert_ne!(c, pb, "{line}");
        let (from_compact, took) = compact::decode_from_worker(&c).unwrap().unwrap();
        assert_eq!(took, c.len());
        let (from_pb, _) = vh_proto::direct::frame::decode::<FromWorker>(&pb)
            .unwrap()
            .unwrap();
        assert_eq!(from_compact, from_pb, "{line}");
    }
    assert_eq!(lines[hooks.len() + 3], "refused None None None", "{out}");
}
