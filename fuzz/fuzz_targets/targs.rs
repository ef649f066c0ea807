//! cargo-fuzz target `targs`: see `vh_fuzz::targs`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vh_fuzz::targs(data));
