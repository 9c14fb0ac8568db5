//! Finds the npm-installed agent CLIs and builds isolated runs of them against the fakes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_bot::drivers::{
    AgentCli, AgentEvent, AgentOutcome, AgentRequest, AgentStream, ClaudeConfig, ClaudeDriver,
    CodexConfig, CodexDriver,
};
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::fake_anthropic::{self, FakeAnthropic};
use super::fake_openai::{self, FakeOpenAi};

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

    /// A request for `prompt` with `image` (written into the workdir) attached.
    pub fn request_with_image(&self, prompt: &str, image: &[u8]) -> AgentRequest {
        let path = self.workdir.join("dot.png");
        std::fs::write(&path, image).expect("write the image");
        AgentRequest {
            images: vec![path],
            ..self.request(prompt)
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

/// One agent CLI under test: its fake model server, a private sandbox and a driver for both.
pub struct Rig<F, D> {
    pub fake: F,
    pub sandbox: Sandbox,
    pub driver: D,
}

/// Claude against a fake Anthropic API answering with `script`.
pub async fn claude(script: Vec<fake_anthropic::Reply>) -> Rig<FakeAnthropic, ClaudeDriver> {
    Rig::new(FakeAnthropic::start(script).await, |fake, sandbox| {
        ClaudeDriver::new(claude_config(fake, sandbox))
    })
}

/// Codex against a fake OpenAI Responses API answering with `script`.
pub async fn codex(script: Vec<fake_openai::Reply>) -> Rig<FakeOpenAi, CodexDriver> {
    Rig::new(FakeOpenAi::start(script).await, |fake, sandbox| {
        CodexDriver::new(codex_config(fake, sandbox))
    })
}

impl<F, D> Rig<F, D> {
    /// `fake` with a new sandbox and the driver `driver` builds for both.
    pub fn new(fake: F, driver: impl FnOnce(&F, &Sandbox) -> D) -> Self {
        let sandbox = Sandbox::new();
        let driver = driver(&fake, &sandbox);
        Rig {
            fake,
            sandbox,
            driver,
        }
    }
}

impl<F, D: AgentCli> Rig<F, D> {
    /// One turn of `prompt` to its end: every event it sent, and its outcome.
    pub async fn turn(&self, prompt: &str) -> (Vec<AgentEvent>, AgentOutcome) {
        turn(&self.driver, self.sandbox.request(prompt)).await
    }
}

/// The events of a turn that completed with `final_text`; panics on any other outcome.
pub fn answered(
    (events, outcome): (Vec<AgentEvent>, AgentOutcome),
    final_text: &str,
) -> Vec<AgentEvent> {
    assert_eq!(
        outcome,
        AgentOutcome::Completed {
            final_text: Some(final_text.into())
        },
        "{events:?}"
    );
    events
}

/// Runs one turn of `cli` to its end: every event it sent, and its outcome.
pub async fn turn(cli: &impl AgentCli, req: AgentRequest) -> (Vec<AgentEvent>, AgentOutcome) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let outcome = cli.run(req, tx, CancellationToken::new()).await;
    let mut events = Vec::new();
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    (events, outcome)
}

/// Like `turn`, receiving events while the run goes on; prints how long the CLI took to name its
/// session and to end.
pub async fn timed_turn<C: AgentCli>(
    cli: &C,
    req: AgentRequest,
) -> (Vec<AgentEvent>, AgentOutcome) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let start = std::time::Instant::now();
    let mut run = std::pin::pin!(cli.run(req, tx, CancellationToken::new()));
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
    println!(
        "one {} turn against the fake took {} ms ({:?} ms of start-up until the session id)",
        C::Stream::AGENT,
        start.elapsed().as_millis(),
        to_session.map(|d| d.as_millis())
    );
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    (events, outcome)
}

/// Runs "remember kiwi" and then "what did I say?" resuming its session, checking that the first
/// turn completed naming one session and that the second named the same; returns the second.
pub async fn resumed_turn(
    cli: &impl AgentCli,
    sandbox: &Sandbox,
) -> (Vec<AgentEvent>, AgentOutcome) {
    let (events, outcome) = turn(cli, sandbox.request("remember kiwi")).await;
    assert!(
        matches!(outcome, AgentOutcome::Completed { .. }),
        "{outcome:?} {events:?}"
    );
    let first = session_ids(&events);
    assert_eq!(first.len(), 1, "{events:?}");

    let mut req = sandbox.request("what did I say?");
    req.resume = Some(first[0].clone());
    let (events, outcome) = turn(cli, req).await;
    assert_eq!(session_ids(&events), first, "{outcome:?}");
    (events, outcome)
}

/// The message of a failed turn, printed; panics on any other outcome.
pub fn failure_message<C: AgentCli>((events, outcome): (Vec<AgentEvent>, AgentOutcome)) -> String {
    let AgentOutcome::Failed { message } = outcome else {
        panic!("expected a failure, got {outcome:?} after {events:?}");
    };
    println!("{} reported: {message}", C::Stream::AGENT);
    message
}

/// Where the first event `wanted` picks stands in `events`; panics naming `what` if none does.
pub fn index_of(events: &[AgentEvent], what: &str, wanted: impl Fn(&AgentEvent) -> bool) -> usize {
    events
        .iter()
        .position(wanted)
        .unwrap_or_else(|| panic!("no {what}: {events:?}"))
}

/// The processes a cancelled tool call left behind, seen while the tool still ran.
pub struct Cancelled {
    /// Everything that ran in the workdir: the CLI and the tool, among others.
    pub procs: Vec<Proc>,
    /// The CLI itself.
    pub cli: Proc,
}

/// Starts a turn whose model runs the long command `marker` as a tool, cancels it once that
/// runs, and checks the run ends as cancelled and every process it started, in its group or out
/// of it, is gone.
pub async fn cancel_during_tool<C>(cli: C, sandbox: &Sandbox, marker: &str) -> Cancelled
where
    C: AgentCli + Send + 'static,
{
    let agent = C::Stream::AGENT;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let req = sandbox.request("start something long");
    let run = tokio::spawn({
        let cancel = cancel.clone();
        async move { cli.run(req, tx, cancel).await }
    });
    let mut seen = Vec::new();
    wait_for(&mut rx, &mut seen, Duration::from_secs(60), |e| {
        matches!(e, AgentEvent::ToolStarted { .. })
    })
    .await;

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let procs = loop {
        let procs = processes_in(&sandbox.workdir);
        if procs.iter().any(|p| p.cmdline.contains(marker)) {
            break procs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the tool never started; processes: {procs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let cli = procs
        .iter()
        .find(|p| p.cmdline.contains(agent))
        .unwrap_or_else(|| panic!("no {agent} process in the workdir: {procs:?}"))
        .clone();

    let started = std::time::Instant::now();
    cancel.cancel();
    let outcome = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("run ends")
        .unwrap();
    println!("{agent} cancel took {} ms", started.elapsed().as_millis());
    assert_eq!(outcome, AgentOutcome::Cancelled);
    for p in &procs {
        assert!(
            wait_gone(p.pid),
            "{} ({}) survived the cancel",
            p.pid,
            p.cmdline.chars().take(80).collect::<String>()
        );
    }
    assert_eq!(live_group_members(cli.pgid), vec![]);
    Cancelled { procs, cli }
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

/// A 1x1 PNG.
pub const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0xc9, 0xfe, 0x92, 0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

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
