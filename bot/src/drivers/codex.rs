//! Codex driver: runs `codex exec --json` and turns its thread/turn/item lines into events.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::detail::{DETAIL_CHARS, clip};
use super::process::{ExitReport, Launch};
use super::stream::{self, AgentCli, AgentStream, SessionId, Verdict};
use super::{AgentEvent, AgentRequest, Driver, ToolServer};

/// Where codex lets model-generated commands write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodexSandbox {
    ReadOnly,
    /// The working directory (and temp dirs) only.
    #[default]
    WorkspaceWrite,
    DangerFullAccess,
}

impl CodexSandbox {
    pub fn flag_value(self) -> &'static str {
        match self {
            CodexSandbox::ReadOnly => "read-only",
            CodexSandbox::WorkspaceWrite => "workspace-write",
            CodexSandbox::DangerFullAccess => "danger-full-access",
        }
    }
}

/// How to run the codex CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodexConfig {
    /// Path of the `codex` executable.
    pub bin: PathBuf,
    pub sandbox: CodexSandbox,
    /// `approval_policy`; "never" is the only one a headless run can honour (nobody can approve).
    pub approval_policy: String,
    /// Whether sandboxed commands may reach the network (workspace-write only).
    pub network_access: bool,
    /// `CODEX_HOME` for the runs (sessions and config live there); inherited when `None`.
    pub codex_home: Option<PathBuf>,
    /// Extra `-c key=value` overrides, e.g. a model provider.
    pub config_overrides: Vec<String>,
    /// Added to the inherited environment of every run.
    pub extra_env: Vec<(String, String)>,
    /// No output for this long kills the run as stalled.
    pub stall_timeout: Duration,
}

impl CodexConfig {
    /// Least privilege: workspace-write sandbox, no network, never ask for approval.
    pub fn new(bin: PathBuf) -> Self {
        Self {
            bin,
            sandbox: CodexSandbox::WorkspaceWrite,
            approval_policy: "never".into(),
            network_access: false,
            codex_home: None,
            config_overrides: Vec::new(),
            extra_env: Vec::new(),
            stall_timeout: Duration::from_secs(600),
        }
    }
}

/// A TOML string literal, for `-c key="value"`.
fn toml_string(value: &str) -> String {
    // A JSON string is a valid TOML basic string for everything serde_json escapes.
    serde_json::Value::String(value.to_owned()).to_string()
}

/// The `-c` overrides that start Baton's MCP server for the run (`mcp_servers.baton`).
fn mcp_overrides(server: &ToolServer) -> Vec<String> {
    let key = format!("mcp_servers.{}", crate::mcp::SERVER);
    let args: Vec<String> = ToolServer::ARGS.iter().map(|a| toml_string(a)).collect();
    let env: Vec<String> = server
        .env
        .iter()
        .map(|(name, value)| format!("{name}={}", toml_string(value)))
        .collect();
    vec![
        format!(
            "{key}.command={}",
            toml_string(&server.command.to_string_lossy())
        ),
        format!("{key}.args=[{}]", args.join(",")),
        format!("{key}.env={{{}}}", env.join(",")),
        // Under approval_policy=never an MCP call that needs approval is refused: Baton's
        // own tool needs none, the bot checks every call.
        format!("{key}.tools.{}.approval_mode=\"approve\"", crate::mcp::TOOL),
    ]
}

/// Runs codex turns.
pub type CodexDriver = Driver<CodexConfig>;

impl AgentCli for CodexDriver {
    type Stream = CodexParser;

    /// Command-line arguments: every option before `resume <id>`, `--image` last, prompt on stdin.
    fn args(&self, req: &AgentRequest) -> Vec<OsString> {
        let config = &self.config;
        let mut args: Vec<String> = vec![
            "exec".into(),
            "--json".into(),
            "--skip-git-repo-check".into(),
            "--sandbox".into(),
            config.sandbox.flag_value().into(),
            "-c".into(),
            format!("approval_policy={}", toml_string(&config.approval_policy)),
            "-c".into(),
            format!(
                "sandbox_workspace_write.network_access={}",
                config.network_access
            ),
        ];
        if let Some(model) = &req.model {
            args.extend(["--model".into(), model.clone()]);
        }
        if let Some(effort) = &req.effort {
            args.extend([
                "-c".into(),
                format!("model_reasoning_effort={}", toml_string(effort)),
            ]);
        }
        if let Some(server) = &req.tool_server {
            args.extend(
                mcp_overrides(server)
                    .into_iter()
                    .flat_map(|o| ["-c".into(), o]),
            );
        }
        for over in &config.config_overrides {
            args.extend(["-c".into(), over.clone()]);
        }
        if let Some(id) = &req.resume {
            // "-" reads the prompt from stdin.
            args.extend(["resume".into(), id.clone(), "-".into()]);
        }
        let mut args: Vec<OsString> = args.into_iter().map(OsString::from).collect();
        if !req.images.is_empty() {
            args.push("--image".into());
            args.extend(req.images.iter().map(OsString::from));
        }
        args
    }

