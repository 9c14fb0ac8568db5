//! One clock for both ends of a measurement: CLOCK_MONOTONIC, which every process on the machine shares.

/// Nanoseconds on CLOCK_MONOTONIC; comparable between the bench, the bot and the fake agent.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    assert_eq!(
        status,
        0,
        "monotonic clock: {}",
        std::io::Error::last_os_error()
    );
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}
