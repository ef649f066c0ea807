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
//!
//! The worker's main thread reads the usual hook in place ([`view`]): its
//! scalar fields at once, its arguments straight from the frame's bytes
//! ([`HookView::args`]) into the script's objects, with no owned
//! `HookCall` (its argument vector and strings allocated) in between.

use crate::v1::{HookCall, ToWorker, Value, to_worker, value};

/// `ToWorker` from frame body `body`: read here if it is a hook call this
/// reader knows whole, else `None` (the caller asks `prost`).
pub fn decode(body: &[u8]) -> Option<ToWorker> {
    Some(ToWorker {
        kind: Some(to_worker::Kind::Hook(view(body)?.to_call())),
    })
}

/// The hook call of frame body `body` (a `ToWorker` whose one field is
/// `hook`), read in place and checked whole: `None` where [`decode`]
/// would leave the body to `prost`.
pub fn view(body: &[u8]) -> Option<HookView<'_>> {
    let mut r = Reader(body);
    // One field: `hook` (2), length-delimited, covering the whole body.
    if r.varint()? != (2 << 3 | 2) {
        return None;
    }
    let call = r.bytes()?;
    if !r.0.is_empty() {
        return None;
    }
    let mut v = HookView {
        script_id: 0,
        call_id: 0,
        hook: 0,
        hub_cpu: 0,
        body: call,
    };
    let mut r = Reader(call);
    while !r.0.is_empty() {
        match r.varint()? {
            0x08 => v.script_id = r.varint()? as i32,
            0x10 => v.call_id = r.varint()?,
            0x18 => v.hook = r.varint()? as u32,
            // Checked now, so that `args` never meets a byte it declines.
            0x22 => _ = arg(r.bytes()?)?,
            0x28 => v.hub_cpu = r.varint()? as u32,
            _ => return None,
        }
    }
    Some(v)
}

/// A hook call read in place ([`view`]): `HookCall`'s scalar fields, and
/// its arguments still in the frame's bytes.
#[derive(Debug, Clone, Copy)]
pub struct HookView<'a> {
    /// `HookCall.script_id`.
    pub script_id: i32,
    /// `HookCall.call_id`.
    pub call_id: u64,
    /// `HookCall.hook`: the hook's index (docs/abi.md §4).
    pub hook: u32,
    /// `HookCall.hub_cpu`: 1 + the hub thread's CPU, 0 unknown.
    pub hub_cpu: u32,
    /// The `HookCall` message's bytes, checked whole by [`view`].
    body: &'a [u8],
}

/// One argument of a [`HookView`]: `Value.kind`, strings borrowed from
/// the frame (`None`: a `Value` with no kind set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg<'a> {
    /// `Value.l`.
    L(i64),
    /// `Value.s`: a hub string's bytes.
    S(&'a [u8]),
    /// `Value.d`.
    D(f64),
    /// `Value.null_s`.
    NullS(bool),
    /// `Value.json`.
    Json(&'a [u8]),
}

impl Arg<'_> {
    /// The owned `Value.kind`.
    pub fn to_kind(self) -> value::Kind {
        match self {
            Arg::L(n) => value::Kind::L(n),
            Arg::S(b) => value::Kind::S(b.to_vec()),
            Arg::D(d) => value::Kind::D(d),
            Arg::NullS(b) => value::Kind::NullS(b),
            Arg::Json(b) => value::Kind::Json(b.to_vec()),
        }
    }
}

impl<'a> Arg<'a> {
    /// `kind` borrowed.
    pub fn of(kind: &'a value::Kind) -> Arg<'a> {
        match kind {
            value::Kind::L(n) => Arg::L(*n),
            value::Kind::S(b) => Arg::S(b),
            value::Kind::D(d) => Arg::D(*d),
            value::Kind::NullS(b) => Arg::NullS(*b),
            value::Kind::Json(b) => Arg::Json(b),
        }
    }
}

impl<'a> HookView<'a> {
    /// The arguments in order, as `HookCall.args` holds them.
    pub fn args(&self) -> impl Iterator<Item = Option<Arg<'a>>> + use<'a> {
        let mut r = Reader(self.body);
        // `view` checked every field: nothing here is declined, and the
        // `?`s only end the walk.
        std::iter::from_fn(move || {
            while !r.0.is_empty() {
                match r.varint()? {
                    0x22 => return arg(r.bytes()?),
                    _ => _ = r.varint()?,
                }
            }
            None
        })
    }

