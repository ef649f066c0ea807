//! cargo-fuzz target `compact`: see `vh_fuzz::compact`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vh_fuzz::compact(data));
