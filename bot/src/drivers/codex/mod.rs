//! Codex driver: one `codex app-server` per turn, spoken to over JSON-RPC on
//! stdio, so its approval requests can reach the user.

mod approvals;
mod rpc;
mod wire;

pub use approvals::answer;
pub use rpc::{CodexParser, Setup};

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::process::Launch;
use super::stream::{self, AgentCli};
use super::{AgentRequest, Driver, ToolServer};

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
    /// When codex asks before it acts: `untrusted` (anything not known to be safe),
    /// `on-request` (when the model asks to leave the sandbox) or `never`.
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
    /// Least privilege: workspace-write sandbox, no network, asking when the model wants more.
    pub fn new(bin: PathBuf) -> Self {
        Self {
            bin,
            sandbox: CodexSandbox::WorkspaceWrite,
            approval_policy: "on-request".into(),
            network_access: false,
            codex_home: None,
            config_overrides: Vec::new(),
            extra_env: Vec::new(),
            stall_timeout: Duration::from_secs(600),
        }
    }

    /// Whether a run under this config can ask the user anything.
    pub fn asks(&self) -> bool {
        self.approval_policy != "never"
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
        // Baton's own tool needs no approval: the bot checks every call.
        format!("{key}.tools.{}.approval_mode=\"approve\"", crate::mcp::TOOL),
    ]
}

/// Runs codex turns.
pub type CodexDriver = Driver<CodexConfig>;

impl CodexDriver {
    /// Whether its runs ask the user (and so need answers written back).
    pub fn asks(&self) -> bool {
        self.config.asks()
    }
}

impl AgentCli for CodexDriver {
    type Stream = CodexParser;

    /// Command-line arguments: the server and its `-c` overrides; the request itself (model and
    /// effort included, which a resumed thread would not take from overrides) goes over stdin.
    fn args(&self, req: &AgentRequest) -> Vec<OsString> {
        let config = &self.config;
        let mut args: Vec<String> = vec![
            "app-server".into(),
            "-c".into(),
            format!(
                "sandbox_workspace_write.network_access={}",
                config.network_access
            ),
        ];
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
        args.into_iter().map(OsString::from).collect()
    }

    fn launch(&self, req: &AgentRequest) -> Result<Launch, String> {
        let c = &self.config;
        let mut launch = stream::launch(&c.bin, self.args(req), req, &c.extra_env, c.stall_timeout);
        launch.stdin = rpc::initialize();
        // Open for the rest of the conversation; it closes once the turn has ended.
        launch.keep_stdin_open = true;
        if let Some(home) = &c.codex_home {
            launch.env.push(("CODEX_HOME".into(), home.into()));
        }
        Ok(launch)
    }

    fn stream(&self, req: &AgentRequest) -> CodexParser {
        // Nobody to answer: codex must not ask.
        let approval_policy = match req.asks {
            true => self.config.approval_policy.clone(),
            false => "never".into(),
        };
        CodexParser::new(Setup {
            prompt: req.prompt.clone(),
            images: req.images.clone(),
            resume: req.resume.clone(),
            cwd: req.workdir.clone(),
            approval_policy,
            sandbox: self.config.sandbox.flag_value().into(),
            asks: req.asks,
            model: req.model.clone(),
            effort: req.effort.clone(),
        })
    }
}
