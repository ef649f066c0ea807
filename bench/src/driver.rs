//! The hub side of the vh-runner measurements: `c/driver.c`, which calls the
//! shim that hubsim has loaded exactly as python_pi does (`w_pack`, then per
//! script `w_HasHook` and `w_CallHook`, `w_unpack` of the result, `free`),
//! timed from C on the hub thread.

use std::ffi::{CString, c_char, c_int};
use std::marker::PhantomData;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};

/// What the plugin saw from a loop's hook calls (`struct vb_counts`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Hub events dispatched.
    pub events: u64,
    /// `w_CallHook` calls made.
    pub calls: u64,
    /// NULL results: no opinion, a passed deadline or a dead worker.
    pub nulls: u64,
    /// `"l"` results other than 0.
    pub allowed: u64,
    /// `"l"` results equal to 0.
    pub blocked: u64,
    /// Any other result.
    pub other: u64,
}

unsafe extern "C" {
    fn vb_attach(path: *const c_char) -> c_int;
    fn vb_detach();
    fn vb_events(
        ids: *const c_int,
        nids: c_int,
        hook: c_int,
        fmt: *const c_char,
        a0: *const c_char,
        a1: *const c_char,
        a2: *const c_char,
        n: u64,
        lat_ns: *mut u64,
        counts: *mut Counts,
    ) -> u64;
    fn vb_lines(
        ids: *const c_int,
        nids: c_int,
        fmt: *const c_char,
        a0: *const c_char,
        a1: *const c_char,
        n: u64,
        fds: *const c_int,
        nfds: c_int,
        line: *const c_char,
        len: usize,
        counts: *mut Counts,
        dropped: *mut u64,
        send_ns: *mut u64,
    ) -> u64;
    fn vb_events_for(
        ids: *const c_int,
        nids: c_int,
        hook: c_int,
        fmt: *const c_char,
        a0: *const c_char,
        a1: *const c_char,
        a2: *const c_char,
        duration_ns: u64,
        max: u64,
        lat_ns: *mut u64,
        counts: *mut Counts,
        elapsed_ns: *mut u64,
    ) -> u64;
    fn vb_event_at(
        ids: *const c_int,
        nids: c_int,
        hook: c_int,
        fmt: *const c_char,
        a0: *const c_char,
        a1: *const c_char,
        a2: *const c_char,
        due_ns: u64,
        counts: *mut Counts,
    ) -> u64;
    fn vb_has_hook_loop(id: c_int, hook: c_int, n: u64, yes: *mut u64) -> u64;
    fn vb_clock_cost(n: u64) -> u64;
}

/// One hub event: a hook and its string arguments (1 to 3, the hook's
/// format), sent to every script in `ids`, in order.
pub struct Event<'a> {
    /// Script ids in call order.
    pub ids: &'a [i32],
    /// Hook index (docs/abi.md §4.1).
    pub hook: i32,
    /// The hook's arguments, all `'s'`.
    pub args: &'a [&'a str],
}

/// C strings of an [`Event`], alive for one loop.
struct Packed {
    ids: Vec<c_int>,
    fmt: CString,
    args: Vec<CString>,
}

impl Packed {
    fn new(e: &Event<'_>) -> Result<Packed> {
        if e.args.is_empty() || e.args.len() > 3 {
            bail!("an event takes 1 to 3 string arguments");
        }
        let args = e
            .args
            .iter()
            .map(|a| CString::new(*a))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Packed {
            ids: e.ids.to_vec(),
            fmt: CString::new("s".repeat(e.args.len()))?,
            args,
        })
    }

    fn arg(&self, i: usize) -> *const c_char {
        self.args.get(i).map_or(std::ptr::null(), |a| a.as_ptr())
    }
}

/// The loops of `c/driver.c`, bound to the shim hubsim has loaded. Lives on
/// the hub thread (not `Send`), like the hub's calls into the shim.
pub struct Driver {
    _not_send: PhantomData<*const ()>,
}

impl Driver {
    /// Resolves the plugin's symbols in the already loaded `shim`.
    ///
    /// # Errors
    /// The shim is not loaded in this process or lacks a symbol.
    pub fn attach(shim: &Path) -> Result<Driver> {
        let path = CString::new(shim.as_os_str().as_bytes())?;
        // SAFETY: a valid C string; the driver keeps no pointer to it.
        if unsafe { vb_attach(path.as_ptr()) } != 0 {
            bail!("cannot resolve the wrapper symbols in {}", shim.display());
        }
        Ok(Driver {
            _not_send: PhantomData,
        })
    }

