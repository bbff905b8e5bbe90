//! Every parser briefbot runs on outside bytes, on one input (see `briefbot::scrape::fuzzing`).
//! Each parser's call must also finish within one second of CPU time (thread CPU time, so a
//! busy machine does not make a fast parser look slow).
#![no_main]

use std::time::Duration;

const BUDGET: Duration = Duration::from_secs(1);

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    briefbot::scrape::fuzzing::exercise_each(data, &mut |name, run| {
        let started = thread_cpu_time();
        run();
        let took = thread_cpu_time() - started;
        assert!(took <= BUDGET, "{name} took {took:?} of CPU on a {}-byte input", data.len());
    });
});
