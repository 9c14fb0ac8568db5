//! Whole answers through the bot at its default settings: its resident memory idle and
//! while it streams, its CPU time, and the Telegram requests each answer costs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::bot_process::{Memory, memory_of};
use crate::rig::{ANSWER_METHODS, Rig};

/// Longer than the bot's default edit interval (1.5 s): a chat this quiet is done.
const QUIET: Duration = Duration::from_secs(2);
/// Time after start-up before the idle reading, for the runtime's threads to settle.
const SETTLE: Duration = Duration::from_secs(2);
const TURN: Duration = Duration::from_secs(300);
/// Resident memory is read this often while an answer streams.
const SAMPLE_EVERY: Duration = Duration::from_millis(2);

/// One answer to measure.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub chars: usize,
    /// Characters the fake agent streams per second; 0 for all at once.
    pub pace: u32,
}

/// What one answer cost.
#[derive(Debug, Clone)]
pub struct AnswerFigures {
    pub case: Case,
    /// Requests for the answer's chat, by lower-case method name.
    pub requests: BTreeMap<String, usize>,
    /// Messages the answer occupies when done.
    pub messages: usize,
    /// From the update to the whole answer shown.
    pub wall: Duration,
    pub cpu: Duration,
    /// Most resident memory seen while it streamed (sampled).
    pub peak_rss_kib: u64,
    /// VmHWM once it was done: the most ever resident since start-up.
    pub hwm_kib: u64,
}

impl AnswerFigures {
    pub fn total_requests(&self) -> usize {
        self.requests.values().sum()
    }

    pub fn count(&self, method: &str) -> usize {
        self.requests.get(method).copied().unwrap_or(0)
    }
}

/// Memory of the idle bot, and of each answer.
#[derive(Debug, Clone)]
pub struct Figures {
    pub idle: Memory,
    pub answers: Vec<AnswerFigures>,
    /// Resident once all answers were done.
    pub idle_after: Memory,
}

/// Starts a bot at default settings and runs `cases` one after another, each in its own
/// private chat (so each chat's requests are one answer's).
pub fn measure(cases: &[Case]) -> anyhow::Result<Figures> {
    let chats: Vec<i64> = (0..cases.len() as i64).map(|i| 5001 + i).collect();
    let mut rig = Rig::start(&chats, &[])?;
    std::thread::sleep(SETTLE);
    let idle = rig.bot().memory()?;
    let mut answers = Vec::new();
    for (case, &chat) in cases.iter().zip(&chats) {
        answers.push(answer(&mut rig, chat, *case)?);
    }
    std::thread::sleep(SETTLE);
    let idle_after = rig.bot().memory()?;
    rig.stop()?;
    Ok(Figures {
        idle,
        answers,
        idle_after,
    })
}

fn answer(rig: &mut Rig, chat: i64, case: Case) -> anyhow::Result<AnswerFigures> {
    let cpu_before = rig.bot().cpu_time()?;
    let sampler = Sampler::start(rig.bot().pid());
    let began = Instant::now();
    rig.ask(chat, case.chars, case.pace, TURN)
        .with_context(|| format!("answer of {} characters", case.chars))?;
    let wall = began.elapsed();
    rig.wait_quiet(chat, QUIET)?;
    let peak_rss_kib = sampler.stop();
    let cpu = rig.bot().cpu_time()?.saturating_sub(cpu_before);
    let hwm_kib = rig.bot().memory()?.peak_kib;
    let requests = rig.requests_by_method(chat);
    let unexpected: Vec<&String> = requests
        .keys()
        .filter(|m| !ANSWER_METHODS.contains(&m.as_str()))
        .collect();
    anyhow::ensure!(
        unexpected.is_empty(),
        "the answer made requests the table does not count: {unexpected:?}"
    );
    let shown = rig.visible_texts(chat);
    // Rendering drops the Markdown marks, so the text shown is a little shorter.
    let shown_chars: usize = shown.iter().map(|t| t.chars().count()).sum();
    anyhow::ensure!(
        shown_chars * 10 >= case.chars * 8,
        "the chat shows {shown_chars} characters of a {}-character answer",
        case.chars
    );
    Ok(AnswerFigures {
        case,
        requests,
        messages: shown.len(),
        wall,
        cpu,
        peak_rss_kib,
        hwm_kib,
    })
}

/// Reads a process's VmRSS in the background and keeps the largest value.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !stopping.load(Ordering::Relaxed) {
                if let Ok(memory) = memory_of(pid) {
                    peak = peak.max(memory.rss_kib);
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
            peak
        });
        Sampler { stop, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("memory sampler")
    }
}

/// Answer lengths whose bot CPU per character must stay flat: rendering that grew
/// with the square of the length would show here first.
const STREAMED_LENGTHS: [usize; 3] = [5_000, 50_000, 200_000];
/// Per 10,000 characters, the most bot CPU an answer may cost.
const CPU_TARGET_PER_10K: Duration = Duration::from_millis(30);
/// How far apart the CPU per 10,000 characters of the three lengths may be.
const CPU_SPREAD_TARGET: f64 = 2.0;

/// One streamed answer of each of [`STREAMED_LENGTHS`] at `pace` characters a second.
pub fn streamed_cases(pace: u32) -> Vec<Case> {
    STREAMED_LENGTHS
        .iter()
        .map(|&chars| Case { chars, pace })
        .collect()
}

/// Bot CPU per 10,000 characters of an answer.
fn cpu_per_10k(answer: &AnswerFigures) -> Duration {
    answer.cpu.mul_f64(10_000.0 / answer.case.chars as f64)
}

/// The lines on how the bot's CPU grows with the length of a streamed answer.
pub fn print_cpu_per_length(figures: &Figures, streamed: &[Case]) {
    let answers: Vec<&AnswerFigures> = streamed
        .iter()
        .filter_map(|case| {
            figures
                .answers
                .iter()
                .find(|a| a.case.chars == case.chars && a.case.pace == case.pace)
        })
        .collect();
    let Some(first) = answers.first() else {
        return;
    };
    eprintln!(
        "bot CPU per streamed answer at {}/s, with its Telegram requests:",
        first.case.pace
    );
    for answer in &answers {
        eprintln!(
            "{:>9} chars: CPU {:>8.1} ms, {:>4} requests, {:>6.1} ms per 10,000 characters",
            answer.case.chars,
            answer.cpu.as_secs_f64() * 1000.0,
            answer.total_requests(),
            cpu_per_10k(answer).as_secs_f64() * 1000.0
        );
    }
    let per: Vec<Duration> = answers.iter().map(|a| cpu_per_10k(a)).collect();
    let most = per.iter().max().copied().unwrap_or_default();
    let least = per.iter().min().copied().unwrap_or_default();
    let spread = most.as_secs_f64() / least.as_secs_f64().max(1e-9);
    eprintln!(
        "  CPU per 10,000 characters: largest/smallest {spread:.2}x (target at most \
         {CPU_SPREAD_TARGET}x), largest {:.1} ms (target under {} ms)",
        most.as_secs_f64() * 1000.0,
        CPU_TARGET_PER_10K.as_millis()
    );
}
