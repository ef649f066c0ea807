//! Malformed and hostile peers on every link.
//!
//! * Clients that connect to the runner's socket and send garbage,
//!   truncated HTTP/2 and gRPC frames, huge lengths, unknown message types,
//!   unknown script and hook ids, or vanish mid-call: the runner drops each
//!   one and keeps serving a real hub (driven through hubsim) meanwhile.
//! * A "runner" that writes junk, closes at once, never answers, or speaks
//!   gRPC but sends malformed messages: the shim fails open (hooks allow
//!   within the deadline, loads fail with one log line) and logs once per
//!   incident, not per call; the real runner brings everything back.
//! * A worker interpreter that speaks garbage on fd 3: the runner reports
//!   a failed load or a crash, and never hangs.
//!
//! HTTP/2 is written by hand (module `h2`), so that every byte can be
//! wrong on purpose.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Runner, actions, script, serial, shim_env, shim_path, show, wait_until};
use prost::Message;
use vh_hubsim::{Generation, Hub};
use vh_proto::PROTOCOL;
use vh_proto::v1::{
    CallResult, FromWorker, Hello, HookCall, HookResult, HubCall, LoadScript, Ping, RunnerMessage,
    ScriptDown, ScriptLoaded, ShimMessage, ToWorker, UnloadScript, Value, Welcome, from_worker,
    runner_message, shim_message, to_worker, value,
};

/// A minimal HTTP/2 (RFC 9113) and gRPC framing, both directions.
mod h2 {
    use std::io::{self, Read};

    pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    pub const DATA: u8 = 0x0;
    pub const HEADERS: u8 = 0x1;
    pub const SETTINGS: u8 = 0x4;
    pub const PING: u8 = 0x6;
    pub const GOAWAY: u8 = 0x7;
    pub const WINDOW_UPDATE: u8 = 0x8;
    pub const RST_STREAM: u8 = 0x3;
    pub const ACK: u8 = 0x1;
    pub const END_STREAM: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;

