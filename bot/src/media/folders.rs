//! Per-item folders under the state directory: everything downloaded or
//! unpacked for an item lives in one, named after the item's id, so it can
//! be removed whole when the item is done with.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use baton_core::ItemId;
use tracing::{debug, warn};

/// The folder of item `id` under `files_dir`.
pub fn of(files_dir: &Path, id: &ItemId) -> PathBuf {
    // Item ids are "u<number>" or "c<job>@<millis>": never a path, but make sure.
    let name: String =
        id.0.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '@' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
    files_dir.join(name)
}

/// Where retired folders wait to be removed, inside `files_dir`.
const RETIRED: &str = ".retired";

/// Moves everything in `files_dir` but the folders of the items in `keep`
/// out of the way (a rename each, quick enough to do under the caller's
/// lock); [`clear_retired`] removes them. How many entries went.
pub fn retire(files_dir: &Path, keep: &HashSet<ItemId>) -> usize {
    let kept: HashSet<PathBuf> = keep.iter().map(|id| of(files_dir, id)).collect();
    let Ok(entries) = std::fs::read_dir(files_dir) else {
        return 0;
    };
    let retired = files_dir.join(RETIRED);
    let mut moved = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if kept.contains(&path) || entry.file_name() == RETIRED {
            continue;
        }
        let _ = std::fs::create_dir_all(&retired);
        let unique = format!(
            "{}-{}",
            entry.file_name().to_string_lossy(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        );
        match std::fs::rename(&path, retired.join(unique)) {
            Ok(()) => moved += 1,
            Err(error) => warn!(path = %path.display(), %error, "files: could not retire"),
        }
    }
    if moved > 0 {
        debug!(
            moved,
            "files: retired the folders of items no longer pending"
        );
    }
    moved
}

/// Removes what [`retire`] moved aside.
pub fn clear_retired(files_dir: &Path) {
    let retired = files_dir.join(RETIRED);
    if let Err(error) = std::fs::remove_dir_all(&retired)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        warn!(path = %retired.display(), %error, "files: could not remove retired folders");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_retire_keeps_only_pending_items() {
        let dir = tempfile::tempdir().unwrap();
        let keep = ItemId::update(7);
        for id in [ItemId::update(7), ItemId::update(8)] {
            std::fs::create_dir_all(of(dir.path(), &id).join("inner")).unwrap();
            std::fs::write(of(dir.path(), &id).join("inner/f.txt"), "x").unwrap();
        }
        std::fs::write(dir.path().join("9.jpg"), "old layout").unwrap();
        let removed = retire(dir.path(), &HashSet::from([keep.clone()]));
        assert_eq!(removed, 2);
        clear_retired(dir.path());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["u7"]);
        assert_eq!(
            of(dir.path(), &ItemId("c../x@1".into())),
            dir.path().join("c___x@1")
        );
    }
}
