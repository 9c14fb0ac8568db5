//! Runs one agent CLI in its own process group: stdin feeding, line pumping, stall and cancel kills.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::detail;
use super::jsonl::{LineReader, RawLine};
use super::proctree::Descendants;

/// Stderr lines kept for error messages.
const STDERR_TAIL_LINES: usize = 20;
/// How long to keep reading output once the CLI itself has exited.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// Everything needed to start one CLI run.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub workdir: PathBuf,
    pub env: Vec<(OsString, OsString)>,
    /// Written to the CLI's stdin right after the start.
    pub stdin: Vec<u8>,
    /// Keep stdin open after writing until the line handler asks to close it.
    pub keep_stdin_open: bool,
    /// No output line for this long: the run is killed as stalled.
    pub stall_timeout: Duration,
    /// Time between the escalating signals (SIGINT, SIGTERM, SIGKILL).
    pub grace: Duration,
}

/// What the line handler wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineAction {
    Continue,
    /// Close the CLI's stdin (a stream-json claude run exits once its input ends).
    CloseStdin,
    /// The CLI asked the user something and prints nothing until the answer: the stall timer
    /// waits until an answer has been written.
    Asked,
    /// The CLI withdrew a question of its own; it no longer waits for that answer.
    Withdrawn,
}

/// What the line handler wants after one line: its action, lines to write to the CLI's stdin
/// (a JSON-RPC CLI's requests and replies, written before anything the run's input sends later),
/// and, once there is something to interrupt, the CLI's own interrupt request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub action: LineAction,
    pub writes: Vec<Vec<u8>>,
    /// From now on a cancel first writes this line and starts the signals only a grace later,
    /// so the CLI can end its turn cleanly (and record it for a resume).
    pub interrupt: Option<Vec<u8>>,
}

impl From<LineAction> for Reaction {
    fn from(action: LineAction) -> Self {
        Reaction {
            action,
            writes: Vec::new(),
            interrupt: None,
        }
    }
}

/// A line for the CLI's stdin once it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputLine {
    pub bytes: Vec<u8>,
    /// It answers a question the CLI asked ([`LineAction::Asked`]).
    pub answers: bool,
}

/// How the process ended, for the parser to turn into an outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExitReport {
    /// Exit code, when the process exited normally.
    pub code: Option<i32>,
    /// Signal that ended the process, when it was killed.
    pub signal: Option<i32>,
    /// Last stderr lines, newest last.
    pub stderr_tail: String,
    /// The caller cancelled the run.
    pub cancel_requested: bool,
    /// The run was killed because it printed nothing for the stall timeout.
    pub stalled: bool,
}

impl fmt::Display for ExitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}")?,
            (None, Some(signal)) => write!(f, "killed by signal {signal}")?,
            (None, None) => write!(f, "exit status unknown")?,
        }
        let tail = self.stderr_tail.trim();
        if !tail.is_empty() {
            write!(f, ", stderr: {}", detail::tail(tail, 600))?;
        }
        Ok(())
    }
}

/// Starting the CLI failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {program}: {source}")]
pub struct SpawnError {
    pub program: String,
    #[source]
    pub source: io::Error,
}

enum Output {
    Stdout(RawLine),
    Stderr(String),
    StdoutClosed,
    StderrClosed,
}

/// The CLI's process group and the descendants that left it (sandboxes and PTYs start their own
/// sessions); killed whole if the run is dropped before it cleaned up itself.
struct GroupGuard {
    pgid: Option<i32>,
    escaped: Descendants,
}

impl GroupGuard {
    fn signal(&self, signal: i32) {
        if let Some(pgid) = self.pgid {
            // SAFETY: killpg only sends a signal; a stale group id yields ESRCH, which is ignored.
            unsafe {
                libc::killpg(pgid, signal);
            }
        }
        self.escaped.signal(signal);
    }

    /// Remembers the leader's current descendants, so they can be reached once orphaned.
    fn scan(&mut self) {
        if let Some(pgid) = self.pgid {
            self.escaped.scan(pgid);
        }
    }

    fn disarm(&mut self) {
        self.pgid = None;
        self.escaped = Descendants::default();
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.scan();
        self.signal(libc::SIGKILL);
    }
}

/// The stop sequence in progress: which signal comes next and when.
struct Stopping {
    next: &'static [i32],
    at: Instant,
}

