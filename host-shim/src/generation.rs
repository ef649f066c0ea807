//! Which python_pi generation handed us its callback table (docs/abi.md
//! §6.4): by the callbacks' symbol names (`dladdr`), else by the table's
//! NULL-gap fingerprint, or as the admin says (`VH_SHIM_TABLE=A|B`). Never
//! by guessing: an unknown table is refused.

use std::ffi::{CStr, c_void};

use crate::callback_names::{A_NAMES, MAX_CALLBACKS};

/// A plugin generation (docs/abi.md, "Reading this page").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// Upstream python_pi 1.6.0.0 (Python 2 era wrapper).
    A,
    /// The 1.7 line (PR 214): `GetIPCity` at index 22, later entries +1.
    B,
}

impl Generation {
    /// "A" or "B".
    pub fn as_str(self) -> &'static str {
        match self {
            Generation::A => "A",
            Generation::B => "B",
        }
    }
}

/// How the generation was found, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `VH_SHIM_TABLE` said so.
    Override,
    /// The entries' symbol names (`_GetIPASN` or `_GetIPCity` at 22).
    SymbolNames,
    /// The positions of the NULL entries.
    Fingerprint,
}

/// Detects the generation of `table` (the 100 entries given to `w_Begin`).
///
/// `override_` is the value of `VH_SHIM_TABLE` (`A`, `B`, `auto` or unset).
///
/// # Errors
/// A message for the log when the override is invalid or the table matches
/// neither generation.
pub fn detect(
    table: &[*const c_void; MAX_CALLBACKS],
    override_: Option<&str>,
) -> Result<(Generation, Method), String> {
    match override_.map(str::trim) {
        Some("A" | "a") => return Ok((Generation::A, Method::Override)),
        Some("B" | "b") => return Ok((Generation::B, Method::Override)),
        None | Some("" | "auto") => {}
        Some(other) => return Err(format!("VH_SHIM_TABLE={other:?}: expected A, B or auto")),
    }
    if let Some(g) = by_symbol_names(table) {
        return Ok((g, Method::SymbolNames));
    }
    by_fingerprint(table)
        .map(|g| (g, Method::Fingerprint))
        .ok_or_else(|| {
            let filled: Vec<String> = table
                .iter()
                .enumerate()
                .filter(|(_, p)| !p.is_null())
                .map(|(i, _)| i.to_string())
                .collect();
            format!(
                "callback table matches neither python_pi 1.6 nor 1.7 (non-NULL entries: {}); set VH_SHIM_TABLE=A or B",
                filled.join(",")
            )
        })
}

/// The symbol name of the function at `p`, if the dynamic linker knows it.
fn symbol_name(p: *const c_void) -> Option<String> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the address; info is a valid out pointer.
    if unsafe { libc::dladdr(p, &mut info) } == 0 || info.dli_sname.is_null() {
        return None;
    }
    // SAFETY: dli_sname is a NUL-terminated string owned by the linker.
    Some(
        unsafe { CStr::from_ptr(info.dli_sname) }
            .to_string_lossy()
            .into_owned(),
    )
}

fn by_symbol_names(table: &[*const c_void; MAX_CALLBACKS]) -> Option<Generation> {
    match symbol_name(table[22])?.as_str() {
        "_GetIPCity" => Some(Generation::B),
        "_GetIPASN" if symbol_name(table[0]).as_deref() == Some("_SendToOpChat") => {
            Some(Generation::A)
        }
        _ => None,
    }
}

fn by_fingerprint(table: &[*const c_void; MAX_CALLBACKS]) -> Option<Generation> {
    let filled = |i: usize| !table[i].is_null();
    // A: 0..=41 and 45..=55 filled; B: 0..=42 and 46..=56 (docs/abi.md §6.4).
    let matches = |last: usize, gap: usize| {
        (0..MAX_CALLBACKS).all(|i| filled(i) == (i <= last && !(gap..gap + 3).contains(&i)))
    };
    let a_last = A_NAMES.len() - 1;
    if matches(a_last, 42) {
        Some(Generation::A)
    } else if matches(a_last + 1, 43) {
        Some(Generation::B)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(last: usize, gap: usize) -> [*const c_void; MAX_CALLBACKS] {
        let mut t = [std::ptr::null(); MAX_CALLBACKS];
        for (i, e) in t.iter_mut().enumerate().take(last + 1) {
            if !(gap..gap + 3).contains(&i) {
                *e = 8usize as *const c_void; // non-NULL, no symbol
            }
        }
        t
    }

    #[test]
    fn fingerprints_and_override() {
        assert_eq!(
            detect(&table(55, 42), None).unwrap(),
            (Generation::A, Method::Fingerprint)
        );
        assert_eq!(
            detect(&table(56, 43), Some("auto")).unwrap().0,
            Generation::B
        );
        assert!(detect(&table(50, 42), None).is_err());
        assert_eq!(
            detect(&table(50, 42), Some("B")).unwrap(),
            (Generation::B, Method::Override)
        );
        assert!(detect(&table(55, 42), Some("C")).is_err());
    }
}
