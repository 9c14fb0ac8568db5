//! Baton's settings: read once at startup from the environment and an optional `.env` file.

use baton_core::Driver;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::drivers::CodexSandbox;

use url::Url;

mod cli;

pub use cli::{Action, Cli, NotRun, Settings};

/// A setting that is missing or malformed, or a `.env` file that cannot be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name}: {problem}")]
    Setting { name: &'static str, problem: String },
    #[error("env file {path}: {problem}")]
    EnvFile { path: PathBuf, problem: String },
    #[error("{0}")]
    Usage(String),
}

impl ConfigError {
    fn setting(name: &'static str, problem: impl Into<String>) -> Self {
        ConfigError::Setting {
            name,
            problem: problem.into(),
        }
    }
}

/// Which file fills in settings the environment lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvFile {
    /// `./.env`, if it exists.
    CurrentDir,
    /// This file, which must exist.
    Path(PathBuf),
    /// None: the environment only (e.g. under systemd, whose EnvironmentFile already
    /// applied, and where the working directory may be writable by the agents).
    Disabled,
}

/// Values `claude --permission-mode` accepts.
pub const CLAUDE_PERMISSION_MODES: &[&str] = &[
    "default",
    "acceptEdits",
    "auto",
    "plan",
    "dontAsk",
    "bypassPermissions",
];

/// What `/mode` offers unless the operator says otherwise: every mode but
/// the one that turns all checks off.
const DEFAULT_ALLOWED_MODES: &[&str] = &["default", "acceptEdits", "plan", "auto", "dontAsk"];
/// An OpenAI-compatible transcription endpoint.
#[derive(Clone)]
pub struct Transcribe {
    /// The full `.../v1/audio/transcriptions` URL.
    pub endpoint: Url,
    pub key: Option<String>,
    pub model: String,
    pub timeout: Duration,
}

impl fmt::Debug for Transcribe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transcribe")
            .field("endpoint", &self.endpoint.as_str())
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The transcription endpoint under `base`, which may or may not end in `/v1`.
pub fn transcription_endpoint(base: &Url) -> Url {
    let mut url = base.clone();
    let path = url.path().trim_end_matches('/').to_owned();
    let path = path.strip_suffix("/v1").unwrap_or(&path);
    url.set_path(&format!("{path}/v1/audio/transcriptions"));
    url
}

fn transcribe_settings(settings: &Settings) -> Result<Option<Transcribe>, ConfigError> {
    let Some(raw) =
        get(&settings.transcribe_url, "BATON_TRANSCRIBE_URL")?.filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    let base = Url::parse(raw).map_err(|e| {
        ConfigError::setting("BATON_TRANSCRIBE_URL", format!("{raw:?} is not a url: {e}"))
    })?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(ConfigError::setting(
            "BATON_TRANSCRIBE_URL",
            format!("{raw:?} is not an http or https url"),
        ));
    }
    let key = get(&settings.transcribe_key, "BATON_TRANSCRIBE_KEY")?
        .filter(|key| !key.is_empty())
        .map(str::to_owned);
    let model = get(&settings.transcribe_model, "BATON_TRANSCRIBE_MODEL")?
        .filter(|model| !model.is_empty())
        .unwrap_or("gpt-4o-transcribe")
        .to_owned();
    let timeout_secs = parse_number(
        get(
            &settings.transcribe_timeout_secs,
            "BATON_TRANSCRIBE_TIMEOUT_SECS",
        )?,
        120,
        1,
        "BATON_TRANSCRIBE_TIMEOUT_SECS",
    )?;
    Ok(Some(Transcribe {
        endpoint: transcription_endpoint(&base),
        key,
        model,
        timeout: Duration::from_secs(timeout_secs as u64),
    }))
}

