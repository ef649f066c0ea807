//! The held pipelined calls (docs/protocol.md "Pipelined calls"), in this
//! module's own buffer: the compiled send ([`crate::pipeline`]) appends a
//! call's compact frame to it, the compiled loop ([`crate::serve`]) writes
//! it before the hook's answer, and `vh._held.NativeHeld` hands the
//! channel's Python methods the same buffer (`held_push`, `held_take`,
//! `held_count`), by the rules of `vh._held.Held`, which holds them where
//! this module does not load.
//!
//! Why not that Python object: pushing on it from here took five
//! attribute operations and a `str` per call, and the loop's checks three
//! more per hook, about a microsecond each when the hook finds the worker
//! asleep (docs/performance.md "The Python 2 worker's held calls in its
//! own buffer"). One buffer per process: a worker has one channel, and
//! only its main thread holds calls (every caller holds the GIL; the lock
//! is never contended).

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// `vh._held.HOLD_AT_MOST` (seconds) and `HOLD_BYTES`, as handed over.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub at_most: f64,
    pub bytes: usize,
}

/// What is held: the frames' bytes back to back (each length-prefixed,
/// ready to write), how many, and when the oldest was pushed.
struct Buf {
    bytes: Vec<u8>,
    count: usize,
    since: Option<Instant>,
}

/// Capacity kept after a take; a burst of big calls gives the rest back.
const KEEP: usize = 64 * 1024;

static HELD: Mutex<Buf> = Mutex::new(Buf {
    bytes: Vec::new(),
    count: 0,
    since: None,
});

fn held() -> MutexGuard<'static, Buf> {
    // A panic cannot leave the buffer half-changed: every change is one
    // statement of plain `Vec`/field operations.
    HELD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Holds `frame`; true if what is held should be written now (the oldest
/// frame older than `limits.at_most`, or more than `limits.bytes` held),
/// as `Held.push` answers.
pub fn push(frame: &[u8], limits: Limits) -> bool {
    let now = Instant::now();
    let mut b = held();
    let since = *b.since.get_or_insert(now);
    b.bytes.extend_from_slice(frame);
    b.count += 1;
    b.bytes.len() > limits.bytes || now.duration_since(since).as_secs_f64() > limits.at_most
}

/// Every held frame, oldest first, appended to `out`; nothing is held
/// after.
pub fn take_into(out: &mut Vec<u8>) {
    let mut b = held();
    if b.count == 0 {
        return;
    }
    out.extend_from_slice(&b.bytes);
    reset(&mut b);
}

/// How many frames are held.
pub fn count() -> usize {
    held().count
}

/// Drops whatever is held (a new channel starts with nothing).
pub fn clear() {
    reset(&mut held());
}

/// Nothing held, and at most [`KEEP`] bytes of capacity kept.
fn reset(b: &mut Buf) {
    b.bytes.clear();
    b.bytes.shrink_to(KEEP);
    b.count = 0;
    b.since = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_in_order_and_says_when_to_write() {
        clear();
        let limits = Limits {
            at_most: 60.0,
            bytes: 8,
        };
        assert!(!push(b"abc", limits));
        assert!(!push(b"de", limits));
        assert_eq!(count(), 2);
        assert!(push(b"fghi", limits), "over the byte limit");
        let mut out = b"x".to_vec();
        take_into(&mut out);
        assert_eq!(out, b"xabcdefghi");
        assert_eq!(count(), 0);
        let at_once = Limits {
            at_most: -1.0,
            bytes: 1 << 20,
        };
        assert!(push(b"a", at_once), "older than the time limit");
        clear();
        assert_eq!(count(), 0);
    }
}