    /// The owned `HookCall`, as `prost` decodes it.
    pub fn to_call(&self) -> HookCall {
        HookCall {
            script_id: self.script_id,
            call_id: self.call_id,
            hook: self.hook,
            hub_cpu: self.hub_cpu,
            args: self
                .args()
                .map(|a| Value {
                    kind: a.map(Arg::to_kind),
                })
                .collect(),
        }
    }
}

/// A `Value` message's kind (`Some(None)`: none set; the last field set
/// wins, as for any `oneof`); `None` if this reader declines it.
fn arg(body: &[u8]) -> Option<Option<Arg<'_>>> {
    let mut r = Reader(body);
    let mut kind = None;
    while !r.0.is_empty() {
        kind = Some(match r.varint()? {
            0x08 => {
                let n = r.varint()?;
                // sint64: zigzag.
                Arg::L((n >> 1) as i64 ^ -((n & 1) as i64))
            }
            0x12 => Arg::S(r.bytes()?),
            0x19 => Arg::D(f64::from_le_bytes(r.take(8)?.try_into().ok()?)),
            0x20 => Arg::NullS(r.varint()? != 0),
            0x2a => Arg::Json(r.bytes()?),
            _ => return None,
        });
    }
    Some(kind)
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
    fn a_view_reads_the_arguments_in_place_as_prost_decodes_them() {
        let kinds = vec![
            value::Kind::S(b"\xcf\xf0\xe8 x".to_vec()),
            value::Kind::L(-70),
            value::Kind::Json(b"{}".to_vec()),
            value::Kind::D(2.5),
            value::Kind::NullS(false),
        ];
        let mut msg = hook(kinds.clone());
        if let Some(to_worker::Kind::Hook(call)) = &mut msg.kind {
            call.args.push(Value { kind: None });
        }
        let bytes = msg.encode_to_vec();
        let Some(to_worker::Kind::Hook(call)) = &msg.kind else {
            unreachable!()
        };
        let v = view(&bytes).expect("a hook call");
        assert_eq!(
            (v.script_id, v.call_id, v.hook, v.hub_cpu),
            (-3, u64::MAX - 7, 41, 2)
        );
        let got: Vec<Option<value::Kind>> = v.args().map(|a| a.map(Arg::to_kind)).collect();
        let want: Vec<Option<value::Kind>> = call.args.iter().map(|a| a.kind.clone()).collect();
        assert_eq!(got, want);
        // Borrowed strings point into the frame itself.
        let Some(Some(Arg::S(s))) = v.args().next() else {
            panic!("a string first")
        };
        assert!(bytes.as_ptr_range().contains(&s.as_ptr()));
        // `Arg::of` is the same argument, borrowed from the owned value.
        for k in &kinds {
            assert_eq!(&Arg::of(k).to_kind(), k);
        }
        // A frame of two `Value` kinds: the last one wins, as in prost.
        let mut two = hook(vec![value::Kind::L(1)]).encode_to_vec();
        // ToWorker.hook's length, HookCall.args' length, then `s = "z"`.
        two[1] += 3;
        let at = two.iter().position(|&b| b == 0x22).unwrap();
        two[at + 1] += 3;
        two.splice(at + 4..at + 4, [0x12, 0x01, b'z']);
        let prost = ToWorker::decode(&two[..]).unwrap();
        assert_eq!(decode(&two), Some(prost));
        assert_eq!(
            view(&two).unwrap().args().collect::<Vec<_>>(),
            vec![Some(Arg::S(b"z"))]
        );
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