/// Every setting, validated.
#[derive(Clone)]
pub struct Config {
    pub telegram_token: String,
    pub allowed_users: Vec<u64>,
    pub workdir: PathBuf,
    pub state_dir: PathBuf,
    pub telegram_api_url: Option<Url>,
    pub claude_bin: PathBuf,
    pub max_concurrent_runs: usize,
    pub max_queue_per_lane: usize,
    pub stall_timeout: Duration,
    pub edit_interval: Duration,
    /// Runs longer than this deliver their final answer as new, notifying messages.
    pub notify_after: Duration,
    /// An unanswered question of the agent is denied after this long.
    pub ask_timeout: Duration,
    /// Messages per minute per user; `None` when the limit is off.
    pub rate_limit_per_minute: Option<u32>,
    pub claude_permission_mode: Option<String>,
    /// The permission modes a user may pick with `/mode`.
    pub claude_allowed_modes: Vec<String>,
    pub claude_allowed_tools: Vec<String>,
    pub codex_sandbox: CodexSandbox,
    pub codex_network: bool,
    /// codex's `approval_policy`: `untrusted`, `on-request` or `never`.
    pub codex_approval_policy: String,
    pub default_driver: Driver,
    /// The zone `/cron` reads and shows times in.
    pub tz: chrono_tz::Tz,
    /// A one-shot job overdue by more than this is reported, not run.
    pub cron_grace: Duration,
    pub log_filter: String,
    /// Where voice notes and audio are transcribed; `None` when voice is off.
    pub transcribe: Option<Transcribe>,
    codex_bin: String,
    search: Search,
}

/// What the process environment says beyond Baton's own settings.
struct Ambient {
    path: Option<OsString>,
    home: Option<PathBuf>,
    xdg_data_home: Option<PathBuf>,
    /// The directory of the running executable, whose project may hold the agent CLIs.
    exe_dir: Option<PathBuf>,
}

/// Where an agent CLI named without a '/' is looked for.
#[derive(Debug, Clone)]
struct Search {
    path: Option<OsString>,
    /// The directory relative paths resolve against (the current directory).
    base_dir: PathBuf,
    exe_dir: Option<PathBuf>,
}

/// How to install each agent CLI, for the error that says it is missing.
const CLAUDE_INSTALL: &str = "npm install -g @anthropic-ai/claude-code";
const CODEX_INSTALL: &str = "npm install -g @openai/codex";

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("telegram_token", &"<redacted>")
            .field("allowed_users", &self.allowed_users)
            .field("workdir", &self.workdir)
            .field("state_dir", &self.state_dir)
            .field("telegram_api_url", &self.telegram_api_url)
            .field("claude_bin", &self.claude_bin)
            .field("codex_bin", &self.codex_bin)
            .field("max_concurrent_runs", &self.max_concurrent_runs)
            .field("max_queue_per_lane", &self.max_queue_per_lane)
            .field("stall_timeout", &self.stall_timeout)
            .field("edit_interval", &self.edit_interval)
            .field("notify_after", &self.notify_after)
            .field("ask_timeout", &self.ask_timeout)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("claude_permission_mode", &self.claude_permission_mode)
            .field("claude_allowed_modes", &self.claude_allowed_modes)
            .field("claude_allowed_tools", &self.claude_allowed_tools)
            .field("codex_sandbox", &self.codex_sandbox)
            .field("codex_network", &self.codex_network)
            .field("codex_approval_policy", &self.codex_approval_policy)
            .field("default_driver", &self.default_driver)
            .field("tz", &self.tz)
            .field("cron_grace", &self.cron_grace)
            .field("log_filter", &self.log_filter)
            .field("transcribe", &self.transcribe)
            .finish()
    }
}

impl Config {
    /// Settings from the command line, the process environment, and then the env file
    /// the command line names, validated. Relative paths resolve against the current
    /// directory.
    pub fn from_cli(cli: &Cli) -> Result<Config, ConfigError> {
        let (settings, ambient, base_dir) = Config::inputs(cli)?;
        Config::from_settings(&settings, &ambient, &base_dir)
    }

    /// The state dir alone, found as [`Config::from_cli`] finds it, for commands that
    /// only read the state (`export-journal`): no token or agent CLI needed.
    pub fn state_dir_from_cli(cli: &Cli) -> Result<PathBuf, ConfigError> {
        let (settings, ambient, base_dir) = Config::inputs(cli)?;
        state_dir(&settings, &ambient, &base_dir)
    }

