//! Claude Code driver: runs `claude -p` with stream-json output and turns its lines into events.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use super::detail::{DETAIL_CHARS, clip};
use super::process::{ExitReport, Launch};
use super::stream::{self, AgentCli, AgentStream, SessionId, Verdict};
use super::{AgentEvent, AgentRequest, Driver, ToolServer};

/// How to run the claude CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeConfig {
    /// Path of the `claude` executable.
    pub bin: PathBuf,
    /// Passed as `--permission-mode` (e.g. "acceptEdits"); as root the CLI refuses
    /// "bypassPermissions" unless `IS_SANDBOX=1` is in `extra_env`.
    pub permission_mode: Option<String>,
    /// Passed as `--allowedTools`, e.g. "Bash(echo:*)" or "Edit".
    pub allowed_tools: Vec<String>,
    /// Added to the inherited environment of every run.
    pub extra_env: Vec<(String, String)>,
    /// No output for this long kills the run as stalled.
    pub stall_timeout: Duration,
}

/// Runs claude turns.
pub type ClaudeDriver = Driver<ClaudeConfig>;

impl ClaudeDriver {
    /// Whether its permission prompts can reach the user in `mode` (the
    /// lane's, else the configured one): every mode but `bypassPermissions`,
    /// which asks nothing.
    pub fn asks(&self, mode: Option<&str>) -> bool {
        mode.or(self.config.permission_mode.as_deref()) != Some("bypassPermissions")
    }
}

impl AgentCli for ClaudeDriver {
    type Stream = ClaudeParser;

    /// Command-line arguments for one request; the prompt itself goes on stdin.
    fn args(&self, req: &AgentRequest) -> Vec<OsString> {
        let mut args: Vec<OsString> = [
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
        ]
        .map(OsString::from)
        .to_vec();
        let mut pair = |flag: &str, value: &str| {
            args.push(flag.into());
            args.push(value.into());
        };
        if !req.images.is_empty() || req.asks {
            pair("--input-format", "stream-json");
        }
        if req.asks {
            // Hidden from `claude --help` but accepted: permission prompts come to Baton as
            // `control_request` lines on stdout (the Agent SDK's protocol).
            pair("--permission-prompt-tool", "stdio");
        }
        if let Some(model) = &req.model {
            pair("--model", model);
        }
        if let Some(effort) = &req.effort {
            pair("--effort", effort);
        }
        if let Some(id) = &req.resume {
            pair("--resume", id);
        }
        if let Some(mode) = req.mode.as_ref().or(self.config.permission_mode.as_ref()) {
            pair("--permission-mode", mode);
        }
        let mut allowed: Vec<&str> = self
            .config
            .allowed_tools
            .iter()
            .map(String::as_str)
            .collect();
        if let Some(server) = &req.tool_server {
            pair("--mcp-config", &mcp_config(server));
            // Baton's own tool needs no permission prompt: the bot checks every call.
            allowed.push(SEND_FILE_TOOL);
        }
        // Takes several values, so it goes last (the prompt is on stdin, never positional).
        if !allowed.is_empty() {
            args.push("--allowedTools".into());
            args.extend(allowed.into_iter().map(OsString::from));
        }
        args
    }

    fn launch(&self, req: &AgentRequest) -> Result<Launch, String> {
        let c = &self.config;
        let mut launch = stream::launch(&c.bin, self.args(req), req, &c.extra_env, c.stall_timeout);
        if !req.images.is_empty() || req.asks {
            launch.stdin = stream_json_input(&req.prompt, &req.images)?;
            // With stream-json input the CLI ends when its input does, and an input that ends
            // before the CLI has started reading it is silently dropped; a pending permission
            // prompt is denied once stdin closes: close after the result.
            launch.keep_stdin_open = true;
        }
        Ok(launch)
    }
}

/// `send_file` as claude names Baton's MCP tool.
pub const SEND_FILE_TOOL: &str = "mcp__baton__send_file";

/// The `--mcp-config` JSON that starts Baton's MCP server for the run.
fn mcp_config(server: &ToolServer) -> String {
    let env: serde_json::Map<String, Value> = server
        .env
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    serde_json::json!({
        "mcpServers": {
            crate::mcp::SERVER: {
                "type": "stdio",
                "command": server.command,
                "args": ToolServer::ARGS,
                "env": env,
            }
        }
    })
    .to_string()
}

