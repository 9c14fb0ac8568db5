//! When a scheduled prompt fires: a 5-field cron expression in a time zone, a fixed
//! interval, or one moment.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};

/// What a schedule was made from: the form it is stored in and shown as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScheduleSpec {
    /// Recurring: a 5-field cron expression read in the IANA time zone `tz`.
    Cron { expr: String, tz: String },
    /// Recurring: every `every_ms` milliseconds, at `anchor` plus a whole number of
    /// intervals, so a late fire never shifts the ones after it.
    Every {
        every_ms: u64,
        anchor: DateTime<Utc>,
    },
    /// One-shot.
    Once { at: DateTime<Utc> },
}

/// A schedule that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("cron expression {expr:?}: {problem}")]
    Cron { expr: String, problem: String },
    #[error("time zone {0:?}: not a known IANA time zone name (e.g. Europe/Berlin, UTC)")]
    TimeZone(String),
    #[error("time {text:?}: {problem}")]
    At { text: String, problem: String },
    #[error("interval {text:?}: is not a delay such as 45m, 2h or 1h30m (units s, m, h, d)")]
    Interval { text: String },
}

/// A parsed, ready to evaluate schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    spec: ScheduleSpec,
    rule: Rule,
}

#[derive(Debug, Clone)]
enum Rule {
    Cron {
        cron: Box<Cron>,
        tz: Tz,
    },
    Every {
        every: Duration,
        anchor: DateTime<Utc>,
    },
    Once(DateTime<Utc>),
}

impl Schedule {
    /// A recurring schedule: `expr` has exactly five fields (minute hour day-of-month month
    /// day-of-week) or is a nickname such as `@daily`; it is read in time zone `tz`.
    pub fn cron(expr: &str, tz: &str) -> Result<Schedule, ScheduleError> {
        let tz = parse_time_zone(tz)?;
        let expr = expr.trim();
        let cron_error = |problem: String| ScheduleError::Cron {
            expr: expr.to_string(),
            problem,
        };
        let fields = expr.split_whitespace().count();
        if !expr.starts_with('@') && fields != 5 {
            return Err(cron_error(format!(
                "needs 5 fields (minute hour day-of-month month day-of-week), found {fields}"
            )));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(expr)
            .map_err(|e| cron_error(lowercase_first(e.to_string().trim_end_matches('.'))))?;
        let schedule = Schedule {
            spec: ScheduleSpec::Cron {
                expr: expr.to_string(),
                tz: tz.name().to_string(),
            },
            rule: Rule::Cron {
                cron: Box::new(cron),
                tz,
            },
        };
        // A pattern such as "0 0 31 2 *" parses but names no real day.
        let reference = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
        if schedule.next_after(reference).is_none() {
            return Err(cron_error("never fires".to_string()));
        }
        Ok(schedule)
    }

    /// A recurring schedule every `text` (`2h`, `1h30m`, `45m`; units s, m, h, d), first
    /// firing one interval after `now`.
    pub fn every(text: &str, now: DateTime<Utc>) -> Result<Schedule, ScheduleError> {
        let every = parse_delay(text.trim()).ok_or_else(|| ScheduleError::Interval {
            text: text.trim().to_string(),
        })?;
        Ok(Schedule::interval(every, now + every))
    }

    /// A recurring schedule every `every`, firing at `anchor` and whole intervals from it.
    /// `every` must be positive.
    pub fn interval(every: Duration, anchor: DateTime<Utc>) -> Schedule {
        let every_ms = every.num_milliseconds().max(1);
        let every = Duration::milliseconds(every_ms);
        Schedule {
            spec: ScheduleSpec::Every {
                every_ms: every_ms as u64,
                anchor,
            },
            rule: Rule::Every { every, anchor },
        }
    }

    /// A one-shot schedule at `at`.
    pub fn once(at: DateTime<Utc>) -> Schedule {
        Schedule {
            spec: ScheduleSpec::Once { at },
            rule: Rule::Once(at),
        }
    }

    /// A one-shot schedule from what a user typed, read in time zone `tz`:
    /// an RFC 3339 time (`2026-11-27T15:00:00+01:00`), a local date and time
    /// (`2026-11-27 15:00`), a time of day (`15:00`, the next one after `now`), or a delay
    /// (`in 1h30m`, `+45m`; units s, m, h, d). The time must be after `now`.
    pub fn parse_at(text: &str, tz: &str, now: DateTime<Utc>) -> Result<Schedule, ScheduleError> {
        let tz = parse_time_zone(tz)?;
        let trimmed = text.trim();
        let at_error = |problem: &str| ScheduleError::At {
            text: trimmed.to_string(),
            problem: problem.to_string(),
        };
        let at = if let Some(delay) = trimmed
            .strip_prefix("in ")
            .or_else(|| trimmed.strip_prefix('+'))
        {
            now + parse_delay(delay.trim()).ok_or_else(|| {
                at_error("is not a delay such as 45m, 2h or 1h30m (units s, m, h, d)")
            })?
        } else if let Ok(at) = DateTime::parse_from_rfc3339(trimmed) {
            at.with_timezone(&Utc)
        } else if let Some(local) = parse_local_date_time(trimmed) {
            resolve_local(tz, local).ok_or_else(|| {
                at_error(&format!(
                    "does not exist in {} (the clocks change then)",
                    tz.name()
                ))
            })?
        } else if let Ok(time) = NaiveTime::parse_from_str(trimmed, "%H:%M") {
            next_time_of_day(tz, time, now).ok_or_else(|| {
                at_error(&format!(
                    "does not exist in {} (the clocks change then)",
                    tz.name()
                ))
            })?
        } else {
            return Err(at_error(
                "is not a time such as 15:00, 2026-11-27 15:00, an RFC 3339 time, or in 45m",
            ));
        };
        if at <= now {
            return Err(at_error("is in the past"));
        }
        Ok(Schedule::once(at))
    }

    /// Rebuilds a schedule from its stored form.
    pub fn from_spec(spec: &ScheduleSpec) -> Result<Schedule, ScheduleError> {
        match spec {
            ScheduleSpec::Cron { expr, tz } => Schedule::cron(expr, tz),
            ScheduleSpec::Every { every_ms, anchor } => {
                let every = i64::try_from(*every_ms)
                    .ok()
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| ScheduleError::Interval {
                        text: format!("{every_ms}ms"),
                    })?;
                Ok(Schedule::interval(Duration::milliseconds(every), *anchor))
            }
            ScheduleSpec::Once { at } => Ok(Schedule::once(*at)),
        }
    }