    /// The settings (command line, environment, env file) and what the process runs in.
    fn inputs(cli: &Cli) -> Result<(Settings, Ambient, PathBuf), ConfigError> {
        let file_vars = match cli.env_file() {
            EnvFile::Path(path) => read_env_file(&path)?,
            EnvFile::CurrentDir if Path::new(".env").exists() => read_env_file(Path::new(".env"))?,
            EnvFile::CurrentDir | EnvFile::Disabled => HashMap::new(),
        };
        let settings = cli.settings_with(&file_vars)?;
        let base_dir = std::env::current_dir().map_err(|e| {
            ConfigError::setting(
                "BATON_WORKDIR",
                format!("current directory unreadable: {e}"),
            )
        })?;
        let ambient = Ambient {
            path: std::env::var_os("PATH"),
            home: std::env::var_os("HOME").map(PathBuf::from),
            xdg_data_home: std::env::var_os("XDG_DATA_HOME").map(PathBuf::from),
            exe_dir: std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(Path::to_path_buf)),
        };
        Ok((settings, ambient, base_dir))
    }

    /// Validates settings from `vars` alone. Relative paths resolve against `base_dir`;
    /// `PATH`, `HOME` and `XDG_DATA_HOME` are taken from `vars` too.
    pub fn from_map(
        vars: &HashMap<String, String>,
        base_dir: &Path,
    ) -> Result<Config, ConfigError> {
        let ambient = Ambient {
            path: vars.get("PATH").map(OsString::from),
            home: vars.get("HOME").map(PathBuf::from),
            xdg_data_home: vars.get("XDG_DATA_HOME").map(PathBuf::from),
            exe_dir: None,
        };
        Config::from_settings(&Settings::from_vars(vars)?, &ambient, base_dir)
    }

    /// Validates `settings`; errors name the setting's variable.
    fn from_settings(
        settings: &Settings,
        ambient: &Ambient,
        base_dir: &Path,
    ) -> Result<Config, ConfigError> {
        let telegram_token = get(&settings.telegram_bot_token, "TELEGRAM_BOT_TOKEN")?
            .ok_or_else(|| ConfigError::setting("TELEGRAM_BOT_TOKEN", "is not set"))?
            .to_string();
        if telegram_token
            .chars()
            .any(|c| c.is_whitespace() || c == '/')
        {
            return Err(ConfigError::setting(
                "TELEGRAM_BOT_TOKEN",
                "contains whitespace or '/', which a bot token never has",
            ));
        }

        let allowed_users = parse_users(get(
            &settings.telegram_allowed_users,
            "TELEGRAM_ALLOWED_USERS",
        )?)?;

        let workdir = match get(&settings.workdir, "BATON_WORKDIR")? {
            Some(dir) => base_dir.join(dir),
            None => base_dir.to_path_buf(),
        };
        let workdir = existing_dir("BATON_WORKDIR", &workdir)?;

        let state_dir = state_dir(settings, ambient, base_dir)?;

        let telegram_api_url = get(&settings.telegram_api_url, "TELEGRAM_API_URL")?
            .map(|raw| {
                let url = Url::parse(raw).map_err(|e| {
                    ConfigError::setting("TELEGRAM_API_URL", format!("{raw:?} is not a url: {e}"))
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(ConfigError::setting(
                        "TELEGRAM_API_URL",
                        format!("{raw:?} is not an http or https url"),
                    ));
                }
                Ok(url)
            })
            .transpose()?;

        let search = Search {
            path: ambient.path.clone(),
            base_dir: base_dir.to_path_buf(),
            exe_dir: ambient.exe_dir.clone(),
        };
        let claude_bin = find_executable(
            get(&settings.claude_bin, "CLAUDE_BIN")?.unwrap_or("claude"),
            &search,
            CLAUDE_INSTALL,
        )
        .map_err(|problem| ConfigError::setting("CLAUDE_BIN", problem))?;
        let codex_bin = get(&settings.codex_bin, "CODEX_BIN")?
            .unwrap_or("codex")
            .to_string();

        let max_concurrent_runs = parse_number(
            get(&settings.max_concurrent_runs, "BATON_MAX_CONCURRENT_RUNS")?,
            1,
            1,
            "BATON_MAX_CONCURRENT_RUNS",
        )?;
        let max_queue_per_lane = parse_number(
            get(&settings.max_queue_per_lane, "BATON_MAX_QUEUE_PER_LANE")?,
            20,
            1,
            "BATON_MAX_QUEUE_PER_LANE",
        )?;
        let stall_secs = parse_number(
            get(&settings.stall_timeout_secs, "BATON_STALL_TIMEOUT_SECS")?,
            300,
            1,
            "BATON_STALL_TIMEOUT_SECS",
        )?;
        let edit_ms = parse_number(
            get(&settings.edit_interval_ms, "BATON_EDIT_INTERVAL_MS")?,
            1500,
            100,
            "BATON_EDIT_INTERVAL_MS",
        )?;
        let notify_after_secs = parse_number(
            get(&settings.notify_after_secs, "BATON_NOTIFY_AFTER_SECS")?,
            30,
            0,
            "BATON_NOTIFY_AFTER_SECS",
        )?;
        let ask_timeout_secs = parse_number(
            get(&settings.ask_timeout_secs, "BATON_ASK_TIMEOUT_SECS")?,
            3600,
            1,
            "BATON_ASK_TIMEOUT_SECS",
        )?;
        let rate_limit = parse_number(
            get(&settings.rate_limit, "BATON_RATE_LIMIT")?,
            30,
            0,
            "BATON_RATE_LIMIT",
        )?;
        let rate_limit_per_minute = (rate_limit > 0)
            .then(|| u32::try_from(rate_limit))
            .transpose()
            .map_err(|_| {
                ConfigError::setting("BATON_RATE_LIMIT", format!("{rate_limit} is too large"))
            })?;

        let claude_permission_mode =
            get(&settings.claude_permission_mode, "CLAUDE_PERMISSION_MODE")?
                .map(
                    |mode| match CLAUDE_PERMISSION_MODES.iter().find(|m| **m == mode) {
                        Some(m) => Ok(m.to_string()),
                        None => Err(ConfigError::setting(
                            "CLAUDE_PERMISSION_MODE",
                            format!(
                                "{mode:?} is not one of {}",
                                CLAUDE_PERMISSION_MODES.join(", ")
                            ),
                        )),
                    },
                )
                .transpose()?;
        let claude_allowed_modes =
            match get(&settings.claude_allowed_modes, "CLAUDE_ALLOWED_MODES")? {
                None => DEFAULT_ALLOWED_MODES
                    .iter()
                    .map(|m| m.to_string())
                    .collect(),
                Some(list) => list
                    .split(',')
                    .map(str::trim)
                    .filter(|mode| !mode.is_empty())
                    .map(
                        |mode| match CLAUDE_PERMISSION_MODES.iter().find(|m| **m == mode) {
                            Some(m) => Ok(m.to_string()),
                            None => Err(ConfigError::setting(
                                "CLAUDE_ALLOWED_MODES",
                                format!(
                                    "{mode:?} is not one of {}",
                                    CLAUDE_PERMISSION_MODES.join(", ")
                                ),
                            )),
                        },
                    )
                    .collect::<Result<Vec<_>, _>>()?,
            };
        let claude_allowed_tools = get(&settings.claude_allowed_tools, "CLAUDE_ALLOWED_TOOLS")?
            .map(|tools| {
                tools
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();

        let codex_sandbox =
            match get(&settings.codex_sandbox, "CODEX_SANDBOX")?.unwrap_or("workspace-write") {
                "read-only" => CodexSandbox::ReadOnly,
                "workspace-write" => CodexSandbox::WorkspaceWrite,
                "danger-full-access" => CodexSandbox::DangerFullAccess,
                other => {
                    return Err(ConfigError::setting(
                        "CODEX_SANDBOX",
                        format!(
                            "{other:?} is not one of read-only, workspace-write, danger-full-access"
                        ),
                    ));
                }
            };
        let codex_network = match get(&settings.codex_network, "CODEX_NETWORK")?
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("off" | "false" | "0" | "no") => false,
            Some("on" | "true" | "1" | "yes") => true,
            Some(other) => {
                return Err(ConfigError::setting(
                    "CODEX_NETWORK",
                    format!("{other:?} is not on or off"),
                ));
            }
        };
        let codex_approval_policy =
            match get(&settings.codex_approval_policy, "CODEX_APPROVAL_POLICY")?
                .unwrap_or("on-request")
            {
                policy @ ("untrusted" | "on-request" | "never") => policy.to_owned(),
                other => {
                    return Err(ConfigError::setting(
                        "CODEX_APPROVAL_POLICY",
                        format!("{other:?} is not one of untrusted, on-request, never"),
                    ));
                }
            };
        let default_driver =
            match get(&settings.default_driver, "BATON_DEFAULT_DRIVER")?.unwrap_or("claude") {
                "claude" => Driver::Claude,
                "codex" => Driver::Codex,
                other => {
                    return Err(ConfigError::setting(
                        "BATON_DEFAULT_DRIVER",
                        format!("{other:?} is not claude or codex"),
                    ));
                }
            };
        let tz =
            crate::cron::schedule::parse_time_zone(get(&settings.tz, "BATON_TZ")?.unwrap_or("UTC"))
                .map_err(|error| ConfigError::setting("BATON_TZ", error.to_string()))?;
        let cron_grace_secs = parse_number(
            get(&settings.cron_grace_secs, "BATON_CRON_GRACE_SECS")?,
            86_400,
            0,
            "BATON_CRON_GRACE_SECS",
        )?;
        let log_filter = get(&settings.log_filter, "BATON_LOG")?
            .unwrap_or("info")
            .to_string();

        let transcribe = transcribe_settings(settings)?;

        Ok(Config {
            telegram_token,
            allowed_users,
            workdir,
            state_dir,
            telegram_api_url,
            claude_bin,
            max_concurrent_runs,
            max_queue_per_lane,
            stall_timeout: Duration::from_secs(stall_secs as u64),
            edit_interval: Duration::from_millis(edit_ms as u64),
            notify_after: Duration::from_secs(notify_after_secs as u64),
            ask_timeout: Duration::from_secs(ask_timeout_secs as u64),
            rate_limit_per_minute,
            claude_permission_mode,
            claude_allowed_modes,
            claude_allowed_tools,
            codex_sandbox,
            codex_network,
            codex_approval_policy,
            default_driver,
            tz,
            cron_grace: Duration::from_secs(cron_grace_secs as u64),
            log_filter,
            transcribe,
            codex_bin,
            search,
        })
    }

    /// Locates the codex executable. Asked only when a lane uses codex, so a machine
    /// without codex still runs claude lanes.
    pub fn codex_bin(&self) -> Result<PathBuf, ConfigError> {
        find_executable(&self.codex_bin, &self.search, CODEX_INSTALL)
            .map_err(|problem| ConfigError::setting("CODEX_BIN", problem))
    }

    /// Whether `user_id` may use the bot.
    pub fn is_allowed(&self, user_id: u64) -> bool {
        is_allowed(&self.allowed_users, user_id)
    }
}

/// Whether `user_id` is among `allowed_users`: the one place the bot decides who may use it.
pub fn is_allowed(allowed_users: &[u64], user_id: u64) -> bool {
    allowed_users.contains(&user_id)
}

/// A setting's value as given, trimmed; `None` when absent or blank.
fn get<'a>(
    value: &'a Option<OsString>,
    name: &'static str,
) -> Result<Option<&'a str>, ConfigError> {
    match value {
        None => Ok(None),
        Some(raw) => {
            let text = raw
                .to_str()
                .ok_or_else(|| ConfigError::setting(name, "is not valid utf-8"))?;
            Ok(Some(text.trim()).filter(|v| !v.is_empty()))
        }
    }
}

