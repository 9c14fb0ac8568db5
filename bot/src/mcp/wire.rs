//! What `baton mcp` and the running bot say to each other over the send-file socket: one
//! JSON line each way per `send_file` call.

use serde::{Deserialize, Serialize};

/// The environment variable naming the bot's send-file socket, set for each run's MCP server.
pub const SOCKET_ENV: &str = "BATON_SEND_FILE_SOCKET";
/// The environment variable holding the run's send key: it tells the bot which run asks.
pub const KEY_ENV: &str = "BATON_SEND_FILE_KEY";
/// The socket's file name in the state directory.
pub const SOCKET_NAME: &str = "send_file.sock";
/// A request line longer than this is refused (a path and a caption fit many times over).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// One `send_file` call, as the agent made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    /// The run's send key, from [`KEY_ENV`].
    pub key: String,
    /// As the agent gave it; relative paths are taken from the working directory.
    pub path: String,
    pub caption: Option<String>,
}

/// The bot's answer, which the agent sees as the tool's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SendAnswer {
    Sent { message: String },
    Refused { reason: String },
}
