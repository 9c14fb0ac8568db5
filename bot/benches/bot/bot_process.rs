//! The real `baton` binary as a child process, serving the fake Telegram server and
//! spawning the fake agent, with its memory and CPU time read from /proc.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tempfile::TempDir;

use crate::agent;
use crate::fake_telegram::TOKEN;

/// Resident memory of a process, from /proc/<pid>/status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_kib: u64,
    /// VmHWM: the most ever resident.
    pub peak_kib: u64,
}

pub struct BotProcess {
    child: Child,
    dir: TempDir,
}

impl BotProcess {
    /// Starts `baton --no-env-file` with settings from `settings` (plus what the
    /// bench needs), its state in a new directory under `root`; its agent runs are
    /// this bench binary in agent mode.
    pub fn start(
        root: &Path,
        telegram_url: &str,
        agent_log: &Path,
        users: &[i64],
        settings: &[(&str, &str)],
    ) -> anyhow::Result<BotProcess> {
        let dir = tempfile::tempdir_in(root)
            .with_context(|| format!("bot temp dir in {}", root.display()))?;
        let workdir = dir.path().join("work");
        std::fs::create_dir(&workdir).context("bot workdir")?;
        let log = File::create(dir.path().join("baton.log")).context("bot log file")?;
        let agent = std::env::current_exe().context("bench executable path")?;
        let users = users
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut command = Command::new(baton_binary());
        command
            .arg("--no-env-file")
            .env("TELEGRAM_BOT_TOKEN", TOKEN)
            .env("TELEGRAM_ALLOWED_USERS", users)
            .env("TELEGRAM_API_URL", telegram_url)
            .env("BATON_WORKDIR", &workdir)
            .env("BATON_STATE_DIR", dir.path().join("state"))
            .env("CLAUDE_BIN", &agent)
            .env("CODEX_BIN", "/nonexistent/codex")
            .env(agent::ROLE_VAR, agent::ROLE_AGENT)
            .env(agent::LOG_VAR, agent_log)
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("bot log file")?)
            .stderr(log);
        for (key, value) in settings {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("start {}", baton_binary().display()))?;
        Ok(BotProcess { child, dir })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn memory(&self) -> anyhow::Result<Memory> {
        memory_of(self.pid())
    }

    /// User plus system CPU time the bot has used so far, all threads.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        let path = format!("/proc/{}/stat", self.pid());
        let stat = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let after = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .context("stat without a command")?;
        let fields: Vec<&str> = after.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
        let ticks: u64 = fields
            .get(11..13)
            .context("stat too short")?
            .iter()
            .map(|f| f.parse::<u64>().unwrap_or(0))
            .sum();
        // SAFETY: sysconf only reads a configuration value.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Ok(Duration::from_nanos(ticks * 1_000_000_000 / per_second))
    }

    /// Fails if the bot has exited; the error carries the end of its log.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait().context("bot status")? {
            bail!("the bot exited ({status}); log:\n{}", self.log_tail());
        }
        Ok(())
    }

    /// The last lines the bot logged.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Everything the bot logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baton.log")).unwrap_or_default()
    }

    /// When the bot's store committed, read from its debug log (`baton_bot::store=debug`),
    /// as CLOCK_REALTIME nanoseconds.
    pub fn commit_times(&self) -> Vec<i128> {
        self.log()
            .lines()
            .filter(|line| line.contains("store: committed"))
            .filter_map(|line| {
                let stamp = strip_ansi(line.split_whitespace().next()?);
                let at = chrono::DateTime::parse_from_rfc3339(&stamp).ok()?;
                Some(i128::from(at.timestamp_nanos_opt()?))
            })
            .collect()
    }

    /// Sends SIGTERM and waits for a clean exit, as a service manager would.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.pid() as libc::pid_t;
        // SAFETY: kill only sends a signal to our own child, which has not been reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().context("bot status")? {
                if !status.success() {
                    bail!("the bot exited with {status}; log:\n{}", self.log_tail());
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the bot did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `baton` executable cargo built for this bench, in the same profile.
fn baton_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

/// The log goes to a file, but the formatter may still colour it.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub fn memory_of(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("{path}: no {name}"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}
