//! The command line and the settings, parsed by clap: each setting is a flag and an
//! environment variable; a `.env` file fills in those neither gives.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use super::{ConfigError, EnvFile};

const EXIT_CODES: &str =
    "Exit codes: 0 clean shutdown, 1 runtime failure, 2 bad settings or usage.";

/// `baton`: drive Claude Code and Codex from Telegram.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "baton",
    version,
    about = "baton: drive Claude Code and Codex from Telegram",
    after_help = EXIT_CODES,
    next_line_help = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Read settings from PATH instead of ./.env
    #[arg(long, value_name = "PATH", conflicts_with = "no_env_file")]
    env_file: Option<PathBuf>,
    /// Read settings from the environment only
    #[arg(long)]
    no_env_file: bool,
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    action: Option<Action>,
    /// The arguments as given, to parse again once the env file is read.
    #[arg(skip)]
    args: Vec<OsString>,
    /// Settings the command line or the environment gave; the env file fills in the rest.
    #[arg(skip)]
    given: Vec<String>,
}

/// What `baton` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Action {
    /// Serve Telegram until SIGINT or SIGTERM (the default)
    Serve,
    /// Import the original bot's cron-jobs.json into this state directory's scheduled prompts (safe to run again)
    ImportCron {
        /// The cron-jobs.json file
        file: PathBuf,
    },
    /// Serve the send_file tool over MCP on stdio, for one agent run (Baton starts it; it
    /// reads BATON_SEND_FILE_SOCKET and BATON_SEND_FILE_KEY, and no settings)
    Mcp,
    /// Write the core's journal (from the state dir's database) as JSONL, one entry a
    /// line, for `baton-repro --from-journal`
    ExportJournal {
        /// Write to PATH instead of stdout
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
}

