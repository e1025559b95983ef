//! Fuzz target `jwt`: see `clarion::fuzzing::jwt`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clarion::fuzzing::jwt(data));
