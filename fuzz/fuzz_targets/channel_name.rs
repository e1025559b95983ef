//! Fuzz target `channel_name`: see `clarion::fuzzing::channel_name`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clarion::fuzzing::channel_name(data));
