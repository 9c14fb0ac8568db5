//! What a lane prefers: which agent, which model, how much effort.

use serde::{Deserialize, Serialize};

/// The agent CLI a run drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    #[default]
    Claude,
    Codex,
}

impl Driver {
    pub const ALL: [Driver; 2] = [Driver::Claude, Driver::Codex];

    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Claude => "claude",
            Driver::Codex => "codex",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Driver {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "claude" => Ok(Driver::Claude),
            "codex" => Ok(Driver::Codex),
            other => Err(crate::Error::UnknownDriver(other.to_owned())),
        }
    }
}

/// A lane's preferences; a run captures them when it is admitted and keeps
/// them whatever changes afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Preferences {
    pub driver: Driver,
    pub model: Option<String>,
    pub effort: Option<String>,
    /// The agent's permission mode (claude's `--permission-mode`); `None`
    /// is the operator's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}
