//! Every prost message of `proto/vh.proto` decoded from arbitrary bytes:
//! a decode either fails or gives a message that encodes to a canonical
//! form which decodes to the same thing (compared as bytes: `f64` NaNs
//! are not equal to themselves). And the worker's own reader of a hook
//! call's frame (`vh_proto::direct::hook_frame`) either declines or reads
//! what `prost` reads.

use prost::Message;
use vh_proto::v1::{
    AdminReply, FromWorker, LogLine, LogsRequest, RunnerMessage, ScriptRef, ShimMessage,
    StatusReply, StatusRequest, ToWorker,
};

fn check<M: Message + Default>(data: &[u8]) {
    if let Ok(m) = M::decode(data) {
        let bytes = m.encode_to_vec();
        assert_eq!(bytes.len(), m.encoded_len());
        let again = M::decode(bytes.as_slice()).expect("a re-encoded message decodes");
        assert_eq!(again.encode_to_vec(), bytes, "encoding is not stable");
    }
    if let Ok(m) = M::decode_length_delimited(data) {
        let bytes = m.encode_length_delimited_to_vec();
        let again = M::decode_length_delimited(bytes.as_slice()).expect("decodes again");
        assert_eq!(again.encode_length_delimited_to_vec(), bytes);
    }
}

/// The hook-frame reader against `prost` on `data` (compared as bytes).
fn check_hook_frame(data: &[u8]) {
    if let Some(m) = vh_proto::direct::hook_frame::decode(data) {
        let theirs = ToWorker::decode(data).expect("prost reads what the hook-frame reader reads");
        assert_eq!(m.encode_to_vec(), theirs.encode_to_vec());
    }
}

/// One fuzzer input, decoded as every message type.
pub fn proto_decode(data: &[u8]) {
    check_hook_frame(data);
    check::<ShimMessage>(data);
    check::<RunnerMessage>(data);
    check::<ToWorker>(data);
    check::<FromWorker>(data);
    check::<StatusRequest>(data);
    check::<StatusReply>(data);
    check::<LogsRequest>(data);
    check::<LogLine>(data);
    check::<ScriptRef>(data);
    check::<AdminReply>(data);
}