    fn launch(&self, req: &AgentRequest) -> Result<Launch, String> {
        let c = &self.config;
        let mut launch = stream::launch(&c.bin, self.args(req), req, &c.extra_env, c.stall_timeout);
        if let Some(home) = &c.codex_home {
            launch.env.push(("CODEX_HOME".into(), home.into()));
        }
        Ok(launch)
    }
}

/// The lines codex prints, as far as the parser reads them; public only to name them as the
/// parser's `Line`.
mod wire {
    use super::*;
    pub use crate::drivers::jsonl::Usage;

    #[derive(Debug, Deserialize)]
    #[serde(tag = "type")]
    pub enum Line {
        #[serde(rename = "thread.started")]
        ThreadStarted { thread_id: String },
        #[serde(rename = "turn.completed")]
        TurnCompleted {
            #[serde(default)]
            usage: Option<Usage>,
        },
        #[serde(rename = "turn.failed")]
        TurnFailed {
            #[serde(default)]
            error: Option<ErrorBody>,
        },
        #[serde(rename = "item.started")]
        ItemStarted { item: Item },
        #[serde(rename = "item.updated")]
        ItemUpdated { item: Item },
        #[serde(rename = "item.completed")]
        ItemCompleted { item: Item },
        #[serde(rename = "error")]
        Error {
            #[serde(default)]
            message: String,
        },
        #[serde(other)]
        Other,
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct ErrorBody {
        #[serde(default)]
        pub message: String,
    }

    #[derive(Debug, Deserialize)]
    pub struct Item {
        #[serde(default)]
        pub id: String,
        #[serde(flatten)]
        pub kind: ItemKind,
    }

    #[derive(Debug, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    pub enum ItemKind {
        AgentMessage {
            #[serde(default)]
            text: String,
        },
        Reasoning {
            #[serde(default)]
            text: String,
        },
        CommandExecution {
            #[serde(default)]
            command: String,
            #[serde(default)]
            aggregated_output: String,
            #[serde(default)]
            exit_code: Option<i64>,
            #[serde(default)]
            status: Option<String>,
        },
        FileChange {
            #[serde(default)]
            changes: Vec<FileChange>,
            #[serde(default)]
            status: Option<String>,
        },
        McpToolCall {
            #[serde(default)]
            server: String,
            #[serde(default)]
            tool: String,
            #[serde(default)]
            arguments: Value,
            #[serde(default)]
            status: Option<String>,
            #[serde(default)]
            error: Option<ErrorBody>,
        },
        WebSearch {
            #[serde(default)]
            query: String,
        },
        TodoList {
            #[serde(default)]
            items: Vec<Todo>,
        },
        Error {
            #[serde(default)]
            message: String,
        },
        #[serde(other)]
        Other,
    }

    #[derive(Debug, Deserialize)]
    pub struct FileChange {
        #[serde(default)]
        pub path: String,
        #[serde(default)]
        pub kind: String,
    }

    #[derive(Debug, Deserialize)]
    pub struct Todo {
        #[serde(default)]
        pub text: String,
        #[serde(default)]
        pub completed: bool,
    }
}

use wire::*;

#[derive(Debug, Clone, PartialEq, Eq)]
enum TurnEnd {
    Completed,
    Failed(String),
}

/// Turns `codex exec --json` lines into events; a pure function of the lines it is fed.
#[derive(Debug, Default)]
pub struct CodexParser {
    thread: SessionId,
    started: HashSet<String>,
    last_message: Option<String>,
    last_error: Option<String>,
    end: Option<TurnEnd>,
}

/// The name and detail a tool-like item shows, or `None` for items that are not tools.
fn tool_view(kind: &ItemKind) -> Option<(String, String)> {
    let view = match kind {
        ItemKind::CommandExecution { command, .. } => {
            ("Shell".to_string(), clip(command, DETAIL_CHARS))
        }
        ItemKind::FileChange { changes, .. } => {
            let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
            ("Edit".to_string(), clip(&paths.join(", "), DETAIL_CHARS))
        }
        ItemKind::McpToolCall {
            server,
            tool,
            arguments,
            ..
        } => {
            let args = if arguments.is_null() {
                String::new()
            } else {
                arguments.to_string()
            };
            (format!("{server}.{tool}"), clip(&args, DETAIL_CHARS))
        }
        ItemKind::WebSearch { query } => ("WebSearch".to_string(), clip(query, DETAIL_CHARS)),
        ItemKind::TodoList { items } => ("Plan".to_string(), todo_summary(items)),
        _ => return None,
    };
    Some(view)
}

