//! `baton import-cron FILE`: the original bot's `cron-jobs.json` (an array of
//! jobs with `id`, `prompt`, `type` one-shot or recurring, `interval_ms`,
//! `fire_at` in ms, `created_at`, and optional `chat_id` and `silent`) becomes
//! Baton's scheduled prompts. Unknown fields are ignored; a bad entry is named
//! by its index and skipped; each job is keyed by its original id, so running
//! the import again adds nothing.

use std::path::Path;

use baton_core::LaneKey;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::schedule::{Schedule, ScheduleSpec};
use crate::store::{NewCronJob, Store, StoreError};

/// One job as the original bot wrote it.
#[derive(Debug, Deserialize)]
struct LegacyJob {
    id: String,
    prompt: String,
    #[serde(default)]
    chat_id: Option<i64>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    interval_ms: Option<u64>,
    #[serde(default)]
    silent: Option<bool>,
    fire_at: i64,
    created_at: String,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// The new jobs' ids.
    pub imported: Vec<i64>,
    /// Entries an earlier import already brought in.
    pub already: usize,
    /// Each skipped entry: its index and why.
    pub skipped: Vec<(usize, String)>,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, why) in &self.skipped {
            writeln!(f, "entry {index}: skipped: {why}")?;
        }
        write!(
            f,
            "{} imported, {} already imported, {} skipped",
            self.imported.len(),
            self.already,
            self.skipped.len()
        )
    }
}

/// Why nothing could be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a cron-jobs.json array of jobs: {problem}", path.display())]
    Shape {
        path: std::path::PathBuf,
        problem: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Imports `path` into `store`. A job without a chat goes to `default_chat` (the
/// first allowed user's private chat, as in the original).
pub fn import_file(
    store: &Store,
    path: &Path,
    default_chat: i64,
) -> Result<ImportSummary, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let entries: Vec<Value> = serde_json::from_str(&text).map_err(|e| ImportError::Shape {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })?;
    let mut summary = ImportSummary::default();
    for (index, entry) in entries.into_iter().enumerate() {
        let job = match new_job(entry, default_chat) {
            Ok(job) => job,
            Err(why) => {
                summary.skipped.push((index, why));
                continue;
            }
        };
        match store.add_cron_job(&job).wait()? {
            Some(id) => summary.imported.push(id),
            None => summary.already += 1,
        }
    }
    Ok(summary)
}

/// One entry as Baton's job. Its next fire is its `fire_at`, even when past: the
/// scheduler then treats it as a fire missed while the bot was down.
fn new_job(entry: Value, default_chat: i64) -> Result<NewCronJob, String> {
    let job: LegacyJob = serde_json::from_value(entry).map_err(|e| e.to_string())?;
    DateTime::parse_from_rfc3339(&job.created_at).map_err(|e| {
        format!(
            "created_at {:?} is not an ISO 8601 time: {e}",
            job.created_at
        )
    })?;
    let fire_at = DateTime::<Utc>::from_timestamp_millis(job.fire_at)
        .ok_or_else(|| format!("fire_at {} is out of range", job.fire_at))?;
    if job.prompt.trim().is_empty() {
        return Err("prompt is empty".into());
    }
    let schedule = match job.kind.as_str() {
        "one-shot" => ScheduleSpec::Once { at: fire_at },
        "recurring" => {
            let every = job
                .interval_ms
                .filter(|ms| *ms > 0)
                .and_then(|ms| i64::try_from(ms).ok())
                .ok_or("a recurring job needs a positive interval_ms")?;
            Schedule::interval(Duration::milliseconds(every), fire_at)
                .spec()
                .clone()
        }
        other => return Err(format!("type {other:?} is not one-shot or recurring")),
    };
    Ok(NewCronJob {
        lane: LaneKey {
            chat: job.chat_id.unwrap_or(default_chat),
            topic: None,
        },
        schedule,
        prompt: job.prompt,
        silent: job.silent.unwrap_or(false),
        next_fire: Some(fire_at),
        import_key: Some(format!("cron-jobs.json:{}", job.id)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cron-jobs.json");

    #[test]
    fn import_reads_the_original_shape_skips_a_bad_entry_and_adds_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        let summary = import_file(&store, Path::new(FIXTURE), 4242).unwrap();
        assert_eq!(summary.imported.len(), 3, "{summary}");
        assert_eq!(summary.already, 0);
        assert_eq!(summary.skipped.len(), 1, "{summary}");
        let (index, why) = &summary.skipped[0];
        assert_eq!(*index, 2);
        assert!(why.contains("type"), "{why}");
        assert!(
            summary.to_string().contains("entry 2: skipped"),
            "{summary}"
        );

        let jobs = store.cron_jobs().unwrap();
        let recurring = &jobs[0];
        assert_eq!(recurring.lane.chat, 123456789);
        assert_eq!(
            recurring.schedule,
            ScheduleSpec::Every {
                every_ms: 3_600_000,
                anchor: DateTime::from_timestamp_millis(1_764_662_400_000).unwrap(),
            }
        );
        assert!(recurring.silent);
        let one_shot = &jobs[1];
        assert_eq!(
            one_shot.lane.chat, 4242,
            "no chat_id: the first allowed user"
        );
        assert!(matches!(one_shot.schedule, ScheduleSpec::Once { .. }));
        assert!(!one_shot.silent);
        assert_eq!(jobs[2].prompt, "Summarise yesterday's commits");

        let again = import_file(&store, Path::new(FIXTURE), 4242).unwrap();
        assert_eq!((again.imported.len(), again.already), (0, 3), "{again}");
        assert_eq!(store.cron_jobs().unwrap().len(), 3);
    }

    #[test]
    fn import_refuses_a_file_that_is_not_an_array_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        let file = dir.path().join("cron-jobs.json");
        std::fs::write(&file, r#"{"jobs": []}"#).unwrap();
        let error = import_file(&store, &file, 1).unwrap_err().to_string();
        assert!(error.contains("not a cron-jobs.json array"), "{error}");
        let missing = import_file(&store, &dir.path().join("nope.json"), 1).unwrap_err();
        assert!(matches!(missing, ImportError::Read { .. }));
    }
}
