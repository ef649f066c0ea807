//! The Rust half of `w_pack` and `w_unpack` (docs/abi.md §2.2,
//! §2.4): `c/pack.c` turns the varargs into plain elements and calls these
//! exported functions, which build the struct and check formats.

use std::ffi::{CStr, c_char, c_long};
use std::ptr;

use super::{ELEM, ElemValue, Element, HEADER, Targs, view};
use crate::shim_log;

/// Builds the `w_pack` result from elements the C side read from varargs.
///
/// # Safety
/// `format` is a valid C string of `n` characters all in "lsdpLDO" and
/// `elems` points to `n` elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vh_shim_pack(
    format: *const c_char,
    elems: *const Element,
    n: usize,
) -> *mut Targs {
    std::panic::catch_unwind(|| {
        let size = HEADER + ELEM * n + n + 1;
        // SAFETY: per the contract; writes stay inside the new block.
        unsafe {
            let block = libc::calloc(1, size).cast::<u8>();
            if block.is_null() {
                return ptr::null_mut();
            }
            ptr::copy_nonoverlapping(elems, block.add(HEADER).cast::<Element>(), n);
            let fmt = block.add(HEADER + ELEM * n);
            ptr::copy_nonoverlapping(format.cast::<u8>(), fmt, n);
            let t = block.cast::<Targs>();
            (*t).format = fmt.cast::<c_char>();
            t
        }
    })
    .unwrap_or(ptr::null_mut())
}

/// Logs a `w_pack` call with an unknown format character (docs/abi.md §2.2).
///
/// # Safety
/// `format` is a valid C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vh_shim_pack_rejected(format: *const c_char) {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: per the contract.
        let f = unsafe { CStr::from_ptr(format) }.to_bytes();
        if let Some(&bad) = f.iter().find(|c| !b"lsdpLDO".contains(c)) {
            shim_log!(
                1,
                "pack: format string supports 'lsdpLDO' and not '{}'",
                bad as char
            );
        }
    });
}

/// The checks of `w_unpack` (docs/abi.md §2.4): A's exact format match, plus B's
/// `|` (required|optional) for the B plugin's `GetConfig` ("ss|s"). Fills
/// `out[j]` for each non-`|` character j (type = requested character,
/// value zero for an absent optional) and returns how many; -1 on mismatch,
/// with nothing for the C side to write.
///
/// # Safety
/// `a` is a struct from `w_pack`/the shim; `format` a valid C string of at
/// most `cap` characters; `out` has room for `cap` elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vh_shim_unpack(
    a: *const Targs,
    format: *const c_char,
    out: *mut Element,
    cap: usize,
) -> c_long {
    std::panic::catch_unwind(|| {
        // SAFETY: per the contract.
        let (stored, elems) = match unsafe { view(a) } {
            Some(v) => v,
            None => return -1,
        };
        let want = unsafe { CStr::from_ptr(format) }.to_bytes();
        let Some(plan) = unpack_plan(stored, want) else {
            shim_log!(
                1,
                "unpack: format strings don't match: '{}' vs. '{}'",
                String::from_utf8_lossy(stored),
                String::from_utf8_lossy(want)
            );
            return -1;
        };
        if plan.len() > cap {
            return -1;
        }
        for (j, (c, present)) in plan.iter().enumerate() {
            let value = if *present {
                elems[j].value
            } else {
                ElemValue { p: ptr::null_mut() }
            };
            // SAFETY: j < plan.len() <= cap.
            unsafe {
                out.add(j).write(Element {
                    kind: *c as c_char,
                    value,
                })
            };
        }
        plan.len() as c_long
    })
    .unwrap_or(-1)
}

/// For each requested element: its character and whether it is stored.
/// `None` if `stored` does not satisfy `want` (docs/abi.md §2.4).
fn unpack_plan(stored: &[u8], want: &[u8]) -> Option<Vec<(u8, bool)>> {
    let bar = want.iter().position(|&c| c == b'|');
    let chars: Vec<u8> = want.iter().copied().filter(|&c| c != b'|').collect();
    if want.iter().filter(|&&c| c == b'|').count() > 1 {
        return None;
    }
    let required = bar.unwrap_or(chars.len());
    if stored.len() < required || stored.len() > chars.len() {
        return None;
    }
    if bar.is_none() && stored != chars.as_slice() {
        return None;
    }
    if stored.iter().zip(&chars).any(|(s, w)| s != w) {
        return None;
    }
    Some(
        chars
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i < stored.len()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpack_plan_follows_a_strictness_and_b_optional_tail() {
        assert!(unpack_plan(b"ss", b"ss").is_some());
        assert!(unpack_plan(b"ss", b"sl").is_none());
        assert!(unpack_plan(b"ss", b"sss").is_none());
        assert_eq!(
            unpack_plan(b"ss", b"ss|s").unwrap(),
            vec![(b's', true), (b's', true), (b's', false)]
        );
        assert!(unpack_plan(b"sss", b"ss|s").is_some());
        assert!(unpack_plan(b"s", b"ss|s").is_none());
        assert!(unpack_plan(b"ssss", b"ss|s").is_none());
        assert!(unpack_plan(b"", b"").is_some());
    }
}
