//! `baton mcp`: a small MCP server on stdio that gives an agent one tool, `send_file`. Each
//! agent CLI starts it for a run; every call is passed over the send-file socket to the
//! running bot, which decides, sends, and answers (see `app::file_sends`).

pub mod wire;

use std::path::PathBuf;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use wire::{KEY_ENV, SOCKET_ENV, SendAnswer, SendRequest};

/// The tool's name; the agents see it as `mcp__baton__send_file` (claude) or
/// `baton.send_file` (codex).
pub const TOOL: &str = "send_file";
/// The server's name in the agents' MCP configuration.
pub const SERVER: &str = "baton";

/// Where the bot listens and which run this server speaks for.
#[derive(Debug, Clone)]
pub struct Link {
    pub socket: PathBuf,
    pub key: String,
}

impl Link {
    /// The link from the environment the bot gave this process.
    pub fn from_env() -> Result<Link, String> {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .ok_or_else(|| {
                    format!("{name} is not set: baton mcp is started by Baton for a run")
                })
        };
        Ok(Link {
            socket: PathBuf::from(var(SOCKET_ENV)?),
            key: var(KEY_ENV)?
                .into_string()
                .map_err(|_| format!("{KEY_ENV} is not valid utf-8"))?,
        })
    }

    /// Asks the bot to send a file; its answer, or why it could not be asked.
    pub async fn send(&self, path: String, caption: Option<String>) -> SendAnswer {
        let request = SendRequest {
            key: self.key.clone(),
            path,
            caption,
        };
        match self.ask(&request).await {
            Ok(answer) => answer,
            Err(error) => SendAnswer::Refused {
                reason: format!(
                    "Baton could not be reached at {}: {error}",
                    self.socket.display()
                ),
            },
        }
    }

    async fn ask(&self, request: &SendRequest) -> std::io::Result<SendAnswer> {
        let mut stream = UnixStream::connect(&self.socket).await?;
        let mut line = serde_json::to_vec(request)?;
        line.push(b'\n');
        stream.write_all(&line).await?;
        let mut answer = String::new();
        BufReader::new(stream).read_line(&mut answer).await?;
        if answer.is_empty() {
            return Err(std::io::Error::other("it closed the connection unanswered"));
        }
        Ok(serde_json::from_str(&answer)?)
    }
}

/// The MCP server: lists the tool and passes each call on.
struct SendFileServer {
    link: Arc<Link>,
}

impl ServerHandler for SendFileServer {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(SERVER, env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "send_file sends a file from the working directory to the Telegram chat you \
                 are answering: images as photos, anything else as a document.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![tool()]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name != TOOL {
            return Err(ErrorData::invalid_params(
                format!("no tool named {:?}; this server has {TOOL}", request.name),
                None,
            ));
        }
        let arguments = request.arguments.unwrap_or_default();
        let Some(path) = arguments.get("path").and_then(|p| p.as_str()) else {
            return Ok(refused("path is missing: give the file's path as a string").into());
        };
        let caption = match arguments.get("caption") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(caption)) => Some(caption.clone()),
            Some(_) => return Ok(refused("caption must be a string").into()),
        };
        let result = match self.link.send(path.to_owned(), caption).await {
            SendAnswer::Sent { message } => {
                CallToolResult::success(vec![ContentBlock::text(message)])
            }
            SendAnswer::Refused { reason } => refused(&reason),
        };
        Ok(result.into())
    }
}

fn refused(reason: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(reason.to_owned())])
}

fn tool() -> Tool {
    let schema = json!({
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "The file to send: inside the working directory (relative \
                                paths start there) or a file the user sent for this message",
            },
            "caption": {
                "type": "string",
                "description": "Text shown under the file (at most 1024 characters)",
            },
        },
        "required": ["path"],
        "additionalProperties": false,
    });
    let serde_json::Value::Object(schema) = schema else {
        unreachable!("the schema is an object");
    };
    Tool::new(
        TOOL,
        "Send a file to the Telegram chat you are answering. Images (png, jpg, gif, webp) \
         arrive as photos, anything else as a document, up to 50 MB. Only files inside the \
         working directory or sent by the user for this message can be sent.",
        schema,
    )
}

/// Serves MCP on stdin and stdout until the agent closes them.
pub async fn serve_stdio(link: Link) -> anyhow::Result<()> {
    let server = SendFileServer {
        link: Arc::new(link),
    }
    .serve(rmcp::transport::stdio())
    .await?;
    server.waiting().await?;
    Ok(())
}
