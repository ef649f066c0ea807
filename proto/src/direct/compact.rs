//! Compact frames: the hot messages of a Python 2 worker's direct link in
//! Python 2.7's own `marshal` format (docs/protocol.md "Compact frames").
//!
//! A Python 2 worker has no compiled code of its own: every protobuf byte
//! it reads or writes goes through Python statements, about 3 µs of a
//! chat hook's 10 (`bench/py2/micro.py`), where `marshal.loads` and
//! `marshal.dumps` are C and take a tenth of that. So on a link the runner
//! marks as a Python 2 worker's, the shim writes each hook call as a
//! marshal tuple, and the worker writes its hook results and pipelined
//! `vh.*` calls that way on the direct link; everything else stays
//! protobuf on every link, and each frame says which it is.
//!
//! A compact frame is a frame ([`super::frame`]) whose 4-byte length has
//! its top bit ([`COMPACT`]) set; the low 31 bits are the length of a
//! marshal (version 2) tuple whose first item says what it is:
//!
//! | tuple | direction | protobuf it stands for |
//! |---|---|---|
//! | `(1, call_id, hook, [args])` | shim → worker | `ToWorker.hook` (`hub_cpu` 0) |
//! | `(2, call_id, no_opinion, [values])` | worker → shim | `FromWorker.hook_result` |
//! | `(3, call_id, callback, [args])` | worker → shim | `FromWorker.hub_call`, pipelined |
//!
//! Values: `str` is `Value.s`, `int` `Value.l`, `float` `Value.d`, `None`
//! `Value.null_s`, `True`/`False` `Value.l` 1/0. Only those marshal codes
//! are read (`N T F i I g s t R ( [`, two levels deep at most); anything
//! else is a bad frame, as a bad protobuf frame is.

use std::io;

use super::frame::{self, MAX_FRAME_LEN};
use super::hook_frame::Arg;
use crate::v1::{FromWorker, HookResult, HubCall, ToWorker};
use crate::v1::{Value, from_worker, to_worker, value};

/// The bit of a frame's length that marks a compact frame.
pub const COMPACT: u32 = 0x8000_0000;

/// First item of each compact tuple.
const HOOK: i64 = 1;
const HOOK_RESULT: i64 = 2;
const PIPELINED_CALL: i64 = 3;

/// `msg` as a compact frame (length included) if it is a hook call whose
/// arguments all have a marshal form; `None` for anything else, which the
/// caller sends as protobuf.
pub fn to_worker_frame(msg: &ToWorker) -> Option<Vec<u8>> {
    let Some(to_worker::Kind::Hook(h)) = &msg.kind else {
        return None;
    };
    let args: Option<Vec<Arg<'_>>> = h.args.iter().map(Arg::of).collect();
    let mut out = Vec::with_capacity(64);
    write_hook(&mut out, h.call_id, h.hook, args?.into_iter()).then_some(out)
}

/// Appends hook call `(1, call_id, hook, [args])` to `out` as a compact
/// frame (length included) and returns true, if every argument has a
/// marshal form and the frame is within the limit; else appends nothing
/// and returns false (the caller writes the protobuf frame,
/// `frame::write_hook`). `HookCall.script_id` is the link's and
/// `hub_cpu` is 0 on a compact link (docs/protocol.md "Compact frames").
pub fn write_hook<'a>(
    out: &mut Vec<u8>,
    call_id: u64,
    hook: u32,
    args: impl ExactSizeIterator<Item = Arg<'a>>,
) -> bool {
    let start = out.len();
    let written = (|| {
        out.extend_from_slice(&[0; 4]);
        out.push(b'(');
        out.extend_from_slice(&4i32.to_le_bytes());
        put_int(out, HOOK);
        put_int(out, i64::try_from(call_id).ok()?);
        put_int(out, i64::from(hook));
        out.push(b'[');
        out.extend_from_slice(&i32::try_from(args.len()).ok()?.to_le_bytes());
        for a in args {
            match a {
                Arg::S(s) => {
                    out.push(b's');
                    out.extend_from_slice(&i32::try_from(s.len()).ok()?.to_le_bytes());
                    out.extend_from_slice(s);
                }
                Arg::L(l) => put_int(out, l),
                Arg::D(d) => {
                    out.push(b'g');
                    out.extend_from_slice(&d.to_le_bytes());
                }
                Arg::NullS => out.push(b'N'),
                Arg::Json(_) => return None,
            }
        }
        let len = u32::try_from(out.len() - start - 4).ok()?;
        if len as usize > frame::MAX_MESSAGE_LEN {
            return None; // protobuf then reports it as too big
        }
        out[start..start + 4].copy_from_slice(&(len | COMPACT).to_le_bytes());
        Some(())
    })();
    if written.is_none() {
        out.truncate(start);
    }
    written.is_some()
}

fn put_int(out: &mut Vec<u8>, n: i64) {
    if let Ok(small) = i32::try_from(n) {
        out.push(b'i');
        out.extend_from_slice(&small.to_le_bytes());
    } else {
        out.push(b'I');
        out.extend_from_slice(&n.to_le_bytes());
    }
}

