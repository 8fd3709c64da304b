#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasmesos_fuzz_targets::resources(data));
