//! `cargo bench -p baton-bot`: the bot's own cost, measured on the real `baton` binary
//! against the fake Telegram server with a fake agent: overhead from update to agent
//! spawned (median and p99, state on disk and on tmpfs, and the synced commits in
//! between), resident memory idle and while streaming a 50,000-character answer, and the
//! Telegram requests an answer makes.
//!
//! `BATON_BENCH_SAMPLES` (default 200) sets the number of measured updates,
//! `BATON_BENCH_PACE` (default 1000) the characters per second the fake agent streams.
//! The bot's state (SQLite, fsync on every commit) lives under `TMPDIR` (keep it on
//! disk); the overhead is measured again with it on `/dev/shm`, which shows what the
//! disk's syncs add.
//! Criterion's flags need the target named: `cargo bench -p baton-bot --bench bot --
//! overhead`. `cargo test -p baton-bot --benches` runs one update and two small answers
//! and checks they arrive whole.

// The fake is shared with the integration tests; the bench uses part of it.
#[allow(dead_code)]
#[path = "../../tests/support/fake_telegram.rs"]
mod fake_telegram;

mod agent;
mod answers;
mod bot_process;
mod clock;
mod overhead;
mod rig;

use std::process::ExitCode;
use std::time::Duration;

use criterion::Criterion;

use crate::answers::{Case, Figures};
use crate::overhead::{Samples, percentile};

const DEFAULT_SAMPLES: usize = 200;
const DEFAULT_PACE: u32 = 1000;

fn main() -> ExitCode {
    if agent::is_agent() {
        return agent::run();
    }
    let mut criterion = Criterion::default().configure_from_args();
    let samples = env_number("BATON_BENCH_SAMPLES", DEFAULT_SAMPLES);
    overhead::bench(&mut criterion, samples.max(10));
    criterion.final_summary();
    let latencies = overhead::take_samples();
    if has_arg("--list") {
        return ExitCode::SUCCESS;
    }
    if benchmarking() {
        let pace = env_number("BATON_BENCH_PACE", DEFAULT_PACE as usize) as u32;
        let cases = [
            Case { chars: 2_000, pace },
            Case {
                chars: 50_000,
                pace,
            },
            Case {
                chars: 50_000,
                pace: 0,
            },
        ];
        let streamed = answers::streamed_cases(pace);
        let all: Vec<Case> = cases.iter().chain(&streamed).copied().collect();
        let figures = answers::measure(&all).expect("answers through the bot");
        print_table(&latencies, &figures);
        answers::print_cpu_per_length(&figures, &streamed);
    } else {
        smoke(&latencies);
    }
    ExitCode::SUCCESS
}

/// Test mode: the harness works end to end and its figures make sense.
fn smoke(latencies: &Samples) {
    let ask = agent::Ask {
        id: 7,
        chars: 3_000,
        pace: 250,
    };
    assert_eq!(agent::Ask::parse(&ask.prompt()), Some(ask));
    assert_eq!(ask.answer().chars().count(), 3_000);
    assert!(ask.answer().ends_with(&ask.end_marker()));
    let cases = [
        Case {
            chars: 2_000,
            pace: 0,
        },
        Case {
            chars: 10_000,
            pace: 0,
        },
    ];
    let figures = answers::measure(&cases).expect("answers through the bot");
    assert!(figures.idle.rss_kib > 0, "idle memory read");
    let [short, long] = &figures.answers[..] else {
        panic!("two answers measured");
    };
    assert_eq!(short.messages, 1, "2,000 characters fit one message");
    assert!(
        long.messages >= 3,
        "10,000 characters take at least three messages, not {}",
        long.messages
    );
    assert!(long.count("sendmessage") >= long.messages);
    assert!(long.peak_rss_kib >= figures.idle.rss_kib / 2);
    if let Some(commits) = latencies.commits_to_spawn.first() {
        assert!(
            *commits >= 1,
            "the run's start is committed before its agent spawns"
        );
    }
    if let Some(overhead) = latencies.update_to_spawn.first() {
        assert!(*overhead < Duration::from_secs(30), "overhead {overhead:?}");
    }
    eprintln!(
        "bench smoke: idle RSS {} KiB; 10,000 characters in {} messages with {} requests",
        figures.idle.rss_kib,
        long.messages,
        long.total_requests()
    );
}

