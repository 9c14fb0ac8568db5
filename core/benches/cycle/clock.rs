//! Which clock a single-threaded batch is timed by: the wall clock, or the thread's own CPU time on a shared, busy machine.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchClock {
    Wall,
    /// Time the thread actually ran: preemption by other processes drops
    /// out, cache pollution by them does not.
    ThreadCpu,
}

impl BenchClock {
    /// `BATON_BENCH_CLOCK=cpu` picks the CPU clock; anything else the wall clock.
    pub fn from_env() -> Self {
        match std::env::var("BATON_BENCH_CLOCK").as_deref() {
            Ok("cpu") => BenchClock::ThreadCpu,
            _ => BenchClock::Wall,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BenchClock::Wall => "wall clock",
            BenchClock::ThreadCpu => "thread CPU time",
        }
    }

    /// Times `f` on the calling thread.
    pub fn time(self, f: impl FnOnce()) -> Duration {
        match self {
            BenchClock::Wall => {
                let start = Instant::now();
                f();
                start.elapsed()
            }
            BenchClock::ThreadCpu => {
                let start = thread_cpu_time();
                f();
                thread_cpu_time().saturating_sub(start)
            }
        }
    }
}

fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(
        status,
        0,
        "thread cpu clock: {}",
        std::io::Error::last_os_error()
    );
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
