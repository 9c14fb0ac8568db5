//! What each run used, as its agent CLI reported it: tokens in and out, and the cost
//! where the CLI knows it (claude does; codex does not).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{LaneKey, Pending, Store, StoreError, millis};

/// One ended run's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct RunUsage {
    pub lane: LaneKey,
    pub driver: String,
    /// How the run ended: `completed`, `failed`, `cancelled` or `stalled`.
    pub outcome: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
    pub ended_at: DateTime<Utc>,
}

/// Runs summed over a span of time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageTotals {
    pub runs: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The sum over the runs whose cost is known.
    pub cost_usd: f64,
    /// How many runs reported no cost.
    pub uncosted_runs: u64,
    /// Runs per outcome.
    pub outcomes: BTreeMap<String, u64>,
}

impl Store {
    /// Queues recording one run's usage.
    pub fn record_run_usage(&self, usage: &RunUsage) -> Pending<()> {
        let (chat, topic) = (usage.lane.chat, super::topic_column(usage.lane));
        let usage = usage.clone();
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO run_usage (chat_id, topic_id, driver, outcome, input_tokens, output_tokens, cost_usd, ended_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    chat,
                    topic,
                    usage.driver,
                    usage.outcome,
                    i64::try_from(usage.input_tokens).unwrap_or(i64::MAX),
                    i64::try_from(usage.output_tokens).unwrap_or(i64::MAX),
                    usage.cost_usd,
                    millis(usage.ended_at)
                ],
            )?;
            Ok(())
        })
    }

    /// The runs that ended at or after `since`, of `lane` or of every lane.
    pub fn usage_since(
        &self,
        lane: Option<LaneKey>,
        since: DateTime<Utc>,
    ) -> Result<UsageTotals, StoreError> {
        type Row = (String, i64, i64, i64, Option<f64>, i64);
        let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<Row> {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ))
        };
        let select = "SELECT outcome, count(*), sum(input_tokens), sum(output_tokens), sum(cost_usd), count(cost_usd)
                      FROM run_usage WHERE ended_at >= ?1";
        let rows: Vec<Row> = {
            let conn = self.read();
            let result = match lane {
                Some(lane) => conn
                    .prepare(&format!(
                        "{select} AND chat_id = ?2 AND topic_id = ?3 GROUP BY outcome"
                    ))
                    .and_then(|mut stmt| {
                        stmt.query_map(
                            params![millis(since), lane.chat, super::topic_column(lane)],
                            read,
                        )?
                        .collect()
                    }),
                None => conn
                    .prepare(&format!("{select} GROUP BY outcome"))
                    .and_then(|mut stmt| stmt.query_map(params![millis(since)], read)?.collect()),
            };
            result.map_err(|e| self.sqlite_error(e))?
        };
        let mut totals = UsageTotals::default();
        for (outcome, runs, input, output, cost, costed) in rows {
            let runs = runs.max(0) as u64;
            totals.runs += runs;
            totals.input_tokens += input.max(0) as u64;
            totals.output_tokens += output.max(0) as u64;
            totals.cost_usd += cost.unwrap_or(0.0);
            totals.uncosted_runs += runs - (costed.max(0) as u64).min(runs);
            *totals.outcomes.entry(outcome).or_default() += runs;
        }
        Ok(totals)
    }
}
