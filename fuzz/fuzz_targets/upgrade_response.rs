#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| healthcheck::fuzzing::upgrade_response(data));