fn todo_summary(items: &[Todo]) -> String {
    let done = items.iter().filter(|t| t.completed).count();
    let next = items
        .iter()
        .find(|t| !t.completed)
        .map(|t| t.text.as_str())
        .unwrap_or("");
    let summary = format!("{done}/{} done", items.len());
    if next.is_empty() {
        summary
    } else {
        clip(&format!("{summary}; next: {next}"), DETAIL_CHARS)
    }
}

/// Whether a finished tool-like item succeeded, and what it came to.
fn tool_result(kind: &ItemKind) -> (bool, String) {
    match kind {
        ItemKind::CommandExecution {
            aggregated_output,
            exit_code,
            status,
            ..
        } => {
            let ok = *exit_code == Some(0) && status.as_deref() != Some("failed");
            // The last line of a command's output usually says how it went.
            let last = aggregated_output
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty());
            let output = clip(last.unwrap_or(""), DETAIL_CHARS);
            match (ok, status.as_deref(), exit_code) {
                (true, ..) => (true, output),
                (false, Some("declined"), _) => (false, "declined".into()),
                (false, _, Some(code)) => (false, format!("exit {code}: {output}")),
                (false, _, None) => (false, output),
            }
        }
        ItemKind::FileChange { changes, status } => {
            let list: Vec<String> = changes
                .iter()
                .map(|c| format!("{} {}", c.kind, c.path))
                .collect();
            (
                status.as_deref() != Some("failed"),
                clip(&list.join(", "), DETAIL_CHARS),
            )
        }
        ItemKind::McpToolCall { status, error, .. } => match error {
            Some(err) => (false, clip(&err.message, DETAIL_CHARS)),
            None => (status.as_deref() != Some("failed"), String::new()),
        },
        ItemKind::WebSearch { query } => (true, clip(query, DETAIL_CHARS)),
        ItemKind::TodoList { items } => (true, todo_summary(items)),
        _ => (true, String::new()),
    }
}

impl CodexParser {
    pub fn new() -> Self {
        Self::default()
    }

    fn start_tool(&mut self, item: &Item, out: &mut Vec<AgentEvent>) {
        if self.started.contains(&item.id) {
            return;
        }
        if let Some((name, detail)) = tool_view(&item.kind) {
            self.started.insert(item.id.clone());
            out.push(AgentEvent::ToolStarted { name, detail });
        }
    }

    fn complete(&mut self, item: Item, out: &mut Vec<AgentEvent>) {
        match &item.kind {
            ItemKind::AgentMessage { text } => {
                if !text.trim().is_empty() {
                    self.last_message = Some(text.clone());
                    out.push(AgentEvent::TextSegment { text: text.clone() });
                }
            }
            ItemKind::Reasoning { text } => {
                if !text.trim().is_empty() {
                    out.push(AgentEvent::Thinking { text: text.clone() });
                }
            }
            ItemKind::Error { message } => out.push(AgentEvent::Notice {
                message: message.clone(),
            }),
            kind => {
                if let Some((name, _)) = tool_view(kind) {
                    self.start_tool(&item, out);
                    let (ok, detail) = tool_result(kind);
                    out.push(AgentEvent::ToolFinished { name, ok, detail });
                }
            }
        }
    }
}

impl AgentStream for CodexParser {
    const AGENT: &'static str = "codex";
    type Line = Line;

    fn on_line(&mut self, event: Line, out: &mut Vec<AgentEvent>) {
        match event {
            Line::ThreadStarted { thread_id } => self.thread.see(thread_id, out),
            Line::ItemStarted { item } | Line::ItemUpdated { item } => self.start_tool(&item, out),
            Line::ItemCompleted { item } => self.complete(item, out),
            Line::TurnCompleted { usage } => {
                out.extend(usage.map(|usage| usage.event(None)));
                self.end = Some(TurnEnd::Completed);
            }
            Line::TurnFailed { error } => {
                let message = error
                    .map(|e| e.message)
                    .filter(|m| !m.trim().is_empty())
                    .or_else(|| self.last_error.clone())
                    .unwrap_or_else(|| "codex reported a failed turn".into());
                self.end = Some(TurnEnd::Failed(message));
            }
            // Top-level errors are what codex says while it retries; the turn goes on.
            Line::Error { message } => {
                self.last_error = Some(message.clone());
                out.push(AgentEvent::Notice { message });
            }
            Line::Other => {}
        }
    }

    fn has_result(&self) -> bool {
        self.end.is_some()
    }

    fn verdict(self, exit: &ExitReport) -> Verdict {
        match self.end {
            Some(TurnEnd::Completed) => Verdict::Completed {
                final_text: self.last_message,
            },
            Some(TurnEnd::Failed(message)) => Verdict::Failed { message },
            None => {
                let said = self
                    .last_error
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default();
                Verdict::Unfinished {
                    message: format!("codex exited without finishing the turn{said}: {exit}"),
                }
            }
        }
    }
}