/// The first whole frame in `buf`, protobuf or compact, and how many bytes
/// it took; `None` while it is not all there. [`frame::decode`] for a link
/// that may carry compact frames.
///
/// # Errors
/// `InvalidData` for a frame over [`MAX_FRAME_LEN`], a protobuf body that
/// is no `FromWorker`, or a compact one that is none of the tuples above.
pub fn decode_from_worker(buf: &[u8]) -> io::Result<Option<(FromWorker, usize)>> {
    let Some(head) = buf.get(..4) else {
        return Ok(None);
    };
    let word = u32::from_le_bytes(head.try_into().expect("4 bytes"));
    if word & COMPACT == 0 {
        return frame::decode(buf);
    }
    let len = (word & !COMPACT) as usize;
    if len > MAX_FRAME_LEN {
        return Err(bad(frame::too_big("a frame", len, MAX_FRAME_LEN)));
    }
    let Some(body) = buf.get(4..4 + len) else {
        return Ok(None);
    };
    let msg = from_worker(body).map_err(|why| bad(format!("a compact frame: {why}")))?;
    Ok(Some((msg, 4 + len)))
}

fn bad(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// One marshal object of the subset read here.
#[derive(Debug)]
enum Obj<'a> {
    None,
    Int(i64),
    Float(f64),
    Str(&'a [u8]),
    Seq(Vec<Obj<'a>>),
}

fn from_worker(body: &[u8]) -> Result<FromWorker, String> {
    let mut r = Reader {
        data: body,
        pos: 0,
        refs: Vec::new(),
    };
    let top = r.object(0)?;
    if r.pos != body.len() {
        return Err("bytes after the tuple".into());
    }
    let Obj::Seq(items) = top else {
        return Err("not a tuple".into());
    };
    let [Obj::Int(tag), Obj::Int(call_id), third, Obj::Seq(list)] = <[Obj; 4]>::try_from(items)
        .map_err(|items| format!("a tuple of {} items, not 4", items.len()))?
    else {
        return Err("not (kind, call id, _, list)".into());
    };
    let call_id = u64::try_from(call_id).map_err(|_| "a negative call id".to_string())?;
    let values = list
        .into_iter()
        .map(to_value)
        .collect::<Result<Vec<_>, _>>()?;
    let kind = match (tag, third) {
        (HOOK_RESULT, Obj::Int(no_opinion)) => from_worker::Kind::HookResult(HookResult {
            script_id: 0,
            call_id,
            no_opinion: no_opinion != 0,
            values,
        }),
        (PIPELINED_CALL, Obj::Str(name)) => from_worker::Kind::HubCall(HubCall {
            script_id: 0,
            call_id,
            callback: String::from_utf8(name.to_vec())
                .map_err(|_| "a callback name that is not UTF-8".to_string())?,
            args: values,
            pipelined: true,
        }),
        (tag, _) => return Err(format!("no compact message of kind {tag} from a worker")),
    };
    Ok(FromWorker { kind: Some(kind) })
}

fn to_value(o: Obj<'_>) -> Result<Value, String> {
    let kind = match o {
        Obj::None => value::Kind::NullS(true),
        Obj::Int(l) => value::Kind::L(l),
        Obj::Float(d) => value::Kind::D(d),
        Obj::Str(s) => value::Kind::S(s.to_vec()),
        Obj::Seq(_) => return Err("a list inside the values".into()),
    };
    Ok(Value { kind: Some(kind) })
}

/// Reads marshal objects out of `data`; `refs` are the interned strings
/// (`t`) so far, which `R` refers to by number.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    refs: Vec<&'a [u8]>,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or("cut short")?;
        let got = &self.data[self.pos..end];
        self.pos = end;
        Ok(got)
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }

    /// A count or length: not negative, and no more than the bytes left
    /// (each item takes at least one), so a hostile count allocates nothing.
    fn count(&mut self) -> Result<usize, String> {
        let n = usize::try_from(self.i32()?).map_err(|_| "a negative length")?;
        if n > self.data.len() - self.pos {
            return Err("a length past the end".into());
        }
        Ok(n)
    }

    fn object(&mut self, depth: u8) -> Result<Obj<'a>, String> {
        let code = self.take(1)?[0];
        Ok(match code {
            b'N' => Obj::None,
            b'T' => Obj::Int(1),
            b'F' => Obj::Int(0),
            b'i' => Obj::Int(i64::from(self.i32()?)),
            b'I' => Obj::Int(i64::from_le_bytes(self.take(8)?.try_into().expect("8"))),
            b'g' => Obj::Float(f64::from_le_bytes(self.take(8)?.try_into().expect("8"))),
            b's' | b't' => {
                let n = self.count()?;
                let s = self.take(n)?;
                if code == b't' {
                    self.refs.push(s);
                }
                Obj::Str(s)
            }
            b'R' => {
                let i = usize::try_from(self.i32()?).map_err(|_| "a negative reference")?;
                Obj::Str(self.refs.get(i).ok_or("a reference to no string")?)
            }
            b'(' | b'[' if depth < 2 => {
                let n = self.count()?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.object(depth + 1)?);
                }
                Obj::Seq(items)
            }
            b'(' | b'[' => return Err("lists nested too deep".into()),
            other => return Err(format!("marshal code {:?} is not read here", other as char)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::HookCall;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut f = ((body.len() as u32) | COMPACT).to_le_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    fn s(b: &[u8]) -> Value {
        Value {
            kind: Some(value::Kind::S(b.to_vec())),
        }
    }

    fn l(n: i64) -> Value {
        Value {
            kind: Some(value::Kind::L(n)),
        }
    }

    // The bytes below are what Python 2.7.18's marshal.dumps gives for the
    // tuples in the comments (interned literals come as `t` and `R`).
    #[test]
    fn reads_what_python_2_marshal_writes() {
        // (2, 123456, False, [1])
        let f = framed(&hex("280400000069020000006940e20100465b010000006901000000"));
        let (msg, took) = decode_from_worker(&f).unwrap().unwrap();
        assert_eq!(took, f.len());
        let want = HookResult {
            script_id: 0,
            call_id: 123456,
            no_opinion: false,
            values: vec![l(1)],
        };
        assert_eq!(msg.kind, Some(from_worker::Kind::HookResult(want)));
        // (3, 7, intern("usermc"), [intern("usermc"), 2**40, 1.5, True])
        let f = framed(&hex(
            "2804000000690300000069070000007406000000757365726d635b04000000\
             520000000049000000000001000067000000000000f83f54",
        ));
        let (msg, _) = decode_from_worker(&f).unwrap().unwrap();
        let want = HubCall {
            script_id: 0,
            call_id: 7,
            callback: "usermc".into(),
            args: vec![
                s(b"usermc"),
                l(1 << 40),
                Value {
                    kind: Some(value::Kind::D(1.5)),
                },
                l(1),
            ],
            pipelined: true,
        };
        assert_eq!(msg.kind, Some(from_worker::Kind::HubCall(want)));
    }

    #[test]
    fn writes_hooks_as_python_2_marshal_reads_them() {
        let msg = ToWorker {
            kind: Some(to_worker::Kind::Hook(HookCall {
                script_id: 5,
                call_id: 64,
                hook: 3,
                args: vec![s(b"hi"), s(b"\xf0\xe8\xe6\xe8")],
                hub_cpu: 2,
            })),
        };
        // marshal.loads gives (1, 64, 3, ['hi', '\xf0\xe8\xe6\xe8']) for it.
        let body = "28040000006901000000694000000069030000005b0200000073020000\
                    0068697304000000f0e8e6e8";
        assert_eq!(to_worker_frame(&msg).unwrap(), framed(&hex(body)));
        let json = ToWorker {
            kind: Some(to_worker::Kind::Hook(HookCall {
                args: vec![Value {
                    kind: Some(value::Kind::Json(b"[]".to_vec())),
                }],
                ..HookCall::default()
            })),
        };
        assert_eq!(
            to_worker_frame(&json),
            None,
            "JSON has no marshal form here"
        );
    }

    #[test]
    fn takes_protobuf_frames_too_and_waits_for_whole_ones() {
        let msg = FromWorker {
            kind: Some(from_worker::Kind::HookResult(HookResult {
                call_id: 9,
                ..HookResult::default()
            })),
        };
        let mut buf = Vec::new();
        frame::encode(&mut buf, &msg).unwrap();
        assert_eq!(decode_from_worker(&buf).unwrap().unwrap().0, msg);
        let f = framed(&hex("280400000069020000006940e20100465b010000006901000000"));
        for cut in 0..f.len() {
            assert!(decode_from_worker(&f[..cut]).unwrap().is_none());
        }
    }

    #[test]
    fn refuses_anything_else_with_a_reason() {
        let cases: &[(&str, &str)] = &[
            ("4e", "not a tuple"),
            ("280100000069020000", "cut short"),
            ("28ffffff7f", "past the end"),
            ("28feffffff", "negative"),
            (
                "2804000000690200000069010000004e5b000000004e",
                "bytes after",
            ),
            ("280400000069090000006901000000465b00000000", "kind 9"),
            (
                "280400000069020000006901000000465b01000000285b00000000",
                "too deep",
            ),
            (
                "2804000000690200000069010000005b000000005b00000000",
                "kind 2",
            ),
            (
                "28040000006902000000690100000046280100000028010000004e",
                "too deep",
            ),
            (
                "280400000069020000006901000000465b010000006c01000000",
                "code 'l'",
            ),
            ("2804000000690300000069010000005200000000", "no string"),
        ];
        for (body, why) in cases {
            let err = decode_from_worker(&framed(&hex(body))).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert!(err.to_string().contains(why), "{body}: {err}");
        }
        let huge = ((MAX_FRAME_LEN as u32 + 1) | COMPACT).to_le_bytes();
        assert!(
            decode_from_worker(&huge)
                .unwrap_err()
                .to_string()
                .contains("limit")
        );
    }
}
