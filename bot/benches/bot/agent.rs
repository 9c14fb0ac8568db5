//! The fake `claude` CLI the bot spawns: this bench binary started again with
//! `BATON_BENCH_ROLE=agent`, printing stream-json lines modelled on
//! shared/fixtures/agent-cli/claude-stream-json-partial-messages.jsonl.
//!
//! What to answer travels in the prompt (`bench <id> chars=<n> pace=<chars/s>`),
//! so one running bot serves every scenario. The first thing the process does
//! is read CLOCK_MONOTONIC; it appends `<id> <ns>` to `BATON_BENCH_AGENT_LOG`.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

use crate::clock::monotonic_ns;

/// Set to `agent` in the bot's environment, which its agent runs inherit.
pub const ROLE_VAR: &str = "BATON_BENCH_ROLE";
pub const ROLE_AGENT: &str = "agent";
/// File the fake agent appends its start instants to.
pub const LOG_VAR: &str = "BATON_BENCH_AGENT_LOG";
/// Characters per text delta: a few tokens, as the real CLI streams them.
const DELTA_CHARS: usize = 32;

/// What the bench asks one agent run for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    pub id: u64,
    /// Length of the answer in characters (at least its end marker).
    pub chars: usize,
    /// Characters streamed per second; 0 prints the whole answer at once.
    pub pace: u32,
}

impl Ask {
    pub fn prompt(&self) -> String {
        format!("bench {} chars={} pace={}", self.id, self.chars, self.pace)
    }

    pub fn parse(prompt: &str) -> Option<Ask> {
        let mut words = prompt.split_whitespace();
        if words.next()? != "bench" {
            return None;
        }
        let id = words.next()?.parse().ok()?;
        let mut ask = Ask {
            id,
            chars: 0,
            pace: 0,
        };
        for word in words {
            match word.split_once('=')? {
                ("chars", n) => ask.chars = n.parse().ok()?,
                ("pace", n) => ask.pace = n.parse().ok()?,
                _ => return None,
            }
        }
        Some(ask)
    }

    /// The answer's last words, which tell the bench the whole answer arrived.
    pub fn end_marker(&self) -> String {
        format!("Done {}.", self.id)
    }

    /// Markdown prose of exactly `chars` characters (or just the end marker when
    /// shorter), with bold and code spans so rendering does real work.
    pub fn answer(&self) -> String {
        let marker = self.end_marker();
        let body_chars = self.chars.saturating_sub(marker.len());
        let mut body = String::with_capacity(body_chars + 100);
        let mut step = 0;
        while body.len() < body_chars {
            step += 1;
            body.push_str(&format!(
                "Step {step} sets **flag {step}** with `call_{step}()` and checks the result. "
            ));
            if step % 6 == 0 {
                body.push_str("\n\n");
            }
        }
        // ASCII only, so the byte length is the character count.
        body.truncate(body_chars);
        body + &marker
    }
}

pub fn is_agent() -> bool {
    std::env::var(ROLE_VAR).is_ok_and(|role| role == ROLE_AGENT)
}

/// Runs as the fake agent; the bot reads stdout, the prompt is on stdin.
///
/// With `--input-format stream-json` (the bot's claude runs keep stdin open for
/// their answers) the prompt is the text of the first line's user message, as
/// the real CLI reads it; otherwise it is all of stdin.
pub fn run() -> ExitCode {
    let started = monotonic_ns();
    let streamed = std::env::args().any(|arg| arg == "--input-format");
    let mut prompt = String::new();
    let read = if streamed {
        std::io::stdin().read_line(&mut prompt).map(drop)
    } else {
        std::io::stdin().read_to_string(&mut prompt).map(drop)
    };
    if let Err(error) = read {
        eprintln!("fake agent: stdin: {error}");
        return ExitCode::FAILURE;
    }
    if streamed {
        let line: Value = serde_json::from_str(&prompt).unwrap_or(Value::Null);
        prompt = line["message"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    }
    let Some(ask) = Ask::parse(&prompt) else {
        eprintln!("fake agent: prompt {prompt:?} is not a bench prompt");
        return ExitCode::FAILURE;
    };
    if let Err(error) = record_start(ask.id, started) {
        eprintln!("fake agent: start log: {error}");
        return ExitCode::FAILURE;
    }
    match stream(&ask) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fake agent: stdout: {error}");
            ExitCode::FAILURE
        }
    }
}

fn record_start(id: u64, started: u64) -> std::io::Result<()> {
    let path = std::env::var_os(LOG_VAR).ok_or_else(|| std::io::Error::other("not set"))?;
    let mut log = OpenOptions::new().create(true).append(true).open(path)?;
    // One short write on an O_APPEND file: lines of concurrent runs never interleave.
    log.write_all(format!("{id} {started}\n").as_bytes())
}

fn stream(ask: &Ask) -> std::io::Result<()> {
    let session = format!("00000000-bench-4000-8000-{:012}", ask.id);
    let answer = ask.answer();
    let mut out = std::io::stdout().lock();
    let mut line = |value: Value| -> std::io::Result<()> {
        writeln!(out, "{value}")?;
        if ask.pace > 0 {
            out.flush()?;
        }
        Ok(())
    };
    let event = |event: Value| {
        json!({"type": "stream_event", "event": event, "session_id": session,
               "parent_tool_use_id": null, "uuid": "bench"})
    };
    line(
        json!({"type": "system", "subtype": "init", "cwd": ".", "session_id": session,
                "tools": ["Bash", "Edit", "Read"], "mcp_servers": [], "model": "claude-bench",
                "permissionMode": "default", "apiKeySource": "ANTHROPIC_API_KEY",
                "claude_code_version": "bench", "uuid": "bench"}),
    )?;
    line(
        json!({"type": "system", "subtype": "status", "status": "requesting",
                "uuid": "bench", "session_id": session}),
    )?;
    line(event(
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
        "role": "assistant", "model": "claude-bench", "content": [], "stop_reason": null,
        "usage": {"input_tokens": 12, "output_tokens": 1}}}),
    ))?;
    line(event(
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ))?;
    let begun = std::time::Instant::now();
    let mut sent = 0;
    for delta in answer.as_bytes().chunks(DELTA_CHARS) {
        if ask.pace > 0 {
            let due = Duration::from_secs_f64(sent as f64 / f64::from(ask.pace));
            if let Some(wait) = due.checked_sub(begun.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let text = std::str::from_utf8(delta).expect("the answer is ASCII");
        line(event(json!({"type": "content_block_delta", "index": 0,
                          "delta": {"type": "text_delta", "text": text}})))?;
        sent += delta.len();
    }
    let output_tokens = answer.len() / 4;
    line(
        json!({"type": "assistant", "message": {"id": "msg_1", "type": "message",
        "role": "assistant", "model": "claude-bench",
        "content": [{"type": "text", "text": answer}], "stop_reason": null,
        "usage": {"input_tokens": 12, "output_tokens": output_tokens}},
        "parent_tool_use_id": null, "session_id": session, "uuid": "bench"}),
    )?;
    line(event(json!({"type": "content_block_stop", "index": 0})))?;
    line(event(
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                      "usage": {"output_tokens": output_tokens}}),
    ))?;
    line(event(json!({"type": "message_stop"})))?;
    line(
        json!({"type": "result", "subtype": "success", "is_error": false, "num_turns": 1,
        "result": answer, "stop_reason": "end_turn", "session_id": session,
        "total_cost_usd": 0.0,
        "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "output_tokens": output_tokens},
        "permission_denials": [], "uuid": "bench"}),
    )?;
    out.flush()
}
