//! Fuzz target `redis_envelope`: see `clarion::fuzzing::redis_envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clarion::fuzzing::redis_envelope(data));
