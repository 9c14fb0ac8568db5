//! Finds the npm-installed agent CLIs and builds isolated runs of them against the fakes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_bot::drivers::{AgentEvent, AgentOutcome, AgentRequest, ClaudeConfig, CodexConfig};
use tempfile::TempDir;
use tokio::sync::mpsc;

use super::fake_anthropic::FakeAnthropic;
use super::fake_openai::FakeOpenAi;

/// The repository root: the bot crate's parent.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bot/ has a parent")
        .to_path_buf()
}

/// `<repo>/node_modules/.bin/<name>`, or a panic saying how to install it.
pub fn cli_bin(name: &str) -> PathBuf {
    let path = repo_root().join("node_modules/.bin").join(name);
    if !path.exists() {
        panic!(
            "the {name} CLI is not installed at {}: run scripts/install-agents.sh (npm ci at the repo root) first",
            path.display()
        );
    }
    path
}

pub fn claude_bin() -> PathBuf {
    cli_bin("claude")
}

pub fn codex_bin() -> PathBuf {
    cli_bin("codex")
}

/// A private HOME and working directory for one test, so sessions never leak between tests.
pub struct Sandbox {
    _root: TempDir,
    pub home: PathBuf,
    pub workdir: PathBuf,
}

impl Sandbox {
    pub fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("baton-agent-")
            .tempdir()
            .expect("temp dir");
        let home = root.path().join("home");
        let workdir = root.path().join("work");
        std::fs::create_dir_all(&home).expect("home dir");
        std::fs::create_dir_all(&workdir).expect("work dir");
        Self {
            _root: root,
            home,
            workdir,
        }
    }

    pub fn request(&self, prompt: &str) -> AgentRequest {
        AgentRequest {
            prompt: prompt.into(),
            workdir: self.workdir.clone(),
            ..AgentRequest::default()
        }
    }
}

/// The environment that points claude at the fake and keeps it off the network.
///
/// No `IS_SANDBOX=1`: the tests run as root, where the CLI refuses `bypassPermissions`, so they use
/// the default permission mode plus `--allowedTools` instead, which works as root.
pub fn claude_env(fake: &FakeAnthropic, sandbox: &Sandbox) -> Vec<(String, String)> {
    vec![
        ("HOME".into(), sandbox.home.display().to_string()),
        (
            "CLAUDE_CONFIG_DIR".into(),
            sandbox.home.join(".claude").display().to_string(),
        ),
        ("ANTHROPIC_BASE_URL".into(), fake.base_url.clone()),
        ("ANTHROPIC_API_KEY".into(), "test-key".into()),
        ("DISABLE_AUTOUPDATER".into(), "1".into()),
        (
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
            "1".into(),
        ),
    ]
}

pub fn claude_config(fake: &FakeAnthropic, sandbox: &Sandbox) -> ClaudeConfig {
    ClaudeConfig {
        bin: claude_bin(),
        permission_mode: None,
        allowed_tools: vec!["Bash".into()],
        extra_env: claude_env(fake, sandbox),
        stall_timeout: Duration::from_secs(60),
    }
}

/// Model the codex tests ask for: its tool set has the `exec_command` function the fake calls.
pub const CODEX_TEST_MODEL: &str = "gpt-5.1-codex";

/// Codex pointed at the fake through a custom model provider, with its own `CODEX_HOME`.
pub fn codex_config(fake: &FakeOpenAi, sandbox: &Sandbox) -> CodexConfig {
    let codex_home = sandbox.home.join(".codex");
    std::fs::create_dir_all(&codex_home).expect("codex home");
    let mut config = CodexConfig::new(codex_bin());
    config.codex_home = Some(codex_home);
    config.config_overrides = vec![
        format!("model={CODEX_TEST_MODEL:?}"),
        "model_provider=\"fake\"".into(),
        format!(
            "model_providers.fake={{name=\"fake\",base_url=\"{}\",wire_api=\"responses\",env_key=\"BATON_FAKE_OPENAI_KEY\"}}",
            fake.base_url
        ),
    ];
    config.extra_env = vec![
        ("HOME".into(), sandbox.home.display().to_string()),
        ("BATON_FAKE_OPENAI_KEY".into(), "test-key".into()),
    ];
    config.stall_timeout = Duration::from_secs(60);
    config
}

