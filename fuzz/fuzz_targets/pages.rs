//! Every parser briefbot runs on outside bytes, on one input (see `briefbot::scrape::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    briefbot::scrape::fuzzing::exercise(data);
});
