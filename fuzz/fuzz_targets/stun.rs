#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| healthcheck::fuzzing::stun_message(data));
