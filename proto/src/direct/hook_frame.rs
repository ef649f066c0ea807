//! A hook call's frame (`ToWorker.hook`), read and written without
//! `prost`: the frame of nearly every event, on the two threads a hook
//! that finds everything asleep pays for cold.
//!
//! Read, for the worker's main thread ([`decode`]). Why: a hook that finds
//! its worker asleep pays for every cache line it touches, and in-worker
//! clock stamps put `prost`'s decode of the hook's frame (its generic
//! merge code and its context, all cold) at 5-8 µs of a paced chat hook
//! (docs/performance.md "Frame records and the read buffer"). This reader
//! knows the one message: the fields of `HookCall` and `Value`
//! (proto/vh.proto), the wire types they are written with, and `prost`'s
//! rules for them (a later scalar wins, `args` append, the last field of a
//! `oneof` wins). Anything else it does not read (another `ToWorker`
//! kind, an unknown field, a wire type that does not match, a truncated or
//! overlong varint) it hands to `prost`, whose answer, value or error,
//! stands: so the two can differ only in speed, which the tests hold them
//! to.
//!
//! Written, for the shim's hub thread ([`encode`], framed by
//! `frame::write_hook`): straight from the
//! arguments the plugin handed over ([`Arg`], borrowed) into one reused
//! buffer, the same bytes `prost` writes for the `HookCall` they would
//! make (the tests hold them to that), without building that message's
//! owned values first (docs/performance.md "One straight hook path").

use crate::v1::{HookCall, ToWorker, Value, to_worker, value};

/// `ToWorker` from frame body `body`: read here if it is a hook call this
/// reader knows whole, else `None` (the caller asks `prost`).
pub fn decode(body: &[u8]) -> Option<ToWorker> {
    let mut r = Reader(body);
    // One field: `hook` (2), length-delimited, covering the whole body.
    if r.varint()? != (2 << 3 | 2) {
        return None;
    }
    let call = r.bytes()?;
    if !r.0.is_empty() {
        return None;
    }
    Some(ToWorker {
        kind: Some(to_worker::Kind::Hook(hook_call(call)?)),
    })
}