fn read_env_file(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let env_error = |problem: String| ConfigError::EnvFile {
        path: path.to_path_buf(),
        problem,
    };
    let iter = dotenvy::from_path_iter(path).map_err(|e| env_error(describe_dotenv(e)))?;
    iter.map(|item| item.map_err(|e| env_error(describe_dotenv(e))))
        .collect()
}

fn describe_dotenv(error: dotenvy::Error) -> String {
    match error {
        dotenvy::Error::Io(e) => lowercase_first(&e.to_string()),
        dotenvy::Error::LineParse(line, index) => {
            format!("cannot parse {line:?} at character {index}")
        }
        other => lowercase_first(&other.to_string()),
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn parse_users(raw: Option<&str>) -> Result<Vec<u64>, ConfigError> {
    const NAME: &str = "TELEGRAM_ALLOWED_USERS";
    let raw = raw.ok_or_else(|| ConfigError::setting(NAME, "is not set"))?;
    let mut users = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let id: u64 = part.parse().ok().filter(|id| *id > 0).ok_or_else(|| {
            ConfigError::setting(NAME, format!("{part:?} is not a numeric user id"))
        })?;
        if !users.contains(&id) {
            users.push(id);
        }
    }
    if users.is_empty() {
        return Err(ConfigError::setting(NAME, "lists no user id"));
    }
    Ok(users)
}

fn parse_number(
    raw: Option<&str>,
    default: usize,
    min: usize,
    name: &'static str,
) -> Result<usize, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    let value: usize = raw
        .parse()
        .map_err(|_| ConfigError::setting(name, format!("{raw:?} is not a whole number")))?;
    if value < min {
        return Err(ConfigError::setting(
            name,
            format!("{value} is below the minimum of {min}"),
        ));
    }
    Ok(value)
}

