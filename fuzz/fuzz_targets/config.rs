//! cargo-fuzz target `config`: see `vh_fuzz::config`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vh_fuzz::config(data));
