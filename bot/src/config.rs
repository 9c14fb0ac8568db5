//! Baton's settings: read once at startup from the environment and an optional `.env` file.

use baton_core::Driver;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::drivers::CodexSandbox;

use url::Url;

/// One setting: its variable, the default shown by `--help`, and what it means.
pub struct Setting {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

/// Every setting Baton reads, in the order `--help` lists them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "TELEGRAM_BOT_TOKEN",
        default: "(required)",
        meaning: "bot token from @BotFather",
    },
    Setting {
        name: "TELEGRAM_ALLOWED_USERS",
        default: "(required)",
        meaning: "comma-separated numeric Telegram user ids allowed to use the bot",
    },
    Setting {
        name: "BATON_WORKDIR",
        default: "current directory",
        meaning: "directory the agents work in; must exist",
    },
    Setting {
        name: "BATON_STATE_DIR",
        default: "$XDG_DATA_HOME/baton or ~/.local/share/baton",
        meaning: "where the database and the instance lock live; created if missing",
    },
    Setting {
        name: "TELEGRAM_API_URL",
        default: "https://api.telegram.org",
        meaning: "Bot API server (for a local Bot API server or a test fake)",
    },
    Setting {
        name: "CLAUDE_BIN",
        default: "claude (looked up on PATH)",
        meaning: "Claude Code executable; must exist at startup",
    },
    Setting {
        name: "CODEX_BIN",
        default: "codex (looked up on PATH)",
        meaning: "Codex executable; checked only when a lane uses codex",
    },
    Setting {
        name: "BATON_MAX_CONCURRENT_RUNS",
        default: "1",
        meaning: "agent runs allowed at once across all chats (at least 1)",
    },
    Setting {
        name: "BATON_MAX_QUEUE_PER_LANE",
        default: "20",
        meaning: "messages that may wait per chat or topic before new ones are refused (at least 1)",
    },
    Setting {
        name: "BATON_STALL_TIMEOUT_SECS",
        default: "300",
        meaning: "seconds without agent output before a run counts as stalled (at least 1)",
    },
    Setting {
        name: "BATON_EDIT_INTERVAL_MS",
        default: "1500",
        meaning: "least time between two edits of a streaming answer (at least 100)",
    },
    Setting {
        name: "BATON_NOTIFY_AFTER_SECS",
        default: "30",
        meaning: "a run longer than this sends the end of its answer again as a new message, which notifies (edits never do)",
    },
    Setting {
        name: "BATON_RATE_LIMIT",
        default: "30",
        meaning: "messages per minute accepted from one user; 0 disables the limit",
    },
    Setting {
        name: "CLAUDE_PERMISSION_MODE",
        default: "(claude's own default)",
        meaning: "claude --permission-mode: default, acceptEdits, auto, plan, dontAsk or bypassPermissions \
                  (bypassPermissions needs IS_SANDBOX=1 when running as root)",
    },
    Setting {
        name: "CLAUDE_ALLOWED_TOOLS",
        default: "(none)",
        meaning: "comma-separated claude --allowedTools rules, e.g. Read,Edit,Bash(git status:*)",
    },
    Setting {
        name: "CODEX_SANDBOX",
        default: "workspace-write",
        meaning: "codex --sandbox: read-only, workspace-write or danger-full-access",
    },
    Setting {
        name: "CODEX_NETWORK",
        default: "off",
        meaning: "let codex reach the network inside its workspace-write sandbox (on or off)",
    },
    Setting {
        name: "BATON_DEFAULT_DRIVER",
        default: "claude",
        meaning: "agent a new chat starts with: claude or codex",
    },
    Setting {
        name: "BATON_LOG",
        default: "info",
        meaning: "log filter, e.g. info or baton_bot=debug,info",
    },
];

/// What `baton --help` prints.
pub fn help_text() -> String {
    let mut text = String::from(
        "baton: drive Claude Code and Codex from Telegram\n\n\
         usage: baton [--env-file PATH | --no-env-file]\n\n\
         options:\n  \
         --env-file PATH  read settings from PATH instead of ./.env\n  \
         --no-env-file    read settings from the environment only\n  \
         -h, --help       print this help\n  \
         -V, --version    print the version\n\n\
         settings (environment variables; a .env file fills in those not set):\n",
    );
    let width = SETTINGS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for setting in SETTINGS {
        text.push_str(&format!(
            "  {:width$}  {}\n  {:width$}  default: {}\n",
            setting.name, setting.meaning, "", setting.default
        ));
    }
    text.push_str("\nexit codes: 0 clean shutdown, 1 runtime failure, 2 bad settings or usage\n");
    text
}

/// A setting that is missing or malformed, or a `.env` file that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
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

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run { env_file: EnvFile },
    Help,
    Version,
}

