//! One agent turn for any CLI: its JSONL parser driven over the process's output to an outcome.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

use super::jsonl::{self, Decoded, RawLine};
use super::process::{self, ExitReport, InputLine, Launch, LineAction, Reaction};
use super::{AgentEvent, AgentOutcome, AgentRequest};

/// Time between the stop signals (SIGINT, SIGTERM, SIGKILL) on cancel or stall.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// How the agent's own output said its turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Completed {
        final_text: Option<String>,
    },
    Failed {
        message: String,
    },
    /// The output ended before the agent said how the turn went; the message says what was seen.
    Unfinished {
        message: String,
    },
}

/// Turns one agent CLI's JSONL lines into events, keeping what its turn has said so far.
///
/// Only the mapping is the agent's own; reading, lenient decoding and the rules that turn a
/// verdict and an exit into an outcome are shared, in the provided methods.
pub trait AgentStream: Default {
    /// The CLI's name in notices and errors.
    const AGENT: &'static str;
    /// One output line; unknown types and fields are left to its serde attributes to ignore.
    type Line: DeserializeOwned;

    /// Adds the events one decoded line stands for.
    fn on_line(&mut self, line: Self::Line, out: &mut Vec<AgentEvent>);

    /// Whether the line that ends the turn (success or failure) has been seen.
    fn has_result(&self) -> bool;

    /// What the lines said about the turn's end, once the process has ended.
    fn verdict(self, exit: &ExitReport) -> Verdict;

    /// Lines to write to the CLI in reply to what it printed so far (a JSON-RPC client's
    /// requests and answers); taken after every line.
    fn take_writes(&mut self) -> Vec<Vec<u8>> {
        Vec::new()
    }

    /// The CLI's own request to stop the turn, once there is a turn to stop; without one a
    /// cancel goes straight to the signals.
    fn interrupt(&self) -> Option<Vec<u8>> {
        None
    }

    /// Events for one line of output; a line that is not the expected JSON becomes a notice.
    fn feed(&mut self, line: &str) -> Vec<AgentEvent> {
        let mut out = Vec::new();
        match jsonl::decode::<Self::Line>(Self::AGENT, line) {
            Decoded::Blank => {}
            Decoded::Unreadable(message) => out.push(AgentEvent::Notice { message }),
            Decoded::Event(line) => self.on_line(line, &mut out),
        }
        out
    }

    /// Events for one raw line from the process, over-long ones included.
    fn feed_raw(&mut self, line: RawLine) -> Vec<AgentEvent> {
        match line {
            RawLine::Text(text) => self.feed(&text),
            RawLine::TooLong { len } => vec![AgentEvent::Notice {
                message: format!(
                    "{} printed a line of {len} bytes; it was skipped",
                    Self::AGENT
                ),
            }],
        }
    }

    /// The outcome once the process has ended: a stall wins, then a success the agent reported,
    /// then the caller's cancel, then whatever failure the agent or its exit shows.
    fn finish(self, exit: &ExitReport) -> AgentOutcome
    where
        Self: Sized,
    {
        if exit.stalled {
            return AgentOutcome::Stalled;
        }
        match self.verdict(exit) {
            Verdict::Completed { final_text } => AgentOutcome::Completed { final_text },
            _ if exit.cancel_requested => AgentOutcome::Cancelled,
            Verdict::Failed { message } | Verdict::Unfinished { message } => {
                AgentOutcome::Failed { message }
            }
        }
    }
}

/// An agent CLI: how one request starts it, and how its output reads.
pub trait AgentCli: Sync {
    type Stream: AgentStream + Send;

    /// Command-line arguments for one request.
    fn args(&self, req: &AgentRequest) -> Vec<OsString>;

    /// The process to start for `req`; an error message when the request cannot be sent.
    fn launch(&self, req: &AgentRequest) -> Result<Launch, String>;

    /// The reader of `req`'s output; a CLI that is talked to while it runs knows the request.
    fn stream(&self, _req: &AgentRequest) -> Self::Stream {
        Self::Stream::default()
    }

    /// Runs one turn, sending events as they happen; never panics on odd CLI output.
    ///
    /// Stdin, when the launch keeps it open, is closed once the turn's result is seen.
    fn run(
        &self,
        req: AgentRequest,
        events: UnboundedSender<AgentEvent>,
        cancel: CancellationToken,
    ) -> impl Future<Output = AgentOutcome> + Send {
        self.run_with(req, events, cancel, None)
    }

    /// [`run`](Self::run), writing `input` to the CLI while it runs: the answers to the
    /// questions it asks ([`AgentEvent::Asked`]), whose wait the stall timer does not count.
    fn run_with(
        &self,
        req: AgentRequest,
        events: UnboundedSender<AgentEvent>,
        cancel: CancellationToken,
        input: Option<UnboundedReceiver<InputLine>>,
    ) -> impl Future<Output = AgentOutcome> + Send {
        async move {
            let launch = match self.launch(&req) {
                Ok(launch) => launch,
                Err(message) => return AgentOutcome::Failed { message },
            };
            let mut stream = self.stream(&req);
            let exit = process::run_with_input(launch, &cancel, input, |line| {
                let had_result = stream.has_result();
                let mut action = LineAction::Continue;
                for event in stream.feed_raw(line) {
                    match &event {
                        AgentEvent::Asked(_) => action = LineAction::Asked,
                        AgentEvent::Withdrawn { .. } => action = LineAction::Withdrawn,
                        _ => {}
                    }
                    let _ = events.send(event);
                }
                if !had_result && stream.has_result() {
                    action = LineAction::CloseStdin;
                }
                Reaction {
                    action,
                    writes: stream.take_writes(),
                    interrupt: stream.interrupt(),
                }
            })
            .await;
            match exit {
                Ok(exit) => stream.finish(&exit),
                Err(err) => AgentOutcome::Failed {
                    message: err.to_string(),
                },
            }
        }
    }
}