/// Runs a driver future to its outcome, collecting every event it sent.
pub async fn collect(
    run: impl Future<Output = AgentOutcome>,
    mut rx: mpsc::UnboundedReceiver<AgentEvent>,
) -> (Vec<AgentEvent>, AgentOutcome) {
    let outcome = run.await;
    let mut events = Vec::new();
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    (events, outcome)
}

/// When a run's first `Session` event and its outcome came, counted from its start.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The CLI's start-up: until it named its session.
    pub to_session: Option<Duration>,
    pub to_outcome: Duration,
}

/// Like `collect`, receiving events while the run goes on, and timing it.
pub async fn collect_timed(
    run: impl Future<Output = AgentOutcome>,
    mut rx: mpsc::UnboundedReceiver<AgentEvent>,
) -> (Vec<AgentEvent>, AgentOutcome, Timing) {
    let start = std::time::Instant::now();
    let mut run = std::pin::pin!(run);
    let mut events = Vec::new();
    let mut to_session = None;
    let outcome = loop {
        tokio::select! {
            biased;
            Some(event) = rx.recv() => {
                if to_session.is_none() && matches!(event, AgentEvent::Session { .. }) {
                    to_session = Some(start.elapsed());
                }
                events.push(event);
            }
            outcome = &mut run => break outcome,
        }
    };
    let to_outcome = start.elapsed();
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    (
        events,
        outcome,
        Timing {
            to_session,
            to_outcome,
        },
    )
}

/// The session ids among `events`, in order.
pub fn session_ids(events: &[AgentEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Session { id } => Some(id.clone()),
            _ => None,
        })
        .collect()
}

/// Receives events until one matches, failing after `limit`.
pub async fn wait_for(
    rx: &mut mpsc::UnboundedReceiver<AgentEvent>,
    seen: &mut Vec<AgentEvent>,
    limit: Duration,
    wanted: impl Fn(&AgentEvent) -> bool,
) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no matching event within {limit:?}; saw {seen:?}"))
            .unwrap_or_else(|| panic!("run ended without a matching event; saw {seen:?}"));
        let hit = wanted(&event);
        seen.push(event);
        if hit {
            return;
        }
    }
}

/// A process seen in /proc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub pgid: i32,
    pub zombie: bool,
    pub cmdline: String,
}

fn read_proc(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command: state, ppid, pgrp, ...
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    Some(Proc {
        pid,
        pgid: fields.get(2)?.parse().ok()?,
        zombie: fields.first() == Some(&"Z"),
        cmdline: String::from_utf8_lossy(&cmdline)
            .replace('\0', " ")
            .trim()
            .to_string(),
    })
}

fn all_procs() -> Vec<Proc> {
    std::fs::read_dir("/proc")
        .expect("/proc readable")
        .flatten()
        .filter_map(|entry| entry.file_name().to_string_lossy().parse::<i32>().ok())
        .filter_map(read_proc)
        .collect()
}

/// Live processes whose working directory is `dir` (the CLI and the tools it started there).
pub fn processes_in(dir: &Path) -> Vec<Proc> {
    all_procs()
        .into_iter()
        .filter(|p| !p.zombie)
        .filter(|p| std::fs::read_link(format!("/proc/{}/cwd", p.pid)).is_ok_and(|cwd| cwd == dir))
        .collect()
}

/// Live (non-zombie) members of process group `pgid`.
pub fn live_group_members(pgid: i32) -> Vec<Proc> {
    all_procs()
        .into_iter()
        .filter(|p| p.pgid == pgid && !p.zombie)
        .collect()
}

/// Whether `pid` is gone or a zombie, waiting up to three seconds for it.
pub fn wait_gone(pid: i32) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        if read_proc(pid).is_none_or(|p| p.zombie) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
