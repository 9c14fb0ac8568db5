//! Every inline button's action, encoded to and parsed from Telegram's 64-byte callback data.

use std::fmt;

/// Telegram refuses callback data longer than this many bytes.
pub const MAX_CALLBACK_BYTES: usize = 64;

/// The agent CLI a lane drives, as chosen by a button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DriverChoice {
    Claude,
    Codex,
}

impl DriverChoice {
    pub const ALL: [DriverChoice; 2] = [DriverChoice::Claude, DriverChoice::Codex];

    pub fn as_str(self) -> &'static str {
        match self {
            DriverChoice::Claude => "claude",
            DriverChoice::Codex => "codex",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        DriverChoice::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// A model or effort setting: the driver's default, or a named value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Choice {
    Default,
    Named(Token),
}

/// A short name fit for callback data: 1 to 48 bytes of `[A-Za-z0-9._-]` and `[]`
/// (as in `opus[1m]`), so it can never contain the `:` separator.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    pub const MAX_BYTES: usize = 48;

    pub fn new(value: &str) -> Result<Self, CallbackError> {
        let valid = !value.is_empty()
            && value.len() <= Self::MAX_BYTES
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-[]".contains(&b))
            && value != "-";
        if valid {
            Ok(Token(value.to_owned()))
        } else {
            Err(CallbackError::BadValue(value.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A button under a question of the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pick {
    Allow,
    AllowForSession,
    Deny,
    /// The option at this index of the agent's own question.
    Option(u8),
}

impl Pick {
    fn encode(self) -> String {
        match self {
            Pick::Allow => "a".into(),
            Pick::AllowForSession => "s".into(),
            Pick::Deny => "d".into(),
            Pick::Option(index) => format!("o{index}"),
        }
    }

    fn parse(value: &str) -> Option<Pick> {
        match value {
            "a" => Some(Pick::Allow),
            "s" => Some(Pick::AllowForSession),
            "d" => Some(Pick::Deny),
            _ => parse_number(value.strip_prefix('o')?).map(Pick::Option),
        }
    }
}

/// What pressing a button asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallbackAction {
    /// Set the lane's model.
    Model(Choice),
    /// Set the lane's reasoning effort.
    Effort(Choice),
    /// Set the lane's permission mode.
    Mode(Token),
    /// Switch the lane to another agent CLI.
    Driver(DriverChoice),
    /// Show another page of the resumable sessions list.
    ResumePage(u16),
    /// Resume this agent session in the lane.
    Resume { session: Token },
    /// After a resume: whether to ask the agent for a recap of that session.
    Recap { session: Token, wanted: bool },
    /// Stop exactly this run (its epoch), never a later one.
    StopRun { run: u64 },
    /// Run the lane's last item again.
    Retry,
    /// Cancel this scheduled job of the lane.
    CronCancel { job: i64 },
    /// Send what this run changed in the working directory, as a patch.
    Diff { run: u64 },
    /// An answer to question `question` of run `run`: both are carried, so a
    /// tap can only ever answer the question it was shown under.
    Answer { run: u64, question: u64, pick: Pick },
    /// A queued message becomes an interrupt: the current run stops for it.
    RunNow { item: Token },
    /// A queued message leaves the queue without running.
    Unqueue { item: Token },
    /// Transcribe the kept recording of this update again.
    Transcribe { update: i64 },
    /// Close the menu without changing anything.
    Dismiss,
}

/// Why callback data could not be understood; old keyboards and tampered clients produce these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("callback data has unknown kind {0:?}")]
    UnknownKind(String),
    #[error("callback data has malformed value {0:?}")]
    BadValue(String),
    #[error("callback data is {0} bytes, over telegram's 64")]
    TooLong(usize),
}

impl CallbackAction {
    /// The callback data for this action; [`Token`]'s bound keeps every encoding within 64 bytes.
    pub fn encode(&self) -> String {
        let data = match self {
            CallbackAction::Model(setting) => format!("m:{}", setting_str(setting)),
            CallbackAction::Effort(setting) => format!("e:{}", setting_str(setting)),
            CallbackAction::Driver(driver) => format!("d:{}", driver.as_str()),
            CallbackAction::Mode(mode) => format!("pm:{mode}"),
            CallbackAction::ResumePage(page) => format!("rp:{page}"),
            CallbackAction::Resume { session } => format!("r:{session}"),
            CallbackAction::Recap { session, wanted } => {
                format!("rc:{}:{session}", if *wanted { "y" } else { "n" })
            }
            CallbackAction::StopRun { run } => format!("s:{run}"),
            CallbackAction::Retry => "rt".to_owned(),
            CallbackAction::CronCancel { job } => format!("cc:{job}"),
            CallbackAction::Diff { run } => format!("df:{run}"),
            CallbackAction::Answer {
                run,
                question,
                pick,
            } => format!("q:{run}:{question}:{}", pick.encode()),
            CallbackAction::RunNow { item } => format!("rn:{item}"),
            CallbackAction::Unqueue { item } => format!("uq:{item}"),
            CallbackAction::Transcribe { update } => format!("tr:{update}"),
            CallbackAction::Dismiss => "x".to_owned(),
        };
        debug_assert!(data.len() <= MAX_CALLBACK_BYTES, "{data}");
        data
    }

    /// Parses callback data strictly: exactly what [`encode`](Self::encode) produces, nothing else.
    pub fn parse(data: &str) -> Result<Self, CallbackError> {
        if data.len() > MAX_CALLBACK_BYTES {
            return Err(CallbackError::TooLong(data.len()));
        }
        let (kind, value) = data.split_once(':').unwrap_or((data, ""));
        let bad = || CallbackError::BadValue(data.to_owned());
        let no_value = |action: CallbackAction| {
            if data.contains(':') {
                Err(bad())
            } else {
                Ok(action)
            }
        };
        match kind {
            "m" => parse_setting(value)
                .map(CallbackAction::Model)
                .ok_or_else(bad),
            "e" => parse_setting(value)
                .map(CallbackAction::Effort)
                .ok_or_else(bad),
            "d" => DriverChoice::parse(value)
                .map(CallbackAction::Driver)
                .ok_or_else(bad),
            "pm" => Token::new(value)
                .map(CallbackAction::Mode)
                .map_err(|_| bad()),
            "rp" => parse_number(value)
                .map(CallbackAction::ResumePage)
                .ok_or_else(bad),
            "r" => Token::new(value)
                .map(|session| CallbackAction::Resume { session })
                .map_err(|_| bad()),
            "rc" => {
                let (answer, session) = value.split_once(':').ok_or_else(bad)?;
                let wanted = match answer {
                    "y" => true,
                    "n" => false,
                    _ => return Err(bad()),
                };
                let session = Token::new(session).map_err(|_| bad())?;
                Ok(CallbackAction::Recap { session, wanted })
            }
            "s" => parse_number(value)
                .map(|run| CallbackAction::StopRun { run })
                .ok_or_else(bad),
            "rt" => no_value(CallbackAction::Retry),
            "cc" => parse_number(value)
                .map(|job| CallbackAction::CronCancel { job })
                .ok_or_else(bad),
            "df" => parse_number(value)
                .map(|run| CallbackAction::Diff { run })
                .ok_or_else(bad),
            "q" => {
                let mut parts = value.split(':');
                let (Some(run), Some(question), Some(pick), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad());
                };
                Ok(CallbackAction::Answer {
                    run: parse_number(run).ok_or_else(bad)?,
                    question: parse_number(question).ok_or_else(bad)?,
                    pick: Pick::parse(pick).ok_or_else(bad)?,
                })
            }
            "rn" => Token::new(value)
                .map(|item| CallbackAction::RunNow { item })
                .map_err(|_| bad()),
            "uq" => Token::new(value)
                .map(|item| CallbackAction::Unqueue { item })
                .map_err(|_| bad()),
            "tr" => parse_number(value)
                .map(|update| CallbackAction::Transcribe { update })
                .ok_or_else(bad),
            "x" => no_value(CallbackAction::Dismiss),
            other => Err(CallbackError::UnknownKind(other.to_owned())),
        }
    }
}

fn setting_str(setting: &Choice) -> &str {
    match setting {
        Choice::Default => "-",
        Choice::Named(token) => token.as_str(),
    }
}

fn parse_setting(value: &str) -> Option<Choice> {
    if value == "-" {
        return Some(Choice::Default);
    }
    Token::new(value).ok().map(Choice::Named)
}

/// Canonical decimal only, so that every number has exactly one encoding.
fn parse_number<T: std::str::FromStr>(value: &str) -> Option<T> {
    let canonical = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit())
        && (value == "0" || !value.starts_with('0'));
    if canonical { value.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn token() -> impl Strategy<Value = Token> {
        "[A-Za-z0-9._\\[\\]-]{1,48}"
            .prop_filter("the default marker", |s| s != "-")
            .prop_map(|s| Token::new(&s).unwrap())
    }

    fn setting() -> impl Strategy<Value = Choice> {
        prop_oneof![Just(Choice::Default), token().prop_map(Choice::Named)]
    }

    fn action() -> impl Strategy<Value = CallbackAction> {
        prop_oneof![
            setting().prop_map(CallbackAction::Model),
            setting().prop_map(CallbackAction::Effort),
            prop_oneof![Just(DriverChoice::Claude), Just(DriverChoice::Codex)]
                .prop_map(CallbackAction::Driver),
            any::<u16>().prop_map(CallbackAction::ResumePage),
            token().prop_map(CallbackAction::Mode),
            token().prop_map(|session| CallbackAction::Resume { session }),
            (token(), any::<bool>())
                .prop_map(|(session, wanted)| CallbackAction::Recap { session, wanted }),
            any::<u64>().prop_map(|run| CallbackAction::StopRun { run }),
            Just(CallbackAction::Retry),
            (0..i64::MAX).prop_map(|job| CallbackAction::CronCancel { job }),
            any::<u64>().prop_map(|run| CallbackAction::Diff { run }),
            token().prop_map(|item| CallbackAction::RunNow { item }),
            (
                any::<u64>(),
                any::<u64>(),
                prop_oneof![
                    Just(Pick::Allow),
                    Just(Pick::AllowForSession),
                    Just(Pick::Deny),
                    any::<u8>().prop_map(Pick::Option)
                ]
            )
                .prop_map(|(run, question, pick)| CallbackAction::Answer {
                    run,
                    question,
                    pick
                }),
            token().prop_map(|item| CallbackAction::Unqueue { item }),
            (0..i64::MAX).prop_map(|update| CallbackAction::Transcribe { update }),
            Just(CallbackAction::Dismiss),
        ]
    }

    proptest! {
        #[test]
        fn callback_round_trips_within_64_bytes(action in action()) {
            let data = action.encode();
            prop_assert!(data.len() <= MAX_CALLBACK_BYTES, "{data}");
            prop_assert_eq!(CallbackAction::parse(&data).unwrap(), action);
        }

        #[test]
        fn callback_parse_accepts_only_canonical_data(data in "[a-z:0-9yn\\-]{0,12}") {
            if let Ok(action) = CallbackAction::parse(&data) {
                prop_assert_eq!(action.encode(), data);
            }
        }
    }

    #[test]
    fn callback_garbled_or_stale_data_is_a_typed_error() {
        assert_eq!(
            CallbackAction::parse("model:opus"),
            Err(CallbackError::UnknownKind("model".into()))
        );
        for data in [
            "d:gemini",
            "s:01",
            "s:-1",
            "rp:",
            "rt:1",
            "x:",
            "rc:maybe:abc",
            "q:1:2",
            "q:1:2:z",
            "q:1:2:o01",
            "q:1:2:a:3",
            "m:a b",
            "e:",
        ] {
            assert_eq!(
                CallbackAction::parse(data),
                Err(CallbackError::BadValue(data.into()))
            );
        }
        let long = format!("r:{}", "a".repeat(63));
        assert_eq!(
            CallbackAction::parse(&long),
            Err(CallbackError::TooLong(65))
        );
    }

    #[test]
    fn callback_session_uuid_fits() {
        let session = Token::new("0199a0b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b").unwrap();
        let data = CallbackAction::Recap {
            session,
            wanted: true,
        }
        .encode();
        assert_eq!(data, "rc:y:0199a0b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b");
    }
}
