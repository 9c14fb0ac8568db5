//! `send_file`, the bot's side: each run's agent gets Baton's MCP server (`baton mcp`) with a
//! send key; its calls arrive on the send-file socket in the state directory. A call is
//! refused unless its run is still current: the core's admission of run output decides,
//! through the door, as it does for the run's streamed output, and a stopped run is refused
//! before its end is recorded. The file is then checked ([`sendable`](super::sendable)) and
//! uploaded to the run's chat.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use baton_core::{LaneKey, Output, RunId};
use parking_lot::Mutex;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::InputFile;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::sendable::{self, Allowed, Kind, Sendable};
use super::{App, target};
use crate::drivers::ToolServer;
use crate::mcp::wire::{
    KEY_ENV, MAX_REQUEST_BYTES, SOCKET_ENV, SOCKET_NAME, SendAnswer, SendRequest,
};
use crate::platform::Ticket;

/// A connection that sends no request in this long is closed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest flood-control wait an upload sits out before giving up.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The runs that may send files now, by send key.
pub struct FileSends {
    socket: PathBuf,
    /// The `baton` executable the agents start as `baton mcp`; `None` turns the tool off.
    command: Option<PathBuf>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    listening: bool,
    runs: HashMap<String, Sender>,
}

/// A run registered for `send_file`.
#[derive(Clone)]
struct Sender {
    run: RunId,
    lane: LaneKey,
    cancel: CancellationToken,
    allowed: Allowed,
}

/// Keeps a run's send key valid; dropped when the run is over.
pub struct Registration<'a> {
    sends: &'a FileSends,
    key: String,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.sends.state.lock().runs.remove(&self.key);
    }
}

impl FileSends {
    pub fn new(state_dir: &Path, command: Option<PathBuf>) -> Self {
        FileSends {
            socket: state_dir.join(SOCKET_NAME),
            command,
            state: Mutex::new(State::default()),
        }
    }

    /// Gives `run` a send key, and the MCP server its agent is to start; `None` when the
    /// tool is off (no socket, no executable, no randomness for a key).
    pub fn register(
        &self,
        run: RunId,
        lane: LaneKey,
        cancel: CancellationToken,
        allowed: Allowed,
    ) -> Option<(Registration<'_>, ToolServer)> {
        let command = self.command.clone()?;
        let key = match random_hex() {
            Ok(secret) => format!("{run}-{secret}"),
            Err(error) => {
                warn!(%error, "send_file: no key for the run; its agent gets no send_file");
                return None;
            }
        };
        let sender = Sender {
            run,
            lane,
            cancel,
            allowed,
        };
        {
            let mut state = self.state.lock();
            if !state.listening {
                return None;
            }
            state.runs.insert(key.clone(), sender);
        }
        let server = ToolServer {
            command,
            env: vec![
                (SOCKET_ENV.to_owned(), self.socket.display().to_string()),
                (KEY_ENV.to_owned(), key.clone()),
            ],
        };
        Some((Registration { sends: self, key }, server))
    }

    fn sender(&self, key: &str) -> Option<Sender> {
        self.state.lock().runs.get(key).cloned()
    }
}

impl App {
    /// Registers `ticket`'s run for `send_file`: its files are those of the working directory
    /// and of its item's own folder.
    pub(super) fn register_file_sends(
        &self,
        ticket: &Ticket,
    ) -> Option<(Registration<'_>, ToolServer)> {
        let allowed = Allowed::new(
            &self.agents.workdir,
            &self.agents.files_dir,
            &ticket.item.attachments,
        );
        let cancel = ticket.cancel.token().clone();
        self.file_sends
            .register(ticket.run, ticket.lane(), cancel, allowed)
    }