/// Every setting Baton reads. Validated by `Config`, which names the variable in its
/// errors, so each is taken here as given.
#[derive(Debug, Clone, Default, Args)]
#[command(
    next_help_heading = "Settings (flags or environment variables; a .env file fills in those not set)"
)]
pub struct Settings {
    /// Bot token from @BotFather; default: (required)
    #[arg(
        long,
        env = "TELEGRAM_BOT_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub telegram_bot_token: Option<OsString>,
    /// Comma-separated numeric Telegram user ids allowed to use the bot; default: (required)
    #[arg(
        long,
        env = "TELEGRAM_ALLOWED_USERS",
        value_name = "IDS",
        hide_env_values = true
    )]
    pub telegram_allowed_users: Option<OsString>,
    /// Directory the agents work in; must exist; default: current directory
    #[arg(
        long,
        env = "BATON_WORKDIR",
        value_name = "DIR",
        hide_env_values = true
    )]
    pub workdir: Option<OsString>,
    /// Where the database, the instance lock and the send_file socket live; created if missing; default: $XDG_DATA_HOME/baton or ~/.local/share/baton
    #[arg(
        long,
        env = "BATON_STATE_DIR",
        value_name = "DIR",
        hide_env_values = true
    )]
    pub state_dir: Option<OsString>,
    /// Bot API server (for a local Bot API server or a test fake); default: https://api.telegram.org
    #[arg(
        long,
        env = "TELEGRAM_API_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub telegram_api_url: Option<OsString>,
    /// Claude Code executable; must exist at startup; default: claude (looked up on PATH, then in node_modules/.bin)
    #[arg(long, env = "CLAUDE_BIN", value_name = "PATH", hide_env_values = true)]
    pub claude_bin: Option<OsString>,
    /// Codex executable; checked only when a lane uses codex; default: codex (looked up on PATH, then in node_modules/.bin)
    #[arg(long, env = "CODEX_BIN", value_name = "PATH", hide_env_values = true)]
    pub codex_bin: Option<OsString>,
    /// Agent runs allowed at once across all chats (at least 1); default: 1
    #[arg(
        long,
        env = "BATON_MAX_CONCURRENT_RUNS",
        value_name = "N",
        hide_env_values = true
    )]
    pub max_concurrent_runs: Option<OsString>,
    /// Messages that may wait per chat or topic before new ones are refused (at least 1); default: 20
    #[arg(
        long,
        env = "BATON_MAX_QUEUE_PER_LANE",
        value_name = "N",
        hide_env_values = true
    )]
    pub max_queue_per_lane: Option<OsString>,
    /// Seconds without agent output before a run counts as stalled (at least 1); default: 300
    #[arg(
        long,
        env = "BATON_STALL_TIMEOUT_SECS",
        value_name = "SECS",
        hide_env_values = true
    )]
    pub stall_timeout_secs: Option<OsString>,
    /// Least time between two edits of a streaming answer (at least 100); default: 1500
    #[arg(
        long,
        env = "BATON_EDIT_INTERVAL_MS",
        value_name = "MS",
        hide_env_values = true
    )]
    pub edit_interval_ms: Option<OsString>,
    /// A run longer than this sends the end of its answer again as a new message, which notifies (edits never do); default: 30
    #[arg(
        long,
        env = "BATON_NOTIFY_AFTER_SECS",
        value_name = "SECS",
        hide_env_values = true
    )]
    pub notify_after_secs: Option<OsString>,
    /// Seconds a question of the agent (a permission prompt, its own question, a plan) waits for an answer before it is denied and the chat told (at least 1); default: 3600
    #[arg(
        long,
        env = "BATON_ASK_TIMEOUT_SECS",
        value_name = "SECS",
        hide_env_values = true
    )]
    pub ask_timeout_secs: Option<OsString>,
    /// Messages per minute accepted from one user; 0 disables the limit; default: 30
    #[arg(
        long,
        env = "BATON_RATE_LIMIT",
        value_name = "N",
        hide_env_values = true
    )]
    pub rate_limit: Option<OsString>,
    /// claude --permission-mode: default, acceptEdits, auto, plan, dontAsk or bypassPermissions (bypassPermissions needs IS_SANDBOX=1 when running as root); default: (claude's own default)
    #[arg(
        long,
        env = "CLAUDE_PERMISSION_MODE",
        value_name = "MODE",
        hide_env_values = true
    )]
    pub claude_permission_mode: Option<OsString>,
    /// Comma-separated permission modes a user may pick with /mode; bypassPermissions only if listed here; default: default,acceptEdits,plan,auto,dontAsk
    #[arg(
        long,
        env = "CLAUDE_ALLOWED_MODES",
        value_name = "MODES",
        hide_env_values = true
    )]
    pub claude_allowed_modes: Option<OsString>,
    /// Comma-separated claude --allowedTools rules, e.g. Read,Edit,Bash(git status:*); default: (none)
    #[arg(
        long,
        env = "CLAUDE_ALLOWED_TOOLS",
        value_name = "RULES",
        hide_env_values = true
    )]
    pub claude_allowed_tools: Option<OsString>,
    /// codex --sandbox: read-only, workspace-write or danger-full-access; default: workspace-write
    #[arg(
        long,
        env = "CODEX_SANDBOX",
        value_name = "MODE",
        hide_env_values = true
    )]
    pub codex_sandbox: Option<OsString>,
    /// Let codex reach the network inside its workspace-write sandbox (on or off); default: off
    #[arg(
        long,
        env = "CODEX_NETWORK",
        value_name = "ON_OFF",
        hide_env_values = true
    )]
    pub codex_network: Option<OsString>,
    /// When codex asks you before it acts: untrusted (anything not known to be safe), on-request (when it wants out of its sandbox) or never; default: on-request
    #[arg(
        long,
        env = "CODEX_APPROVAL_POLICY",
        value_name = "POLICY",
        hide_env_values = true
    )]
    pub codex_approval_policy: Option<OsString>,
    /// IANA time zone /cron reads times in and shows them in, e.g. Europe/Berlin; default: UTC
    #[arg(long, env = "BATON_TZ", value_name = "ZONE", hide_env_values = true)]
    pub tz: Option<OsString>,
    /// A one-shot /cron job found this many seconds overdue at start-up is reported instead of run; default: 86400
    #[arg(
        long,
        env = "BATON_CRON_GRACE_SECS",
        value_name = "SECS",
        hide_env_values = true
    )]
    pub cron_grace_secs: Option<OsString>,
    /// Agent a new chat starts with: claude or codex; default: claude
    #[arg(
        long,
        env = "BATON_DEFAULT_DRIVER",
        value_name = "DRIVER",
        hide_env_values = true
    )]
    pub default_driver: Option<OsString>,
    /// Base URL of an OpenAI-compatible transcription server for voice notes and audio, with or without a trailing /v1 (https://api.openai.com/v1, http://localhost:8000); default: (unset: voice is off)
    #[arg(
        long,
        env = "BATON_TRANSCRIBE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub transcribe_url: Option<OsString>,
    /// Bearer key sent to the transcription server; default: (none)
    #[arg(
        long,
        env = "BATON_TRANSCRIBE_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub transcribe_key: Option<OsString>,
    /// Transcription model name; default: gpt-4o-transcribe
    #[arg(
        long,
        env = "BATON_TRANSCRIBE_MODEL",
        value_name = "MODEL",
        hide_env_values = true
    )]
    pub transcribe_model: Option<OsString>,
    /// Seconds a transcription may take before it counts as failed (at least 1); default: 120
    #[arg(
        long,
        env = "BATON_TRANSCRIBE_TIMEOUT_SECS",
        value_name = "SECS",
        hide_env_values = true
    )]
    pub transcribe_timeout_secs: Option<OsString>,
    /// Log filter, e.g. info or baton_bot=debug,info; default: info
    #[arg(
        long = "log",
        env = "BATON_LOG",
        value_name = "FILTER",
        hide_env_values = true
    )]
    pub log_filter: Option<OsString>,
}

/// Why parsing gave no `Cli`: text to print before exiting with 0 (`--help`,
/// `--version`), or a usage error (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRun {
    Print(String),
    Usage(ConfigError),
}