impl Command {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, ConfigError> {
        let mut env_file = EnvFile::CurrentDir;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let arg = arg
                .into_string()
                .map_err(|a| ConfigError::Usage(format!("argument {a:?} is not valid utf-8")))?;
            match arg.as_str() {
                "-h" | "--help" => return Ok(Command::Help),
                "-V" | "--version" => return Ok(Command::Version),
                "--env-file" => {
                    let path = args.next().ok_or_else(|| {
                        ConfigError::Usage("--env-file: a path is required".into())
                    })?;
                    env_file = EnvFile::Path(PathBuf::from(path));
                }
                "--no-env-file" => env_file = EnvFile::Disabled,
                other => match other.strip_prefix("--env-file=") {
                    Some(path) if !path.is_empty() => env_file = EnvFile::Path(PathBuf::from(path)),
                    Some(_) => {
                        return Err(ConfigError::Usage("--env-file: a path is required".into()));
                    }
                    None => {
                        return Err(ConfigError::Usage(format!(
                            "unknown argument {other:?} (try --help)"
                        )));
                    }
                },
            }
        }
        Ok(Command::Run { env_file })
    }
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
    /// Messages per minute per user; `None` when the limit is off.
    pub rate_limit_per_minute: Option<u32>,
    pub claude_permission_mode: Option<String>,
    pub claude_allowed_tools: Vec<String>,
    pub codex_sandbox: CodexSandbox,
    pub codex_network: bool,
    pub default_driver: Driver,
    pub log_filter: String,
    codex_bin: String,
    search_path: Option<OsString>,
    base_dir: PathBuf,
}

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
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("claude_permission_mode", &self.claude_permission_mode)
            .field("claude_allowed_tools", &self.claude_allowed_tools)
            .field("codex_sandbox", &self.codex_sandbox)
            .field("codex_network", &self.codex_network)
            .field("default_driver", &self.default_driver)
            .field("log_filter", &self.log_filter)
            .finish()
    }
}

