//! Albums: Telegram sends each photo of a media group as its own message,
//! in one or several getUpdates batches, with the caption on any one of
//! them. The parts gather here until none has arrived for [`QUIET`] and
//! every one is downloaded; then they become one item.
//!
//! The item takes its id and folder from the album's first part (updates
//! arrive in id order, also when replayed after a restart), so an album
//! rebuilt after a restart is the same item and the core's dedupe refuses
//! a second run of it.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use baton_core::{LaneKey, Origin};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::Prepared;
use crate::app::To;

/// How long an album waits for another part after the last one arrived.
pub const QUIET: Duration = Duration::from_millis(1500);

pub type AlbumKey = (LaneKey, String);

#[derive(Debug, Default)]
pub struct Albums {
    open: Mutex<HashMap<AlbumKey, Album>>,
}

#[derive(Debug)]
struct Album {
    first: i64,
    to: To,
    parts: BTreeMap<i64, Part>,
    last_arrival: Instant,
    cancel: CancellationToken,
    /// Its key among its lane's pending downloads.
    download: u64,
}

#[derive(Debug, Clone)]
pub enum Part {
    Arriving,
    Ready {
        prepared: Prepared,
        caption: String,
        origin: Origin,
    },
    Failed(String),
}

/// Where a part joins: the album's first update id (its item's id and
/// folder) and the album's cancellation; `opened` for the first part.
#[derive(Debug, Clone)]
pub struct Joined {
    pub first: i64,
    pub cancel: CancellationToken,
    pub opened: bool,
}

/// An album that is complete (or was cancelled), with its parts in order.
#[derive(Debug)]
pub struct Closed {
    pub first: i64,
    pub to: To,
    pub parts: Vec<(i64, Part)>,
    pub download: u64,
    pub cancelled: bool,
}

impl Closed {
    pub fn update_ids(&self) -> Vec<i64> {
        self.parts.iter().map(|(id, _)| *id).collect()
    }
}

impl Albums {
    /// Notes part `update_id` arriving; `open` is called for a new album and
    /// gives its download key and cancellation.
    pub fn arrive(
        &self,
        key: AlbumKey,
        update_id: i64,
        to: To,
        now: Instant,
        open: impl FnOnce() -> (u64, CancellationToken),
    ) -> Joined {
        let mut albums = self.open.lock();
        let mut opened = false;
        let album = albums.entry(key).or_insert_with(|| {
            opened = true;
            let (download, cancel) = open();
            Album {
                first: update_id,
                to,
                parts: BTreeMap::new(),
                last_arrival: now,
                cancel,
                download,
            }
        });
        album.parts.insert(update_id, Part::Arriving);
        album.last_arrival = now;
        Joined {
            first: album.first,
            cancel: album.cancel.clone(),
            opened,
        }
    }

    /// A part's download ended.
    pub fn settle(&self, key: &AlbumKey, update_id: i64, part: Part) {
        if let Some(album) = self.open.lock().get_mut(key)
            && let Some(slot) = album.parts.get_mut(&update_id)
        {
            *slot = part;
        }
    }

    /// Takes the album out once it is cancelled, or once every part is here
    /// and none arrived for `quiet`.
    pub fn close_if_due(&self, key: &AlbumKey, now: Instant, quiet: Duration) -> Option<Closed> {
        let mut albums = self.open.lock();
        let album = albums.get(key)?;
        let cancelled = album.cancel.is_cancelled();
        let settled = album
            .parts
            .values()
            .all(|part| !matches!(part, Part::Arriving));
        let quiet_enough = now.saturating_duration_since(album.last_arrival) >= quiet;
        if !(cancelled || settled && quiet_enough) {
            return None;
        }
        let album = albums.remove(key)?;
        Some(Closed {
            first: album.first,
            to: album.to,
            parts: album.parts.into_iter().collect(),
            download: album.download,
            cancelled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(caption: &str) -> Part {
        Part::Ready {
            prepared: Prepared::default(),
            caption: caption.into(),
            origin: Origin::Photo,
        }
    }

    #[test]
    fn album_closes_once_all_parts_are_here_and_quiet() {
        let albums = Albums::default();
        let key: AlbumKey = (LaneKey::chat(1), "g".into());
        let to = To::lane(LaneKey::chat(1));
        let start = Instant::now();
        let mut opens = 0;
        let mut open = || {
            opens += 1;
            (5, CancellationToken::new())
        };
        let first = albums.arrive(key.clone(), 10, to, start, &mut open);
        assert!(first.opened);
        let second = albums.arrive(key.clone(), 11, to, start + QUIET / 2, &mut open);
        assert_eq!((second.first, second.opened), (10, false));
        albums.settle(&key, 10, ready(""));
        let late = start + QUIET * 3;
        assert!(
            albums.close_if_due(&key, late, QUIET).is_none(),
            "part 11 is still downloading"
        );
        albums.settle(&key, 11, ready("caption"));
        assert!(
            albums.close_if_due(&key, start + QUIET, QUIET).is_none(),
            "part 11 arrived less than QUIET ago"
        );
        let closed = albums.close_if_due(&key, late, QUIET).expect("due");
        assert_eq!(
            (closed.first, closed.update_ids(), closed.download),
            (10, vec![10, 11], 5)
        );
        assert!(!closed.cancelled);
        assert!(
            albums.close_if_due(&key, late, QUIET).is_none(),
            "taken once"
        );
        assert_eq!(opens, 1);
    }

    #[test]
    fn album_cancelled_closes_at_once() {
        let albums = Albums::default();
        let key: AlbumKey = (LaneKey::chat(1), "g".into());
        let now = Instant::now();
        let joined = albums.arrive(key.clone(), 3, To::lane(LaneKey::chat(1)), now, || {
            (1, CancellationToken::new())
        });
        joined.cancel.cancel();
        let closed = albums.close_if_due(&key, now, QUIET).expect("cancelled");
        assert!(closed.cancelled);
    }
}
