//! What an agent asks the user mid-run, and the user's decision, in terms
//! that fit any CLI; each driver reads its own wire format into a
//! [`Question`] and writes a [`Decision`] back in it.

use serde_json::Value;

/// Something the agent waits on the user for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The CLI's id for the request, echoed in the answer.
    pub request_id: String,
    pub ask: Ask,
    /// The tool's input as the CLI sent it: an allow echoes it.
    pub input: Value,
    /// Rules that allow this kind of call again for the rest of the session
    /// (the CLI's own suggestion, kept to the session).
    pub session_rules: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// A tool call that needs permission: the tool and what it will do.
    Permission { tool: String, detail: String },
    /// The agent's own question, with the options it offers.
    Choice {
        question: String,
        options: Vec<String>,
    },
    /// A plan to approve before the agent starts working (plan mode).
    Plan { plan: String },
}

impl Ask {
    /// One line for `/status`: what the run waits for ("waiting for …").
    pub fn summary(&self) -> String {
        match self {
            Ask::Permission { tool, detail } if detail.is_empty() => {
                format!("your approval: {tool}")
            }
            Ask::Permission { tool, detail } => {
                let first = detail.lines().next().unwrap_or_default();
                format!("your approval: {tool} `{first}`")
            }
            Ask::Choice { question, .. } => format!("your answer: {question}"),
            Ask::Plan { .. } => "your approval of its plan".into(),
        }
    }
}

/// The user's decision on a [`Question`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Allow, and allow calls the session rules cover without asking again.
    AllowForSession,
    /// Deny; the reason reaches the agent.
    Deny {
        reason: String,
    },
    /// An answer to a [`Ask::Choice`].
    Choose {
        answer: String,
    },
}