    pub fn spec(&self) -> &ScheduleSpec {
        &self.spec
    }

    pub fn is_recurring(&self) -> bool {
        !matches!(self.rule, Rule::Once(_))
    }

    /// The first fire strictly after `after`, or `None` when there is none (a one-shot
    /// whose moment is not after `after`).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Cron { cron, tz } => cron
                .find_next_occurrence(&after.with_timezone(tz), false)
                .ok()
                .map(|next| next.with_timezone(&Utc)),
            Rule::Every { every, anchor } => {
                if *anchor > after {
                    return Some(*anchor);
                }
                let every_ms = every.num_milliseconds();
                let behind = (after - *anchor).num_milliseconds();
                let intervals = behind.checked_div(every_ms)?.checked_add(1)?;
                anchor.checked_add_signed(Duration::try_milliseconds(
                    intervals.checked_mul(every_ms)?,
                )?)
            }
            Rule::Once(at) => (*at > after).then_some(*at),
        }
    }

    /// A short description for listings, times in `tz`: e.g. `0 9 * * 1-5 (Europe/Berlin)`,
    /// `every 2h`, `once at 2026-11-27 15:00 CET`.
    pub fn describe(&self, tz: Tz) -> String {
        match &self.spec {
            ScheduleSpec::Cron { expr, tz } => format!("{expr} ({tz})"),
            ScheduleSpec::Every { every_ms, .. } => format!("every {}", format_delay(*every_ms)),
            ScheduleSpec::Once { at } => format!("once at {}", local_time(*at, tz)),
        }
    }
}

/// `at` as the user reads it: `2026-11-27 15:00 CET`.
pub fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// A duration as `/cron every` takes it: `1d2h`, `45m`, `90s`.
pub fn format_delay(ms: u64) -> String {
    let mut secs = ms / 1000;
    if secs == 0 {
        return format!("{ms}ms");
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// Reads an IANA time zone name such as `Europe/Berlin` or `UTC`.
pub fn parse_time_zone(name: &str) -> Result<Tz, ScheduleError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| ScheduleError::TimeZone(name.to_string()))
}

fn parse_delay(text: &str) -> Option<Duration> {
    let mut total = Duration::zero();
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let amount: i64 = rest[..digits].parse().ok()?;
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "s" | "sec" | "secs" => Duration::try_seconds(amount)?,
            "m" | "min" | "mins" => Duration::try_minutes(amount)?,
            "h" | "hr" | "hrs" => Duration::try_hours(amount)?,
            "d" | "day" | "days" => Duration::try_days(amount)?,
            _ => return None,
        };
        total = total.checked_add(&unit)?;
        rest = rest[unit_len..].trim_start();
    }
    (total > Duration::zero()).then_some(total)
}

fn parse_local_date_time(text: &str) -> Option<NaiveDateTime> {
    [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
}

/// In a fold (clocks going back) the earlier moment; in a gap, none.
fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Some(at.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

fn next_time_of_day(tz: Tz, time: NaiveTime, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let today: NaiveDate = now.with_timezone(&tz).date_naive();
    let candidate = resolve_local(tz, today.and_time(time))?;
    if candidate > now {
        return Some(candidate);
    }
    resolve_local(tz, today.succ_opt()?.and_time(time))
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
