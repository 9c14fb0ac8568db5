//! What runs used: each run's tokens and cost are kept in the store; `/usage`
//! sums them for this lane and all lanes, today, this week and in total;
//! `/status` shows the lane's last run.

use std::collections::HashMap;

use baton_core::LaneKey;
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use parking_lot::Mutex;

use super::effects::{Effect, To};
use super::replies::Reply;
use super::router::Router;
use crate::store::UsageTotals;

/// One run's figures, as `/status` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Millionths of a US dollar; `None` when the CLI reports no cost.
    pub cost_micro_usd: Option<u64>,
}

impl Usage {
    pub fn cost_usd(&self) -> Option<f64> {
        self.cost_micro_usd.map(|micro| micro as f64 / 1_000_000.0)
    }
}

/// Adds up a run's usage events. Tokens are per turn; claude's cost is the total of
/// its process so far, so within one agent attempt the last figure counts, and the
/// attempts of a run (a stall's retry starts a new process) add up.
#[derive(Debug, Clone, Default)]
pub struct RunTally {
    usage: Usage,
    attempt_cost: Option<u64>,
}

impl RunTally {
    pub fn add(&mut self, input_tokens: u64, output_tokens: u64, cost_micro_usd: Option<u64>) {
        self.usage.input_tokens += input_tokens;
        self.usage.output_tokens += output_tokens;
        if cost_micro_usd.is_some() {
            self.attempt_cost = cost_micro_usd;
        }
    }

    /// The agent's process exited.
    pub fn attempt_ended(&mut self) {
        if let Some(cost) = self.attempt_cost.take() {
            self.usage.cost_micro_usd = Some(self.usage.cost_micro_usd.unwrap_or(0) + cost);
        }
    }

    /// The run's figures; `None` when the agent reported none.
    pub fn total(&self) -> Option<Usage> {
        let mut tally = self.clone();
        tally.attempt_ended();
        (tally.usage != Usage::default()).then_some(tally.usage)
    }
}

/// Each lane's last run, for `/status`.
#[derive(Debug, Default)]
pub struct UsageBoard(Mutex<HashMap<LaneKey, Usage>>);

impl UsageBoard {
    pub fn get(&self, lane: LaneKey) -> Option<Usage> {
        self.0.lock().get(&lane).copied()
    }

    pub fn set(&self, lane: LaneKey, usage: Usage) {
        self.0.lock().insert(lane, usage);
    }
}

/// Midnight today and on this week's Monday in `tz`, as UTC.
pub fn day_and_week_start(now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let today = now.with_timezone(&tz).date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let midnight = |day: chrono::NaiveDate| {
        // Midnight may fall in a clock change; the earliest moment of that day then.
        tz.from_local_datetime(&day.and_time(NaiveTime::MIN))
            .earliest()
            .map_or(now, |at| at.with_timezone(&Utc))
    };
    (midnight(today), midnight(monday))
}

/// One line of `/usage`: `today: 2 runs (2 completed) · 1,200 in · 80 out · $0.0123`.
pub fn usage_line(span: &str, totals: &UsageTotals) -> String {
    if totals.runs == 0 {
        return format!("{span}: no runs");
    }
    let outcomes: Vec<String> = totals
        .outcomes
        .iter()
        .map(|(outcome, runs)| format!("{runs} {outcome}"))
        .collect();
    let runs = match totals.runs {
        1 => "1 run".to_owned(),
        n => format!("{n} runs"),
    };
    let mut line = format!(
        "{span}: {runs} ({}) · {} in · {} out",
        outcomes.join(", "),
        thousands(totals.input_tokens),
        thousands(totals.output_tokens)
    );
    let costed = totals.runs - totals.uncosted_runs;
    if costed > 0 {
        line.push_str(&format!(" · ${:.4}", totals.cost_usd));
        if totals.uncosted_runs > 0 {
            line.push_str(&format!(" ({} without a cost)", totals.uncosted_runs));
        }
    }
    line
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Router<'_> {
    /// `/usage`: this lane and all lanes, today, this week and in total.
    pub(super) fn on_usage(&self, to: To) -> Vec<Effect> {
        let tz = self.scope.config.tz;
        let (today, week) = day_and_week_start(Utc::now(), tz);
        let never = DateTime::<Utc>::MIN_UTC;
        let mut out = format!("<b>Usage</b> (days in {})", tz.name());
        for (title, lane) in [("This chat", Some(to.lane)), ("All chats", None)] {
            out.push_str(&format!("\n<b>{title}</b>"));
            for (span, since) in [("today", today), ("this week", week), ("total", never)] {
                match self.store.usage_since(lane, since) {
                    Ok(totals) => out.push_str(&format!("\n{}", usage_line(span, &totals))),
                    Err(error) => {
                        return vec![Effect::reply(
                            to,
                            Reply::Refused {
                                why: format!("Could not read usage: {error}"),
                            },
                        )];
                    }
                }
            }
        }
        vec![Effect::html(to, out)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_tally_sums_tokens_and_takes_each_attempts_last_cost() {
        let mut tally = RunTally::default();
        assert_eq!(tally.total(), None);
        tally.add(10, 5, Some(105));
        tally.add(0, 0, Some(105));
        tally.add(10, 5, Some(210));
        tally.attempt_ended();
        // A retry's new process counts from zero again.
        tally.add(3, 1, Some(40));
        assert_eq!(
            tally.total(),
            Some(Usage {
                input_tokens: 23,
                output_tokens: 11,
                cost_micro_usd: Some(250),
            })
        );
        let mut codex = RunTally::default();
        codex.add(10, 6, None);
        assert_eq!(codex.total().unwrap().cost_micro_usd, None);
    }

    #[test]
    fn days_and_weeks_start_at_local_midnight_and_monday() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // 00:30 on Thursday 3 December in Berlin.
        let (day, week) = day_and_week_start(now, Tz::Europe__Berlin);
        assert_eq!(day.to_rfc3339(), "2026-12-02T23:00:00+00:00");
        assert_eq!(week.to_rfc3339(), "2026-11-29T23:00:00+00:00");
    }

    #[test]
    fn usage_line_shows_outcomes_tokens_and_known_cost() {
        let mut totals = UsageTotals {
            runs: 3,
            input_tokens: 12_345,
            output_tokens: 678,
            cost_usd: 0.0125,
            uncosted_runs: 1,
            ..Default::default()
        };
        totals.outcomes.insert("completed".into(), 2);
        totals.outcomes.insert("failed".into(), 1);
        assert_eq!(
            usage_line("today", &totals),
            "today: 3 runs (2 completed, 1 failed) · 12,345 in · 678 out · $0.0125 (1 without a cost)"
        );
        totals.uncosted_runs = 3;
        assert!(!usage_line("today", &totals).contains('$'));
        assert_eq!(
            usage_line("total", &UsageTotals::default()),
            "total: no runs"
        );
    }
}
