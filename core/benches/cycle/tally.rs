//! Per-operation figures gathered while criterion measures, and the closing table that sets them side by side.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::BenchClock;

/// Who ran a measurement, on how many threads, over how many lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub contender: &'static str,
    pub threads: usize,
    pub lanes: usize,
}

static TALLY: Mutex<BTreeMap<Key, (Duration, u64)>> = Mutex::new(BTreeMap::new());

/// Adds one batch criterion timed (warm-up batches included).
pub fn record(key: Key, cycles: u64, elapsed: Duration) {
    let mut tally = TALLY.lock().expect("tally lock");
    let (time, count) = tally.entry(key).or_default();
    *time += elapsed;
    *count += cycles;
}

/// Total time over total cycles: large batches dominate, so thread start-up
/// in the two-thread runs is amortised as it is in criterion's slope.
fn per_op_ns(key: Key) -> Option<f64> {
    let tally = TALLY.lock().expect("tally lock");
    let (time, count) = tally.get(&key)?;
    (*count > 0).then(|| time.as_nanos() as f64 / *count as f64)
}

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
}

fn ratio(naive: Option<f64>, core: Option<f64>) -> String {
    match (naive, core) {
        (Some(naive), Some(core)) => format!("{:.1}x", naive / core),
        _ => "-".to_owned(),
    }
}

/// Prints ns per cycle (submit → spawned → finish) for every lane count.
pub fn print_table(lane_counts: &[usize], capacity: usize, prefill: usize, clock: BenchClock) {
    let get = |contender, threads, lanes| {
        per_op_ns(Key {
            contender,
            threads,
            lanes,
        })
    };
    eprintln!();
    eprintln!(
        "ns per cycle (submit -> spawned -> finish), capacity {capacity}, {prefill} items queued per lane; \
         core = journal off (default figure), core+journal = journal on, taken at every finish"
    );
    eprintln!(
        "one thread timed by {}; two threads by the wall clock",
        clock.name()
    );
    eprintln!(
        "{:>8} | {:>8} {:>13} {:>10} {:>11} | {:>10} {:>11} {:>11}",
        "lanes",
        "core",
        "core+journal",
        "naive",
        "naive/core",
        "core 2thr",
        "naive 2thr",
        "naive/core"
    );
    for &lanes in lane_counts {
        let core = get("core", 1, lanes);
        let naive = get("naive", 1, lanes);
        let core2 = get("core", 2, lanes);
        let naive2 = get("naive", 2, lanes);
        eprintln!(
            "{:>8} | {:>8} {:>13} {:>10} {:>11} | {:>10} {:>11} {:>11}",
            lanes,
            cell(core),
            cell(get("core_journal", 1, lanes)),
            cell(naive),
            ratio(naive, core),
            cell(core2),
            cell(naive2),
            ratio(naive2, core2),
        );
    }
    eprintln!("(2thr: two threads on one shared scheduler; wall time per cycle of both together)");
}