fn print_table(latencies: &Samples, figures: &Figures) {
    let ms = |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.2} ms", millis(d)));
    let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
    eprintln!();
    eprintln!("baton bot figures: release `baton` binary, fake agent, fake Telegram on 127.0.0.1");
    eprintln!(
        "update -> agent spawned: median {}, p99 {} over {} updates",
        ms(percentile(&latencies.update_to_spawn, 50.0)),
        ms(percentile(&latencies.update_to_spawn, 99.0)),
        latencies.update_to_spawn.len()
    );
    eprintln!(
        "  floor, a bare spawn of the same fake agent: median {}, p99 {} over {} spawns",
        ms(percentile(&latencies.bare_spawn, 50.0)),
        ms(percentile(&latencies.bare_spawn, 99.0)),
        latencies.bare_spawn.len()
    );
    print_durability(latencies);
    eprintln!(
        "RSS idle after start-up: {} (VmHWM {}); idle after the answers: {}",
        mib(figures.idle.rss_kib),
        mib(figures.idle.peak_kib),
        mib(figures.idle_after.rss_kib)
    );
    eprintln!(
        "{:>7} {:>11} | {:>4} {:>5} {:>6} {:>6} {:>5} | {:>4} | {:>7} {:>8} | {:>10} {:>10}",
        "chars",
        "pace",
        "send",
        "edit",
        "typing",
        "delete",
        "total",
        "msgs",
        "wall",
        "bot CPU",
        "peak RSS",
        "VmHWM"
    );
    for answer in &figures.answers {
        let pace = if answer.case.pace == 0 {
            "at once".to_owned()
        } else {
            format!("{}/s", answer.case.pace)
        };
        eprintln!(
            "{:>7} {:>11} | {:>4} {:>5} {:>6} {:>6} {:>5} | {:>4} | {:>6.1}s {:>7.2}s | {:>10} {:>10}",
            answer.case.chars,
            pace,
            answer.count("sendmessage"),
            answer.count("editmessagetext") + answer.count("editmessagereplymarkup"),
            answer.count("sendchataction"),
            answer.count("deletemessage"),
            answer.total_requests(),
            answer.messages,
            answer.wall.as_secs_f64(),
            answer.cpu.as_secs_f64(),
            mib(answer.peak_rss_kib),
            mib(answer.hwm_kib)
        );
    }
    eprintln!(
        "(a run longer than BATON_NOTIFY_AFTER_SECS, 30 s by default, sends its answer again \
         as new messages and deletes the streamed ones)"
    );
}

/// Where the overhead's state lived, what tmpfs changes, and the synced commits on the way.
fn print_durability(latencies: &Samples) {
    let ms = |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.2} ms", millis(d)));
    let ratio = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if !b.is_zero() => format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64()),
        _ => "-".to_owned(),
    };
    let disk = percentile(&latencies.update_to_spawn, 50.0);
    let tmpfs = percentile(&latencies.update_to_spawn_tmpfs, 50.0);
    eprintln!(
        "  state on disk ({}); on tmpfs (/dev/shm): median {}, p99 {} over {} updates",
        latencies.disk_root.display(),
        ms(tmpfs),
        ms(percentile(&latencies.update_to_spawn_tmpfs, 99.0)),
        latencies.update_to_spawn_tmpfs.len()
    );
    eprintln!(
        "  median ratios: disk/tmpfs {}, disk/bare spawn {}",
        ratio(disk, tmpfs),
        ratio(disk, percentile(&latencies.bare_spawn, 50.0))
    );
    let commits = &latencies.commits_to_spawn;
    let mut counts = std::collections::BTreeMap::new();
    for n in commits {
        *counts.entry(*n).or_insert(0usize) += 1;
    }
    let spread: Vec<String> = counts
        .iter()
        .map(|(n, updates)| format!("{n} in {updates}"))
        .collect();
    eprintln!(
        "  synced commits between update and spawn (disk): {} over {} updates",
        if spread.is_empty() {
            "-".to_owned()
        } else {
            spread.join(", ")
        },
        commits.len()
    );
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Criterion measures only under `cargo bench` (`--bench` without `--test`);
/// `cargo test --benches` runs each case once.
fn benchmarking() -> bool {
    has_arg("--bench") && !has_arg("--test")
}

fn has_arg(flag: &str) -> bool {
    std::env::args().any(|a| a == flag)
}