/// One hook argument as the shim reads it from the plugin's struct,
/// borrowed for the write: the `Value` it stands for (proto/vh.proto).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg<'a> {
    /// `Value.l`.
    L(i64),
    /// `Value.d`.
    D(f64),
    /// `Value.s`: the string's bytes, as the hub gave them.
    S(&'a [u8]),
    /// `Value.null_s`: a NULL string.
    NullS,
    /// `Value.json`.
    Json(&'a [u8]),
}

impl<'a> Arg<'a> {
    /// `value` borrowed; `None` for a `Value` without a kind (which no
    /// hook argument is).
    pub fn of(value: &'a Value) -> Option<Arg<'a>> {
        Some(match value.kind.as_ref()? {
            value::Kind::L(l) => Arg::L(*l),
            value::Kind::D(d) => Arg::D(*d),
            value::Kind::S(s) => Arg::S(s),
            value::Kind::NullS(_) => Arg::NullS,
            value::Kind::Json(j) => Arg::Json(j),
        })
    }

    /// `value` borrowed, a `Value` without a kind as a NULL string (what
    /// a struct the shim builds holds for it).
    pub fn from_wire(value: &'a Value) -> Arg<'a> {
        Arg::of(value).unwrap_or(Arg::NullS)
    }

    /// The owned `Value` this argument stands for.
    pub fn to_value(self) -> Value {
        Value {
            kind: Some(match self {
                Arg::L(l) => value::Kind::L(l),
                Arg::D(d) => value::Kind::D(d),
                Arg::S(s) => value::Kind::S(s.to_vec()),
                Arg::NullS => value::Kind::NullS(true),
                Arg::Json(j) => value::Kind::Json(j.to_vec()),
            }),
        }
    }

    /// The struct format character of this argument (docs/abi.md §2.1).
    pub fn format_char(&self) -> u8 {
        match self {
            Arg::L(_) => b'l',
            Arg::S(_) | Arg::NullS => b's',
            Arg::D(_) => b'd',
            Arg::Json(_) => b'D',
        }
    }

    /// Bytes of the `Value` message this argument is.
    fn value_len(self) -> usize {
        match self {
            Arg::L(l) => 1 + varint_len(zigzag(l)),
            Arg::D(_) => 9,
            Arg::S(b) | Arg::Json(b) => 1 + varint_len(b.len() as u64) + b.len(),
            Arg::NullS => 2,
        }
    }

    fn put_value(self, out: &mut Vec<u8>) {
        match self {
            Arg::L(l) => {
                out.push(0x08);
                put_varint(out, zigzag(l));
            }
            Arg::D(d) => {
                out.push(0x19);
                out.extend_from_slice(&d.to_le_bytes());
            }
            Arg::S(b) => put_bytes(out, 0x12, b),
            Arg::NullS => out.extend_from_slice(&[0x20, 1]),
            Arg::Json(b) => put_bytes(out, 0x2a, b),
        }
    }
}

/// The fields of a `HookCall` other than its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub script_id: i32,
    pub call_id: u64,
    pub hook: u32,
    pub hub_cpu: u32,
}

/// Bytes of `ToWorker { hook: HookCall { head, args } }` as `prost`
/// writes it (the body of its frame, `frame::write_hook`).
pub fn encoded_len<'a>(head: Head, args: impl Iterator<Item = Arg<'a>>) -> usize {
    let call_len = call_len(head, args);
    1 + varint_len(call_len as u64) + call_len
}

/// Appends `ToWorker { hook: HookCall { head, args } }` to `out`: the
/// bytes `prost` writes for it (every field in number order, scalars at
/// 0 left out as proto3 does). `args` is walked twice (lengths first).
pub fn encode<'a, I>(out: &mut Vec<u8>, head: Head, args: I)
where
    I: Iterator<Item = Arg<'a>> + Clone,
{
    out.push(0x12);
    put_varint(out, call_len(head, args.clone()) as u64);
    let scalar = |out: &mut Vec<u8>, tag: u8, v: u64| {
        if v != 0 {
            out.push(tag);
            put_varint(out, v);
        }
    };
    // `int32` negatives are written sign-extended to 64 bits, as prost does.
    scalar(out, 0x08, head.script_id as i64 as u64);
    scalar(out, 0x10, head.call_id);
    scalar(out, 0x18, u64::from(head.hook));
    for a in args {
        out.push(0x22);
        put_varint(out, a.value_len() as u64);
        a.put_value(out);
    }
    scalar(out, 0x28, u64::from(head.hub_cpu));
}

/// Bytes of the `HookCall` itself.
fn call_len<'a>(head: Head, args: impl Iterator<Item = Arg<'a>>) -> usize {
    // A scalar field: absent when 0, as proto3 writes it.
    let field_len = |v: u64| if v == 0 { 0 } else { 1 + varint_len(v) };
    field_len(head.script_id as i64 as u64)
        + field_len(head.call_id)
        + field_len(u64::from(head.hook))
        + field_len(u64::from(head.hub_cpu))
        + args
            .map(|a| {
                let n = a.value_len();
                1 + varint_len(n as u64) + n
            })
            .sum::<usize>()
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn varint_len(v: u64) -> usize {
    // 1 byte per 7 bits, at least one.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, tag: u8, b: &[u8]) {
    out.push(tag);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn hook_call(body: &[u8]) -> Option<HookCall> {
    let mut r = Reader(body);
    let mut call = HookCall::default();
    while !r.0.is_empty() {
        match r.varint()? {
            0x08 => call.script_id = r.varint()? as i32,
            0x10 => call.call_id = r.varint()?,
            0x18 => call.hook = r.varint()? as u32,
            0x22 => call.args.push(value(r.bytes()?)?),
            0x28 => call.hub_cpu = r.varint()? as u32,
            _ => return None,
        }
    }
    Some(call)
}

fn value(body: &[u8]) -> Option<Value> {
    let mut r = Reader(body);
    let mut kind = None;
    while !r.0.is_empty() {
        kind = Some(match r.varint()? {
            0x08 => {
                let n = r.varint()?;
                // sint64: zigzag.
                value::Kind::L((n >> 1) as i64 ^ -((n & 1) as i64))
            }
            0x12 => value::Kind::S(r.bytes()?.to_vec()),
            0x19 => value::Kind::D(f64::from_le_bytes(r.take(8)?.try_into().ok()?)),
            0x20 => value::Kind::NullS(r.varint()? != 0),
            0x2a => value::Kind::Json(r.bytes()?.to_vec()),
            _ => return None,
        });
    }
    Some(Value { kind })
}

/// The bytes not yet read.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// A base-128 varint of at most 10 bytes whose tenth byte is 0 or 1
    /// (what `prost` accepts); `None` if cut short or longer.
    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            if i == 9 && b > 1 {
                return None;
            }
            n |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Some(n);
            }
        }
        None
    }

    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    /// A length-delimited field's bytes.
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        self.take(n)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use prost::Message;

    use super::*;

    /// A hook call with every scalar field set (`frame`'s tests use it
    /// too).
    pub(in crate::direct) fn hook(args: Vec<value::Kind>) -> ToWorker {
        ToWorker {
            kind: Some(to_worker::Kind::Hook(HookCall {
                script_id: -3,
                call_id: u64::MAX - 7,
                hook: 41,
                args: args.into_iter().map(|k| Value { kind: Some(k) }).collect(),
                hub_cpu: 2,
            })),
        }
    }

    #[test]
    fn reads_every_hook_call_as_prost_writes_it() {
        let cases = [
            hook(vec![]),
            hook(vec![
                value::Kind::S(b"nick\xe9".to_vec()),
                value::Kind::S(vec![]),
            ]),
            hook(vec![
                value::Kind::L(i64::MIN),
                value::Kind::L(-1),
                value::Kind::L(0),
                value::Kind::L(i64::MAX),
                value::Kind::D(-0.5),
                value::Kind::NullS(true),
                value::Kind::Json(b"[1]".to_vec()),
                value::Kind::S(vec![b'x'; 300]),
            ]),
            ToWorker {
                kind: Some(to_worker::Kind::Hook(HookCall::default())),
            },
        ];
        for msg in cases {
            let bytes = msg.encode_to_vec();
            assert_eq!(decode(&bytes), Some(msg), "{bytes:?}");
        }
    }

    #[test]
    fn anything_else_is_left_to_prost_and_never_read_otherwise() {
        // Another kind, and a hook with an unknown field (prost skips it).
        let ping = ToWorker {
            kind: Some(to_worker::Kind::Ping(crate::v1::Ping {
                script_id: 1,
                seq: 2,
            })),
        };
        assert_eq!(decode(&ping.encode_to_vec()), None);
        let mut bytes = hook(vec![value::Kind::L(5)]).encode_to_vec();
        bytes[1] += 2;
        bytes.extend([0x30, 0x01]);
        assert_eq!(decode(&bytes), None);
        // Every cut and every one-byte change of a real frame: either this
        // reader declines or it agrees with prost.
        let whole = hook(vec![value::Kind::S(b"ab".to_vec()), value::Kind::L(-70)]).encode_to_vec();
        for cut in 0..whole.len() {
            let got = decode(&whole[..cut]);
            assert!(
                got.is_none() || got == ToWorker::decode(&whole[..cut]).ok(),
                "cut {cut}"
            );
        }
        for at in 0..whole.len() {
            for b in [0x00, 0x01, 0x7f, 0x80, 0xff, 0x12, 0x22] {
                let mut bad = whole.clone();
                bad[at] = b;
                if let Some(got) = decode(&bad) {
                    assert_eq!(
                        Some(got),
                        ToWorker::decode(&bad[..]).ok(),
                        "byte {at} = {b:#x}"
                    );
                }
            }
        }
    }
}