impl Cli {
    /// Parses the whole command line, program name first, with the settings the process
    /// environment gives. The env file is read later, by [`Cli::settings_with_env_file`].
    pub fn parse_from(args: impl IntoIterator<Item = OsString>) -> Result<Cli, NotRun> {
        let args: Vec<OsString> = args.into_iter().collect();
        let matches = Cli::command()
            .try_get_matches_from(&args)
            .map_err(not_run)?;
        let mut cli = Cli::from_arg_matches(&matches).map_err(not_run)?;
        cli.given = given(&matches);
        cli.args = args;
        Ok(cli)
    }

    /// Which file fills in settings.
    pub fn env_file(&self) -> EnvFile {
        match (&self.env_file, self.no_env_file) {
            (_, true) => EnvFile::Disabled,
            (Some(path), false) => EnvFile::Path(path.clone()),
            (None, false) => EnvFile::CurrentDir,
        }
    }

    /// The subcommand; `serve` when none is named.
    pub fn action(&self) -> Action {
        self.action.clone().unwrap_or(Action::Serve)
    }

    /// The settings, with what `file_vars` (an env file's NAME=value pairs) holds for
    /// those neither the command line nor the environment gave.
    pub fn settings_with(
        &self,
        file_vars: &HashMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        let command = Cli::command();
        let fill: Vec<OsString> = settings_from(&command, file_vars)
            .into_iter()
            .filter(|(id, _)| !self.given.contains(id))
            .map(|(_, flag)| flag)
            .collect();
        if fill.is_empty() {
            return Ok(self.settings.clone());
        }
        // The fill goes before everything else, so a subcommand still comes last.
        let mut args = self.args.clone();
        let program = if args.is_empty() {
            OsString::from("baton")
        } else {
            args.remove(0)
        };
        let args = std::iter::once(program).chain(fill).chain(args);
        let matches = command.try_get_matches_from(args).map_err(usage)?;
        Settings::from_arg_matches(&matches).map_err(usage)
    }
}

impl Settings {
    /// Settings from `vars` alone (NAME=value, as an env file holds them), through the
    /// same clap definitions, never reading the process environment.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Settings, ConfigError> {
        let command = Settings::augment_args(clap::Command::new("baton"));
        let flags = settings_from(&command, vars)
            .into_iter()
            .map(|(_, flag)| flag);
        let args = std::iter::once(OsString::from("baton")).chain(flags);
        let matches = command
            .mut_args(|arg| arg.env(None))
            .try_get_matches_from(args)
            .map_err(usage)?;
        Settings::from_arg_matches(&matches).map_err(usage)
    }
}

/// Each setting of `command` that `vars` holds, as its id and `--flag=value`.
fn settings_from(
    command: &clap::Command,
    vars: &HashMap<String, String>,
) -> Vec<(String, OsString)> {
    command
        .get_arguments()
        .filter_map(|arg| {
            let name = arg.get_env()?.to_str()?;
            let value = vars.get(name)?;
            let flag = format!("--{}={value}", arg.get_long()?);
            Some((arg.get_id().to_string(), OsString::from(flag)))
        })
        .collect()
}

/// Ids of the arguments the command line or the environment gave.
fn given(matches: &ArgMatches) -> Vec<String> {
    matches
        .ids()
        .filter(|id| {
            matches
                .value_source(id.as_str())
                .is_some_and(|source| source != ValueSource::DefaultValue)
        })
        .map(|id| id.to_string())
        .collect()
}

fn not_run(error: clap::Error) -> NotRun {
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            NotRun::Print(error.render().to_string())
        }
        _ => NotRun::Usage(usage(error)),
    }
}

/// clap's error as one line, like every other error baton prints.
fn usage(error: clap::Error) -> ConfigError {
    let context = |kind| match error.get(kind) {
        Some(ContextValue::String(text)) => Some(text.clone()),
        _ => None,
    };
    let line = match (error.kind(), context(ContextKind::InvalidArg)) {
        (ErrorKind::UnknownArgument, Some(arg)) => format!("unknown argument {arg:?} (try --help)"),
        (ErrorKind::InvalidSubcommand, _) => match context(ContextKind::InvalidSubcommand) {
            Some(name) => format!("unknown command {name:?} (try --help)"),
            None => first_line(&error),
        },
        (ErrorKind::InvalidValue | ErrorKind::NoEquals, Some(arg))
            if context(ContextKind::InvalidValue).is_none_or(|v| v.is_empty()) =>
        {
            // "--env-file <PATH>" -> "--env-file: a path is required"
            match arg.split_once(' ') {
                Some((flag, value)) => format!(
                    "{flag}: a {} is required",
                    value.trim_matches(['<', '>']).to_lowercase()
                ),
                None => format!("{arg}: a value is required"),
            }
        }
        (ErrorKind::MissingRequiredArgument, _) => match error.get(ContextKind::InvalidArg) {
            Some(ContextValue::Strings(args)) if !args.is_empty() => {
                format!("{} is required (try --help)", args.join(", "))
            }
            _ => first_line(&error),
        },
        (ErrorKind::ArgumentConflict, Some(arg)) => match context(ContextKind::PriorArg) {
            Some(prior) => format!("{arg} cannot be used with {prior}"),
            None => first_line(&error),
        },
        _ => first_line(&error),
    };
    ConfigError::Usage(line)
}

fn first_line(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}
