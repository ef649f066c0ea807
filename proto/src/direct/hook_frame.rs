//! A hook call's frame (`ToWorker.hook`) decoded by a reader of its own,
//! for the worker's main thread, where it is the frame of nearly every
//! event.
//!
//! Why: a hook that finds its worker asleep pays for every cache line it
//! touches, and in-worker clock stamps put `prost`'s decode of the hook's
//! frame (its generic merge code and its context, all cold) at 5-8 µs of
//! a paced chat hook (docs/performance.md "Frame records and the read
//! buffer"). This reader knows the one message: the fields of `HookCall`
//! and `Value` (proto/vh.proto), the wire types they are written with,
//! and `prost`'s rules for them (a later scalar wins, `args` append, the
//! last field of a `oneof` wins). Anything else it does not read (another
//! `ToWorker` kind, an unknown field, a wire type that does not match,
//! a truncated or overlong varint) it hands to `prost`, whose answer,
//! value or error, stands: so the two can differ only in speed, which the
//! tests hold them to.

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
mod tests {
    use prost::Message;

    use super::*;

    fn hook(args: Vec<value::Kind>) -> ToWorker {
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
