//! Frames: a 4-byte little-endian length, then that many bytes of one
//! prost message (`ToWorker` or `FromWorker`). The direct link and the
//! runner <-> worker socketpair carry the same frames; this is the one
//! place they are written, read and limited.
//!
//! The runner reads and writes frames with tokio-util's
//! `LengthDelimitedCodec` configured by [`MAX_FRAME_LEN`] and
//! little-endian 4-byte lengths; the shim and the worker core use the
//! helpers here: [`encode`] (into a buffer the caller writes), [`decode`]
//! (out of a buffer the caller filled), and the blocking [`write_frame`]
//! and [`read_frame`] built on them.

use std::io::{self, Read, Write};

use prost::Message;

/// Largest frame either side accepts, in bytes (16 MiB). A hub message is at
/// most a few MiB; anything larger is a broken or hostile peer. The gRPC
/// stream between the shim and the runner uses the same limit for one
/// message, both ways; this is the one place it is set.
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Room kept below [`MAX_FRAME_LEN`] for what the runner adds when it
/// forwards a message (a script id, another envelope): 64 KiB.
pub const ENVELOPE_HEADROOM: usize = 64 * 1024;

/// Largest message the shim or a worker sends, in bytes (the encoded
/// `ShimMessage` / `FromWorker`): [`MAX_FRAME_LEN`] less
/// [`ENVELOPE_HEADROOM`], so that whatever passes this check still fits
/// every link after the runner re-wraps it. A bigger one fails alone (that
/// hook gives "no opinion", that call fails); it never ends a stream or a
/// worker link.
pub const MAX_MESSAGE_LEN: usize = MAX_FRAME_LEN - ENVELOPE_HEADROOM;

/// The error text for a message of `len` bytes over `limit`, the same on
/// every side: "message of N bytes exceeds the limit of M bytes (16 MiB)".
pub fn too_big(what: &str, len: usize, limit: usize) -> String {
    format!(
        "{what} of {len} bytes exceeds the limit of {limit} bytes ({:.1} MiB)",
        limit as f64 / (1024.0 * 1024.0)
    )
}

/// The error for a frame of `len` bytes when that is over
/// [`MAX_FRAME_LEN`] (`kind`: `InvalidInput` for one being written,
/// `InvalidData` for one being read).
fn check_len(len: usize, kind: io::ErrorKind) -> io::Result<()> {
    if len > MAX_FRAME_LEN {
        return Err(io::Error::new(kind, too_big("a frame", len, MAX_FRAME_LEN)));
    }
    Ok(())
}

/// Appends `msg` to `buf` as one frame.
///
/// # Errors
/// `InvalidInput` ([`too_big`]'s text) if the encoded message exceeds
/// [`MAX_FRAME_LEN`]; `buf` is unchanged then.
pub fn encode<M: Message>(buf: &mut Vec<u8>, msg: &M) -> io::Result<()> {
    let len = msg.encoded_len();
    check_len(len, io::ErrorKind::InvalidInput)?;
    buf.reserve(4 + len);
    buf.extend_from_slice(&(len as u32).to_le_bytes());
    msg.encode(buf)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// The first frame of `buf`, decoded, and how many bytes it took;
/// `Ok(None)` while `buf` holds less than a whole frame.
///
/// # Errors
/// `InvalidData`: a length over [`MAX_FRAME_LEN`] ([`too_big`]'s text), or
/// bytes that do not decode as `M`.
pub fn decode<M: Message + Default>(buf: &[u8]) -> io::Result<Option<(M, usize)>> {
    let Some(&[a, b, c, d]) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes([a, b, c, d]) as usize;
    check_len(len, io::ErrorKind::InvalidData)?;
    let Some(body) = buf.get(4..4 + len) else {
        return Ok(None);
    };
    M::decode(body)
        .map(|m| Some((m, 4 + len)))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Writes `msg` as one frame.
///
/// # Errors
/// Any error of the underlying writer; `InvalidInput` if the encoded
/// message exceeds [`MAX_FRAME_LEN`].
pub fn write_frame<W: Write, M: Message>(w: &mut W, msg: &M) -> io::Result<()> {
    let mut buf = Vec::new();
    encode(&mut buf, msg)?;
    w.write_all(&buf)?;
    w.flush()
}

/// Reads one frame and decodes it.
///
/// Returns `Ok(None)` when the peer closed the link cleanly between frames.
///
/// # Errors
/// `UnexpectedEof` for a frame cut short, `InvalidData` for a length over
/// [`MAX_FRAME_LEN`] or bytes that do not decode as `M`.
pub fn read_frame<R: Read, M: Message + Default>(r: &mut R) -> io::Result<Option<M>> {
    let mut len_buf = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len_buf[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len_buf) as usize;
    check_len(len, io::ErrorKind::InvalidData)?;
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    M::decode(body.as_slice())
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{HookCall, Value, value};

    #[test]
    fn round_trips_and_reports_clean_close() {
        let msg = HookCall {
            script_id: 7,
            hub_cpu: 2,
            call_id: 42,
            hook: 3,
            args: vec![Value {
                kind: Some(value::Kind::S(b"\xcf\xf0\xe8".to_vec())),
            }],
        };
        let mut buf = Vec::new();
        write_frame(&mut buf, &msg).unwrap();
        write_frame(&mut buf, &msg).unwrap();
        let mut r = buf.as_slice();
        assert_eq!(
            read_frame::<_, HookCall>(&mut r).unwrap(),
            Some(msg.clone())
        );
        assert_eq!(read_frame::<_, HookCall>(&mut r).unwrap(), Some(msg));
        assert_eq!(read_frame::<_, HookCall>(&mut r).unwrap(), None);
    }

    #[test]
    fn decode_takes_whole_frames_out_of_a_buffer() {
        let msg = HookCall {
            call_id: 9,
            ..HookCall::default()
        };
        let mut buf = Vec::new();
        encode(&mut buf, &msg).unwrap();
        let whole = buf.len();
        encode(&mut buf, &msg).unwrap();
        assert_eq!(decode::<HookCall>(&buf[..whole - 1]).unwrap(), None);
        assert_eq!(decode::<HookCall>(&buf).unwrap(), Some((msg, whole)));
        let huge = ((MAX_FRAME_LEN + 1) as u32).to_le_bytes();
        let err = decode::<HookCall>(&huge).unwrap_err();
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
    }

    #[test]
    fn rejects_truncated_and_oversized_frames() {
        let mut r: &[u8] = &[5, 0, 0, 0, 1, 2];
        let err = read_frame::<_, HookCall>(&mut r).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let huge = ((MAX_FRAME_LEN + 1) as u32).to_le_bytes();
        let mut r: &[u8] = &huge;
        let err = read_frame::<_, HookCall>(&mut r).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut r: &[u8] = &[1, 0];
        let err = read_frame::<_, HookCall>(&mut r).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
