//! Frames: a 4-byte little-endian length, then that many bytes of one
//! prost message (`ToWorker` or `FromWorker`). The direct link and the
//! runner <-> worker socketpair carry the same frames; this is the one
//! place they are written, read and limited.
//!
//! The runner reads and writes frames with tokio-util's
//! `LengthDelimitedCodec` configured by [`MAX_FRAME_LEN`] and
//! little-endian 4-byte lengths; the shim and the worker core use the
//! helpers here: [`encode`] and [`encode_all`] (into a buffer the caller
//! writes), [`decode`] (out of a buffer the caller filled), the blocking
//! [`write_frame`] and [`read_frame`] built on them, and the non-blocking
//! ones of a thread that must never hang on its peer (the shim's hub
//! thread): [`send_nonblocking`] and [`Inbox`].

use std::io::{self, Read, Write};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use prost::Message;

use super::hook_frame::{self, Arg, Head};

/// Largest frame either side accepts, in bytes (16 MiB). A hub message is at
/// most a few MiB; anything larger is a broken or hostile peer. The gRPC
/// stream between the shim and the runner uses the same limit for one
/// message, both ways; this is the one place it is set.
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Room kept below [`MAX_FRAME_LEN`] for what the runner adds when it
/// forwards a message (the script id, the gRPC stream's envelope around
/// `ToWorker` / `FromWorker`: a few bytes; the rest is margin): 64 KiB.
pub const ENVELOPE_HEADROOM: usize = 64 * 1024;

/// Largest message the shim or a worker sends, in bytes (the encoded
/// `ShimMessage` / `FromWorker`): [`MAX_FRAME_LEN`] less
/// [`ENVELOPE_HEADROOM`], so that whatever passes this check still fits
/// every link after the runner passes it on in the other link's envelope. A bigger one fails alone (that
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

