//! `cargo bench -p baton-core`: the cost of one run's submit → spawned → finish in baton-core against a naive scan-every-lane baseline, from 10 to 100,000 lanes.
//!
//! Shorter runs: `BATON_BENCH_QUICK=1 cargo bench -p baton-core`, or
//! criterion's own flags, which need the target named because the library's
//! test harness refuses them: `cargo bench -p baton-core --bench cycle --
//! --quick` (or `--measurement-time 1`); filter with e.g. `-- core/100000`. On a busy shared machine, `BATON_BENCH_CLOCK=cpu` times
//! single-threaded cases by the thread's CPU time. `cargo test -p baton-core
//! --benches` runs every case but the 100,000-lane ones once.

mod clock;
mod naive;
mod scheduler;
mod tally;
mod workload;

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};

use crate::clock::BenchClock;
use crate::naive::Naive;
use crate::scheduler::{CoreScheduler, Scheduler};
use crate::tally::Key;
use crate::workload::{CAPACITY, PREFILL, Workload};

const LANE_COUNTS: [usize; 3] = [10, 1_000, 100_000];

fn main() {
    let mut criterion = settings().configure_from_args();
    let clock = BenchClock::from_env();
    for threads in [1, 2] {
        let name = if threads == 1 {
            "cycle_1_thread"
        } else {
            "cycle_2_threads"
        };
        let mut group = criterion.benchmark_group(name);
        group.throughput(Throughput::Elements(1));
        for &lanes in lane_counts() {
            let case = Case {
                lanes,
                threads,
                clock,
            };
            measure(&mut group, "core", case, || {
                CoreScheduler::new(CAPACITY, false)
            });
            if threads == 1 {
                measure(&mut group, "core_journal", case, || {
                    CoreScheduler::new(CAPACITY, true)
                });
            }
            measure(&mut group, "naive", case, || Naive::new(CAPACITY));
        }
        group.finish();
    }
    criterion.final_summary();
    if benchmarking() {
        tally::print_table(&LANE_COUNTS, CAPACITY, PREFILL, clock);
    }
}

/// Defaults sized so the whole run stays well under three minutes; criterion's
/// command-line flags still override them.
fn settings() -> Criterion {
    let quick = std::env::var_os("BATON_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0");
    let (warm_up, measurement, samples) = if quick {
        (Duration::from_millis(100), Duration::from_millis(300), 10)
    } else {
        (Duration::from_millis(500), Duration::from_millis(1500), 20)
    };
    Criterion::default()
        .warm_up_time(warm_up)
        .measurement_time(measurement)
        .sample_size(samples)
}

/// Criterion measures only under `cargo bench` (`--bench` without `--test`);
/// `cargo test --benches` runs each case once, and then the table means nothing.
fn benchmarking() -> bool {
    has_arg("--bench") && !has_arg("--test") && !has_arg("--list")
}

/// Test runs (`cargo test --benches`, unoptimised) leave out the largest
/// count: its set-up alone takes seconds there, and it runs the same code.
fn lane_counts() -> &'static [usize] {
    let testing = !has_arg("--bench") || has_arg("--test");
    if testing {
        &LANE_COUNTS[..LANE_COUNTS.len() - 1]
    } else {
        &LANE_COUNTS
    }
}

fn has_arg(flag: &str) -> bool {
    std::env::args().any(|a| a == flag)
}

#[derive(Debug, Clone, Copy)]
struct Case {
    lanes: usize,
    threads: usize,
    clock: BenchClock,
}

/// One case: the workload is built on first use (so filtered-out cases cost
/// nothing), kept across criterion's batches, and its books checked at the end.
fn measure<S: Scheduler>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    contender: &'static str,
    case: Case,
    make: impl Fn() -> S,
) {
    let key = Key {
        contender,
        threads: case.threads,
        lanes: case.lanes,
    };
    let mut workload = None;
    group.bench_function(BenchmarkId::new(contender, case.lanes), |b| {
        // Built here, outside `iter_custom`: criterion times that whole call,
        // and a 100,000-lane set-up inside it would skew its warm-up estimate.
        let workload =
            workload.get_or_insert_with(|| Workload::new(make(), case.lanes, case.threads));
        b.iter_custom(|cycles| {
            let elapsed = workload.run(cycles, case.clock);
            tally::record(key, cycles, elapsed);
            elapsed
        });
    });
    if let Some(workload) = workload {
        workload.verify();
    }
}