/// The session (claude) or thread (codex) a turn runs in, announced once per new id.
#[derive(Debug, Default)]
pub struct SessionId(Option<String>);

impl SessionId {
    /// Records `id`, adding a `Session` event when it differs from the one known.
    pub fn see(&mut self, id: String, out: &mut Vec<AgentEvent>) {
        if self.0.as_deref() != Some(id.as_str()) {
            self.0 = Some(id.clone());
            out.push(AgentEvent::Session { id });
        }
    }
}

/// One turn's launch: `program args` in the request's workdir with `extra_env` added, the prompt
/// on stdin, which closes once written.
pub fn launch(
    program: &Path,
    args: Vec<OsString>,
    req: &AgentRequest,
    extra_env: &[(String, String)],
    stall_timeout: Duration,
) -> Launch {
    Launch {
        program: program.to_path_buf(),
        args,
        workdir: req.workdir.clone(),
        env: extra_env
            .iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
        stdin: req.prompt.clone().into_bytes(),
        keep_stdin_open: false,
        stall_timeout,
        grace: STOP_GRACE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// A stream whose lines are `{"said": "ok" | "no" | "id:<session>"}`.
    #[derive(Debug, Default)]
    struct Toy {
        session: SessionId,
        end: Option<Verdict>,
    }

    #[derive(Deserialize)]
    struct ToyLine {
        said: String,
    }

    impl AgentStream for Toy {
        const AGENT: &'static str = "toy";
        type Line = ToyLine;

        fn on_line(&mut self, line: ToyLine, out: &mut Vec<AgentEvent>) {
            match line.said.as_str() {
                "ok" => {
                    self.end = Some(Verdict::Completed {
                        final_text: Some("done".into()),
                    })
                }
                "no" => {
                    self.end = Some(Verdict::Failed {
                        message: "refused".into(),
                    })
                }
                other => {
                    if let Some(id) = other.strip_prefix("id:") {
                        self.session.see(id.into(), out);
                    }
                }
            }
        }

        fn has_result(&self) -> bool {
            self.end.is_some()
        }

        fn verdict(self, exit: &ExitReport) -> Verdict {
            self.end.unwrap_or_else(|| Verdict::Unfinished {
                message: format!("toy ended: {exit}"),
            })
        }
    }

    fn after(lines: &[&str], exit: ExitReport) -> AgentOutcome {
        let mut toy = Toy::default();
        for line in lines {
            toy.feed(line);
        }
        toy.finish(&exit)
    }

    #[test]
    fn finish_ranks_stall_then_success_then_cancel_then_failure() {
        let ok = [r#"{"said":"ok"}"#];
        let no = [r#"{"said":"no"}"#];
        let cancelled = ExitReport {
            cancel_requested: true,
            ..ExitReport::default()
        };
        let stalled = ExitReport {
            stalled: true,
            ..cancelled.clone()
        };
        assert_eq!(after(&ok, stalled), AgentOutcome::Stalled);
        assert_eq!(
            after(&ok, cancelled.clone()),
            AgentOutcome::Completed {
                final_text: Some("done".into())
            }
        );
        assert_eq!(after(&no, cancelled.clone()), AgentOutcome::Cancelled);
        assert_eq!(after(&[], cancelled), AgentOutcome::Cancelled);
        assert_eq!(
            after(&no, ExitReport::default()),
            AgentOutcome::Failed {
                message: "refused".into()
            }
        );
        assert_eq!(
            after(&[], ExitReport::default()),
            AgentOutcome::Failed {
                message: "toy ended: exit status unknown".into()
            }
        );
    }

    #[test]
    fn feed_names_the_agent_in_notices_and_announces_each_session_once() {
        let mut toy = Toy::default();
        assert_eq!(
            toy.feed_raw(RawLine::TooLong { len: 99 }),
            vec![AgentEvent::Notice {
                message: "toy printed a line of 99 bytes; it was skipped".into()
            }]
        );
        assert!(matches!(
            toy.feed("{not json").as_slice(),
            [AgentEvent::Notice { message }] if message.starts_with("toy printed an unreadable line")
        ));
        assert_eq!(toy.feed("  "), vec![]);
        let session = vec![AgentEvent::Session { id: "a".into() }];
        assert_eq!(toy.feed(r#"{"said":"id:a"}"#), session);
        assert_eq!(toy.feed(r#"{"said":"id:a"}"#), vec![]);
        assert_eq!(
            toy.feed_raw(RawLine::Text(r#"{"said":"id:b"}"#.into())),
            vec![AgentEvent::Session { id: "b".into() }]
        );
    }
}
