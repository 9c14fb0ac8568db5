//! Criterion cases for the bot's overhead: from an update being handed to the bot's
//! pending getUpdates to the fake agent's process running, and, as the floor under
//! that figure, a bare spawn of the same fake agent binary.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use criterion::Criterion;
use criterion::SamplingMode;

use crate::agent::{self, Ask};
use crate::clock::monotonic_ns;
use crate::rig::Rig;

/// The one user and private chat the overhead runs in.
const CHAT: i64 = 42;
/// The least edit interval the bot accepts: each short answer is done ~0.1 s after it starts.
const EDIT_INTERVAL_MS: &str = "100";
const ANSWER_CHARS: usize = 20;
const TURN: Duration = Duration::from_secs(60);

/// Every latency criterion measured (warm-up included), per case.
#[derive(Debug, Default)]
pub struct Samples {
    pub update_to_spawn: Vec<Duration>,
    pub bare_spawn: Vec<Duration>,
}

static SAMPLES: Mutex<Samples> = Mutex::new(Samples {
    update_to_spawn: Vec::new(),
    bare_spawn: Vec::new(),
});

pub fn take_samples() -> Samples {
    std::mem::take(&mut *SAMPLES.lock().expect("samples lock"))
}

/// `update_to_spawn` runs sequential one-line answers through one running bot; each
/// measured message starts with the bot idle in a held getUpdates.
pub fn bench(criterion: &mut Criterion, samples: usize) {
    let mut group = criterion.benchmark_group("overhead");
    // One message per sample, so every sample is one latency, as the percentiles need.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(samples)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(samples as u64 * 20));
    let mut rig: Option<Rig> = None;
    group.bench_function("update_to_spawn", |b| {
        let rig = rig.get_or_insert_with(|| {
            let settings = [
                ("BATON_EDIT_INTERVAL_MS", EDIT_INTERVAL_MS),
                // Hundreds of messages a minute from one user are the point here.
                ("BATON_RATE_LIMIT", "0"),
            ];
            let mut rig = Rig::start(&[CHAT], &settings).expect("start the bot");
            // Untimed: the first run opens the chat's lane and warms the store.
            rig.ask(CHAT, ANSWER_CHARS, 0, TURN).expect("first answer");
            rig
        });
        b.iter_custom(|messages| {
            let mut total = Duration::ZERO;
            for _ in 0..messages {
                let answered = rig
                    .ask(CHAT, ANSWER_CHARS, 0, TURN)
                    .expect("an answer from the bot");
                let overhead = answered.overhead();
                SAMPLES
                    .lock()
                    .expect("samples lock")
                    .update_to_spawn
                    .push(overhead);
                total += overhead;
            }
            total
        });
    });
    if let Some(rig) = rig {
        rig.stop().expect("the bot stops cleanly");
    }
    group.measurement_time(Duration::from_millis(samples as u64 * 8));
    let mut floor: Option<BareSpawn> = None;
    group.bench_function("bare_spawn", |b| {
        let floor = floor.get_or_insert_with(|| BareSpawn::new().expect("agent start log"));
        b.iter_custom(|spawns| {
            let mut total = Duration::ZERO;
            for _ in 0..spawns {
                let latency = floor.spawn().expect("a bare spawn of the fake agent");
                SAMPLES
                    .lock()
                    .expect("samples lock")
                    .bare_spawn
                    .push(latency);
                total += latency;
            }
            total
        });
    });
    group.finish();
}

/// Spawns the fake agent straight from here, as the bot's driver does (stdin a pipe
/// holding the prompt, stdout a pipe, own process group), with no bot in between.
struct BareSpawn {
    dir: tempfile::TempDir,
    next_id: u64,
}

impl BareSpawn {
    fn new() -> anyhow::Result<BareSpawn> {
        Ok(BareSpawn {
            dir: tempfile::tempdir()?,
            next_id: 0,
        })
    }

    fn spawn(&mut self) -> anyhow::Result<Duration> {
        use std::os::unix::process::CommandExt;
        self.next_id += 1;
        let ask = Ask {
            id: self.next_id,
            chars: ANSWER_CHARS,
            pace: 0,
        };
        let log = self.dir.path().join("starts.log");
        let started = monotonic_ns();
        let mut child = Command::new(std::env::current_exe()?)
            .args(["-p", "--output-format", "stream-json", "--verbose"])
            .env(agent::ROLE_VAR, agent::ROLE_AGENT)
            .env(agent::LOG_VAR, &log)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(ask.prompt().as_bytes())?;
        drop(stdin);
        let status = child.wait()?;
        anyhow::ensure!(status.success(), "the fake agent failed: {status}");
        let text = std::fs::read_to_string(&log)?;
        let ran = text
            .lines()
            .find_map(|line| {
                let (id, ns) = line.split_once(' ')?;
                (id.parse() == Ok(ask.id)).then(|| ns.parse::<u64>().ok())?
            })
            .ok_or_else(|| anyhow::anyhow!("the fake agent logged no start"))?;
        Ok(Duration::from_nanos(ran.saturating_sub(started)))
    }
}

/// The nearest-rank percentile `p` (0 to 100) of `samples`.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}
