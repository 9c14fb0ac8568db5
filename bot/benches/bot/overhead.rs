//! Criterion cases for the bot's overhead: from an update being handed to the bot's
//! pending getUpdates to the fake agent's process running, with the bot's state on disk
//! (under `TMPDIR`) and on tmpfs (`/dev/shm`), the store's synced commits in between;
//! and, as the floor under that figure, a bare spawn of the same fake agent binary.

use std::io::Write;
use std::path::{Path, PathBuf};
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

/// Where tmpfs is on Linux; the bench skips the tmpfs case where it is missing.
const TMPFS: &str = "/dev/shm";

/// Every latency criterion measured (warm-up included), per case.
#[derive(Debug, Default)]
pub struct Samples {
    /// State on disk (under `TMPDIR`).
    pub update_to_spawn: Vec<Duration>,
    /// The same, state on tmpfs.
    pub update_to_spawn_tmpfs: Vec<Duration>,
    /// Synced commits of the store between each update and its spawn, state on disk.
    pub commits_to_spawn: Vec<usize>,
    pub bare_spawn: Vec<Duration>,
    /// Where the disk case kept its state.
    pub disk_root: PathBuf,
}

static SAMPLES: Mutex<Samples> = Mutex::new(Samples {
    update_to_spawn: Vec::new(),
    update_to_spawn_tmpfs: Vec::new(),
    commits_to_spawn: Vec::new(),
    bare_spawn: Vec::new(),
    disk_root: PathBuf::new(),
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
    let disk = std::env::temp_dir();
    SAMPLES.lock().expect("samples lock").disk_root = disk.clone();
    let answered = update_to_spawn(&mut group, "update_to_spawn", &disk, |samples| {
        &mut samples.update_to_spawn
    });
    SAMPLES.lock().expect("samples lock").commits_to_spawn = answered;
    if Path::new(TMPFS).is_dir() {
        update_to_spawn(
            &mut group,
            "update_to_spawn_tmpfs",
            Path::new(TMPFS),
            |samples| &mut samples.update_to_spawn_tmpfs,
        );
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

/// One criterion case: sequential one-line answers through one bot whose state lives
/// under `root`. Returns, per measured update, the store's commits between it and its
/// agent's spawn.
fn update_to_spawn(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    root: &Path,
    case: fn(&mut Samples) -> &mut Vec<Duration>,
) -> Vec<usize> {
    let mut rig: Option<Rig> = None;
    let mut answers = Vec::new();
    group.bench_function(name, |b| {
        let rig = rig.get_or_insert_with(|| {
            let settings = [
                ("BATON_EDIT_INTERVAL_MS", EDIT_INTERVAL_MS),
                // Hundreds of messages a minute from one user are the point here.
                ("BATON_RATE_LIMIT", "0"),
                // Each commit is logged, so the commits before each spawn can be counted.
                ("BATON_LOG", "info,baton_bot::store=debug"),
            ];
            let mut rig = Rig::start_in(root, &[CHAT], &settings).expect("start the bot");
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
                case(&mut SAMPLES.lock().expect("samples lock")).push(overhead);
                answers.push(answered);
                total += overhead;
            }
            total
        });
    });
    let Some(rig) = rig else {
        return Vec::new();
    };
    let commits = rig.bot().commit_times();
    rig.stop().expect("the bot stops cleanly");
    answers
        .iter()
        .map(|answered| answered.commits_between(&commits))
        .collect()
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
