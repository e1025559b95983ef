//! Fuzz target `channel_data`: see `clarion::fuzzing::channel_data`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clarion::fuzzing::channel_data(data));
