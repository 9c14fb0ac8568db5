//! The `codex app-server` JSON-RPC lines as far as Baton reads them (protocol v2 of the pinned
//! 0.171.0, from `codex app-server generate-ts`); unknown methods, kinds and fields are ignored.

use serde::Deserialize;
use serde_json::Value;

/// One line the server prints: a response (`id` only), a notification (`method` only) or a
/// request of its own (`id` and `method`).
#[derive(Debug, Deserialize)]
pub struct Message {
    #[serde(default)]
    pub id: Option<Value>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub params: Value,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<ErrorBody>,
}

/// A JSON-RPC error, a turn's error and an MCP call's error all carry a message.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub message: String,
}

/// `thread/start` and `thread/resume` answer with the thread.
#[derive(Debug, Deserialize)]
pub struct ThreadResult {
    pub thread: Id,
}

/// `turn/start` answers with the turn; `turn/started` announces it.
#[derive(Debug, Deserialize)]
pub struct TurnResult {
    pub turn: Id,
}

#[derive(Debug, Deserialize)]
pub struct Id {
    pub id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnCompleted {
    pub turn: EndedTurn,
}

#[derive(Debug, Deserialize)]
pub struct EndedTurn {
    pub id: String,
    /// `completed`, `interrupted` or `failed`.
    pub status: String,
    #[serde(default)]
    pub error: Option<ErrorBody>,
}

/// `item/started` and `item/completed`.
#[derive(Debug, Deserialize)]
pub struct ItemNotice {
    pub item: Item,
}

/// `item/agentMessage/delta`.
#[derive(Debug, Deserialize)]
pub struct Delta {
    #[serde(default)]
    pub delta: String,
}

/// `thread/tokenUsage/updated`: `last` is the model request just made, `total` the thread's.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsageUpdated {
    pub turn_id: String,
    pub token_usage: TokenUsage,
}

#[derive(Debug, Deserialize)]
pub struct TokenUsage {
    pub last: Tokens,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
}

/// `error`: `will_retry` while codex reconnects; otherwise the turn fails next.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorNotice {
    #[serde(default)]
    pub error: ErrorBody,
    #[serde(default)]
    pub will_retry: bool,
}

/// `warning`.
#[derive(Debug, Deserialize)]
pub struct Warning {
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
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ItemKind {
    AgentMessage {
        #[serde(default)]
        text: String,
    },
    Reasoning {
        #[serde(default)]
        summary: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    CommandExecution {
        #[serde(default)]
        command: String,
        #[serde(default)]
        aggregated_output: Option<String>,
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
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileChange {
    #[serde(default)]
    pub path: String,
    /// `{"type": "add" | "delete" | "update", ...}`.
    #[serde(default)]
    pub kind: Value,
    #[serde(default)]
    pub diff: String,
}

impl FileChange {
    pub fn kind_name(&self) -> &str {
        self.kind["type"].as_str().unwrap_or("change")
    }
}

/// `item/commandExecution/requestApproval`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandApproval {
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub command_actions: Vec<CommandAction>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CommandAction {
    #[serde(default)]
    pub command: String,
}

/// `item/fileChange/requestApproval`: the changes themselves came with the item's start
/// (`itemId` names it).
#[derive(Debug, Deserialize)]
pub struct FileChangeApproval {
    #[serde(default)]
    pub reason: Option<String>,
}
