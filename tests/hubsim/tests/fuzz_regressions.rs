//! `w_pack` / `w_unpack` with arbitrary formats, called from C
//! (hubsim's `hubsim_pack_probe`, varargs exactly as python_pi passes them)
//! into the real dlopened shim, in both plugin generations, released with
//! `free()` (A) and `w_free_args()` (B). Inputs: the committed corpus
//! `fuzz/regressions/pack_formats.txt` (formats the fuzzer and docs/abi.md
//! found interesting, one `pack<TAB>unpack` pair per line, `\xNN` escapes)
//! and 20,000 pairs from a fixed-seed generator. Every answer is checked
//! against docs/abi.md §2.4, written out here independently.
//! The in-process fuzz harnesses and their crash regressions are replayed
//! by `cargo test --manifest-path fuzz/Cargo.toml` (fuzz/README.md).

mod common;

use std::ffi::{CStr, CString, c_char, c_double, c_int, c_long};

use common::{serial, shim_path};
use vh_hubsim::{Generation, Hub};

unsafe extern "C" {
    /// See `c/hubsim.h`.
    fn hubsim_pack_probe(
        pack_fmt: *const c_char,
        ints: *const c_long,
        doubles: *const c_double,
        unpack_fmt: *const c_char,
        out: *mut u64,
        print: *mut c_char,
        print_cap: usize,
        free_args: c_int,
    ) -> c_int;
}

const PACK_CHARS: &[u8] = b"lsdpLDO";
const SENTINEL: u64 = 0x5a5a_a5a5_5a5a_a5a5;

/// How many values `w_unpack(stored, want)` writes, or `None` if it must
/// fail (docs/abi.md §2.4: exact match, or one `|` before optional characters).
fn spec_unpack(stored: &[u8], want: &[u8]) -> Option<usize> {
    let chars: Vec<u8> = want.iter().copied().filter(|&c| c != b'|').collect();
    match want.iter().filter(|&&c| c == b'|').count() {
        0 => (stored == chars.as_slice()).then_some(chars.len()),
        1 => {
            let required = want.iter().position(|&c| c == b'|').unwrap_or(0);
            (stored.len() >= required && stored.len() <= chars.len() && chars.starts_with(stored))
                .then_some(chars.len())
        }
        _ => None,
    }
}

/// A tiny deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Parses `\xNN` escapes of the corpus file.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("hex byte"));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn corpus() -> Vec<(Vec<u8>, Vec<u8>)> {
    let path = common::repo_root().join("fuzz/regressions/pack_formats.txt");
    let text = std::fs::read_to_string(&path).expect("fuzz/regressions/pack_formats.txt");
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (p, u) = l.split_once('\t').unwrap_or((l, ""));
            (unescape(p), unescape(u))
        })
        .collect()
}

/// A pack format of at most 8 `d` and 8 other characters (what the probe
/// takes), mostly valid, and an unpack format related to it.
fn generated(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let len = rng.below(17);
    let valid = rng.below(4) != 0;
    let (mut nd, mut ni) = (0, 0);
    let mut pack = Vec::new();
    for _ in 0..len {
        let c = if valid {
            PACK_CHARS[rng.below(PACK_CHARS.len())]
        } else {
            (rng.below(255) + 1) as u8
        };
        let n = if c == b'd' { &mut nd } else { &mut ni };
        if *n == 8 {
            break;
        }
        *n += 1;
        pack.push(c);
    }
    let mut unpack = match rng.below(4) {
        0 => pack.clone(),
        1 => {
            let mut u = pack.clone();
            u.insert(rng.below(u.len() + 1), b'|');
            for _ in 0..rng.below(3) {
                u.push(PACK_CHARS[rng.below(PACK_CHARS.len())]);
            }
            u
        }
        2 => (0..rng.below(10))
            .map(|_| b"lsdpLDO|"[rng.below(8)])
            .collect(),
        _ => (0..rng.below(17))
            .map(|_| (rng.below(255) + 1) as u8)
            .collect(),
    };
    unpack.truncate(16);
    (pack, unpack)
}

/// Owned element data of one probe.
struct Values {
    ints: [c_long; 8],
    doubles: [c_double; 8],
    /// (format character, value bits) per element.
    bits: Vec<u64>,
    /// Kept alive for A (free): the struct borrows them.
    _strings: Vec<CString>,
}