/// Appends the frame of hook call `head` with `args` to `out`: the frame
/// [`encode`] appends for the `ToWorker` they make, written straight from
/// the borrowed arguments ([`super::hook_frame::encode`]).
///
/// # Errors
/// As [`encode`]; nothing is appended then.
pub fn write_hook<'a, I>(out: &mut Vec<u8>, head: Head, args: I) -> io::Result<()>
where
    I: Iterator<Item = Arg<'a>> + Clone,
{
    let len = hook_frame::encoded_len(head, args.clone());
    check_len(len, io::ErrorKind::InvalidInput)?;
    out.reserve(4 + len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    hook_frame::encode(out, head, args);
    Ok(())
}

/// `msgs` as one buffer of frames, to be written with one system call.
///
/// # Errors
/// As [`encode`], for the first message over [`MAX_FRAME_LEN`].
pub fn encode_all<M: Message>(msgs: &[M]) -> io::Result<Vec<u8>> {
    let total: usize = msgs.iter().map(|m| m.encoded_len() + 4).sum();
    let mut buf = Vec::with_capacity(total);
    for m in msgs {
        encode(&mut buf, m)?;
    }
    Ok(buf)
}

/// The first frame of `buf`, decoded, and how many bytes it took;
/// `Ok(None)` while `buf` holds less than a whole frame.
///
/// # Errors
/// `InvalidData`: a length over [`MAX_FRAME_LEN`] ([`too_big`]'s text), or
/// bytes that do not decode as `M`.
pub fn decode<M: Message + Default>(buf: &[u8]) -> io::Result<Option<(M, usize)>> {
    let Some(len) = body_len(buf) else {
        return Ok(None);
    };
    check_len(len, io::ErrorKind::InvalidData)?;
    let Some(body) = buf.get(4..4 + len) else {
        return Ok(None);
    };
    M::decode(body)
        .map(|m| Some((m, 4 + len)))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The body length a frame's 4-byte header at the start of `buf` gives,
/// if `buf` holds the header.
fn body_len(buf: &[u8]) -> Option<usize> {
    let &[a, b, c, d] = buf.get(..4)? else {
        return None;
    };
    Some(u32::from_le_bytes([a, b, c, d]) as usize)
}

/// [`decode`] for `ToWorker`, with a hook call's frame read by
/// [`super::hook_frame`] (the worker's usual frame), anything else by
/// `prost`.
///
/// # Errors
/// As [`decode`].
pub fn decode_to_worker(buf: &[u8]) -> io::Result<Option<(crate::v1::ToWorker, usize)>> {
    let Some(len) = body_len(buf) else {
        return Ok(None);
    };
    let mine = (len <= MAX_FRAME_LEN)
        .then(|| buf.get(4..4 + len).and_then(hook_frame::decode))
        .flatten();
    match mine {
        Some(msg) => Ok(Some((msg, 4 + len))),
        // Not a hook call read whole here: `decode` reads it, or says why not.
        None => decode(buf),
    }
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

/// Why [`send_nonblocking`] stopped before the end of its buffer.
#[derive(Debug)]
pub struct Unsent {
    /// Bytes that went out: 0 leaves the stream whole (the caller may send
    /// the frames another way); more means a frame was cut short and the
    /// stream is unusable.
    pub written: usize,
    /// What stopped it, for the log.
    pub why: String,
}

/// Writes `buf` (whole frames) on the non-blocking stream socket `fd`
/// without ever raising SIGPIPE (`MSG_NOSIGNAL`: a hub process may not
/// ignore it). It never waits if the socket buffer is full before the
/// first byte (the peer is not reading: busy, or hostile), and at most
/// `stall` in all for room to finish what it began.
///
/// # Errors
/// [`Unsent`], with how much went out.
pub fn send_nonblocking(fd: RawFd, buf: &[u8], stall: Duration) -> Result<(), Unsent> {
    let mut done = 0;
    let mut stalled_since: Option<Instant> = None;
    let unsent = |written, why: &str| Unsent {
        written,
        why: why.to_string(),
    };
    while done < buf.len() {
        let rest = &buf[done..];
        // SAFETY: `rest` is valid for reads of its length; a bad fd fails.
        let n = unsafe {
            libc::send(
                fd,
                rest.as_ptr().cast(),
                rest.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            done += n as usize;
            stalled_since = None;
            continue;
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock if done == 0 => {
                return Err(unsent(0, "the link's buffer is full"));
            }
            io::ErrorKind::WouldBlock => {
                let since = *stalled_since.get_or_insert_with(Instant::now);
                let left = stall.saturating_sub(since.elapsed());
                if left.is_zero() {
                    return Err(unsent(done, "the worker does not read its link"));
                }
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
            }
            _ => return Err(unsent(done, &err.to_string())),
        }
    }
    Ok(())
}

/// The most one `recv` of [`Inbox::read_with`] takes.
const READ_CHUNK: usize = 16 * 1024;

/// Bytes read from a non-blocking stream socket that are not yet a whole
/// frame, kept between reads.
#[derive(Debug, Default)]
pub struct Inbox {
    buf: Vec<u8>,
}

/// What [`Inbox::read_available`] gave.
#[derive(Debug)]
pub struct Received<M> {
    /// Every whole frame read, decoded, in order.
    pub frames: Vec<M>,
    /// The peer closed its end (or the socket failed).
    pub closed: bool,
    /// Bytes that are not a frame (the stream is unusable): [`decode`]'s
    /// error; `frames` then holds those before them.
    pub bad: Option<io::Error>,
}

impl Inbox {
    /// True if no bytes of a frame are kept (nothing was cut mid-frame).
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Reads what `fd` has now without blocking (until a read comes back
    /// short: the stream had no more) and takes every whole frame out of
    /// it (and of what earlier reads left). A peer that closed after its
    /// last frame shows as `closed` on the read after the one that took
    /// that frame.
    pub fn read_available<M: Message + Default>(&mut self, fd: RawFd) -> Received<M> {
        self.read_with(fd, decode::<M>)
    }

    /// [`Inbox::read_available`] with another frame decoder of
    /// [`decode`]'s shape (for a link that may carry compact frames).
    pub fn read_with<M>(
        &mut self,
        fd: RawFd,
        decode: impl Fn(&[u8]) -> io::Result<Option<(M, usize)>>,
    ) -> Received<M> {
        let mut closed = false;
        loop {
            // Read straight into the buffer's spare room: a zeroed chunk on
            // the stack wrote 16 KiB (a third of a level-1 data cache) on
            // every read, all of it cold when a hook finds its reader
            // asleep, for the few hundred bytes a hook's frame has.
            self.buf.reserve(READ_CHUNK);
            let spare = self.buf.spare_capacity_mut();
            // SAFETY: `spare` is valid for writes of its length; the kernel
            // writes at most that many bytes.
            let n = unsafe {
                libc::recv(
                    fd,
                    spare.as_mut_ptr().cast(),
                    spare.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            let room = spare.len();
            match n {
                0 => {
                    closed = true;
                    break;
                }
                n if n > 0 => {
                    let n = n as usize;
                    // SAFETY: the kernel initialized the first `n` bytes of
                    // the spare room (`n` ≤ its length).
                    unsafe { self.buf.set_len(self.buf.len() + n) };
                    // A short read took all the stream had: one more read
                    // would only say so (EAGAIN), a system call on every
                    // hook's answer. What comes later wakes the reader's
                    // `poll` as before.
                    if n < room {
                        break;
                    }
                }
                _ => match io::Error::last_os_error().kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock => break,
                    _ => {
                        closed = true;
                        break;
                    }
                },
            }
        }
        let mut frames = Vec::new();
        let mut used = 0;
        let bad = loop {
            match decode(&self.buf[used..]) {
                Ok(None) => break None,
                Ok(Some((msg, took))) => {
                    frames.push(msg);
                    used += took;
                }
                Err(e) => break Some(e),
            }
        };
        self.buf.drain(..used);
        Received {
            frames,
            closed,
            bad,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direct::hook_frame::tests::hook;
    use crate::v1::{HookCall, ToWorker, Value, to_worker, value};

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

    #[test]
    fn nonblocking_send_and_inbox_carry_frames_and_report_the_close() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
        assert_eq!(rc, 0);
        let msgs: Vec<HookCall> = (1..=3)
            .map(|call_id| HookCall {
                call_id,
                ..HookCall::default()
            })
            .collect();
        let buf = encode_all(&msgs).unwrap();
        // Cut in the middle of the second frame: the inbox keeps the rest.
        let cut = buf.len() / 2;
        send_nonblocking(fds[0], &buf[..cut], Duration::from_millis(100)).unwrap();
        let mut inbox = Inbox::default();
        let got = inbox.read_available::<HookCall>(fds[1]);
        assert!(!got.closed && got.bad.is_none());
        assert_eq!(got.frames, msgs[..1]);
        send_nonblocking(fds[0], &buf[cut..], Duration::from_millis(100)).unwrap();
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(fds[0]) };
        let got = inbox.read_available::<HookCall>(fds[1]);
        assert_eq!(got.frames, msgs[1..]);
        // A short read ends the reads: the close shows on the next one.
        assert!(!got.closed);
        let got = inbox.read_available::<HookCall>(fds[1]);
        assert!(got.frames.is_empty() && got.closed && inbox.is_empty());
        // Writing to a closed peer fails without SIGPIPE, nothing written.
        let err = send_nonblocking(fds[1], &buf, Duration::from_millis(100)).unwrap_err();
        assert_eq!(err.written, 0, "{}", err.why);
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(fds[1]) };
    }

    /// The frame `write_hook` gives for `msg`'s hook call.
    fn written(msg: &ToWorker) -> Vec<u8> {
        let Some(to_worker::Kind::Hook(h)) = &msg.kind else {
            unreachable!()
        };
        let head = Head {
            script_id: h.script_id,
            call_id: h.call_id,
            hook: h.hook,
            hub_cpu: h.hub_cpu,
        };
        let args: Vec<Arg<'_>> = h.args.iter().map(|v| Arg::of(v).unwrap()).collect();
        let mut out = vec![0xee]; // appends: what was there stays
        write_hook(&mut out, head, args.into_iter()).unwrap();
        assert_eq!(out.remove(0), 0xee);
        out
    }

    fn prost_frame(msg: &ToWorker) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, msg).unwrap();
        out
    }

    #[test]
    fn writes_every_hook_call_as_prost_does() {
        let mut cases = vec![
            hook(vec![]),
            hook(vec![
                value::Kind::S(b"nick\xe9".to_vec()),
                value::Kind::S(vec![]),
                value::Kind::NullS(true),
                value::Kind::Json(b"[1]".to_vec()),
                value::Kind::D(-0.0),
                value::Kind::D(f64::NEG_INFINITY),
                value::Kind::S(vec![b'x'; 20_000]),
            ]),
            ToWorker {
                kind: Some(to_worker::Kind::Hook(HookCall::default())),
            },
        ];
        // Every varint length of every scalar field and of the zigzagged
        // `l`, from a small deterministic generator.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for bits in 0..=64u32 {
            let n = next().checked_shr(bits).unwrap_or(0);
            cases.push(ToWorker {
                kind: Some(to_worker::Kind::Hook(HookCall {
                    script_id: n as i32,
                    call_id: n,
                    hook: (n >> 32) as u32,
                    args: vec![
                        Value {
                            kind: Some(value::Kind::L(n as i64)),
                        },
                        Value {
                            kind: Some(value::Kind::L(-(n as i64))),
                        },
                        Value {
                            kind: Some(value::Kind::S(vec![b'a'; (n % 300) as usize])),
                        },
                    ],
                    hub_cpu: n as u32,
                })),
            });
        }
        for msg in &cases {
            let bytes = written(msg);
            assert_eq!(bytes, prost_frame(msg), "{msg:?}");
            assert_eq!(hook_frame::decode(&bytes[4..]).as_ref(), Some(msg));
        }
    }

    #[test]
    fn a_hook_call_over_the_limit_is_refused_and_nothing_written() {
        let big = vec![0u8; MAX_FRAME_LEN];
        let head = Head {
            script_id: 1,
            call_id: 2,
            hook: 3,
            hub_cpu: 0,
        };
        let mut out = vec![7];
        let err = write_hook(&mut out, head, [Arg::S(&big)].into_iter()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
        assert_eq!(out, [7]);
    }
}
