//! Agent CLI drivers: one request in, a stream of `AgentEvent`s and one `AgentOutcome` out.

pub mod ask;
pub mod claude;
pub mod claude_control;
pub mod codex;
mod detail;
pub mod jsonl;
pub mod process;
mod proctree;
pub mod stream;

use std::path::PathBuf;

pub use ask::{Ask, Decision, Question};
pub use claude::{ClaudeConfig, ClaudeDriver, ClaudeParser};
pub use codex::{CodexConfig, CodexDriver, CodexParser, CodexSandbox};

pub use process::ExitReport;
pub use stream::{AgentCli, AgentStream, Verdict};

/// Runs turns of the agent CLI its config describes.
#[derive(Debug, Clone)]
pub struct Driver<C> {
    config: C,
}

impl<C> Driver<C> {
    pub fn new(config: C) -> Self {
        Self { config }
    }
}

/// One turn to run: the prompt and where and how to run it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentRequest {
    pub prompt: String,
    pub workdir: PathBuf,
    pub model: Option<String>,
    pub effort: Option<String>,
    /// Session id (claude) or thread id (codex) to continue.
    pub resume: Option<String>,
    pub images: Vec<PathBuf>,
    /// Baton's own MCP server for this run (the `send_file` tool), if it has one.
    pub tool_server: Option<ToolServer>,
    /// The caller answers the agent's questions (through `AgentCli::run_with`); otherwise the
    /// CLI decides by its permission mode alone.
    pub asks: bool,
    /// The lane's permission mode, over the driver's configured one.
    pub mode: Option<String>,
}

/// How an agent CLI starts Baton's MCP server for one run: `command mcp` with `env` added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolServer {
    /// The `baton` executable.
    pub command: PathBuf,
    pub env: Vec<(String, String)>,
}

impl ToolServer {
    /// The server's arguments.
    pub const ARGS: &[&str] = &["mcp"];
}

/// What the agent shows while it works, in the order it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    /// Session id (claude) or thread id (codex), as soon as it is known.
    Session {
        id: String,
    },
    /// Partial text of the current answer segment.
    TextDelta {
        text: String,
    },
    /// A completed assistant text block: the full text of that segment.
    TextSegment {
        text: String,
    },
    Thinking {
        text: String,
    },
    /// A tool call began, e.g. name "Bash", detail "echo hi".
    ToolStarted {
        name: String,
        detail: String,
    },
    ToolFinished {
        name: String,
        ok: bool,
        detail: String,
    },
    /// What the turn used. Claude's cost (`total_cost_usd`) adds up every turn of
    /// its process so far; codex reports none.
    Usage {
        input_tokens: u64,
        output_tokens: u64,
        /// Millionths of a US dollar.
        cost_micro_usd: Option<u64>,
    },
    /// The agent waits for the user's decision on this.
    Asked(Question),
    /// The agent withdrew its question (`request_id`) without an answer.
    Withdrawn {
        request_id: String,
    },
    /// Something worth showing that does not end the run (codex reconnecting, an unreadable line).
    Notice {
        message: String,
    },
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentOutcome {
    Completed {
        final_text: Option<String>,
    },
    Failed {
        message: String,
    },
    /// Stopped because the caller cancelled.
    Cancelled,
    /// Killed because the agent printed nothing for the stall timeout.
    Stalled,
}
