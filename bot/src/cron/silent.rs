//! Silent jobs: the run streams nothing, and its result reaches the chat only
//! when the agent marks it as worth telling; otherwise one line says it ran.

use std::time::Duration;

use crate::drivers::AgentOutcome;
use crate::telegram::render::escape_text;

/// What the agent puts at the start of an answer the user should see.
pub const NOTIFY_MARKER: &str = "[notify]";

/// The prompt a silent job's run gets: the job's own, and how to ask for attention.
pub fn prompt(prompt: &str) -> String {
    format!(
        "{prompt}\n\n(This is a scheduled background job: the user does not see your answer \
         unless it starts with {NOTIFY_MARKER}. Start it with {NOTIFY_MARKER} only when there \
         is something the user needs to know.)"
    )
}

/// What the chat is shown once a silent job's run ended: the answer, when it carries the
/// marker (which is taken off), otherwise one line. HTML.
pub fn result(job: &str, outcome: &AgentOutcome, took: Duration) -> String {
    let took = format!("{}s", took.as_secs());
    match outcome {
        AgentOutcome::Completed {
            final_text: Some(text),
        } if text.trim_start().starts_with(NOTIFY_MARKER) => {
            let text = text.trim_start()[NOTIFY_MARKER.len()..].trim();
            format!("🔔 Job {}: {}", escape_text(job), escape_text(text))
        }
        AgentOutcome::Completed { .. } => {
            format!(
                "🔕 Job {} ran in {took}; nothing to report.",
                escape_text(job)
            )
        }
        AgentOutcome::Failed { message } => format!(
            "🔕 Job {} failed after {took}: {}",
            escape_text(job),
            escape_text(message)
        ),
        AgentOutcome::Stalled => format!("🔕 Job {} stalled and was stopped.", escape_text(job)),
        AgentOutcome::Cancelled => format!("🔕 Job {} was stopped.", escape_text(job)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_result_forwards_only_a_marked_answer() {
        let took = Duration::from_secs(12);
        let done = |text: &str| AgentOutcome::Completed {
            final_text: Some(text.into()),
        };
        assert_eq!(
            result("3", &done("[notify] CI is red on main <b>"), took),
            "🔔 Job 3: CI is red on main &lt;b&gt;"
        );
        assert_eq!(
            result("3", &done("All green, as before."), took),
            "🔕 Job 3 ran in 12s; nothing to report."
        );
        assert_eq!(
            result(
                "3",
                &done("All fine. [notify] is how I would flag it."),
                took
            ),
            "🔕 Job 3 ran in 12s; nothing to report.",
            "the marker counts only at the start"
        );
        let failed = AgentOutcome::Failed {
            message: "quota".into(),
        };
        assert_eq!(
            result("3", &failed, took),
            "🔕 Job 3 failed after 12s: quota"
        );
        assert!(prompt("check CI").starts_with("check CI\n\n"));
        assert!(prompt("check CI").contains(NOTIFY_MARKER));
    }
}