fn existing_dir(name: &'static str, dir: &Path) -> Result<PathBuf, ConfigError> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => std::fs::canonicalize(dir)
            .map_err(|e| ConfigError::setting(name, format!("{}: {e}", dir.display()))),
        Ok(_) => Err(ConfigError::setting(
            name,
            format!("{} is not a directory", dir.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ConfigError::setting(
            name,
            format!("{} does not exist", dir.display()),
        )),
        Err(e) => Err(ConfigError::setting(
            name,
            format!("{}: {e}", dir.display()),
        )),
    }
}

/// `BATON_STATE_DIR` resolved against `base_dir`, or the XDG default; refused when it
/// names something that is not a directory.
fn state_dir(
    settings: &Settings,
    ambient: &Ambient,
    base_dir: &Path,
) -> Result<PathBuf, ConfigError> {
    let state_dir = match get(&settings.state_dir, "BATON_STATE_DIR")? {
        Some(dir) => base_dir.join(dir),
        None => default_state_dir(ambient)?,
    };
    if state_dir.exists() && !state_dir.is_dir() {
        return Err(ConfigError::setting(
            "BATON_STATE_DIR",
            format!("{} is not a directory", state_dir.display()),
        ));
    }
    Ok(state_dir)
}

fn default_state_dir(ambient: &Ambient) -> Result<PathBuf, ConfigError> {
    // XDG says relative values are invalid and must be ignored.
    let absolute = |dir: &Option<PathBuf>| dir.clone().filter(|p| p.is_absolute());
    if let Some(data_home) = absolute(&ambient.xdg_data_home) {
        return Ok(data_home.join("baton"));
    }
    if let Some(home) = absolute(&ambient.home) {
        return Ok(home.join(".local/share/baton"));
    }
    Err(ConfigError::setting(
        "BATON_STATE_DIR",
        "is not set and neither XDG_DATA_HOME nor HOME gives a default",
    ))
}

/// How far above the executable's directory a project's `node_modules` is looked for:
/// `target/release/baton` sits two levels below its workspace.
const EXE_PROJECT_DEPTH: usize = 3;

/// Resolves `program` like a shell would: a value with a '/' is a path, anything else is
/// looked up on `PATH`, then in the `node_modules/.bin` of the current directory and of
/// the executable's project (where `scripts/install-agents.sh` puts the CLIs). The
/// problem string names what was looked for and, for a missing CLI, how to install it.
fn find_executable(program: &str, search: &Search, install: &str) -> Result<PathBuf, String> {
    if program.contains('/') {
        let path = search.base_dir.join(program);
        return match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() && is_executable(&meta) => Ok(path),
            Ok(meta) if meta.is_file() => Err(format!("{} is not executable", path.display())),
            Ok(_) => Err(format!("{} is not a file", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(format!("{} does not exist", path.display()))
            }
            Err(e) => Err(format!("{}: {e}", path.display())),
        };
    }
    let on_path = search
        .path
        .as_deref()
        .map(std::env::split_paths)
        .into_iter()
        .flatten()
        .map(|dir| search.base_dir.join(dir));
    let projects = std::iter::once(search.base_dir.clone()).chain(
        search
            .exe_dir
            .iter()
            .flat_map(|dir| dir.ancestors().take(EXE_PROJECT_DEPTH))
            .map(Path::to_path_buf),
    );
    let installed = projects.map(|dir| dir.join("node_modules/.bin"));
    for dir in on_path.chain(installed) {
        let candidate = dir.join(program);
        if let Ok(meta) = std::fs::metadata(&candidate)
            && meta.is_file()
            && is_executable(&meta)
        {
            return Ok(candidate);
        }
    }
    Err(format!(
        "{program:?} was not found on PATH or in node_modules/.bin; \
         install it with scripts/install-agents.sh or {install}"
    ))
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    true
}

#[cfg(test)]
mod tests;