    /// One frame: 9-byte header, then the payload.
    pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let n = payload.len() as u32;
        let mut f = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8, kind, flags];
        f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    pub struct Frame {
        pub kind: u8,
        pub flags: u8,
        pub stream: u32,
        pub payload: Vec<u8>,
    }

    impl Frame {
        /// A DATA frame's data without padding.
        pub fn data(&self) -> &[u8] {
            if self.flags & PADDED != 0 && !self.payload.is_empty() {
                let pad = self.payload[0] as usize;
                &self.payload[1..self.payload.len().saturating_sub(pad).max(1)]
            } else {
                &self.payload
            }
        }
    }

    pub fn read(r: &mut impl Read) -> io::Result<Frame> {
        let mut h = [0u8; 9];
        r.read_exact(&mut h)?;
        let len = (h[0] as usize) << 16 | (h[1] as usize) << 8 | h[2] as usize;
        let mut payload = vec![0; len];
        r.read_exact(&mut payload)?;
        Ok(Frame {
            kind: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
            payload,
        })
    }

    /// HPACK block of literal fields without indexing, new names, no
    /// Huffman (RFC 7541 §6.2.2): no decoder state is touched.
    pub fn headers(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut b = Vec::new();
        for (name, value) in fields {
            b.push(0);
            for s in [name, value] {
                assert!(s.len() < 127);
                b.push(s.len() as u8);
                b.extend_from_slice(s.as_bytes());
            }
        }
        b
    }

    /// The request of `vh.v1.Runner/Attach`.
    pub fn attach_request() -> Vec<u8> {
        headers(&[
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/vh.v1.Runner/Attach"),
            (":authority", "vh-runner.localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ])
    }

    /// One gRPC message: uncompressed flag, big-endian length, bytes.
    pub fn grpc(msg: &[u8]) -> Vec<u8> {
        let mut v = vec![0];
        v.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        v.extend_from_slice(msg);
        v
    }

    /// Takes every complete gRPC message off the front of `buf`.
    pub fn take_grpc(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while buf.len() >= 5 {
            let n = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if buf.len() < 5 + n {
                break;
            }
            out.push(buf[5..5 + n].to_vec());
            buf.drain(..5 + n);
        }
        out
    }

    pub fn window_update(stream: u32, n: u32) -> Vec<u8> {
        frame(WINDOW_UPDATE, 0, stream, &n.to_be_bytes())
    }
}

const MYINFO: [&[u8]; 5] = [b"d", b"<++ V:1,M:A,H:1/0/0,S:1>", b"100\x01", b"", b"0"];

fn login(hub: &mut Hub, nick: &[u8]) {
    assert!(hub.login(
        nick,
        0,
        b"10.0.0.1",
        MYINFO[0],
        MYINFO[1],
        MYINFO[2],
        MYINFO[3],
        MYINFO[4]
    ));
}

fn s(bytes: &[u8]) -> Value {
    Value {
        kind: Some(value::Kind::S(bytes.to_vec())),
    }
}

fn shim_msg(kind: shim_message::Kind) -> Vec<u8> {
    ShimMessage { kind: Some(kind) }.encode_to_vec()
}

/// A message for a worker as the shim sends it through the runner.
fn for_worker(kind: to_worker::Kind) -> Vec<u8> {
    shim_msg(shim_message::Kind::ToWorker(ToWorker { kind: Some(kind) }))
}

/// A `Hello` of this protocol version.
fn hello() -> Hello {
    Hello {
        protocol: PROTOCOL,
        ..Default::default()
    }
}

fn runner_msg(kind: runner_message::Kind) -> Vec<u8> {
    RunnerMessage { kind: Some(kind) }.encode_to_vec()
}

/// The worker's message a runner message carries, if any.
fn worker(m: &RunnerMessage) -> Option<&from_worker::Kind> {
    match &m.kind {
        Some(runner_message::Kind::FromWorker(w)) => w.kind.as_ref(),
        _ => None,
    }
}

/// The message for a worker a shim message carries, if any.
fn payload(m: &ShimMessage) -> Option<&to_worker::Kind> {
    match &m.kind {
        Some(shim_message::Kind::ToWorker(w)) => w.kind.as_ref(),
        _ => None,
    }
}

/// xorshift64*: deterministic junk.
fn junk(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// One hostile client connection to the runner.
struct Peer {
    s: UnixStream,
    grpc_in: Vec<u8>,
}

impl Peer {
    fn connect(socket: &Path) -> Peer {
        let s = UnixStream::connect(socket).expect("connect to the runner");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        Peer {
            s,
            grpc_in: Vec::new(),
        }
    }

    /// Writes bytes; a peer that already hung up is no failure here.
    fn send(&mut self, bytes: &[u8]) -> bool {
        self.s.write_all(bytes).is_ok()
    }

    /// Preface, empty SETTINGS, and the Attach request on stream 1.
    fn open_attach(socket: &Path) -> Peer {
        let mut p = Peer::connect(socket);
        let mut b = h2::PREFACE.to_vec();
        b.extend(h2::frame(h2::SETTINGS, 0, 0, &[]));
        b.extend(h2::frame(
            h2::HEADERS,
            h2::END_HEADERS,
            1,
            &h2::attach_request(),
        ));
        p.send(&b);
        p
    }

    /// Sends one gRPC message (any bytes) on stream 1.
    fn send_grpc(&mut self, msg: &[u8]) -> bool {
        self.send(&h2::frame(h2::DATA, 0, 1, &h2::grpc(msg)))
    }

    /// Reads until `done` holds for the runner messages received so far,
    /// the peer closes, or `limit` passes. Answers SETTINGS and PING as a
    /// client must.
    fn recv_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&[RunnerMessage]) -> bool,
    ) -> Vec<RunnerMessage> {
        let deadline = Instant::now() + limit;
        let mut got = Vec::new();
        while !done(&got) && Instant::now() < deadline {
            let Ok(f) = h2::read(&mut self.s) else {
                break;
            };
            match f.kind {
                h2::SETTINGS if f.flags & h2::ACK == 0 => {
                    self.send(&h2::frame(h2::SETTINGS, h2::ACK, 0, &[]));
                }
                h2::PING if f.flags & h2::ACK == 0 => {
                    self.send(&h2::frame(h2::PING, h2::ACK, 0, &f.payload));
                }
                h2::DATA if f.stream == 1 => {
                    self.grpc_in.extend_from_slice(f.data());
                    for m in h2::take_grpc(&mut self.grpc_in) {
                        got.push(RunnerMessage::decode(m.as_slice()).expect("runner message"));
                    }
                }
                h2::GOAWAY | h2::RST_STREAM => break,
                // Trailers: the runner ended the stream.
                h2::HEADERS if f.flags & h2::END_STREAM != 0 => break,
                _ => {}
            }
        }
        got
    }
}

/// Every attack on the runner, each on its own connection; returns what
/// went as expected, for the assertion message.
fn attack_runner(socket: &Path, scripts: &Path) -> Vec<String> {
    let mut report = Vec::new();
    // 1. Raw garbage; a connection closed at once; a bare preface; a cut
    //    frame header; a frame claiming 16 MiB.
    let mut p = Peer::connect(socket);
    p.send(&junk(1, 64 * 1024));
    drop(p);
    drop(Peer::connect(socket));
    let mut p = Peer::connect(socket);
    p.send(h2::PREFACE);
    drop(p);
    let mut p = Peer::connect(socket);
    let mut b = h2::PREFACE.to_vec();
    b.extend_from_slice(&h2::frame(h2::SETTINGS, 0, 0, &[])[..5]);
    p.send(&b);
    drop(p);
    let mut p = Peer::connect(socket);
    let mut b = h2::PREFACE.to_vec();
    b.extend(h2::frame(h2::SETTINGS, 0, 0, &[]));
    b.extend_from_slice(&[0xff, 0xff, 0xff, h2::DATA, 0, 0, 0, 0, 1]);
    b.extend(junk(2, 100));
    p.send(&b);
    let answer = p.recv_until(Duration::from_secs(3), |_| false);
    report.push(format!(
        "oversized frame: {} message(s), then dropped",
        answer.len()
    ));

    // 2. gRPC-level: a 4 GiB message length, a compressed flag without
    //    compression, undecodable protobuf, a message cut short.
    for (what, bytes) in [
        (
            "4 GiB gRPC length",
            vec![0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3],
        ),
        ("compressed flag", {
            let mut g = h2::grpc(&for_worker(to_worker::Kind::Ping(Ping {
                script_id: 0,
                seq: 1,
            })));
            g[0] = 1;
            g
        }),
        ("bad protobuf", h2::grpc(&[0x0f, 0xff, 0xff, 0xff])),
        ("cut message", h2::grpc(&junk(3, 40))[..20].to_vec()),
    ] {
        let mut p = Peer::open_attach(socket);
        p.send(&h2::frame(h2::DATA, 0, 1, &bytes));
        if what == "cut message" {
            // Then the stream ends: END_STREAM inside a message.
            p.send(&h2::frame(h2::DATA, 1, 1, &[]));
        }
        let got = p.recv_until(Duration::from_secs(3), |_| false);
        report.push(format!("{what}: {} message(s), then dropped", got.len()));
    }

    // 3. A well-formed stream with unknown message types, unknown script
    //    ids and hook ids: the runner answers what it must and goes on.
    let mut p = Peer::open_attach(socket);
    p.send_grpc(&shim_msg(shim_message::Kind::Hello(hello())));
    // A ShimMessage variant from the future (field 15) and an unknown field.
    p.send_grpc(&[0x7a, 0x02, 0x08, 0x01]);
    p.send_grpc(&[0xf8, 0x06, 0x01]);
    p.send_grpc(&for_worker(to_worker::Kind::Hook(HookCall {
        hub_cpu: 0,
        script_id: 12_345,
        call_id: 7,
        hook: 999,
        args: vec![s(b"x")],
    })));
    p.send_grpc(&for_worker(to_worker::Kind::CallResult(CallResult {
        script_id: 12_345,
        call_id: 1,
        ok: true,
        values: vec![],
        error: String::new(),
    })));
    p.send_grpc(&for_worker(to_worker::Kind::Ping(Ping {
        script_id: -1,
        seq: 3,
    })));
    p.send_grpc(&for_worker(to_worker::Kind::Unload(UnloadScript {
        script_id: 54_321,
    })));
    let got = p.recv_until(Duration::from_secs(5), |m| m.len() >= 3);
    let welcome = got
        .iter()
        .any(|m| matches!(m.kind, Some(runner_message::Kind::Welcome(_))));
    let no_opinion = got.iter().any(|m| {
        matches!(worker(m), Some(from_worker::Kind::HookResult(r))
            if r.script_id == 12_345 && r.call_id == 7 && r.no_opinion)
    });
    let unloaded = got.iter().any(
        |m| matches!(worker(m), Some(from_worker::Kind::Unloaded(u)) if u.script_id == 54_321),
    );
    assert!(
        welcome && no_opinion && unloaded,
        "unknown ids: runner answered {got:?}"
    );
    report.push("unknown types and ids: answered".into());

    // 4. A load of a file that does not exist, and odd hooks to a real one.
    p.send_grpc(&for_worker(to_worker::Kind::Load(LoadScript {
        script_id: 1,
        path: b"/nonexistent/\xff\xfe.py".to_vec(),
        ..Default::default()
    })));
    let sleepy = scripts.join("hostile_sleepy.py");
    p.send_grpc(&for_worker(to_worker::Kind::Load(LoadScript {
        script_id: 2,
        path: sleepy.to_string_lossy().as_bytes().to_vec(),
        hub_encoding: "no-such-codec".into(),
        ..Default::default()
    })));
    let got = p.recv_until(Duration::from_secs(15), |m| {
        m.iter()
            .filter(|m| matches!(worker(m), Some(from_worker::Kind::Loaded(_))))
            .count()
            >= 2
    });
    let loaded: BTreeMap<i32, ScriptLoaded> = got
        .into_iter()
        .filter_map(|m| match worker(&m) {
            Some(from_worker::Kind::Loaded(l)) => Some((l.script_id, l.clone())),
            _ => None,
        })
        .collect();
    assert!(
        loaded.get(&1).is_some_and(|l| !l.ok) && loaded.get(&2).is_some_and(|l| l.ok),
        "loads: {loaded:?}"
    );
    for (call_id, hook, args) in [
        (10, 999, vec![]),
        (11, 3, vec![]),
        (
            12,
            3,
            vec![
                Value {
                    kind: Some(value::Kind::L(5)),
                };
                1000
            ],
        ),
        (13, 3, vec![Value { kind: None }, s(b"\xff")]),
    ] {
        p.send_grpc(&for_worker(to_worker::Kind::Hook(HookCall {
            hub_cpu: 0,
            script_id: 2,
            call_id,
            hook,
            args,
        })));
    }
    let got = p.recv_until(Duration::from_secs(10), |m| {
        m.iter()
            .filter(|m| matches!(worker(m), Some(from_worker::Kind::HookResult(_))))
            .count()
            >= 4
    });
    let answered: Vec<u64> = got
        .iter()
        .filter_map(|m| match worker(m) {
            Some(from_worker::Kind::HookResult(r)) => Some(r.call_id),
            _ => None,
        })
        .collect();
    assert_eq!(answered, [10, 11, 12, 13], "odd hooks: {got:?}");
    report.push("odd hooks to a real worker: each answered".into());
    p.send_grpc(&for_worker(to_worker::Kind::Unload(UnloadScript {
        script_id: 2,
    })));
    p.recv_until(Duration::from_secs(5), |m| {
        m.iter()
            .any(|m| matches!(worker(m), Some(from_worker::Kind::Unloaded(_))))
    });
    drop(p);

    // 5. A hub that vanishes mid-hook: load, start a 30 s hook, drop the
    //    connection: its worker stops with it.
    let mut p = Peer::open_attach(socket);
    p.send_grpc(&shim_msg(shim_message::Kind::Hello(hello())));
    p.send_grpc(&for_worker(to_worker::Kind::Load(LoadScript {
        script_id: 3,
        path: sleepy.to_string_lossy().as_bytes().to_vec(),
        ..Default::default()
    })));
    let got = p.recv_until(Duration::from_secs(15), |m| {
        m.iter()
            .any(|m| matches!(worker(m), Some(from_worker::Kind::Loaded(_))))
    });
    assert!(
        got.iter()
            .any(|m| matches!(worker(m), Some(from_worker::Kind::Loaded(l)) if l.ok)),
        "{got:?}"
    );
    p.send_grpc(&for_worker(to_worker::Kind::Hook(HookCall {
        hub_cpu: 0,
        script_id: 3,
        call_id: 1,
        hook: 3,
        args: vec![s(b"x"), s(b"!sleep")],
    })));
    std::thread::sleep(Duration::from_millis(200));
    drop(p);
    let pid = got
        .iter()
        .find_map(|m| match worker(m) {
            Some(from_worker::Kind::Loaded(l)) => Some(l.pid),
            _ => None,
        })
        .unwrap_or(0);
    wait_until(
        Duration::from_secs(10),
        "the worker of a hub gone mid-hook to stop",
        || {
            // SAFETY: signal 0 only checks that the pid exists.
            pid > 0 && unsafe { libc::kill(pid as i32, 0) } != 0
        },
    );
    report.push("a hub gone mid-hook: its worker stopped".into());

    // 5b. Direct links (docs/protocol.md): a stranger's link connection
    //     with a token no hub sent is dropped; a hub that asks for links
    //     (a token in its Hello) but never connects for them delays only
    //     its first worker, by the runner's 3 s wait, and then gets its
    //     scripts without links.
    let mut stranger = UnixStream::connect(socket).expect("connect");
    stranger.write_all(b"VHLINK01").unwrap();
    stranger.write_all(&[7u8; 16]).unwrap();
    let mut p = Peer::open_attach(socket);
    p.send_grpc(&shim_msg(shim_message::Kind::Hello(Hello {
        direct_token: vec![9u8; 16],
        ..hello()
    })));
    let mut took = Vec::new();
    for script_id in [4, 5] {
        let t = Instant::now();
        p.send_grpc(&for_worker(to_worker::Kind::Load(LoadScript {
            script_id,
            path: sleepy.to_string_lossy().as_bytes().to_vec(),
            ..Default::default()
        })));
        let got = p.recv_until(Duration::from_secs(15), |m| {
            m.iter().any(|m| matches!(worker(m), Some(from_worker::Kind::Loaded(l)) if l.script_id == script_id))
        });
        assert!(
            got.iter().any(|m| matches!(worker(m), Some(from_worker::Kind::Loaded(l)) if l.ok && l.script_id == script_id)),
            "{got:?}"
        );
        took.push(t.elapsed());
    }
    assert!(took[0] >= Duration::from_secs(3), "{took:?}");
    assert!(
        took[1] < took[0] - Duration::from_secs(2),
        "the second load waited again: {took:?}"
    );
    let mut buf = [0u8; 1];
    stranger
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(
        stranger.read(&mut buf).unwrap_or(0),
        0,
        "the stranger's connection was not dropped"
    );
    drop(p);
    report.push(format!(
        "links asked for and never taken: loads took {took:?}; a stranger's link connection dropped"
    ));

    // 6. 2,000 messages decoded from random bytes on one stream (at most
    //    five of them loads: each starts a Python worker), then a Hello:
    //    the stream still works.
    let mut p = Peer::open_attach(socket);
    let (mut sent, mut loads) = (0, 0);
    for seed in 0..100_000u64 {
        let bytes = junk(seed + 100, (seed % 64) as usize);
        let Ok(msg) = ShimMessage::decode(bytes.as_slice()) else {
            continue;
        };
        if matches!(payload(&msg), Some(to_worker::Kind::Load(_))) {
            loads += 1;
            if loads > 5 {
                continue;
            }
        }
        // A Hello of another protocol version ends the stream (tested in
        // `a_peer_of_another_protocol_gets_one_line_naming_both`).
        if matches!(&msg.kind, Some(shim_message::Kind::Hello(h)) if h.protocol != PROTOCOL) {
            continue;
        }
        p.send_grpc(&bytes);
        sent += 1;
        if sent == 2_000 {
            break;
        }
    }
    p.send_grpc(&shim_msg(shim_message::Kind::Hello(hello())));
    let got = p.recv_until(Duration::from_secs(15), |m| {
        m.iter()
            .any(|m| matches!(m.kind, Some(runner_message::Kind::Welcome(_))))
    });
    assert!(
        got.iter()
            .any(|m| matches!(m.kind, Some(runner_message::Kind::Welcome(_)))),
        "no Welcome after {sent} random messages: {} answers",
        got.len()
    );
    report.push(format!(
        "{sent} random messages, then a Hello: answered ({} answers)",
        got.len()
    ));
    drop(p);

    // 7. A slow client: opens the stream and never reads, while 300 more
    //    connections come and go.
    let mut slow = Peer::open_attach(socket);
    slow.send_grpc(&shim_msg(shim_message::Kind::Hello(hello())));
    let many: Vec<UnixStream> = (0..300)
        .filter_map(|_| UnixStream::connect(socket).ok())
        .collect();
    report.push(format!("{} idle connections held", many.len()));
    drop(many);
    drop(slow);
    report
}

#[test]
fn hostile_clients_are_dropped_and_a_real_hub_keeps_working() {
    let _serial = serial();
    let runner = Runner::start();
    shim_env(&runner.socket(), 2_000);
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    let id = hub.load(&script("ping.py"));
    assert!(id >= 0, "{}", runner.log());
    login(&mut hub, b"op");

    let socket = runner.socket();
    let scripts = script("");
    let attacker = std::thread::spawn(move || attack_runner(&socket, &scripts));
    let (mut rounds, mut slowest) = (0, Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(90);
    while !attacker.is_finished() || rounds < 10 {
        assert!(Instant::now() < deadline, "attacks did not finish in 90 s");
        hub.clear_records();
        let t = Instant::now();
        assert!(
            !hub.chat(b"op", b"!ping"),
            "round {rounds}: !ping not blocked"
        );
        slowest = slowest.max(t.elapsed());
        let records = actions(&hub.records());
        assert!(
            records.contains(&b"USERMC op\tVerlihub\tpong".to_vec()),
            "round {rounds}: {}\n{}",
            show(&records),
            runner.log()
        );
        rounds += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = attacker.join().expect("attacks ran to the end");
    eprintln!("{rounds} pings during the attacks, slowest {slowest:?}; {report:#?}");
    assert!(
        slowest < Duration::from_secs(1),
        "the real hub waited {slowest:?}"
    );
    let status = runner.cli(&["status"]);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let log = runner.log();
    for line in log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
    {
        eprintln!("runner: {line}");
    }
    assert!(!log.contains("panicked"), "{log}");
    assert!(log.contains("hub stream failed"), "{log}");
    assert!(log.contains("empty message from the hub"), "{log}");
}

/// Stdout (fd 1) of this process redirected to a file while it lives: the
/// shim writes its `PY: ` lines there, as in the hub.
struct CaptureStdout {
    saved: i32,
    file: tempfile::NamedTempFile,
}

impl CaptureStdout {
    fn start() -> CaptureStdout {
        let file = tempfile::NamedTempFile::new().expect("capture file");
        // SAFETY: plain fd calls; fd 1 is restored on drop.
        let saved = unsafe {
            let saved = libc::dup(1);
            assert!(saved >= 0 && libc::dup2(file.as_file().as_raw_fd(), 1) >= 0);
            saved
        };
        CaptureStdout { saved, file }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(self.file.path()).unwrap_or_default()
    }
}

impl Drop for CaptureStdout {
    fn drop(&mut self) {
        // SAFETY: puts the saved fd 1 back.
        unsafe {
            libc::dup2(self.saved, 1);
            libc::close(self.saved);
        }
    }
}

/// How a fake runner that is no runner treats each connection.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Junk {
    /// Writes 4 KiB of junk, then closes.
    Garbage,
    /// Closes at once.
    Close,
    /// Accepts and never answers.
    Silent,
}

/// Serves `mode` on `path` until the returned flag is set.
fn junk_server(path: &Path, mode: Junk) -> (Arc<AtomicBool>, JoinHandle<usize>) {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).expect("bind the fake runner");
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        let mut accepted = 0;
        let deadline = Instant::now() + Duration::from_secs(120);
        while !flag.load(Ordering::Acquire) && Instant::now() < deadline {
            match listener.accept() {
                Ok((mut conn, _)) => {
                    accepted += 1;
                    match mode {
                        Junk::Garbage => {
                            let _ = conn.write_all(&junk(accepted as u64, 4096));
                        }
                        Junk::Close => {}
                        Junk::Silent => held.push(conn),
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        accepted
    });
    (stop, handle)
}

/// Chats `n` times; each must allow within `limit`. Returns the slowest.
fn chats_allow(hub: &mut Hub, n: usize, limit: Duration) -> Duration {
    let mut slowest = Duration::ZERO;
    for i in 0..n {
        let t = Instant::now();
        assert!(hub.chat(b"op", b"!ping"), "chat {i} was not allowed");
        slowest = slowest.max(t.elapsed());
        hub.timer(0.0);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(slowest < limit, "a hook held the hub {slowest:?}");
    slowest
}

#[test]
fn a_runner_that_answers_garbage_fails_open_and_logs_once() {
    let _serial = serial();
    let mut runner = Runner::start();
    let socket = runner.socket();
    shim_env(&socket, 200);
    let capture = CaptureStdout::start();
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    assert!(hub.load(&script("ping.py")) >= 0, "{}", runner.log());
    login(&mut hub, b"op");
    assert!(!hub.chat(b"op", b"!ping"), "works with the real runner");

    runner.kill();
    for mode in [Junk::Garbage, Junk::Close, Junk::Silent] {
        let (stop, server) = junk_server(&socket, mode);
        let slowest = chats_allow(&mut hub, 60, Duration::from_millis(250));
        let t = Instant::now();
        assert_eq!(hub.load(&script("ping.py")), -1, "{mode:?}: load");
        let took = t.elapsed();
        assert!(
            took < Duration::from_secs(3),
            "{mode:?}: load took {took:?}"
        );
        stop.store(true, Ordering::Release);
        let accepted = server.join().unwrap();
        eprintln!(
            "{mode:?}: {accepted} connection(s) from the shim, slowest hook {slowest:?}, failed load in {took:?}"
        );
    }
    let _ = std::fs::remove_file(&socket);
    runner.restart();
    wait_until(Duration::from_secs(20), "ping.py back", || {
        hub.timer(0.0);
        !hub.chat(b"op", b"!ping")
    });
    drop(hub);
    let text = capture.text();
    drop(capture);
    eprintln!("{text}");
    // One line when the runner went away, one when it could not be
    // reached, one per failed load; none per hook.
    let unreachable = text
        .lines()
        .filter(|l| l.contains("cannot reach the runner"))
        .count();
    assert!(
        unreachable <= 3,
        "logged per attempt, not per incident:\n{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("cannot load script"))
            .count()
            + text
                .lines()
                .filter(|l| l.contains("failed to load"))
                .count(),
        3,
        "one line per failed load:\n{text}"
    );
    let lines = text.lines().filter(|l| l.contains("vh-shim")).count();
    assert!(lines < 40, "{lines} shim lines for 180 hooks:\n{text}");
}

/// A fake runner speaking gRPC by hand: each shim message is answered by
/// `answer`; what it returns is written as DATA on the shim's stream.
struct FakeRunner {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    /// Shim messages received, per connection.
    seen: Arc<Mutex<Vec<Vec<ShimMessage>>>>,
}

/// A worker's message as a runner passes it on.
fn worker_out(kind: from_worker::Kind) -> Out {
    Out::Msg(runner_message::Kind::FromWorker(FromWorker {
        kind: Some(kind),
    }))
}

/// What the fake runner sends.
enum Out {
    /// A runner message.
    Msg(runner_message::Kind),
    /// Any bytes as one gRPC message.
    Raw(Vec<u8>),
    /// Any bytes as DATA payload (gRPC framing included or not).
    Data(Vec<u8>),
    /// Close the connection.
    Close,
}

type Answer = dyn FnMut(&ShimMessage) -> Vec<Out> + Send;

impl FakeRunner {
    fn start(path: &Path, answer: Box<Answer>) -> FakeRunner {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).expect("bind the fake runner");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (flag, log) = (Arc::clone(&stop), Arc::clone(&seen));
        let handle = std::thread::spawn(move || {
            let mut answer = answer;
            let deadline = Instant::now() + Duration::from_secs(120);
            while !flag.load(Ordering::Acquire) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((conn, _)) => {
                        log.lock().unwrap().push(Vec::new());
                        serve_one(conn, &mut *answer, &flag, &log);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeRunner {
            stop,
            handle: Some(handle),
            seen,
        }
    }

    fn messages(&self) -> Vec<Vec<ShimMessage>> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeRunner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// One shim connection: the server half of HTTP/2 (SETTINGS, PING,
/// flow-control credit back) and gRPC on the Attach stream.
fn serve_one(
    mut conn: UnixStream,
    answer: &mut Answer,
    stop: &AtomicBool,
    log: &Mutex<Vec<Vec<ShimMessage>>>,
) {
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut preface = [0u8; 24];
    if conn.read_exact(&mut preface).is_err() || preface != h2::PREFACE {
        return;
    }
    let _ = conn.write_all(&h2::frame(h2::SETTINGS, 0, 0, &[]));
    let mut stream = 0;
    let mut buf = Vec::new();
    while !stop.load(Ordering::Acquire) {
        let f = match h2::read(&mut conn) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(_) => return,
        };
        let mut out = Vec::new();
        match f.kind {
            h2::SETTINGS if f.flags & h2::ACK == 0 => {
                out.extend(h2::frame(h2::SETTINGS, h2::ACK, 0, &[]))
            }
            h2::PING if f.flags & h2::ACK == 0 => {
                out.extend(h2::frame(h2::PING, h2::ACK, 0, &f.payload))
            }
            h2::HEADERS => {
                stream = f.stream;
                let fields =
                    h2::headers(&[(":status", "200"), ("content-type", "application/grpc")]);
                out.extend(h2::frame(h2::HEADERS, h2::END_HEADERS, stream, &fields));
            }
            h2::DATA if f.stream == stream => {
                let n = f.payload.len() as u32;
                if n > 0 {
                    out.extend(h2::window_update(0, n));
                    out.extend(h2::window_update(stream, n));
                }
                buf.extend_from_slice(f.data());
                for raw in h2::take_grpc(&mut buf) {
                    let Ok(msg) = ShimMessage::decode(raw.as_slice()) else {
                        return;
                    };
                    if let Some(last) = log.lock().unwrap().last_mut() {
                        last.push(msg.clone());
                    }
                    for o in answer(&msg) {
                        let data = match o {
                            Out::Msg(kind) => h2::grpc(&runner_msg(kind)),
                            Out::Raw(bytes) => h2::grpc(&bytes),
                            Out::Data(bytes) => bytes,
                            Out::Close => {
                                let _ = conn.write_all(&out);
                                return;
                            }
                        };
                        // The client's largest frame: 16 KiB (RFC 9113 §4.2).
                        for chunk in data.chunks(16_384) {
                            out.extend(h2::frame(h2::DATA, 0, stream, chunk));
                        }
                    }
                }
            }
            _ => {}
        }
        if !out.is_empty() && conn.write_all(&out).is_err() {
            return;
        }
    }
}

/// The fake runner's answers: loads succeed (hooks OnParsedMsgChat and
/// OnUserLogin), and each chat text picks a way to misbehave.
fn misbehave(msg: &ShimMessage) -> Vec<Out> {
    let hook_result = |h: &HookCall, values: Vec<Value>| {
        worker_out(from_worker::Kind::HookResult(HookResult {
            script_id: h.script_id,
            call_id: h.call_id,
            no_opinion: false,
            values,
        }))
    };
    let l = |n: i64| Value {
        kind: Some(value::Kind::L(n)),
    };
    let hub_call = |script_id: i32, callback: &str, args: Vec<Value>| {
        worker_out(from_worker::Kind::HubCall(HubCall {
            script_id,
            call_id: 1,
            callback: callback.into(),
            args,
            pipelined: false,
        }))
    };
    if let Some(shim_message::Kind::Hello(_)) = &msg.kind {
        return vec![Out::Msg(runner_message::Kind::Welcome(Welcome {
            protocol: PROTOCOL,
            ..Welcome::default()
        }))];
    }
    match payload(msg) {
        Some(to_worker::Kind::Load(load)) => {
            vec![worker_out(from_worker::Kind::Loaded(ScriptLoaded {
                script_id: load.script_id,
                ok: true,
                hooks: vec![3, 35, 4_000_000],
                pid: 4242,
                ..Default::default()
            }))]
        }
        Some(to_worker::Kind::Hook(h)) if h.hook == 3 => {
            let text = match h.args.get(1).and_then(|v| v.kind.as_ref()) {
                Some(value::Kind::S(t)) => String::from_utf8_lossy(t).into_owned(),
                _ => String::new(),
            };
            let ok = hook_result(h, vec![l(1)]);
            match text.as_str() {
                "wrong-format" => vec![hook_result(
                    h,
                    vec![
                        l(1),
                        s(b"x"),
                        Value {
                            kind: Some(value::Kind::D(0.5)),
                        },
                    ],
                )],
                "json-in-chat" => vec![hook_result(
                    h,
                    vec![
                        Value {
                            kind: Some(value::Kind::Json(b"[]".to_vec())),
                        };
                        2
                    ],
                )],
                "empty-values" => vec![hook_result(h, vec![]), ok],
                "null-kinds" => vec![hook_result(h, vec![Value { kind: None }; 5])],
                "stale" => vec![worker_out(from_worker::Kind::HookResult(HookResult {
                    script_id: h.script_id,
                    call_id: h.call_id + 1000,
                    no_opinion: false,
                    values: vec![l(0)],
                }))],
                "silent" => vec![],
                "hubcall-unknown" => vec![hub_call(h.script_id, "NoSuchCallback", vec![]), ok],
                "hubcall-badargs" => vec![hub_call(h.script_id, "mc", vec![l(5)]), ok],
                "hubcall-stranger" => vec![
                    hub_call(
                        9_999,
                        "mc",
                        vec![
                            s(b"from a stranger"),
                            Value {
                                kind: Some(value::Kind::NullS(true)),
                            },
                        ],
                    ),
                    ok,
                ],
                "unknown-variant" => vec![Out::Raw(vec![0xa2, 0x06, 0x02, 0x08, 0x01]), ok],
                "down-and-loaded-unknown" => vec![
                    Out::Msg(runner_message::Kind::Down(ScriptDown {
                        script_id: 777,
                        reason: "x\n".repeat(10_000),
                        restart_in_ms: u32::MAX,
                    })),
                    worker_out(from_worker::Kind::Loaded(ScriptLoaded {
                        script_id: 778,
                        ok: true,
                        hooks: vec![1, 2, 3],
                        ..Default::default()
                    })),
                    ok,
                ],
                "bad-protobuf" => vec![Out::Raw(vec![0x0f, 0xff, 0xff])],
                "huge-length" => vec![Out::Data(vec![0, 0xff, 0xff, 0xff, 0xf0])],
                "close" => vec![Out::Close],
                _ => vec![ok],
            }
        }
        Some(to_worker::Kind::Hook(h)) => vec![hook_result(h, vec![l(1)])],
        _ => vec![],
    }
}

#[test]
fn a_runner_that_sends_malformed_messages_cannot_hurt_the_hub() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("fake.sock");
    let fake = FakeRunner::start(&socket, Box::new(misbehave));
    shim_env(&socket, 300);
    let capture = CaptureStdout::start();
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    let id = hub.load(&script("ping.py"));
    assert!(id >= 0, "the fake runner's load");
    login(&mut hub, b"op");
    let cases = [
        ("wrong-format", true),
        ("json-in-chat", true),
        ("empty-values", true),
        ("null-kinds", true),
        ("stale", false),
        ("silent", false),
        ("hubcall-unknown", true),
        ("hubcall-badargs", true),
        ("hubcall-stranger", true),
        ("unknown-variant", true),
        ("down-and-loaded-unknown", true),
        ("bad-protobuf", false),
        ("huge-length", false),
        ("close", false),
        ("fine", true),
    ];
    let mut timings = Vec::new();
    for (text, answered) in cases {
        // Every link-breaking case needs the shim back on a new stream.
        wait_until(Duration::from_secs(15), "the script up again", || {
            hub.clear_records();
            hub.timer(0.0);
            hub.chat(b"op", b"fine");
            hub.records()
                .contains(&format!("HOOK OnParsedMsgChat\t{id}\tl:1").into_bytes())
        });
        hub.clear_records();
        let t = Instant::now();
        let allowed = hub.chat(b"op", text.as_bytes());
        let took = t.elapsed();
        timings.push((text, took));
        assert!(allowed, "{text}: not allowed");
        assert!(
            took < Duration::from_millis(600),
            "{text}: held the hub {took:?}"
        );
        let hook = hub
            .records()
            .into_iter()
            .find(|r| r.starts_with(b"HOOK OnParsedMsgChat"))
            .unwrap_or_default();
        let hook = String::from_utf8_lossy(&hook).into_owned();
        if answered && text != "fine" && text != "hubcall-unknown" {
            // Answers the plugin cannot read are "no opinion".
            assert!(
                hook.ends_with("NULL") || hook.ends_with("l:1"),
                "{text}: {hook}"
            );
        }
        if text == "hubcall-stranger" {
            assert!(
                show(&hub.records()).contains("MC Verlihub\tfrom a stranger"),
                "{text}"
            );
        }
    }
    let seen: Vec<ShimMessage> = fake.messages().concat();
    let results: Vec<&CallResult> = seen
        .iter()
        .filter_map(|m| match payload(m) {
            Some(to_worker::Kind::CallResult(r)) => Some(r),
            _ => None,
        })
        .collect();
    assert!(
        results
            .iter()
            .any(|r| !r.ok && r.error.contains("NoSuchCallback")),
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| !r.ok && r.error.contains("mc takes")),
        "{results:?}"
    );
    let connections = fake.messages().len();
    drop(hub);
    drop(fake);
    let text = capture.text();
    drop(capture);
    eprintln!("{timings:?}\n{connections} connections\n{text}");
    assert!(
        connections >= 4,
        "bad-protobuf, huge-length and close each end a stream"
    );
    assert!(
        capture_count(&text, "took longer than") <= 2,
        "one timeout line per incident:\n{text}"
    );
}

fn capture_count(text: &str, what: &str) -> usize {
    text.lines().filter(|l| l.contains(what)).count()
}

/// Writes the wrapper the runner runs as `python`: it starts the fake
/// worker with the real interpreter, whatever the arguments; `version`, if
/// given, is what it says when the runner asks its version (`-c ...`).
fn fake_interpreter(dir: &Path, version: Option<&str>) -> PathBuf {
    let path = dir.join("fake-python");
    let probe = version.map_or(String::new(), |v| {
        format!("if [ \"$1\" = -c ]; then printf {v}; exit 0; fi\n")
    });
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n{probe}exec {:?} {:?}\n",
            common::python(),
            script("hostile_fake_worker.py")
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    path
}

/// A runner whose `<mode>.py` scripts run under the fake worker in that mode.
fn fake_worker_runner(modes: &[&str], extra: &str) -> (Runner, tempfile::TempDir) {
    let scripts = tempfile::tempdir().unwrap();
    // The compact one passes for a Python 2.7 worker.
    let version = modes.iter().any(|m| m.contains("compact")).then_some("2.7");
    let python = fake_interpreter(scripts.path(), version);
    let mut config = format!("[defaults]\nrestart_initial_ms = 100\n{extra}\n");
    for mode in modes {
        std::fs::write(scripts.path().join(format!("{mode}.py")), "# fake\n").unwrap();
        config.push_str(&format!(
            "[[script]]\nmatch = \"{mode}.py\"\npython = {:?}\nenv = {{ FAKE_MODE = \"{mode}\" }}\n",
            python.display().to_string()
        ));
        // These fakes speak the runner <-> worker protocol on fd 3 only;
        // only the direct_* ones use a direct link.
        if !mode.starts_with("direct_") {
            config.push_str("direct_link = false\n");
        }
    }
    (Runner::start_with(&config), scripts)
}

#[test]
fn a_worker_that_speaks_garbage_fails_its_load_or_crashes() {
    let _serial = serial();
    let modes = ["junk", "huge", "close", "refuse_and_linger"];
    let (runner, scripts) = fake_worker_runner(&[&modes[..], &["hook_junk"]].concat(), "");
    // A long hook deadline, so that the hook below shows how fast the
    // runner reports the crash.
    shim_env(&runner.socket(), 5_000);
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    for mode in modes {
        let t = Instant::now();
        assert_eq!(
            hub.load(&scripts.path().join(format!("{mode}.py"))),
            -1,
            "{mode}"
        );
        let took = t.elapsed();
        // The interpreter's start, then at once (a worker that broke the
        // protocol is killed; one that reported a failed load gets 0.5 s
        // to exit): less than the runner's 3 s grace for a worker to exit
        // after an unload, far below the shim's 10 s load deadline.
        assert!(took < Duration::from_secs(3), "{mode}: load took {took:?}");
    }
    // A failed load is no crash: nothing is restarted, nothing lingers.
    std::thread::sleep(Duration::from_secs(1));
    let status = String::from_utf8_lossy(&runner.cli(&["status"]).stdout).into_owned();
    assert!(status.contains("0 script(s)"), "{status}");
    assert_eq!(
        runner.log().matches("worker started").count(),
        modes.len(),
        "a failed load was retried:\n{}",
        runner.log()
    );
    // A good load, then garbage in answer to a hook: the runner kills the
    // worker at once (it broke the protocol) and reports the crash, which
    // ends the hook (it allows) long before its 5 s deadline and the
    // runner's 3 s grace for a worker to exit; then it restarts the worker.
    let id = hub.load(&scripts.path().join("hook_junk.py"));
    assert!(id >= 0, "{}", runner.log());
    login(&mut hub, b"op");
    let t = Instant::now();
    assert!(hub.chat(b"op", b"hi"));
    let crash = t.elapsed();
    assert!(crash < Duration::from_secs(2), "the crash took {crash:?}");
    assert!(
        runner.log().contains("undecodable frame from the worker"),
        "{}",
        runner.log()
    );
    wait_until(Duration::from_secs(10), "the restart", || {
        runner.log().matches("worker started").count() == modes.len() + 2
    });
    let restart = t.elapsed();
    eprintln!(
        "garbage answer to a hook: crash reported in {crash:?}, worker restarted in {restart:?}"
    );
    assert!(
        restart < Duration::from_secs(3),
        "the restart took {restart:?}"
    );
    let ping = hub.load(&script("ping.py"));
    assert!(ping >= 0 && !hub.chat(b"op", b"!ping"), "others unaffected");
    let log = runner.log();
    assert!(log.contains("bad frame from the worker"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_flood_of_vh_calls_from_one_worker_does_not_stall_the_hub() {
    let _serial = serial();
    let (runner, scripts) = fake_worker_runner(&["flood"], "");
    shim_env(&runner.socket(), 500);
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    assert!(
        hub.load(&scripts.path().join("flood.py")) >= 0,
        "{}",
        runner.log()
    );
    // An idle hub enters the shim once a second (its timer): everything
    // the worker sent meanwhile waits for that one entry.
    std::thread::sleep(Duration::from_millis(1500));
    let (mut slowest, mut delivered) = (Duration::ZERO, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivered < 20_000 && Instant::now() < deadline {
        let t = Instant::now();
        hub.timer(0.0);
        slowest = slowest.max(t.elapsed());
        delivered += actions(&hub.records())
            .iter()
            .filter(|r| r.starts_with(b"OPCHAT"))
            .count();
        hub.clear_records();
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("{delivered} flooded calls run; the longest hub entry took {slowest:?}");
    assert_eq!(delivered, 20_000);
    assert!(
        slowest < Duration::from_millis(500),
        "one hub entry ran the flood for {slowest:?}"
    );
}

#[test]
fn a_worker_frame_too_big_to_forward_fails_that_call_alone() {
    let _serial = serial();
    let (runner, scripts) = fake_worker_runner(&["oversize_call"], "");
    shim_env(&runner.socket(), 5_000);
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    // A real script first, so that the fake one's id is not 0 (the runner
    // adds the id to every message it forwards: 0 is not encoded).
    let ping = hub.load(&script("ping.py"));
    let id = hub.load(&scripts.path().join("oversize_call.py"));
    assert!(ping >= 0 && id > 0, "{}", runner.log());
    login(&mut hub, b"op");
    // The fake worker's 16 MiB call cannot reach the hub with the script id
    // added: the runner answers it with a failure, and the fake worker
    // blocks the line when it got that failure. Nothing reaches the hub.
    for round in 0..2 {
        hub.clear_records();
        let t = Instant::now();
        assert!(!hub.chat(b"op", b"hi"), "round {round}: {}", runner.log());
        eprintln!("round {round}: {:?}", t.elapsed());
        assert!(
            !actions(&hub.records())
                .iter()
                .any(|r| r.starts_with(b"OPCHAT")),
            "round {round}"
        );
    }
    // The stream, the worker link and the other script are intact.
    hub.clear_records();
    hub.chat(b"op", b"!ping");
    assert!(
        actions(&hub.records())
            .iter()
            .any(|r| r.ends_with(b"\tpong")),
        "ping.py answers"
    );
    let log = runner.log();
    assert!(log.contains("exceeds the limit"), "{log}");
    assert_eq!(log.matches("worker started").count(), 2, "{log}");
    assert!(!log.contains("hub stream failed"), "{log}");
}

/// A hub whose one script runs under the fake worker in `mode`, whose
/// answer to the first hook on its direct link is a bad frame: that hook
/// does not hold the hub past the deadline (it allows), and the next ones
/// reach the fake through the runner, where it blocks them; the worker is
/// the one started at load, still running. Gives the runner and what the
/// hub printed.
fn a_bad_frame_on_the_direct_link(mode: &str) -> (Runner, String) {
    let (runner, scripts) = fake_worker_runner(&[mode], "");
    shim_env(&runner.socket(), 500);
    let capture = CaptureStdout::start();
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    let path = scripts.path().join(format!("{mode}.py"));
    assert!(hub.load(&path) >= 0, "{}", runner.log());
    assert!(hub.login(b"eve", 0, b"10.0.0.9", b"", b"", b"", b"", b"0"));
    let t = Instant::now();
    assert!(hub.chat(b"eve", b"first"));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // The link is closed; the next hooks go through the runner to fd 3,
    // where the fake blocks them.
    wait_until(Duration::from_secs(5), "a hook through the runner", || {
        !hub.chat(b"eve", b"again")
    });
    let status = String::from_utf8_lossy(&runner.cli(&["status"]).stdout).into_owned();
    assert!(
        status.contains(" running "),
        "the worker was not restarted:\n{status}"
    );
    drop(hub);
    let text = capture.text();
    drop(capture);
    assert_eq!(
        runner.log().matches("worker started").count(),
        1,
        "{}",
        runner.log()
    );
    (runner, text)
}

#[test]
fn garbage_on_a_direct_link_closes_it_and_hooks_go_through_the_runner() {
    let _serial = serial();
    let (_runner, text) = a_bad_frame_on_the_direct_link("direct_junk");
    assert_eq!(capture_count(&text, "a bad frame"), 1, "{text}");
}

/// A Python 2 worker's direct link carries compact frames (docs/protocol.md
/// "Compact frames"); one the shim cannot read closes the link as any bad
/// frame does, and the hub says why once.
#[test]
fn a_bad_compact_frame_closes_the_link_and_hooks_go_through_the_runner() {
    let _serial = serial();
    let (_runner, text) = a_bad_frame_on_the_direct_link("direct_compact_junk");
    assert_eq!(
        capture_count(&text, "a bad frame: a compact frame: marshal code 'l'"),
        1,
        "{text}"
    );
}

/// docs/protocol.md "Versions": peers of different protocol versions stop
/// at the handshake with one line naming both versions. A shim of
/// protocol 1 (its `Hello` has no `protocol`, its hooks are `ShimMessage`
/// fields of their own) gets no `Welcome` from this runner: its stream
/// ends at once with that line as the status (which such a shim logs) and
/// in the runner's log. This shim, welcomed by a runner of protocol 1,
/// sends it nothing more, logs the line once, and fails its loads with it.
#[test]
fn a_peer_of_another_protocol_gets_one_line_naming_both() {
    let _serial = serial();
    let version = env!("CARGO_PKG_VERSION");
    let runner = Runner::start();
    let mut p = Peer::open_attach(&runner.socket());
    p.send_grpc(&shim_msg(shim_message::Kind::Hello(Hello {
        shim_version: "0.0.9".into(),
        ..Default::default()
    })));
    // A protocol 1 hook (`ShimMessage` field 4, a `HookCall`).
    let old_hook = HookCall {
        script_id: 1,
        call_id: 1,
        hook: 3,
        ..Default::default()
    };
    let mut raw = vec![0x22];
    prost::encoding::encode_varint(old_hook.encoded_len() as u64, &mut raw);
    old_hook.encode(&mut raw).unwrap();
    p.send_grpc(&raw);
    let t = Instant::now();
    let got = p.recv_until(Duration::from_secs(10), |_| false);
    assert!(got.is_empty(), "an old shim got {got:?} instead of the end");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "the stream did not end"
    );
    let line = format!("vh-shim 0.0.9 speaks protocol 1, vh-runner {version} protocol {PROTOCOL}");
    wait_until(Duration::from_secs(5), "the runner's line", || {
        runner.log().contains(&line)
    });
    assert_eq!(runner.log().matches(&line).count(), 1, "{}", runner.log());
    drop(p);

    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("old.sock");
    let fake = FakeRunner::start(
        &socket,
        Box::new(|msg: &ShimMessage| match &msg.kind {
            Some(shim_message::Kind::Hello(_)) => {
                vec![Out::Msg(runner_message::Kind::Welcome(Welcome {
                    runner_version: "0.0.9".into(),
                    protocol: 0,
                }))]
            }
            _ => vec![],
        }),
    );
    shim_env(&socket, 300);
    let capture = CaptureStdout::start();
    let mut hub = Hub::open(&shim_path(), Generation::A).expect("hubsim opens the shim");
    for _ in 0..2 {
        assert!(hub.load(&script("ping.py")) < 0, "a load went through");
    }
    drop(hub);
    let seen = fake.messages();
    drop(fake);
    let text = capture.text();
    drop(capture);
    let line = format!("vh-shim {version} speaks protocol {PROTOCOL}, vh-runner 0.0.9 protocol 1");
    assert_eq!(
        capture_count(
            &text,
            &format!(
                "cannot attach to the runner at {}: {line}",
                socket.display()
            )
        ),
        1,
        "{text}"
    );
    assert_eq!(
        capture_count(&text, &format!("ping.py: {line}")),
        2,
        "each load fails naming both:\n{text}"
    );
    assert!(
        !seen.is_empty()
            && seen
                .iter()
                .flatten()
                .all(|m| matches!(m.kind, Some(shim_message::Kind::Hello(_)))),
        "the shim sent more than its Hello: {seen:?}"
    );
}
