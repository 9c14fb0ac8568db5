//! Scenarios and race reports as TOML data files: the only definition of a
//! scenario, read alike by loom, shuttle and `baton-repro`.
//!
//! ```toml
//! id = "DQ-1"
//! title = "a queued item of another lane waits forever"
//! invariant = "no_loss"          # the invariant the report is about
//! capacity = 1                   # optional, default 1
//! max_queue = 2                  # optional: user items a lane may queue, default the core's 20
//! setup = ["submit A a1"]        # run in order before the actors start
//! witness = "runner*3 user ..."  # optional: a failing interleaving (legacy)
//! reason = "item b1 was ..."     # reports: a piece of the violation that
//!                                # says the audit's reason
//! [[cron]]                       # optional: registered jobs
//! job = "j1"
//! lane = "A"
//! kind = "one_shot"              # or "recurring"
//! [[actor]]
//! name = "runner"
//! ops = ["take A", "spawn", "finish completed"]
//! ```
//!
//! Operations (lanes and items are free names, `@actor` names another
//! actor's run): `submit LANE ITEM [text|voice|audio|photo|document|video|
//! button|media_group]`, `restart`, `shutdown`, `interrupt LANE ITEM`, `stop LANE [clear]`, `new LANE`,
//! `driver LANE claude|codex`, `retry_last LANE ITEM`, `recap LANE ITEM`,
//! `cron_tick JOB...`, `cron_cancel JOB`, `timer stop_flag|interrupt_flag`,
//! `snapshot`, `run_now LANE ITEM`, `cancel_queued LANE ITEM`,
//! `answer QUESTION`; runner operations: `take [LANE]`, `spawn`,
//! `output [@ACTOR]`, `session ID [@ACTOR]`, `stall`,
//! `ask QUESTION`, `withdraw QUESTION`, `finish completed|failed`.
//! A question is a free name too: the `ask` that issues it is its only
//! definition, and the taps and withdrawals that name it reach that run.

use std::path::{Path, PathBuf};

use baton_core::{CronKind, Driver, Origin};
use serde::Deserialize;

use crate::invariants::Invariant;

/// A bad report file: one message naming the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct ReportError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The original cleared its stop flag on a timer.
    StopFlag,
    /// The original cleared its interrupt flag on a timer.
    InterruptFlag,
}

/// One operation of an actor. Lanes, jobs and actors are indices into the
/// scenario's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Submit {
        lane: usize,
        item: String,
        /// A user origin: text, voice, audio, photo, document, video, button.
        origin: Origin,
    },
    Interrupt {
        lane: usize,
        item: String,
    },
    Stop {
        lane: usize,
        clear: bool,
    },
    New {
        lane: usize,
    },
    Driver {
        lane: usize,
        driver: Driver,
    },
    RetryLast {
        lane: usize,
        item: String,
    },
    Recap {
        lane: usize,
        item: String,
    },
    CronTick {
        jobs: Vec<usize>,
        /// Fire time: the ordinal of this tick in the scenario.
        fire: u64,
    },
    CronCancel {
        job: usize,
    },
    Timer(Timer),
    Snapshot,
    Take {
        lane: Option<usize>,
    },
    Spawn,
    Output {
        of: Option<usize>,
    },
    Session {
        id: String,
        of: Option<usize>,
    },
    Stall,
    Finish {
        failed: bool,
    },
    /// A photo or document album (Telegram media group), which the
    /// original buffered and processed apart from single items.
    MediaGroup {
        lane: usize,
        item: String,
    },
    /// The process exits and starts again.
    Restart,
    /// **Run now** tapped under a queued message.
    RunNow {
        lane: usize,
        item: String,
    },
    /// **Cancel** tapped under a queued message.
    CancelQueued {
        lane: usize,
        item: String,
    },
    /// The runner's agent asks the user; `question` labels it.
    Ask {
        question: String,
    },
    /// A tap on a button of the question: it names that question of the
    /// run that asked it.
    Answer {
        question: String,
    },
    /// The runner withdraws its question (the agent cancelled it, or it
    /// timed out).
    Withdraw {
        question: String,
    },
    /// The process is asked to stop (SIGTERM).
    Shutdown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronJob {
    pub name: String,
    pub lane: usize,
    pub kind: CronKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub ops: Vec<(Op, String)>,
}

