//! Fuzz target `webhook_entry`: see `clarion::fuzzing::webhook_entry`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clarion::fuzzing::webhook_entry(data));