const CANCEL_SIGNALS: &[i32] = &[libc::SIGINT, libc::SIGTERM, libc::SIGKILL];
const STALL_SIGNALS: &[i32] = &[libc::SIGTERM, libc::SIGKILL];

/// Runs the CLI to its end, handing each stdout line to `on_line` in order.
///
/// The CLI gets its own process group; cancelling sends SIGINT, then SIGTERM, then SIGKILL to the
/// whole group, `grace` apart, the first only a grace after the interrupt line the handler armed,
/// if any. Whatever way the CLI ends, its group is killed afterwards so no tool process outlives
/// the run, and the CLI is always reaped.
pub async fn run<R: Into<Reaction>>(
    launch: Launch,
    cancel: &CancellationToken,
    on_line: impl FnMut(RawLine) -> R,
) -> Result<ExitReport, SpawnError> {
    run_with_input(launch, cancel, None, on_line).await
}

/// [`run`], also writing each line of `input` to the CLI's stdin while it runs (answers to its
/// questions, control requests); stdin must then be kept open.
pub async fn run_with_input<R: Into<Reaction>>(
    launch: Launch,
    cancel: &CancellationToken,
    mut input: Option<mpsc::UnboundedReceiver<InputLine>>,
    mut on_line: impl FnMut(RawLine) -> R,
) -> Result<ExitReport, SpawnError> {
    let mut command = Command::new(&launch.program);
    command
        .args(&launch.args)
        .current_dir(&launch.workdir)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|source| SpawnError {
        program: launch.program.display().to_string(),
        source,
    })?;
    let mut guard = GroupGuard {
        pgid: child.id().and_then(|pid| i32::try_from(pid).ok()),
        escaped: Descendants::default(),
    };

    let (out_tx, mut out_rx) = mpsc::channel::<Output>(64);
    let readers = spawn_readers(&mut child, out_tx);
    let (write_tx, write_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = spawn_writer(&mut child, launch.stdin, launch.keep_stdin_open, write_rx);
    let mut write_tx = Some(write_tx);
    // Questions the CLI waits on; no stall is counted while there is one.
    let mut waiting: usize = 0;
    let mut interrupt: Option<Vec<u8>> = None;

    let mut report = ExitReport::default();
    let mut stderr_tail: VecDeque<String> = VecDeque::new();
    let mut stdout_open = true;
    let mut stderr_open = true;
    let mut exited = false;
    let mut status: Option<ExitStatus> = None;
    let mut stall_at = Instant::now() + launch.stall_timeout;
    let mut stopping: Option<Stopping> = None;
    let mut drain_until: Option<Instant> = None;

    loop {
        if exited && !stdout_open && !stderr_open {
            break;
        }
        let stop_at = stopping.as_ref().map(|s| s.at);
        tokio::select! {
            output = out_rx.recv(), if stdout_open || stderr_open => {
                stall_at = Instant::now() + launch.stall_timeout;
                match output {
                    Some(Output::Stdout(line)) => {
                        let reaction: Reaction = on_line(line).into();
                        if let Some(tx) = &write_tx {
                            for bytes in reaction.writes {
                                let _ = tx.send(bytes);
                            }
                        }
                        if reaction.interrupt.is_some() {
                            interrupt = reaction.interrupt;
                        }
                        match reaction.action {
                            LineAction::Continue => {}
                            LineAction::CloseStdin => {
                                write_tx.take();
                            }
                            LineAction::Asked => waiting += 1,
                            LineAction::Withdrawn => waiting = waiting.saturating_sub(1),
                        }
                    }
                    Some(Output::Stderr(line)) => {
                        if stderr_tail.len() == STDERR_TAIL_LINES {
                            stderr_tail.pop_front();
                        }
                        stderr_tail.push_back(line);
                    }
                    Some(Output::StdoutClosed) => stdout_open = false,
                    Some(Output::StderrClosed) => stderr_open = false,
                    None => {
                        stdout_open = false;
                        stderr_open = false;
                    }
                }
            }
            line = recv_input(&mut input), if input.is_some() => match line {
                Some(line) => {
                    if line.answers {
                        waiting = waiting.saturating_sub(1);
                        stall_at = Instant::now() + launch.stall_timeout;
                    }
                    if let Some(tx) = &write_tx {
                        let _ = tx.send(line.bytes);
                    }
                }
                None => input = None,
            },
            waited = child.wait(), if !exited => {
                // The CLI is gone: anything left in its group is an orphaned tool process.
                guard.signal(libc::SIGKILL);
                exited = true;
                status = waited.ok();
                drain_until = Some(Instant::now() + DRAIN_AFTER_EXIT);
            }
            () = cancel.cancelled(), if stopping.is_none() && !report.cancel_requested && !exited => {
                report.cancel_requested = true;
                // A CLI that ends on its own interrupt leaves its tools orphaned before any
                // signal: know them now.
                guard.scan();
                let asked_to_stop = match (interrupt.take(), &write_tx) {
                    (Some(line), Some(tx)) => tx.send(line).is_ok(),
                    _ => false,
                };
                let at = if asked_to_stop { Instant::now() + launch.grace } else { Instant::now() };
                stopping = Some(Stopping { next: CANCEL_SIGNALS, at });
            }
            () = sleep_until(stall_at), if stopping.is_none() && !exited && waiting == 0 => {
                report.stalled = true;
                stopping = Some(Stopping { next: STALL_SIGNALS, at: Instant::now() });
            }
            () = sleep_until(stop_at.unwrap_or_else(Instant::now)), if stop_at.is_some() && !exited => {
                if let Some(stop) = stopping.as_mut()
                    && let Some((&signal, rest)) = stop.next.split_first()
                {
                    guard.scan();
                    guard.signal(signal);
                    stop.next = rest;
                    stop.at = Instant::now() + launch.grace;
                }
            }
            () = sleep_until(drain_until.unwrap_or_else(Instant::now)), if drain_until.is_some() => {
                break;
            }
        }
    }

    guard.signal(libc::SIGKILL);
    guard.disarm();
    writer.abort();
    for reader in readers {
        reader.abort();
    }
    if !exited {
        status = child.wait().await.ok();
    }
    if let Some(status) = status {
        use std::os::unix::process::ExitStatusExt;
        report.code = status.code();
        report.signal = status.signal();
    }
    report.stderr_tail = Vec::from(stderr_tail).join("\n");
    Ok(report)
}

