//! Rebuilding the core from the journal at start.

use std::sync::Arc;

use anyhow::Context;
use baton_core::JournalEntry;
use baton_core::journal::{self, Recovered};
use tracing::{info, warn};

use super::App;
use super::replies::Reply;

/// Reads the journal back from the store.
pub fn load(store: &crate::store::Store) -> anyhow::Result<Recovered> {
    let rows = store.load_journal().context("journal")?;
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let entry: JournalEntry = serde_json::from_value(row.event)
            .with_context(|| format!("journal entry {} in {}", row.seq, store.path().display()))?;
        entries.push(entry);
    }
    Ok(journal::replay(&entries))
}

/// Restores the core from what the journal recovered: queued items run
/// again as capacity allows; runs cut off by the last exit are reported to
/// their chats, never rerun.
pub fn restore(app: &Arc<App>, recovered: Recovered) {
    let interrupted: Vec<_> = recovered.in_flight.values().cloned().collect();
    let queued = recovered.queued();
    let tickets = app.door.restore(recovered);
    info!(
        queued,
        interrupted = interrupted.len(),
        starting = tickets.len(),
        "journal: restored"
    );
    for item in interrupted {
        warn!(item = %item.id, lane = %item.lane, "journal: run was interrupted by the last exit");
        app.reply(
            item.lane,
            Reply::InterruptedByRestart {
                preview: item.preview(60),
            },
        );
    }
    app.start(tickets);
}
