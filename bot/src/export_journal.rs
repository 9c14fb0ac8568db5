//! `baton export-journal`: the core's journal, as the store holds it, written
//! as JSONL (one journal entry per line, oldest first) for
//! `baton-repro --from-journal`, which turns it into a race report.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

use crate::store::{DATABASE_FILE_NAME, Store};

/// Writes the journal of the database in `state_dir` to `out`; answers how
/// many entries it wrote. Refuses a state dir without a database rather
/// than creating an empty one.
pub fn export(state_dir: &Path, out: &mut dyn Write) -> anyhow::Result<usize> {
    let path = state_dir.join(DATABASE_FILE_NAME);
    if !path.is_file() {
        bail!("{}: no Baton database here", path.display());
    }
    let store = Store::open(&path)?;
    let rows = store.load_journal()?;
    for row in &rows {
        serde_json::to_writer(&mut *out, &row.event).context("journal entry")?;
        out.write_all(b"\n").context("writing the journal")?;
    }
    out.flush().context("writing the journal")?;
    Ok(rows.len())
}
