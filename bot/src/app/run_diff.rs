//! What a run changed: its one-line summary with a Diff button at the end of
//! the run, and the patch as a document when the button is pressed.

use std::collections::VecDeque;
use std::sync::Arc;

use baton_core::{LaneKey, RunId};
use parking_lot::Mutex;

use super::App;
use super::effects::{Effect, To};
use super::router::Router;
use crate::telegram::keyboards::diff_keyboard;
use crate::telegram::render::escape_text;
use crate::workspace_diff::{self, Changes, Snapshot};

/// Patches kept for Diff buttons; an older button says its diff is gone.
const KEPT: usize = 32;
/// A longer patch is cut here (on a line boundary) before it is kept and sent.
const MAX_PATCH_BYTES: usize = 4 * 1024 * 1024;
/// A patch this short is shown inline too.
const INLINE_LINES: usize = 12;
const INLINE_CHARS: usize = 1_500;

/// The recent runs' patches, newest last.
#[derive(Debug, Default)]
pub struct DiffBoard(Mutex<VecDeque<(RunId, LaneKey, Arc<str>)>>);

impl DiffBoard {
    pub fn keep(&self, run: RunId, lane: LaneKey, patch: &str) {
        let mut kept = self.0.lock();
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back((run, lane, Arc::from(patch)));
    }

    /// `run`'s patch, if it is still kept and belongs to `lane`.
    pub fn patch(&self, run: RunId, lane: LaneKey) -> Option<Arc<str>> {
        self.0
            .lock()
            .iter()
            .find(|(kept, of, _)| *kept == run && *of == lane)
            .map(|(_, _, patch)| Arc::clone(patch))
    }
}

/// The end-of-run message: the summary, and the patch itself when it is short. HTML.
pub fn summary_html(changes: &Changes) -> String {
    let mut out = format!("📝 {}", escape_text(&changes.summary()));
    let lines = changes.patch.lines().count();
    if lines <= INLINE_LINES && changes.patch.len() <= INLINE_CHARS {
        out.push_str(&format!(
            "\n<pre>{}</pre>",
            escape_text(changes.patch.trim_end())
        ));
    }
    out
}

/// `patch`, cut to [`MAX_PATCH_BYTES`] with a last line saying so.
fn capped(patch: &str) -> std::borrow::Cow<'_, str> {
    if patch.len() <= MAX_PATCH_BYTES {
        return patch.into();
    }
    let mut end = MAX_PATCH_BYTES;
    while !patch.is_char_boundary(end) {
        end -= 1;
    }
    let end = patch[..end].rfind('\n').map_or(end, |at| at + 1);
    format!(
        "{}… cut at {} of {} bytes; git diff on the machine shows all of it\n",
        &patch[..end],
        end,
        patch.len()
    )
    .into()
}

impl App {
    /// After a run: if its working tree changed from `before` to `after`, the
    /// summary and a Diff button go to the lane.
    pub(super) async fn report_changes(
        self: &Arc<Self>,
        lane: LaneKey,
        run: RunId,
        (before, after): (Snapshot, Snapshot),
    ) {
        let Some(changes) = workspace_diff::changes_between(&before, &after).await else {
            return;
        };
        self.diffs.keep(run, lane, &capped(&changes.patch));
        self.perform(vec![Effect::Menu {
            to: To::lane(lane),
            html: summary_html(&changes),
            keyboard: diff_keyboard(run.0),
        }]);
    }
}

impl Router<'_> {
    /// The Diff button: the run's patch as a `.patch` document.
    pub(super) fn send_diff(&self, to: To, run: u64) -> Vec<Effect> {
        match self.diffs.patch(RunId(run), to.lane) {
            Some(patch) => vec![Effect::Document {
                to,
                file_name: format!("run-{run}.patch"),
                bytes: patch.as_bytes().to_vec(),
            }],
            None => vec![Effect::html(
                to,
                "That run's diff is no longer kept; <code>git diff</code> on the machine shows the current changes.",
            )],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LANE: LaneKey = LaneKey {
        chat: 1,
        topic: None,
    };

    #[test]
    fn diff_board_keeps_the_latest_patches_per_lane() {
        let board = DiffBoard::default();
        for run in 0..(KEPT as u64 + 1) {
            board.keep(RunId(run), LANE, &format!("patch {run}"));
        }
        assert_eq!(board.patch(RunId(0), LANE), None, "the oldest is gone");
        assert_eq!(board.patch(RunId(5), LANE).as_deref(), Some("patch 5"));
        let other = LaneKey {
            chat: 2,
            topic: None,
        };
        assert_eq!(board.patch(RunId(5), other), None, "another chat's diff");
    }

    #[test]
    fn a_huge_patch_is_cut_on_a_line_and_says_so() {
        let line = "+0123456789\n";
        let patch = line.repeat(MAX_PATCH_BYTES / line.len() + 10);
        let cut = capped(&patch);
        assert!(cut.len() < patch.len());
        let (kept, note) = cut.rsplit_once("…").unwrap();
        assert!(kept.ends_with('\n') && kept.len() <= MAX_PATCH_BYTES);
        assert!(
            note.contains(&format!("of {} bytes", patch.len())),
            "{note}"
        );
        assert_eq!(capped("+short\n"), "+short\n");
    }

    #[test]
    fn a_short_patch_is_shown_inline_a_long_one_is_not() {
        let short = Changes {
            files: 1,
            insertions: 1,
            deletions: 0,
            patch: "+++ b/a.txt\n+<x>\n".into(),
        };
        assert_eq!(
            summary_html(&short),
            "📝 1 file changed, +1 −0\n<pre>+++ b/a.txt\n+&lt;x&gt;</pre>"
        );
        let long = Changes {
            patch: "+line\n".repeat(40),
            ..short
        };
        assert_eq!(summary_html(&long), "📝 1 file changed, +1 −0");
    }
}