/// A parsed scenario or race report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub path: PathBuf,
    pub id: String,
    pub title: String,
    pub invariant: Invariant,
    pub capacity: usize,
    /// User items a lane may hold queued (the core's `max_queue`).
    pub max_queue: usize,
    pub lanes: Vec<String>,
    pub cron: Vec<CronJob>,
    pub setup: Vec<(Op, String)>,
    pub actors: Vec<Actor>,
    /// A failing interleaving against the original design, if recorded.
    pub witness: Option<String>,
    /// For a race report: a piece of the violation message that says the
    /// audit's reason (not some other bug the same scenario happens to hit).
    pub reason: Option<String>,
}

impl Report {
    pub fn actor_names(&self) -> Vec<String> {
        self.actors.iter().map(|a| a.name.clone()).collect()
    }

    /// Whether the scenario restarts or shuts the process down somewhere.
    pub fn has_lifecycle(&self) -> bool {
        self.setup
            .iter()
            .chain(self.actors.iter().flat_map(|a| a.ops.iter()))
            .any(|(op, _)| op.is_lifecycle())
    }
}

impl Op {
    /// Restart and shutdown end the process: nothing else runs meanwhile.
    pub fn is_lifecycle(&self) -> bool {
        matches!(self, Op::Restart | Op::Shutdown)
    }

    /// Questions and steering buttons: added with the core's `ask` and
    /// `run_now`, after the original bot.
    pub fn is_question_or_steering(&self) -> bool {
        matches!(
            self,
            Op::RunNow { .. }
                | Op::CancelQueued { .. }
                | Op::Ask { .. }
                | Op::Answer { .. }
                | Op::Withdraw { .. }
        )
    }
}