    /// Binds the send-file socket and serves it until shutdown. Call before any run
    /// starts: runs started while it is not bound get no `send_file`.
    pub fn listen_for_file_sends(self: &Arc<Self>) -> Option<JoinHandle<()>> {
        let sends = &self.file_sends;
        sends.command.as_ref()?;
        // The instance lock is held: a socket file left here is a dead instance's.
        let _ = std::fs::remove_file(&sends.socket);
        if let Some(dir) = sends.socket.parent()
            && let Err(error) = std::fs::create_dir_all(dir)
        {
            warn!(%error, "send_file: no state directory; the agents get no send_file");
            return None;
        }
        let listener = match UnixListener::bind(&sends.socket) {
            Ok(listener) => listener,
            Err(error) => {
                warn!(%error, socket = %sends.socket.display(), "send_file: cannot listen; the agents get no send_file");
                return None;
            }
        };
        sends.state.lock().listening = true;
        info!(socket = %sends.socket.display(), "send_file: listening");
        let app = Arc::clone(self);
        Some(tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = app.tasks.stopping.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                match accepted {
                    Ok((stream, _)) => {
                        let one = Arc::clone(&app);
                        app.tasks
                            .runners
                            .spawn(async move { one.answer_send(stream).await });
                    }
                    Err(error) => {
                        warn!(%error, "send_file: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            app.file_sends.state.lock().listening = false;
            let _ = std::fs::remove_file(&app.file_sends.socket);
        }))
    }

    /// One connection: one request, one answer.
    async fn answer_send(&self, stream: UnixStream) {
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        let mut reader = BufReader::new(read.take(MAX_REQUEST_BYTES as u64));
        let read = tokio::select! {
            _ = self.tasks.stopping.cancelled() => return,
            read = tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)) => read,
        };
        let answer = match read {
            Ok(Ok(_)) => match serde_json::from_str::<SendRequest>(&line) {
                Ok(request) => self.send_file(request).await,
                Err(error) => SendAnswer::Refused {
                    reason: format!("Baton could not read the request: {error}"),
                },
            },
            Ok(Err(error)) => {
                warn!(%error, "send_file: could not read a request");
                return;
            }
            Err(_) => return,
        };
        let mut reply = serde_json::to_vec(&answer).unwrap_or_default();
        reply.push(b'\n');
        if let Err(error) = write.write_all(&reply).await {
            warn!(%error, "send_file: could not answer");
        }
    }

    /// Decides on one `send_file` call and, if it may, sends the file.
    async fn send_file(&self, request: SendRequest) -> SendAnswer {
        let refused = |reason: String| SendAnswer::Refused { reason };
        let Some(sender) = self.file_sends.sender(&request.key) else {
            return refused(over("is over"));
        };
        if sender.cancel.is_cancelled() {
            return refused(over("was stopped"));
        }
        let status = format!("send_file {}", request.path);
        if let Err(error) = self.door.output(sender.run, Output::Tool(status)) {
            info!(run = %sender.run, %error, "send_file: refused by the core");
            return refused(over("is over"));
        }
        let file = match sender.allowed.check(&self.agents.workdir, &request.path) {
            Ok(file) => file,
            Err(reason) => {
                info!(run = %sender.run, %reason, "send_file: refused");
                return refused(format!("Not sent: {reason}."));
            }
        };
        let caption = match sendable::check_caption(request.caption) {
            Ok(caption) => caption,
            Err(reason) => return refused(format!("Not sent: {reason}.")),
        };
        // A stop abandons the upload (what Telegram already has whole it may still show).
        let uploaded = tokio::select! {
            _ = sender.cancel.cancelled() => return refused(over("was stopped")),
            uploaded = upload(&self.outbox.bot, sender.lane, &file, caption) => uploaded,
        };
        match uploaded {
            Ok(()) => {
                info!(run = %sender.run, file = %file.name, bytes = file.bytes, kind = file.kind.as_str(), "send_file: sent");
                SendAnswer::Sent {
                    message: format!(
                        "Sent {} ({}) to the chat as a {}.",
                        file.name,
                        sendable::size(file.bytes),
                        file.kind.as_str()
                    ),
                }
            }
            Err(error) => {
                warn!(run = %sender.run, %error, "send_file: upload failed");
                refused(format!(
                    "Not sent: Telegram did not take {}: {error}.",
                    file.name
                ))
            }
        }
    }
}

fn over(how: &str) -> String {
    format!(
        "Not sent: the run this call belongs to {how}; files can be sent only while it is \
         still answering."
    )
}

/// Uploads `file` to `lane`, sitting out one flood-control wait.
async fn upload(
    bot: &Bot,
    lane: LaneKey,
    file: &Sendable,
    caption: Option<String>,
) -> Result<(), RequestError> {
    let mut waited = false;
    loop {
        let result = send_once(bot, lane, file, caption.clone()).await;
        match result {
            Err(RequestError::RetryAfter(seconds))
                if !waited && seconds.duration() <= MAX_RETRY_AFTER =>
            {
                waited = true;
                tokio::time::sleep(seconds.duration()).await;
            }
            other => return other,
        }
    }
}

async fn send_once(
    bot: &Bot,
    lane: LaneKey,
    file: &Sendable,
    caption: Option<String>,
) -> Result<(), RequestError> {
    let to = target(lane);
    let input = InputFile::file(&file.path).file_name(file.name.clone());
    match file.kind {
        Kind::Photo => {
            let mut request = bot.send_photo(to.chat, input);
            if let Some(caption) = caption {
                request = request.caption(caption);
            }
            if let Some(thread) = to.thread {
                request = request.message_thread_id(thread);
            }
            request.await?;
        }
        Kind::Document => {
            let mut request = bot.send_document(to.chat, input);
            if let Some(caption) = caption {
                request = request.caption(caption);
            }
            if let Some(thread) = to.thread {
                request = request.message_thread_id(thread);
            }
            request.await?;
        }
    }
    Ok(())
}

/// 128 random bits as hex, from the kernel.
fn random_hex() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
