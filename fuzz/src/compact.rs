//! Compact frames (`vh_proto::direct::compact`, docs/protocol.md "Compact
//! frames") on arbitrary bytes, as the shim reads a Python 2 worker's
//! direct link: `decode_from_worker` over the whole stream and the shim's
//! `Inbox::read_with` on a socketpair fed in chunks must agree frame by
//! frame, never panic, fail only with `InvalidData`, and give only the
//! messages a compact frame stands for.

use std::io;

use prost::Message;
use vh_proto::direct::compact::{COMPACT, decode_from_worker};
use vh_proto::v1::{FromWorker, from_worker};

/// Every frame `decode_from_worker` takes out of `data`, until the end or
/// the first bad one.
fn whole(data: &[u8]) -> Vec<FromWorker> {
    let mut got = Vec::new();
    let mut at = 0;
    loop {
        match decode_from_worker(&data[at..]) {
            Ok(Some((msg, took))) => {
                assert!(took >= 4 && at + took <= data.len(), "took {took} at {at}");
                let word = u32::from_le_bytes(data[at..at + 4].try_into().expect("4"));
                if word & COMPACT != 0 {
                    assert!(
                        matches!(
                            &msg.kind,
                            Some(from_worker::Kind::HookResult(_))
                                | Some(from_worker::Kind::HubCall(vh_proto::v1::HubCall {
                                    pipelined: true,
                                    ..
                                }))
                        ),
                        "a compact frame gave {msg:?}"
                    );
                }
                got.push(msg);
                at += took;
            }
            Ok(None) => return got,
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
                return got;
            }
        }
    }
}

/// One fuzzer input: a byte stream as the shim reads a Python 2 worker's link.
pub fn compact(data: &[u8]) {
    let want: Vec<Vec<u8>> = whole(data).iter().map(Message::encode_to_vec).collect();
    for step in [1, 5, 4096] {
        let got: Vec<Vec<u8>> = crate::frames::inbox_frames_with(data, step, decode_from_worker)
            .iter()
            .map(Message::encode_to_vec)
            .collect();
        assert_eq!(
            want, got,
            "the inbox and a whole read disagree (chunks of {step})"
        );
    }
}
