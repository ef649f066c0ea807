//! A hub codec that is a charmap one (one byte per character: the Windows
//! code pages, ISO 8859, KOI8; `vh._codec`) as a table in Rust, for the
//! text of a pipelined send (`values::usual_arg`).
//!
//! Why: the codec's own encoder (`PyUnicode_AsCharmapString` with its
//! encoding map) is several C functions and a trie, and on a hook that
//! finds its worker asleep each of their cache lines is cold: about 7 µs
//! for the two strings of a `vh.usermc` (docs/performance.md "The text of
//! a pipelined send"). The table is made once per runtime from that
//! encoding map itself, so it gives the same byte for every character it
//! holds; a string with any other character, or a long one, goes to the
//! codec's encoder as before, which decides (its error sends the call the
//! Python way).

use pyo3::ffi;
use pyo3::prelude::*;

/// Not a byte: the character is not in the table.
const NONE: u16 = u16::MAX;

/// Longest string encoded here, in characters; a longer one goes to the
/// codec's encoder, which does it in one C loop rather than one call per
/// character.
const MOST: isize = 512;

/// Every character a charmap codec encodes, with its byte.
pub struct CharTable {
    /// The byte of each character below U+0100, or [`NONE`].
    low: [u16; 256],
    /// The others, sorted by character.
    high: Vec<(u32, u8)>,
}

impl CharTable {
    /// The table of `decoding_table` (the codec module's, 256 characters:
    /// `ScriptState.charmap[0]`), each of its characters encoded once with
    /// `encode_map` (`ScriptState.charmap[1]`); characters that map to no
    /// single byte are left out.
    ///
    /// # Errors
    /// `decoding_table` is not a `str`.
    pub fn new(decoding_table: &Bound<'_, PyAny>, encode_map: &Bound<'_, PyAny>) -> PyResult<Self> {
        let mut low = [NONE; 256];
        let mut high = Vec::new();
        let table: String = decoding_table.extract()?;
        for c in table.chars() {
            let Ok(encoded) = encode_one(c, encode_map) else {
                continue;
            };
            let [byte] = encoded[..] else {
                continue;
            };
            match low.get_mut(c as usize) {
                Some(slot) => *slot = u16::from(byte),
                None => high.push((u32::from(c), byte)),
            }
        }
        high.sort_unstable();
        high.dedup_by_key(|(c, _)| *c);
        Ok(Self { low, high })
    }

    /// The byte of character `c`, if the table holds it.
    fn byte(&self, c: u32) -> Option<u8> {
        match self.low.get(c as usize) {
            Some(&b) => u8::try_from(b).ok(),
            None => self
                .high
                .binary_search_by_key(&c, |&(k, _)| k)
                .ok()
                .map(|i| self.high[i].1),
        }
    }

    /// `s` (a `str`) encoded, or `None` if it holds a character the table
    /// lacks or is longer than [`MOST`]: the caller then asks the codec.
    pub fn encode(&self, s: &Bound<'_, PyAny>) -> Option<Vec<u8>> {
        // SAFETY: `s` is a live str (the caller checked its exact type);
        // indices stay below its length, so `PyUnicode_ReadChar` cannot
        // fail.
        unsafe {
            let n = ffi::PyUnicode_GetLength(s.as_ptr());
            if !(0..=MOST).contains(&n) {
                return None;
            }
            let mut out = Vec::with_capacity(n as usize);
            for i in 0..n {
                out.push(self.byte(ffi::PyUnicode_ReadChar(s.as_ptr(), i))?);
            }
            Some(out)
        }
    }
}

/// `c` as `encode_map` encodes it, strictly.
fn encode_one(c: char, encode_map: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let py = encode_map.py();
    let text = pyo3::types::PyString::new(py, c.encode_utf8(&mut [0; 4]));
    // SAFETY: both objects are live; a NULL result sets the error, which
    // `from_owned_ptr_or_err` takes.
    let encoded = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyUnicode_AsCharmapString(text.as_ptr(), encode_map.as_ptr()),
        )?
    };
    Ok(encoded.cast::<pyo3::types::PyBytes>()?.as_bytes().to_vec())
}