/// One stream-json user message holding the prompt and the images as base64 blocks.
fn stream_json_input(prompt: &str, images: &[PathBuf]) -> Result<Vec<u8>, String> {
    let mut content = vec![serde_json::json!({"type": "text", "text": prompt})];
    for path in images {
        let bytes = std::fs::read(path)
            .map_err(|err| format!("cannot read image {}: {err}", path.display()))?;
        content.push(serde_json::json!({
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": image_media_type(path, &bytes),
                "data": base64::engine::general_purpose::STANDARD.encode(&bytes),
            }
        }));
    }
    let message = serde_json::json!({
        "type": "user",
        "message": {"role": "user", "content": content},
    });
    let mut line = message.to_string().into_bytes();
    line.push(b'\n');
    Ok(line)
}

/// The image type from the file's first bytes, falling back on its extension.
fn image_media_type(path: &Path, bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        "image/jpeg"
    } else if bytes.starts_with(b"GIF8") {
        "image/gif"
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => "image/png",
            Some("gif") => "image/gif",
            Some("webp") => "image/webp",
            _ => "image/jpeg",
        }
    }
}

/// The lines claude prints, as far as the parser reads them; public only to name them as the
/// parser's `Line`.
pub(super) mod wire {
    use super::*;
    pub use crate::drivers::jsonl::Usage;

