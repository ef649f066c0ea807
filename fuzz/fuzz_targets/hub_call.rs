//! cargo-fuzz target `hub_call`: see `vh_fuzz::hub_call`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vh_fuzz::hub_call(data));
