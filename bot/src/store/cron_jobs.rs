//! Scheduled prompts: which lane, when (recurring cron or one-shot), what, and the next fire.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{LaneKey, Pending, Store, StoreError, millis};
use crate::cron::schedule::ScheduleSpec;

/// A job to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCronJob {
    pub lane: LaneKey,
    pub schedule: ScheduleSpec,
    pub prompt: String,
    /// Run without posting the answer unless it has something to report.
    pub silent: bool,
    pub next_fire: Option<DateTime<Utc>>,
    /// Where an imported job came from (e.g. `cron-jobs.json:ID`); one job per key.
    pub import_key: Option<String>,
}

/// A stored job. Ids are never reused, so a job id and a fire time name one fire forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronJob {
    pub id: i64,
    pub lane: LaneKey,
    pub schedule: ScheduleSpec,
    pub prompt: String,
    pub silent: bool,
    /// `None`: the job will not fire again (e.g. a one-shot that is running).
    pub next_fire: Option<DateTime<Utc>>,
}

type CronRow = (
    i64,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    String,
    bool,
    Option<i64>,
);

const CRON_COLUMNS: &str =
    "id, chat_id, topic_id, kind, expr, tz, at, every_ms, prompt, silent, next_fire";

fn read_row(row: &Row<'_>) -> rusqlite::Result<CronRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
        row.get(10)?,
    ))
}

impl Store {
    /// Queues storing `job`; answers with its id, or `None` when a job with its
    /// `import_key` is already stored (nothing is then written).
    pub fn add_cron_job(&self, job: &NewCronJob) -> Pending<Option<i64>> {
        let (kind, expr, tz, at, every_ms) = match &job.schedule {
            ScheduleSpec::Cron { expr, tz } => {
                ("cron", Some(expr.clone()), Some(tz.clone()), None, None)
            }
            ScheduleSpec::Every { every_ms, anchor } => (
                "every",
                None,
                None,
                Some(millis(*anchor)),
                Some(i64::try_from(*every_ms).unwrap_or(i64::MAX)),
            ),
            ScheduleSpec::Once { at } => ("once", None, None, Some(millis(*at)), None),
        };
        let (chat, topic) = (job.lane.chat, super::topic_column(job.lane));
        let (prompt, silent, next_fire, import_key) = (
            job.prompt.clone(),
            job.silent,
            job.next_fire.map(millis),
            job.import_key.clone(),
        );
        self.write(move |conn| {
            let added = conn.execute(
                "INSERT INTO cron_jobs (chat_id, topic_id, kind, expr, tz, at, every_ms, prompt, silent, next_fire, import_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (import_key) DO NOTHING",
                params![chat, topic, kind, expr, tz, at, every_ms, prompt, silent, next_fire, import_key],
            )?;
            Ok((added == 1).then(|| conn.last_insert_rowid()))
        })
    }

    /// Every job, oldest first.
    pub fn cron_jobs(&self) -> Result<Vec<CronJob>, StoreError> {
        self.query_cron_jobs(
            &format!("SELECT {CRON_COLUMNS} FROM cron_jobs ORDER BY id"),
            [],
        )
    }

    /// `lane`'s jobs, oldest first.
    pub fn cron_jobs_of_lane(&self, lane: LaneKey) -> Result<Vec<CronJob>, StoreError> {
        self.query_cron_jobs(
            &format!(
                "SELECT {CRON_COLUMNS} FROM cron_jobs WHERE chat_id = ?1 AND topic_id = ?2 ORDER BY id"
            ),
            params![lane.chat, super::topic_column(lane)],
        )
    }

    /// Jobs whose next fire is at or before `now`, earliest first.
    pub fn due_cron_jobs(&self, now: DateTime<Utc>) -> Result<Vec<CronJob>, StoreError> {
        self.query_cron_jobs(
            &format!(
                "SELECT {CRON_COLUMNS} FROM cron_jobs
                 WHERE next_fire IS NOT NULL AND next_fire <= ?1 ORDER BY next_fire, id"
            ),
            params![millis(now)],
        )
    }

    /// The earliest next fire of any job: when the scheduler should wake next.
    pub fn earliest_next_fire(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let earliest: Option<i64> = self
            .read()
            .query_row(
                "SELECT min(next_fire) FROM cron_jobs WHERE next_fire IS NOT NULL",
                [],
                |row| row.get(0),
            )
            .map_err(|e| self.sqlite_error(e))?;
        earliest
            .map(|at| self.time_from_column("earliest cron fire", at))
            .transpose()
    }

    /// One job, if it still exists.
    pub fn cron_job(&self, id: i64) -> Result<Option<CronJob>, StoreError> {
        let row = self
            .read()
            .query_row(
                &format!("SELECT {CRON_COLUMNS} FROM cron_jobs WHERE id = ?1"),
                params![id],
                read_row,
            )
            .optional()
            .map_err(|e| self.sqlite_error(e))?;
        row.map(|row| self.cron_job_from_row(row)).transpose()
    }

    /// Queues moving job `id`'s next fire. Answers false if the job no longer exists.
    pub fn set_next_fire(&self, id: i64, next_fire: Option<DateTime<Utc>>) -> Pending<bool> {
        let next_fire = next_fire.map(millis);
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE cron_jobs SET next_fire = ?2 WHERE id = ?1",
                params![id, next_fire],
            )?;
            Ok(changed == 1)
        })
    }

    /// Queues deleting job `id`. Answers false if it did not exist.
    pub fn remove_cron_job(&self, id: i64) -> Pending<bool> {
        self.write(move |conn| {
            let changed = conn.execute("DELETE FROM cron_jobs WHERE id = ?1", params![id])?;
            Ok(changed == 1)
        })
    }

    fn query_cron_jobs(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<CronJob>, StoreError> {
        let rows: Vec<CronRow> = {
            let conn = self.read();
            let mut stmt = conn.prepare(sql).map_err(|e| self.sqlite_error(e))?;
            stmt.query_map(params, read_row)
                .and_then(Iterator::collect)
                .map_err(|e| self.sqlite_error(e))?
        };
        rows.into_iter()
            .map(|row| self.cron_job_from_row(row))
            .collect()
    }

    fn cron_job_from_row(&self, row: CronRow) -> Result<CronJob, StoreError> {
        let (id, chat, topic, kind, expr, tz, at, every_ms, prompt, silent, next_fire) = row;
        let what = format!("cron job {id}");
        let schedule = match (kind.as_str(), expr, tz, at, every_ms) {
            ("cron", Some(expr), Some(tz), None, None) => ScheduleSpec::Cron { expr, tz },
            ("every", None, None, Some(anchor), Some(every_ms)) if every_ms > 0 => {
                ScheduleSpec::Every {
                    every_ms: every_ms as u64,
                    anchor: self.time_from_column(&what, anchor)?,
                }
            }
            ("once", None, None, Some(at), None) => ScheduleSpec::Once {
                at: self.time_from_column(&what, at)?,
            },
            _ => return Err(self.unusable(format!("{what}: malformed schedule of kind {kind:?}"))),
        };
        Ok(CronJob {
            id,
            lane: self.lane_from_columns(&what, chat, topic)?,
            schedule,
            prompt,
            silent,
            next_fire: next_fire
                .map(|at| self.time_from_column(&what, at))
                .transpose()?,
        })
    }
}
