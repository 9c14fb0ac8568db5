//! Performing intake's effects: downloads made ready in the background,
//! album timers, the inbox's done marks and the sweep of item folders; and,
//! at start-up, taking up again the updates the last process left unfinished.
//!
//! An update carrying a file stays unfinished in the inbox until its item
//! is submitted (or it is refused, cancelled or failed for good), so a crash
//! or shutdown mid-download loses nothing: the next start routes it again.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use baton_core::ItemId;
use teloxide::Bot;
use teloxide::net::Download as _;
use teloxide::prelude::Requester;
use teloxide::types::FileId;
use tracing::{info, warn};

use super::App;
use super::effects::{Download, Effect};
use super::incoming::{self, Input};
use super::router::Fetched;
use crate::media::album::AlbumKey;
use crate::media::{self, folders};

impl App {
    /// Routes one update and performs its effects; marks it done unless
    /// it started a download of its own, which marks it when it ends.
    pub(super) fn route_update(self: &Arc<Self>, update_id: i64, input: Input) {
        let effects = self.router().on_input(input);
        let downloading = effects
            .iter()
            .any(|effect| matches!(effect, Effect::Download(d) if d.update_id == update_id));
        self.perform(effects);
        if !downloading {
            // From here on the journal follows the item; the inbox only
            // remembers the id, so a redelivery is recognised. A failure is
            // logged by the store.
            self.store.mark_done(update_id, chrono::Utc::now());
        }
    }

    /// Fetches a file and makes it ready in the background; its item is
    /// submitted when it is, unless a stop of its lane (or shutdown) came first.
    pub(super) fn download(self: &Arc<Self>, download: Download) {
        let app = Arc::clone(self);
        self.tasks.runners.spawn(async move {
            let folder = folders::of(&app.agents.files_dir, &ItemId::update(download.folder));
            let fetched = tokio::select! {
                _ = download.cancel.cancelled() => Fetched::Cancelled,
                _ = app.tasks.stopping.cancelled() => Fetched::ShuttingDown,
                fetched = app.fetch_and_prepare(&download, &folder) => fetched,
            };
            let effects = app.router().on_fetched(&download, fetched);
            app.perform(effects);
        });
    }

    async fn fetch_and_prepare(&self, download: &Download, folder: &Path) -> Fetched {
        let path = match &download.saved {
            Some(path) => path.clone(),
            None => {
                // Album parts share a folder: each keeps its own name.
                let name = match download.album {
                    Some(_) => format!("{}-{}", download.update_id, download.file.name),
                    None => download.file.name.clone(),
                };
                let path = folder.join(name);
                if let Err(error) = fetch(&self.outbox.bot, &download.file.id, &path).await {
                    return Fetched::Failed(error.to_string());
                }
                path
            }
        };
        match media::prepare(&self.intake, &download.file, &path, folder).await {
            Ok(prepared) => Fetched::Saved(prepared),
            Err(why) => Fetched::Unready { path, why },
        }
    }

    pub(super) fn album_due(self: &Arc<Self>, album: AlbumKey, after: Duration) {
        let app = Arc::clone(self);
        self.tasks.runners.spawn(async move {
            tokio::select! {
                _ = app.tasks.stopping.cancelled() => {}
                _ = tokio::time::sleep(after) => {
                    let effects = app.router().on_album_due(&album);
                    app.perform(effects);
                }
            }
        });
    }

    pub(super) fn done(&self, updates: Vec<i64>) {
        let now = chrono::Utc::now();
        for update in updates {
            self.store.mark_done(update, now);
        }
    }

    /// Removes the folders of items neither pending in the core, nor
    /// downloading, nor holding a recording for its Retry.
    pub(super) fn sweep_files(self: &Arc<Self>) {
        let files_dir = self.agents.files_dir.clone();
        // Under the downloads' lock no download begins (and creates its
        // folder) or ends (having submitted its item) while the keep set
        // is read and the rest moved aside.
        self.downloads.with_folders(|downloading| {
            let mut keep: HashSet<ItemId> = downloading.into_iter().collect();
            keep.extend(
                self.intake
                    .held
                    .update_ids()
                    .into_iter()
                    .map(ItemId::update),
            );
            for lane in self.door.snapshot().lanes {
                keep.extend(lane.run.map(|run| run.item));
                keep.extend(lane.queued);
            }
            folders::retire(&files_dir, &keep);
        });
        self.tasks
            .runners
            .spawn_blocking(move || folders::clear_retired(&files_dir));
    }
}

async fn fetch(bot: &Bot, file_id: &str, path: &Path) -> anyhow::Result<()> {
    let file = bot.get_file(FileId(file_id.to_owned())).await?;
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut out = tokio::fs::File::create(path).await?;
    bot.download_file(&file.path, &mut out).await?;
    Ok(())
}

/// At start-up, after the core is restored: removes the files of items no
/// longer pending, then routes again the updates left unfinished.
pub fn resume_intake(app: &Arc<App>) {
    app.sweep_files();
    let unfinished = match app.store.unfinished_updates() {
        Ok(unfinished) => unfinished,
        Err(error) => {
            warn!(%error, "intake: could not read the unfinished updates");
            return;
        }
    };
    if !unfinished.is_empty() {
        info!(
            count = unfinished.len(),
            "intake: taking up updates the last run left unfinished"
        );
    }
    for (update_id, payload) in unfinished {
        let input = serde_json::from_str::<teloxide::types::Update>(&payload)
            .ok()
            .and_then(|update| incoming::read(&update));
        match input {
            Some(input) => app.route_update(update_id, input),
            None => {
                warn!(
                    update = update_id,
                    "intake: an unfinished update could not be read; dropped"
                );
                app.store.mark_done(update_id, chrono::Utc::now());
            }
        }
    }
}