/// Values for `pack`: strings are `malloc`ed when `w_free_args` will own
/// them, borrowed CStrings otherwise.
fn values(pack: &[u8], rng: &mut Rng, malloced: bool) -> Values {
    let mut v = Values {
        ints: [0; 8],
        doubles: [0.0; 8],
        bits: Vec::new(),
        _strings: Vec::new(),
    };
    let (mut ni, mut nd) = (0, 0);
    let mut string = |rng: &mut Rng| -> u64 {
        let text: Vec<u8> = (0..rng.below(40))
            .map(|_| (rng.below(255) + 1) as u8)
            .collect();
        let c = CString::new(text).expect("no NUL");
        if malloced {
            // SAFETY: strdup of a valid C string; w_free_args frees it.
            unsafe { libc::strdup(c.as_ptr()) as u64 }
        } else {
            let p = c.as_ptr() as u64;
            v._strings.push(c);
            p
        }
    };
    for &c in pack {
        let bits = match c {
            b'd' => f64::from_bits(rng.next()).to_bits(),
            b'l' | b'p' | b'O' => rng.next(),
            b's' | b'D' if rng.below(8) == 0 => 0,
            b's' | b'D' => string(rng),
            // NULL lists: a list needs malloc'ed items for w_free_args, and
            // nothing in the probe reads them.
            _ => 0,
        };
        if c == b'd' {
            v.doubles[nd] = f64::from_bits(bits);
            nd += 1;
        } else {
            v.ints[ni] = bits as c_long;
            ni += 1;
        }
        v.bits.push(bits);
    }
    v
}

fn common_error() -> String {
    // SAFETY: hubsim returns a valid string it owns.
    unsafe { CStr::from_ptr(vh_hubsim::ffi::hubsim_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn probe_all(hub_generation: Generation, pairs: &[(Vec<u8>, Vec<u8>)], rng: &mut Rng) -> usize {
    let _hub = Hub::open(&shim_path(), hub_generation).expect("hubsim opens the shim");
    let mut checked = 0;
    for (pack, unpack) in pairs {
        let valid = pack.iter().all(|c| PACK_CHARS.contains(c));
        let free_args = hub_generation == Generation::B && rng.below(2) == 0;
        let v = values(pack, rng, free_args && valid);
        let mut out = [SENTINEL; 16];
        let mut print = [0 as c_char; 8192];
        let (p, u) = (
            CString::new(pack.clone()).unwrap(),
            CString::new(unpack.clone()).unwrap(),
        );
        // SAFETY: formats within the probe's limits, values as promised,
        // 16 out slots, print buffer of its size.
        let r = unsafe {
            hubsim_pack_probe(
                p.as_ptr(),
                v.ints.as_ptr(),
                v.doubles.as_ptr(),
                u.as_ptr(),
                out.as_mut_ptr(),
                print.as_mut_ptr(),
                print.len(),
                c_int::from(free_args),
            )
        };
        let what = format!(
            "{hub_generation:?} pack {:?} unpack {:?}",
            String::from_utf8_lossy(pack),
            String::from_utf8_lossy(unpack)
        );
        // SAFETY: the probe wrote a NUL-terminated text.
        let text = unsafe { CStr::from_ptr(print.as_ptr()) }.to_bytes();
        assert_ne!(r, -1, "{what}: {}", common_error());
        if !valid {
            assert_eq!(r, 0, "{what}: w_pack accepted an invalid format");
            assert_eq!(text, b"(null)", "{what}");
            continue;
        }
        assert!(r > 0, "{what}: w_pack refused a valid format");
        assert!(text.starts_with(pack) && text.ends_with(b" )"), "{what}");
        match spec_unpack(pack, unpack) {
            None => {
                assert_eq!(r, 1, "{what}: w_unpack must fail");
                assert!(
                    out.iter().all(|&o| o == SENTINEL),
                    "{what}: wrote on failure"
                );
            }
            Some(n) => {
                assert_eq!(r, 2, "{what}: w_unpack must succeed");
                for (j, &o) in out.iter().enumerate() {
                    let want = match j {
                        _ if j >= n => SENTINEL,
                        _ if j < v.bits.len() => v.bits[j],
                        _ => 0,
                    };
                    assert_eq!(o, want, "{what}: slot {j}");
                }
            }
        }
        checked += 1;
    }
    checked
}

#[test]
fn arbitrary_pack_and_unpack_formats_through_the_dlopened_shim() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // No runner: w_pack and w_unpack need none.
    common::shim_env(&dir.path().join("no-runner.sock"), 200);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut pairs = corpus();
    assert!(pairs.len() > 20, "corpus too small");
    pairs.extend((0..20_000).map(|_| generated(&mut rng)));
    let mut checked = 0;
    for generation in [Generation::A, Generation::B] {
        checked += probe_all(generation, &pairs, &mut rng);
    }
    eprintln!(
        "{checked} valid pack/unpack pairs checked of {}",
        2 * pairs.len()
    );
    assert!(checked > 20_000);
}