    /// Runs `n` events; returns each event's time (if `timed`), the
    /// tallies, and the total time.
    ///
    /// # Errors
    /// The event is malformed.
    pub fn events(
        &self,
        e: &Event<'_>,
        n: usize,
        timed: bool,
    ) -> Result<(Vec<u64>, Counts, Duration)> {
        let p = Packed::new(e)?;
        let mut lat = if timed { vec![0u64; n] } else { Vec::new() };
        let mut counts = Counts::default();
        // SAFETY: every pointer is valid for the call; lat holds n entries
        // when passed; the shim is loaded (attach).
        let total = unsafe {
            vb_events(
                p.ids.as_ptr(),
                p.ids.len() as c_int,
                e.hook,
                p.fmt.as_ptr(),
                p.arg(0),
                p.arg(1),
                p.arg(2),
                n as u64,
                if timed {
                    lat.as_mut_ptr()
                } else {
                    std::ptr::null_mut()
                },
                &mut counts,
            )
        };
        Ok((lat, counts, Duration::from_nanos(total)))
    }

    /// The hub-shaped lines: `n` chat events `e` (two string
    /// arguments), each followed by `line` sent to every client socket of
    /// `fds` as a hub broadcasts a chat line (`c/driver.c` `vb_lines`).
    /// Returns the tallies, copies dropped on full client buffers, the
    /// total time and the part of it spent in the sends.
    ///
    /// # Errors
    /// The event is malformed.
    pub fn lines(
        &self,
        e: &Event<'_>,
        n: usize,
        fds: &[c_int],
        line: &[u8],
    ) -> Result<(Counts, u64, Duration, Duration)> {
        let p = Packed::new(e)?;
        let mut counts = Counts::default();
        let (mut dropped, mut send_ns) = (0u64, 0u64);
        // SAFETY: every pointer is valid for the call and its length; the
        // shim is loaded (attach).
        let total = unsafe {
            vb_lines(
                p.ids.as_ptr(),
                p.ids.len() as c_int,
                p.fmt.as_ptr(),
                p.arg(0),
                p.arg(1),
                n as u64,
                fds.as_ptr(),
                fds.len() as c_int,
                line.as_ptr().cast(),
                line.len(),
                &mut counts,
                &mut dropped,
                &mut send_ns,
            )
        };
        Ok((
            counts,
            dropped,
            Duration::from_nanos(total),
            Duration::from_nanos(send_ns),
        ))
    }

    /// Runs events for `duration` (at most `max`); returns each event's
    /// time (if `timed`), the tallies and the time they took.
    ///
    /// # Errors
    /// The event is malformed.
    pub fn events_for(
        &self,
        e: &Event<'_>,
        duration: Duration,
        max: usize,
        timed: bool,
    ) -> Result<(Vec<u64>, Counts, Duration)> {
        let p = Packed::new(e)?;
        let mut lat = if timed { vec![0u64; max] } else { Vec::new() };
        let mut counts = Counts::default();
        let mut elapsed = 0u64;
        // SAFETY: as in `events`; lat holds max entries when passed.
        let ran = unsafe {
            vb_events_for(
                p.ids.as_ptr(),
                p.ids.len() as c_int,
                e.hook,
                p.fmt.as_ptr(),
                p.arg(0),
                p.arg(1),
                p.arg(2),
                duration.as_nanos() as u64,
                max as u64,
                if timed {
                    lat.as_mut_ptr()
                } else {
                    std::ptr::null_mut()
                },
                &mut counts,
                &mut elapsed,
            )
        };
        lat.truncate(ran as usize);
        Ok((lat, counts, Duration::from_nanos(elapsed)))
    }

    /// One event when `CLOCK_MONOTONIC` reaches `due_ns` (the hub thread
    /// sleeps until then): its time from after
    /// the wake-up to its result, ns; its results tallied in `counts`.
    ///
    /// # Errors
    /// The event is malformed.
    pub fn event_at(&self, e: &Event<'_>, due_ns: u64, counts: &mut Counts) -> Result<u64> {
        let p = Packed::new(e)?;
        // SAFETY: every pointer is valid for the call; the shim is loaded
        // (attach).
        let lat = unsafe {
            vb_event_at(
                p.ids.as_ptr(),
                p.ids.len() as c_int,
                e.hook,
                p.fmt.as_ptr(),
                p.arg(0),
                p.arg(1),
                p.arg(2),
                due_ns,
                counts,
            )
        };
        Ok(lat)
    }

    /// `n` back-to-back `w_HasHook(id, hook)` calls: ns per call, and how
    /// many said yes.
    pub fn has_hook(&self, id: i32, hook: i32, n: usize) -> (f64, u64) {
        let mut yes = 0u64;
        // SAFETY: plain values; the shim is loaded.
        let total = unsafe { vb_has_hook_loop(id, hook, n as u64, &mut yes) };
        (total as f64 / n as f64, yes)
    }

    /// One back-to-back `clock_gettime`, ns (the per-call timer's cost).
    pub fn clock_cost(&self, n: usize) -> f64 {
        // SAFETY: no pointers.
        unsafe { vb_clock_cost(n as u64) as f64 / n as f64 }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: drops the reference taken by `vb_attach`.
        unsafe { vb_detach() }
    }
}
