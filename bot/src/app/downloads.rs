//! Files being downloaded, per lane: a stop cancels them before they become
//! items, and says so, as it does for queued items.

use std::collections::HashMap;

use baton_core::{ItemId, LaneKey};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
pub struct Downloads {
    pending: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    next_key: u64,
    lanes: HashMap<LaneKey, Vec<Entry>>,
}

#[derive(Debug)]
struct Entry {
    key: u64,
    preview: String,
    /// The item whose folder the file goes in: kept by file sweeps.
    folder: ItemId,
    cancel: CancellationToken,
}

impl Downloads {
    /// Notes a download starting in `lane`; its key and its cancellation.
    pub fn begin(
        &self,
        lane: LaneKey,
        preview: String,
        folder: ItemId,
    ) -> (u64, CancellationToken) {
        let mut pending = self.pending.lock();
        pending.next_key += 1;
        let key = pending.next_key;
        let cancel = CancellationToken::new();
        pending.lanes.entry(lane).or_default().push(Entry {
            key,
            preview,
            folder,
            cancel: cancel.clone(),
        });
        (key, cancel)
    }

    /// The download ended (arrived, failed or cancelled).
    pub fn end(&self, lane: LaneKey, key: u64) {
        let mut pending = self.pending.lock();
        if let Some(entries) = pending.lanes.get_mut(&lane) {
            entries.retain(|entry| entry.key != key);
            if entries.is_empty() {
                pending.lanes.remove(&lane);
            }
        }
    }

    /// Cancels every download of `lane`; their previews, oldest first.
    pub fn cancel_lane(&self, lane: LaneKey) -> Vec<String> {
        let entries = self.pending.lock().lanes.remove(&lane).unwrap_or_default();
        entries
            .into_iter()
            .map(|entry| {
                entry.cancel.cancel();
                entry.preview
            })
            .collect()
    }

    /// Runs `f` with the item folders downloads in flight write to; no
    /// download begins or ends meanwhile.
    pub fn with_folders<R>(&self, f: impl FnOnce(Vec<ItemId>) -> R) -> R {
        let pending = self.pending.lock();
        let folders = pending
            .lanes
            .values()
            .flatten()
            .map(|entry| entry.folder.clone())
            .collect();
        f(folders)
    }

    #[cfg(test)]
    pub fn pending(&self, lane: LaneKey) -> usize {
        self.pending.lock().lanes.get(&lane).map_or(0, Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_cancel_only_their_lane_and_forget_ended_ones() {
        let downloads = Downloads::default();
        let a = LaneKey::chat(1);
        let (first, first_cancel) = downloads.begin(a, "one".into(), ItemId::update(1));
        let (_, second_cancel) = downloads.begin(a, "two".into(), ItemId::update(2));
        let (_, other_cancel) =
            downloads.begin(LaneKey::chat(2), "other".into(), ItemId::update(3));
        downloads.end(a, first);
        assert_eq!(downloads.cancel_lane(a), vec!["two".to_owned()]);
        assert!(second_cancel.is_cancelled());
        assert!(
            !first_cancel.is_cancelled(),
            "an ended download is left alone"
        );
        assert!(!other_cancel.is_cancelled(), "other lanes keep theirs");
        assert_eq!(downloads.pending(a), 0);
        assert_eq!(downloads.pending(LaneKey::chat(2)), 1);
        assert_eq!(downloads.with_folders(|f| f), vec![ItemId::update(3)]);
    }
}
