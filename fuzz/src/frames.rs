//! The runner <-> worker framing on arbitrary bytes: the worker's blocking
//! `vh_proto::direct::frame::read_frame` (over a whole slice and over a reader that
//! hands out a few bytes at a time and is sometimes interrupted), the
//! runner's `LengthDelimitedCodec` (fed in chunks) and the shim's
//! non-blocking `vh_proto::direct::frame::Inbox` (on a socketpair fed in
//! chunks) must agree frame by frame, never panic, and fail only with the
//! documented errors.

use std::fmt::Debug;
use std::io::{self, Read};

use bytes::BytesMut;
use prost::Message;
use tokio_util::codec::Decoder;
use vh_proto::direct::frame::{Inbox, read_frame, send_nonblocking, write_frame};
use vh_proto::v1::{FromWorker, ToWorker};

/// A reader that returns at most `step` bytes per call and an
/// `Interrupted` error every third call (read_frame must retry those).
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
    calls: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(3) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Every message `read_frame` returns from `r`, and whether the stream
/// ended cleanly between frames.
fn read_all<R: Read, M: Message + Default>(r: &mut R) -> (Vec<M>, bool) {
    let mut got = Vec::new();
    loop {
        match read_frame::<_, M>(r) {
            Ok(Some(m)) => got.push(m),
            Ok(None) => return (got, true),
            Err(e) => {
                assert!(
                    matches!(
                        e.kind(),
                        io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData
                    ),
                    "read_frame failed with {e:?}"
                );
                return (got, false);
            }
        }
    }
}

fn encoded<M: Message>(msgs: &[M]) -> Vec<Vec<u8>> {
    msgs.iter().map(Message::encode_to_vec).collect()
}

fn check<M: Message + Default + Debug>(data: &[u8]) {
    let (whole, clean) = read_all::<_, M>(&mut &data[..]);
    let step = usize::from(data.first().copied().unwrap_or(1)) % 7 + 1;
    let mut trickle = Trickle {
        data,
        step,
        calls: 0,
    };
    let (pieces, clean_pieces) = read_all::<_, M>(&mut trickle);
    assert_eq!(
        encoded(&whole),
        encoded(&pieces),
        "short reads changed the frames"
    );
    assert_eq!(clean, clean_pieces);
    // What was read is written back as the same frames.
    let mut buf = Vec::new();
    for m in &whole {
        write_frame(&mut buf, m).expect("a frame that was read can be written");
    }
    let (again, clean_again) = read_all::<_, M>(&mut buf.as_slice());
    assert!(clean_again);
    assert_eq!(encoded(&whole), encoded(&again));
}

/// The runner's side: its codec fed in chunks of `step` bytes; frames are
/// decoded as `FromWorker` until the first bad one; and whether it saw
/// nothing wrong.
fn codec_frames(data: &[u8], step: usize) -> (Vec<FromWorker>, bool) {
    let mut codec = vh_runner::worker::codec();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for chunk in data.chunks(step.max(1)) {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => match FromWorker::decode(frame) {
                    Ok(m) => got.push(m),
                    Err(_) => return (got, false),
                },
                Ok(None) => break,
                Err(_) => return (got, false),
            }
        }
    }
    match codec.decode_eof(&mut buf) {
        Ok(None) => (got, true),
        Ok(Some(frame)) => {
            if let Ok(m) = FromWorker::decode(frame) {
                got.push(m);
            }
            (got, false)
        }
        Err(_) => (got, false),
    }
}

/// The shim's side of a direct link: `data` written `step` bytes at a time
/// on a socketpair, each piece read at once with `Inbox::read_available`;
/// frames until the first bad one.
fn inbox_frames(data: &[u8], step: usize) -> Vec<FromWorker> {
    inbox_frames_with(data, step, vh_proto::direct::frame::decode::<FromWorker>)
}

/// [`inbox_frames`] with the frame decoder `decode` (`Inbox::read_with`).
pub(crate) fn inbox_frames_with(
    data: &[u8],
    step: usize,
    decode: impl Fn(&[u8]) -> io::Result<Option<(FromWorker, usize)>> + Copy,
) -> Vec<FromWorker> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "socketpair");
    let mut inbox = Inbox::default();
    let mut got = Vec::new();
    for chunk in data.chunks(step.max(1)) {
        send_nonblocking(fds[0], chunk, std::time::Duration::from_secs(1))
            .expect("the socket takes a piece its reader empties at once");
        let read = inbox.read_with(fds[1], decode);
        got.extend(read.frames);
        if read.bad.is_some() {
            break;
        }
    }
    // SAFETY: closing our own descriptors.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    got
}

/// One fuzzer input: a byte stream as either end of the worker link reads it.
pub fn frame(data: &[u8]) {
    check::<ToWorker>(data);
    check::<FromWorker>(data);
    let (worker_view, clean) = read_all::<_, FromWorker>(&mut &data[..]);
    for step in [1, 5, 4096] {
        let (runner_view, runner_clean) = codec_frames(data, step);
        assert_eq!(
            encoded(&worker_view),
            encoded(&runner_view),
            "runner codec and read_frame disagree (chunks of {step})"
        );
        // A stream that ends inside a frame's body after its header is a
        // plain EOF to tokio-util's codec (it consumed the header), an
        // error to read_frame; the runner treats both as "the worker
        // closed its socket". Every other ending must be judged alike.
        if clean {
            assert!(runner_clean, "the codec refused a clean stream");
        }
        assert_eq!(
            encoded(&worker_view),
            encoded(&inbox_frames(data, step)),
            "the shim's inbox and read_frame disagree (chunks of {step})"
        );
    }
}