    #[derive(Debug, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    pub enum Line {
        System {
            #[serde(default)]
            subtype: Option<String>,
            #[serde(default)]
            session_id: Option<String>,
        },
        StreamEvent {
            event: StreamEvent,
            #[serde(default)]
            parent_tool_use_id: Option<String>,
        },
        Assistant {
            message: Message,
            #[serde(default)]
            parent_tool_use_id: Option<String>,
            /// Set on synthetic messages that only restate an API error; the result carries it too.
            #[serde(default)]
            error: Option<Value>,
        },
        User {
            message: Message,
        },
        Result {
            #[serde(default)]
            subtype: Option<String>,
            #[serde(default)]
            is_error: bool,
            #[serde(default)]
            result: Option<String>,
            #[serde(default)]
            session_id: Option<String>,
            #[serde(default)]
            errors: Vec<Value>,
            #[serde(default)]
            usage: Option<Usage>,
            #[serde(default)]
            total_cost_usd: Option<f64>,
        },
        /// The CLI asks its host (Baton) something and waits for a `control_response`.
        ControlRequest {
            request_id: String,
            request: ControlRequest,
        },
        /// The CLI withdrew a request of its own (after an interrupt).
        ControlCancelRequest {
            request_id: String,
        },
        #[serde(other)]
        Other,
    }

    #[derive(Debug, Deserialize)]
    pub struct ControlRequest {
        pub subtype: String,
        #[serde(default)]
        pub tool_name: String,
        #[serde(default)]
        pub input: Value,
        #[serde(default)]
        pub permission_suggestions: Vec<Value>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    pub enum StreamEvent {
        ContentBlockDelta {
            delta: Delta,
        },
        #[serde(other)]
        Other,
    }

    #[derive(Debug, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    pub enum Delta {
        TextDelta {
            text: String,
        },
        #[serde(other)]
        Other,
    }

    #[derive(Debug, Deserialize)]
    pub struct Message {
        #[serde(default)]
        pub content: Content,
    }

    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    pub enum Content {
        Blocks(Vec<Block>),
        Text(#[allow(dead_code)] String),
    }

    impl Default for Content {
        fn default() -> Self {
            Content::Blocks(Vec::new())
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    pub enum Block {
        Text {
            #[serde(default)]
            text: String,
        },
        Thinking {
            #[serde(default)]
            thinking: String,
        },
        ToolUse {
            #[serde(default)]
            id: String,
            #[serde(default)]
            name: String,
            #[serde(default)]
            input: Value,
        },
        ToolResult {
            #[serde(default)]
            tool_use_id: String,
            #[serde(default)]
            content: Value,
            #[serde(default)]
            is_error: Option<bool>,
        },
        #[serde(other)]
        Other,
    }
}

use wire::*;

/// Turns claude's stream-json lines into events; a pure function of the lines it is fed.
#[derive(Debug, Default)]
pub struct ClaudeParser {
    session: SessionId,
    tool_names: HashMap<String, String>,
    /// What the `result` line said, once seen.
    result: Option<Verdict>,
}

impl ClaudeParser {
    pub fn new() -> Self {
        Self::default()
    }
}

impl AgentStream for ClaudeParser {
    const AGENT: &'static str = "claude";
    type Line = Line;

    fn on_line(&mut self, event: Line, out: &mut Vec<AgentEvent>) {
        match event {
            Line::System {
                subtype,
                session_id,
            } => {
                if subtype.as_deref() == Some("init")
                    && let Some(id) = session_id
                {
                    self.session.see(id, out);
                }
            }
            Line::StreamEvent {
                event,
                parent_tool_use_id,
            } => {
                if parent_tool_use_id.is_none()
                    && let StreamEvent::ContentBlockDelta {
                        delta: Delta::TextDelta { text },
                    } = event
                    && !text.is_empty()
                {
                    out.push(AgentEvent::TextDelta { text });
                }
            }
            Line::Assistant {
                message,
                parent_tool_use_id,
                error,
            } => {
                let Content::Blocks(blocks) = message.content else {
                    return;
                };
                // A subagent's words are its own; only its tool calls show what it is doing.
                let own = parent_tool_use_id.is_none() && error.is_none();
                for block in blocks {
                    match block {
                        Block::Text { text } if own && !text.trim().is_empty() => {
                            out.push(AgentEvent::TextSegment { text });
                        }
                        Block::Thinking { thinking } if own && !thinking.trim().is_empty() => {
                            out.push(AgentEvent::Thinking { text: thinking });
                        }
                        Block::ToolUse { id, name, input } => {
                            let detail = tool_detail(&name, &input);
                            self.tool_names.insert(id, name.clone());
                            out.push(AgentEvent::ToolStarted { name, detail });
                        }
                        _ => {}
                    }
                }
            }
            Line::User { message } => {
                let Content::Blocks(blocks) = message.content else {
                    return;
                };
                for block in blocks {
                    if let Block::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                    } = block
                    {
                        let name = self
                            .tool_names
                            .remove(&tool_use_id)
                            .unwrap_or_else(|| "tool".to_string());
                        out.push(AgentEvent::ToolFinished {
                            name,
                            ok: !is_error.unwrap_or(false),
                            detail: clip(&result_text(&content), DETAIL_CHARS),
                        });
                    }
                }
            }
            Line::Result {
                subtype,
                is_error,
                result,
                session_id,
                errors,
                usage,
                total_cost_usd,
            } => {
                out.extend(usage.map(|usage| usage.event(total_cost_usd)));
                if !is_error && let Some(id) = session_id {
                    self.session.see(id, out);
                }
                let text = result.filter(|t| !t.trim().is_empty());
                self.result = Some(if is_error {
                    Verdict::Failed {
                        message: text.unwrap_or_else(|| failure_text(subtype.as_deref(), &errors)),
                    }
                } else {
                    Verdict::Completed { final_text: text }
                });
            }
            Line::ControlRequest {
                request_id,
                request,
            } => {
                if request.subtype == "can_use_tool" {
                    out.push(AgentEvent::Asked(super::claude_control::question(
                        request_id, request,
                    )));
                } else {
                    out.push(AgentEvent::Notice {
                        message: format!(
                            "claude asked for {:?}, which Baton does not answer",
                            request.subtype
                        ),
                    });
                }
            }
            Line::ControlCancelRequest { request_id } => {
                out.push(AgentEvent::Withdrawn { request_id });
            }
            Line::Other => {}
        }
    }

    fn has_result(&self) -> bool {
        self.result.is_some()
    }

    fn verdict(self, exit: &ExitReport) -> Verdict {
        self.result.unwrap_or_else(|| Verdict::Unfinished {
            message: format!("claude exited without a result: {exit}"),
        })
    }
}

/// What a tool call is about, in a few words: the command, the file, the pattern.
pub(super) fn tool_detail(name: &str, input: &Value) -> String {
    let field = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_owned);
    let picked = match name {
        "Bash" => field("command"),
        "Read" | "Write" | "Edit" | "MultiEdit" => field("file_path"),
        "NotebookEdit" => field("notebook_path"),
        "Grep" | "Glob" => field("pattern"),
        "WebFetch" => field("url"),
        "WebSearch" => field("query"),
        SEND_FILE_TOOL => field("path"),
        "Task" | "Agent" => field("description"),
        "TodoWrite" => input
            .get("todos")
            .and_then(Value::as_array)
            .map(|todos| format!("{} items", todos.len())),
        _ => None,
    };
    let text = picked.unwrap_or_else(|| match input {
        Value::Null => String::new(),
        Value::Object(map) if map.is_empty() => String::new(),
        other => other.to_string(),
    });
    clip(&text, DETAIL_CHARS)
}

/// The text of a tool result, whether a string or a list of text blocks.
fn result_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// What a failed result without text says: its listed errors, or else its subtype.
fn failure_text(subtype: Option<&str>, errors: &[Value]) -> String {
    let listed: Vec<String> = errors.iter().map(value_text).collect();
    if listed.is_empty() {
        format!("claude failed ({})", subtype.unwrap_or("no detail"))
    } else {
        listed.join("; ")
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
