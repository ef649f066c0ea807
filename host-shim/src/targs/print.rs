//! The text of `w_packprint` (docs/abi.md §2.5), for log lines.

use std::cell::RefCell;
use std::ffi::{CStr, c_char};

use super::{Targs, view};

thread_local! {
    static PACKPRINT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Text of `a` for log lines, A's style: `ss ( s:<nick>, s:<text> )`
/// (docs/abi.md §2.5), each item cut at 399 bytes. The buffer is per thread and
/// rewritten by the next call on that thread (never grows without bound,
/// unlike A's).
///
/// # Safety
/// As [`view`].
pub unsafe fn packprint(a: *const Targs) -> *const c_char {
    PACKPRINT.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        // SAFETY: per the contract.
        match unsafe { view(a) } {
            None => buf.extend_from_slice(b"(null)"),
            Some((format, elems)) => {
                buf.extend_from_slice(format);
                buf.extend_from_slice(b" ( ");
                for (i, (&c, e)) in format.iter().zip(elems).enumerate() {
                    if i > 0 {
                        buf.extend_from_slice(b", ");
                    }
                    // SAFETY: the union member read matches the character.
                    let item = unsafe {
                        match c {
                            b'l' => format!("l:<{}>", e.value.l).into_bytes(),
                            b'd' => format!("d:<{}>", e.value.d).into_bytes(),
                            b's' | b'D' if e.value.s.is_null() => b"s:<(null)>".to_vec(),
                            b's' | b'D' => {
                                let mut v = b"s:<".to_vec();
                                v.extend_from_slice(CStr::from_ptr(e.value.s).to_bytes());
                                v.push(b'>');
                                v
                            }
                            _ => format!("p:<{:p}>", e.value.p).into_bytes(),
                        }
                    };
                    buf.extend_from_slice(&item[..item.len().min(399)]);
                }
                buf.extend_from_slice(b" )");
            }
        }
        buf.retain(|&b| b != 0);
        buf.push(0);
        buf.as_ptr().cast::<c_char>()
    })
}