/// The operations of this format that the first-version parser did not
/// know: albums and the process lifecycle.
fn lifecycle_op(verb: &str, args: &[&str]) -> Option<Result<Op, String>> {
    let op = match verb {
        "restart" => Op::Restart,
        "shutdown" => Op::Shutdown,
        _ => return None,
    };
    Some(if args.is_empty() {
        Ok(op)
    } else {
        Err(format!("{verb} takes no arguments"))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    id: String,
    title: String,
    invariant: toml::Spanned<String>,
    #[serde(default)]
    capacity: Option<usize>,
    #[serde(default)]
    max_queue: Option<usize>,
    #[serde(default)]
    setup: Vec<toml::Spanned<String>>,
    #[serde(default)]
    cron: Vec<RawCron>,
    actor: Vec<RawActor>,
    #[serde(default)]
    witness: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCron {
    job: toml::Spanned<String>,
    lane: String,
    kind: toml::Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawActor {
    name: toml::Spanned<String>,
    ops: Vec<toml::Spanned<String>>,
}

/// Reads and parses one report file.
pub fn load(path: &Path) -> Result<Report, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ReportError {
        file: path.to_owned(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &text)
}

/// Every `*.toml` file of a directory, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Report>, ReportError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ReportError {
        file: dir.to_owned(),
        line: 0,
        message: format!("cannot list: {e}"),
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
    lanes: Vec<String>,
    jobs: Vec<String>,
    actors: Vec<String>,
    ticks: u64,
    /// Where each question is asked, and where each tap or withdrawal
    /// names one: checked once every actor is read.
    asked: Vec<(String, usize)>,
    named: Vec<(String, usize)>,
}

impl Parser<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ReportError {
        ReportError {
            file: self.path.to_owned(),
            line: self.line(offset),
            message: message.into(),
        }
    }

    fn lane(&mut self, name: &str) -> usize {
        match self.lanes.iter().position(|l| l == name) {
            Some(i) => i,
            None => {
                self.lanes.push(name.to_owned());
                self.lanes.len() - 1
            }
        }
    }

    fn op(&mut self, spanned: &toml::Spanned<String>) -> Result<(Op, String), ReportError> {
        let at = spanned.span().start;
        let text = spanned.get_ref().trim().to_owned();
        let words: Vec<&str> = text.split_whitespace().collect();
        let Some((&verb, args)) = words.split_first() else {
            return Err(self.error(at, "empty operation"));
        };
        let want = |n: std::ops::RangeInclusive<usize>| -> Result<(), ReportError> {
            if n.contains(&args.len()) {
                Ok(())
            } else {
                Err(self.error(at, format!("operation {text:?}: wrong number of arguments")))
            }
        };
        if let Some(op) = lifecycle_op(verb, args) {
            return op.map(|op| (op, text)).map_err(|m| self.error(at, m));
        }
        let op = match verb {
            "submit" if args.get(2) == Some(&"media_group") => {
                want(3..=3)?;
                Op::MediaGroup {
                    lane: self.lane(args[0]),
                    item: args[1].to_owned(),
                }
            }
            "submit" => {
                want(2..=3)?;
                let origin = match args.get(2).copied().unwrap_or("text") {
                    "text" => Origin::Text,
                    "voice" => Origin::Voice,
                    "audio" => Origin::Audio,
                    "photo" => Origin::Photo,
                    "document" => Origin::Document,
                    "video" => Origin::Video,
                    "button" => Origin::Button,
                    other => return Err(self.error(at, format!("unknown origin {other:?}"))),
                };
                Op::Submit {
                    lane: self.lane(args[0]),
                    item: args[1].to_owned(),
                    origin,
                }
            }
            "interrupt" | "retry_last" | "recap" | "run_now" | "cancel_queued" => {
                want(2..=2)?;
                let lane = self.lane(args[0]);
                let item = args[1].to_owned();
                match verb {
                    "interrupt" => Op::Interrupt { lane, item },
                    "retry_last" => Op::RetryLast { lane, item },
                    "run_now" => Op::RunNow { lane, item },
                    "cancel_queued" => Op::CancelQueued { lane, item },
                    _ => Op::Recap { lane, item },
                }
            }
            "ask" | "answer" | "withdraw" => {
                want(1..=1)?;
                let question = args[0].to_owned();
                if verb == "ask" {
                    if self.asked.iter().any(|(q, _)| *q == question) {
                        return Err(self.error(at, format!("question {question:?} is asked twice")));
                    }
                    self.asked.push((question.clone(), at));
                    Op::Ask { question }
                } else {
                    self.named.push((question.clone(), at));
                    if verb == "answer" {
                        Op::Answer { question }
                    } else {
                        Op::Withdraw { question }
                    }
                }
            }
            "stop" => {
                want(1..=2)?;
                let clear = match args.get(1) {
                    None => false,
                    Some(&"clear") => true,
                    Some(other) => {
                        return Err(self.error(at, format!("stop takes `clear`, not {other:?}")));
                    }
                };
                Op::Stop {
                    lane: self.lane(args[0]),
                    clear,
                }
            }
            "new" => {
                want(1..=1)?;
                Op::New {
                    lane: self.lane(args[0]),
                }
            }
            "driver" => {
                want(2..=2)?;
                let driver = args[1]
                    .parse::<Driver>()
                    .map_err(|e| self.error(at, e.to_string()))?;
                Op::Driver {
                    lane: self.lane(args[0]),
                    driver,
                }
            }
            "cron_tick" => {
                if args.is_empty() {
                    return Err(self.error(at, "cron_tick needs at least one job"));
                }
                let jobs = args
                    .iter()
                    .map(|j| self.job(at, j))
                    .collect::<Result<_, _>>()?;
                self.ticks += 1;
                Op::CronTick {
                    jobs,
                    fire: self.ticks,
                }
            }
            "cron_cancel" => {
                want(1..=1)?;
                Op::CronCancel {
                    job: self.job(at, args[0])?,
                }
            }
            "timer" => {
                want(1..=1)?;
                Op::Timer(match args[0] {
                    "stop_flag" => Timer::StopFlag,
                    "interrupt_flag" => Timer::InterruptFlag,
                    other => return Err(self.error(at, format!("unknown timer {other:?}"))),
                })
            }
            "snapshot" => {
                want(0..=0)?;
                Op::Snapshot
            }
            "take" => {
                want(0..=1)?;
                Op::Take {
                    lane: args.first().map(|l| self.lane(l)),
                }
            }
            "spawn" => {
                want(0..=0)?;
                Op::Spawn
            }
            "stall" => {
                want(0..=0)?;
                Op::Stall
            }
            "output" => {
                want(0..=1)?;
                Op::Output {
                    of: args.first().map(|a| self.actor(at, a)).transpose()?,
                }
            }
            "session" => {
                want(1..=2)?;
                Op::Session {
                    id: args[0].to_owned(),
                    of: args.get(1).map(|a| self.actor(at, a)).transpose()?,
                }
            }
            "finish" => {
                want(1..=1)?;
                Op::Finish {
                    failed: match args[0] {
                        "completed" => false,
                        "failed" => true,
                        other => {
                            return Err(self.error(
                                at,
                                format!("finish takes completed or failed, not {other:?}"),
                            ));
                        }
                    },
                }
            }
            other => return Err(self.error(at, format!("unknown operation {other:?}"))),
        };
        Ok((op, text))
    }

    /// Every question a tap or withdrawal names is asked somewhere.
    fn questions_asked(&self) -> Result<(), ReportError> {
        match self
            .named
            .iter()
            .find(|(q, _)| !self.asked.iter().any(|(a, _)| a == q))
        {
            Some((question, at)) => Err(self.error(
                *at,
                format!("question {question:?} is never asked (`ask {question}`)"),
            )),
            None => Ok(()),
        }
    }

    fn job(&self, at: usize, name: &str) -> Result<usize, ReportError> {
        self.jobs
            .iter()
            .position(|j| j == name)
            .ok_or_else(|| self.error(at, format!("unknown cron job {name:?}")))
    }

    fn actor(&self, at: usize, word: &str) -> Result<usize, ReportError> {
        let name = word
            .strip_prefix('@')
            .ok_or_else(|| self.error(at, format!("expected @actor, found {word:?}")))?;
        self.actors
            .iter()
            .position(|a| a == name)
            .ok_or_else(|| self.error(at, format!("unknown actor {name:?}")))
    }
}

/// Parses report text; `path` only names the file in errors.
pub fn parse(path: &Path, text: &str) -> Result<Report, ReportError> {
    let mut parser = Parser {
        path,
        text,
        lanes: Vec::new(),
        jobs: Vec::new(),
        actors: Vec::new(),
        ticks: 0,
        asked: Vec::new(),
        named: Vec::new(),
    };
    let raw: RawReport = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        parser.error(offset, e.message().to_owned())
    })?;
    let invariant = raw
        .invariant
        .get_ref()
        .parse::<Invariant>()
        .map_err(|e| parser.error(raw.invariant.span().start, e))?;
    let mut cron = Vec::new();
    for job in &raw.cron {
        let kind = match job.kind.get_ref().as_str() {
            "one_shot" => CronKind::OneShot,
            "recurring" => CronKind::Recurring,
            other => {
                return Err(parser.error(
                    job.kind.span().start,
                    format!("cron kind is one_shot or recurring, not {other:?}"),
                ));
            }
        };
        if parser.jobs.contains(job.job.get_ref()) {
            return Err(parser.error(job.job.span().start, "cron job defined twice"));
        }
        parser.jobs.push(job.job.get_ref().clone());
        let lane = parser.lane(&job.lane);
        cron.push(CronJob {
            name: job.job.get_ref().clone(),
            lane,
            kind,
        });
    }
    for actor in &raw.actor {
        if parser.actors.contains(actor.name.get_ref()) || actor.name.get_ref() == "main" {
            return Err(parser.error(actor.name.span().start, "actor name used twice"));
        }
        parser.actors.push(actor.name.get_ref().clone());
    }
    if raw.actor.is_empty() || raw.actor.len() > 4 {
        return Err(parser.error(0, "a scenario has 1 to 4 actors (loom's limit)"));
    }
    let setup = raw
        .setup
        .iter()
        .map(|op| parser.op(op))
        .collect::<Result<_, _>>()?;
    let mut actors = Vec::new();
    for actor in &raw.actor {
        let ops = actor
            .ops
            .iter()
            .map(|op| parser.op(op))
            .collect::<Result<_, _>>()?;
        actors.push(Actor {
            name: actor.name.get_ref().clone(),
            ops,
        });
    }
    parser.questions_asked()?;
    Ok(Report {
        path: path.to_owned(),
        id: raw.id,
        title: raw.title,
        invariant,
        capacity: raw.capacity.unwrap_or(1).max(1),
        max_queue: raw
            .max_queue
            .unwrap_or_else(|| baton_core::Config::default().max_queue),
        lanes: parser.lanes,
        cron,
        setup,
        actors,
        witness: raw.witness,
        reason: raw.reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Report, ReportError> {
        parse(Path::new("r.toml"), text)
    }

    const HEAD: &str = "id = \"x\"\ntitle = \"t\"\ninvariant = \"exclusion\"\n";

    #[test]
    fn report_parses_lanes_jobs_and_actor_references() {
        let text = format!(
            "{HEAD}[[cron]]\njob = \"j\"\nlane = \"B\"\nkind = \"recurring\"\n\
             [[actor]]\nname = \"r\"\nops = [\"take A\", \"finish failed\"]\n\
             [[actor]]\nname = \"s\"\nops = [\"output @r\", \"cron_tick j\", \"cron_tick j\"]\n"
        );
        let report = parse_text(&text).unwrap();
        assert_eq!(report.lanes, ["B", "A"]);
        assert_eq!(report.actors[1].ops[0].0, Op::Output { of: Some(0) });
        assert_eq!(
            report.actors[1].ops[2].0,
            Op::CronTick {
                jobs: vec![0],
                fire: 2
            }
        );
    }

    #[test]
    fn report_error_names_the_line_of_a_toml_mistake() {
        let error = parse_text(&format!("{HEAD}[[actor]]\nname = \n")).unwrap_err();
        assert_eq!(error.line, 5, "{error}");
    }

    #[test]
    fn report_error_names_an_unknown_actor_reference() {
        let text = format!("{HEAD}[[actor]]\nname = \"a\"\nops = [\"session s1 @ghost\"]\n");
        let error = parse_text(&text).unwrap_err();
        assert_eq!(error.line, 6);
        assert!(error.message.contains("ghost"), "{error}");
    }

    #[test]
    fn report_refuses_more_actors_than_loom_allows() {
        let actor = "[[actor]]\nname = \"NAME\"\nops = [\"snapshot\"]\n";
        let actors: String = (0..5)
            .map(|i| actor.replace("NAME", &format!("a{i}")))
            .collect();
        let error = parse_text(&format!("{HEAD}{actors}")).unwrap_err();
        assert!(error.message.contains("1 to 4 actors"), "{error}");
    }

    #[test]
    fn report_parses_albums_and_the_process_lifecycle() {
        let text = format!(
            "{HEAD}[[actor]]\nname = \"a\"\nops = [\"submit A p1 media_group\", \"restart\", \"shutdown\"]\n"
        );
        let report = parse_text(&text).unwrap();
        let ops: Vec<&Op> = report.actors[0].ops.iter().map(|(op, _)| op).collect();
        assert_eq!(
            ops,
            [
                &Op::MediaGroup {
                    lane: 0,
                    item: "p1".to_owned()
                },
                &Op::Restart,
                &Op::Shutdown
            ]
        );
        assert!(report.has_lifecycle());
        let bad = format!("{HEAD}[[actor]]\nname = \"a\"\nops = [\"restart now\"]\n");
        assert!(
            parse_text(&bad)
                .unwrap_err()
                .message
                .contains("no arguments")
        );
    }

    #[test]
    fn report_parses_questions_and_steering() {
        let text = format!(
            "{HEAD}[[actor]]\nname = \"r\"\nops = [\"take A\", \"spawn\", \"ask q1\", \"withdraw q1\"]\n\
             [[actor]]\nname = \"u\"\nops = [\"answer q1\", \"run_now A a2\", \"cancel_queued A a3\"]\n"
        );
        let report = parse_text(&text).unwrap();
        let question = || "q1".to_owned();
        assert_eq!(
            report.actors[0].ops[2].0,
            Op::Ask {
                question: question()
            }
        );
        assert_eq!(
            report.actors[0].ops[3].0,
            Op::Withdraw {
                question: question()
            }
        );
        let user: Vec<&Op> = report.actors[1].ops.iter().map(|(op, _)| op).collect();
        assert_eq!(
            user,
            [
                &Op::Answer {
                    question: question()
                },
                &Op::RunNow {
                    lane: 0,
                    item: "a2".to_owned()
                },
                &Op::CancelQueued {
                    lane: 0,
                    item: "a3".to_owned()
                }
            ]
        );
        assert!(user.iter().all(|op| op.is_question_or_steering()));
    }

    #[test]
    fn report_refuses_a_question_asked_twice_or_never() {
        let twice = format!(
            "{HEAD}[[actor]]\nname = \"r\"\nops = [\"ask q1\"]\n\
             [[actor]]\nname = \"s\"\nops = [\"ask q1\"]\n"
        );
        let error = parse_text(&twice).unwrap_err();
        assert_eq!(error.line, 9, "{error}");
        assert!(error.message.contains("asked twice"), "{error}");
        let never = format!("{HEAD}[[actor]]\nname = \"u\"\nops = [\"snapshot\", \"answer q9\"]\n");
        let error = parse_text(&never).unwrap_err();
        assert_eq!(error.line, 6, "{error}");
        assert!(error.message.contains("\"q9\" is never asked"), "{error}");
        let bare = format!("{HEAD}[[actor]]\nname = \"u\"\nops = [\"run_now A\"]\n");
        assert!(
            parse_text(&bare)
                .unwrap_err()
                .message
                .contains("wrong number of arguments")
        );
    }

    #[test]
    fn report_refuses_an_unknown_invariant() {
        let text =
            "id = \"x\"\ntitle = \"t\"\ninvariant = \"speed\"\n[[actor]]\nname = \"a\"\nops = []\n";
        let error = parse_text(text).unwrap_err();
        assert_eq!(error.line, 3);
        assert!(error.message.contains("unknown invariant"), "{error}");
    }

    #[test]
    fn report_reads_max_queue_and_defaults_to_the_cores() {
        let actor = "[[actor]]\nname = \"a\"\nops = [\"submit A a1\"]\n";
        let set = parse_text(&format!("{HEAD}max_queue = 2\n{actor}")).unwrap();
        assert_eq!(set.max_queue, 2);
        let unset = parse_text(&format!("{HEAD}{actor}")).unwrap();
        assert_eq!(unset.max_queue, baton_core::Config::default().max_queue);
        let refusal = parse_text(&format!(
            "id = \"x\"\ntitle = \"t\"\ninvariant = \"refusal\"\n{actor}"
        ))
        .unwrap();
        assert_eq!(refusal.invariant, Invariant::Refusal);
    }
}