impl Config {
    /// Reads the process environment, filled in by `./.env` when that file exists.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::load(&EnvFile::CurrentDir)
    }

    /// Reads the process environment, filled in by `env_file`. Variables already set in
    /// the environment win.
    pub fn load(env_file: &EnvFile) -> Result<Config, ConfigError> {
        let file_vars = match env_file {
            EnvFile::Path(path) => read_env_file(path)?,
            EnvFile::CurrentDir if Path::new(".env").exists() => read_env_file(Path::new(".env"))?,
            EnvFile::CurrentDir | EnvFile::Disabled => HashMap::new(),
        };
        let mut process_vars = Vec::new();
        for (name, value) in std::env::vars_os() {
            match (name.into_string(), value.into_string()) {
                (Ok(name), Ok(value)) => process_vars.push((name, value)),
                (Ok(name), Err(_)) => {
                    if let Some(setting) = SETTINGS.iter().find(|s| s.name == name) {
                        return Err(ConfigError::setting(setting.name, "is not valid utf-8"));
                    }
                }
                (Err(_), _) => {}
            }
        }
        let base_dir = std::env::current_dir().map_err(|e| {
            ConfigError::setting(
                "BATON_WORKDIR",
                format!("current directory unreadable: {e}"),
            )
        })?;
        Config::from_map(&merge_env(file_vars, process_vars), &base_dir)
    }

    /// Validates settings from `vars` alone. Relative paths resolve against `base_dir`;
    /// `PATH`, `HOME` and `XDG_DATA_HOME` are taken from `vars` too.
    pub fn from_map(
        vars: &HashMap<String, String>,
        base_dir: &Path,
    ) -> Result<Config, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let search_path = vars.get("PATH").map(OsString::from);

        let telegram_token = get("TELEGRAM_BOT_TOKEN")
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

        let allowed_users = parse_users(get("TELEGRAM_ALLOWED_USERS"))?;

        let workdir = match get("BATON_WORKDIR") {
            Some(dir) => base_dir.join(dir),
            None => base_dir.to_path_buf(),
        };
        let workdir = existing_dir("BATON_WORKDIR", &workdir)?;

        let state_dir = match get("BATON_STATE_DIR") {
            Some(dir) => base_dir.join(dir),
            None => default_state_dir(vars)?,
        };
        if state_dir.exists() && !state_dir.is_dir() {
            return Err(ConfigError::setting(
                "BATON_STATE_DIR",
                format!("{} is not a directory", state_dir.display()),
            ));
        }

        let telegram_api_url = get("TELEGRAM_API_URL")
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

        let claude_bin = find_executable(
            get("CLAUDE_BIN").unwrap_or("claude"),
            search_path.as_deref(),
            base_dir,
        )
        .map_err(|problem| ConfigError::setting("CLAUDE_BIN", problem))?;
        let codex_bin = get("CODEX_BIN").unwrap_or("codex").to_string();

        let max_concurrent_runs = parse_number(
            get("BATON_MAX_CONCURRENT_RUNS"),
            1,
            1,
            "BATON_MAX_CONCURRENT_RUNS",
        )?;
        let max_queue_per_lane = parse_number(
            get("BATON_MAX_QUEUE_PER_LANE"),
            20,
            1,
            "BATON_MAX_QUEUE_PER_LANE",
        )?;
        let stall_secs = parse_number(
            get("BATON_STALL_TIMEOUT_SECS"),
            300,
            1,
            "BATON_STALL_TIMEOUT_SECS",
        )?;
        let edit_ms = parse_number(
            get("BATON_EDIT_INTERVAL_MS"),
            1500,
            100,
            "BATON_EDIT_INTERVAL_MS",
        )?;
        let notify_after_secs = parse_number(
            get("BATON_NOTIFY_AFTER_SECS"),
            30,
            0,
            "BATON_NOTIFY_AFTER_SECS",
        )?;
        let rate_limit = parse_number(get("BATON_RATE_LIMIT"), 30, 0, "BATON_RATE_LIMIT")?;
        let rate_limit_per_minute = (rate_limit > 0)
            .then(|| u32::try_from(rate_limit))
            .transpose()
            .map_err(|_| {
                ConfigError::setting("BATON_RATE_LIMIT", format!("{rate_limit} is too large"))
            })?;

        let claude_permission_mode = get("CLAUDE_PERMISSION_MODE")
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
        let claude_allowed_tools = get("CLAUDE_ALLOWED_TOOLS")
            .map(|tools| {
                tools
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();

        let codex_sandbox = match get("CODEX_SANDBOX").unwrap_or("workspace-write") {
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
        let codex_network = match get("CODEX_NETWORK").map(str::to_ascii_lowercase).as_deref() {
            None | Some("off" | "false" | "0" | "no") => false,
            Some("on" | "true" | "1" | "yes") => true,
            Some(other) => {
                return Err(ConfigError::setting(
                    "CODEX_NETWORK",
                    format!("{other:?} is not on or off"),
                ));
            }
        };
        let default_driver = match get("BATON_DEFAULT_DRIVER").unwrap_or("claude") {
            "claude" => Driver::Claude,
            "codex" => Driver::Codex,
            other => {
                return Err(ConfigError::setting(
                    "BATON_DEFAULT_DRIVER",
                    format!("{other:?} is not claude or codex"),
                ));
            }
        };
        let log_filter = get("BATON_LOG").unwrap_or("info").to_string();

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
            rate_limit_per_minute,
            claude_permission_mode,
            claude_allowed_tools,
            codex_sandbox,
            codex_network,
            default_driver,
            log_filter,
            codex_bin,
            search_path,
            base_dir: base_dir.to_path_buf(),
        })
    }

    /// Locates the codex executable. Asked only when a lane uses codex, so a machine
    /// without codex still runs claude lanes.
    pub fn codex_bin(&self) -> Result<PathBuf, ConfigError> {
        find_executable(&self.codex_bin, self.search_path.as_deref(), &self.base_dir)
            .map_err(|problem| ConfigError::setting("CODEX_BIN", problem))
    }

    /// Whether `user_id` may use the bot.
    pub fn is_allowed(&self, user_id: u64) -> bool {
        self.allowed_users.contains(&user_id)
    }
}

/// Process variables win over the file's.
fn merge_env(
    file_vars: HashMap<String, String>,
    process_vars: impl IntoIterator<Item = (String, String)>,
) -> HashMap<String, String> {
    let mut vars = file_vars;
    vars.extend(process_vars);
    vars
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

fn default_state_dir(vars: &HashMap<String, String>) -> Result<PathBuf, ConfigError> {
    // XDG says relative values are invalid and must be ignored.
    let absolute = |name: &str| {
        vars.get(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(data_home) = absolute("XDG_DATA_HOME") {
        return Ok(data_home.join("baton"));
    }
    if let Some(home) = absolute("HOME") {
        return Ok(home.join(".local/share/baton"));
    }
    Err(ConfigError::setting(
        "BATON_STATE_DIR",
        "is not set and neither XDG_DATA_HOME nor HOME gives a default",
    ))
}

/// Resolves `program` like a shell would: a value with a '/' is a path, anything else is
/// looked up on `search_path`. The problem string names what was looked for.
fn find_executable(
    program: &str,
    search_path: Option<&std::ffi::OsStr>,
    base_dir: &Path,
) -> Result<PathBuf, String> {
    if program.contains('/') {
        let path = base_dir.join(program);
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
    let dirs = search_path.map(std::env::split_paths).into_iter().flatten();
    for dir in dirs {
        let candidate = base_dir.join(dir).join(program);
        if let Ok(meta) = std::fs::metadata(&candidate)
            && meta.is_file()
            && is_executable(&meta)
        {
            return Ok(candidate);
        }
    }
    Err(format!("{program:?} was not found on PATH"))
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