fn spawn_readers(child: &mut Child, tx: mpsc::Sender<Output>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let tx = tx.clone();
        handles.push(tokio::spawn(async move {
            let mut lines = LineReader::new(stdout);
            while let Some(line) = lines.next_line().await {
                if tx.send(Output::Stdout(line)).await.is_err() {
                    return;
                }
            }
            let _ = tx.send(Output::StdoutClosed).await;
        }));
    } else {
        let _ = tx.try_send(Output::StdoutClosed);
    }
    if let Some(stderr) = child.stderr.take() {
        handles.push(tokio::spawn(async move {
            let mut lines = LineReader::with_limit(stderr, 64 * 1024);
            while let Some(line) = lines.next_line().await {
                let text = match line {
                    RawLine::Text(text) => text,
                    RawLine::TooLong { len } => format!("[{len} bytes of stderr skipped]"),
                };
                if tx.send(Output::Stderr(text)).await.is_err() {
                    return;
                }
            }
            let _ = tx.send(Output::StderrClosed).await;
        }));
    } else {
        let _ = tx.try_send(Output::StderrClosed);
    }
    handles
}

async fn recv_input(input: &mut Option<mpsc::UnboundedReceiver<InputLine>>) -> Option<InputLine> {
    match input {
        Some(input) => input.recv().await,
        None => std::future::pending().await,
    }
}

/// Writes the launch's input, then (when stdin is kept open) every later line, until the run
/// drops its sender: that closes stdin.
fn spawn_writer(
    child: &mut Child,
    input: Vec<u8>,
    keep_open: bool,
    mut later: mpsc::UnboundedReceiver<Vec<u8>>,
) -> tokio::task::JoinHandle<()> {
    let stdin = child.stdin.take();
    tokio::spawn(async move {
        let Some(mut stdin) = stdin else { return };
        // A CLI that exits before reading its input breaks the pipe; its exit says why.
        if stdin.write_all(&input).await.is_err() || stdin.flush().await.is_err() {
            return;
        }
        if keep_open {
            while let Some(line) = later.recv().await {
                if stdin.write_all(&line).await.is_err() || stdin.flush().await.is_err() {
                    return;
                }
            }
        }
        drop(stdin);
    })
}
