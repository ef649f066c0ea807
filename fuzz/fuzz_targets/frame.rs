//! cargo-fuzz target `frame`: see `vh_fuzz::frame`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vh_fuzz::frame(data));
