//! `/cron`: listing, adding and removing a lane's scheduled prompts. The
//! store keeps the schedule; the core decides whether a fire may run.

use baton_core::LaneKey;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tracing::info;

use super::cron_tick::{cron_kind, job_id};
use super::effects::{Effect, To};
use super::replies::Reply;
use super::router::Router;
use crate::cron::schedule::{Schedule, ScheduleError, local_time};
use crate::store::NewCronJob;
use crate::telegram::keyboards::cron_keyboard;
use crate::telegram::render::escape_text;

const USAGE: &str = "usage: /cron · /cron [silent] every 2h PROMPT · /cron [silent] in 20m PROMPT · /cron [silent] at WHEN PROMPT · /cron [silent] add [TZ=Area/City] MIN HOUR DOM MON DOW PROMPT · /cron rm ID";

/// When a job asked for with `/cron` fires, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// A 5-field expression or a nickname such as `@daily`, in `tz` or the default zone.
    Cron { expr: String, tz: Option<String> },
    /// Recurring, every this long (`2h`, `1h30m`).
    Every(String),
    /// Once, this long from now.
    In(String),
    /// Once, at this time (`15:00`, `2026-11-27 15:00`, RFC 3339).
    At(String),
}

/// What `/cron ARGS` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronRequest {
    List,
    Add {
        when: When,
        prompt: String,
        /// Streams nothing; the result is forwarded only when it has something to report.
        silent: bool,
    },
    Remove {
        id: i64,
    },
}

/// Parses the argument of `/cron`; the error is a usage line for the user.
pub fn parse(args: &str) -> Result<CronRequest, String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let (silent, words) = match words.as_slice() {
        ["silent", rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let add = |when: When, prompt: &[&str]| {
        if prompt.is_empty() {
            return Err(format!("the job needs a prompt; {USAGE}"));
        }
        Ok(CronRequest::Add {
            when,
            prompt: prompt.join(" "),
            silent,
        })
    };
    match words {
        [] if !silent => Ok(CronRequest::List),
        ["rm", id] if !silent => id
            .parse()
            .map(|id| CronRequest::Remove { id })
            .map_err(|_| format!("{id:?} is not a job id; {USAGE}")),
        ["every", interval, prompt @ ..] => add(When::Every((*interval).to_owned()), prompt),
        ["in", delay, prompt @ ..] => add(When::In((*delay).to_owned()), prompt),
        ["at", "in", delay, prompt @ ..] => add(When::In((*delay).to_owned()), prompt),
        ["at", when, prompt @ ..] => add(When::At((*when).to_owned()), prompt),
        ["add", rest @ ..] => {
            let (tz, rest) = match rest.first().and_then(|w| w.strip_prefix("TZ=")) {
                Some(tz) => (Some(tz.to_owned()), &rest[1..]),
                None => (None, rest),
            };
            let fields = if rest.first().is_some_and(|w| w.starts_with('@')) {
                1
            } else {
                5
            };
            if rest.len() < fields {
                return Err(format!(
                    "a cron expression has 5 fields (minute hour day-of-month month day-of-week); {USAGE}"
                ));
            }
            let expr = rest[..fields].join(" ");
            add(When::Cron { expr, tz }, &rest[fields..])
        }
        _ => Err(USAGE.into()),
    }
}

/// The schedule `when` names, read in zone `tz` at `now`.
pub fn schedule(when: &When, tz: Tz, now: DateTime<Utc>) -> Result<Schedule, ScheduleError> {
    match when {
        When::Cron { expr, tz: zone } => Schedule::cron(expr, zone.as_deref().unwrap_or(tz.name())),
        When::Every(interval) => Schedule::every(interval, now),
        When::In(delay) => Schedule::parse_at(&format!("in {delay}"), tz.name(), now),
        When::At(at) => Schedule::parse_at(at, tz.name(), now),
    }
}

impl Router<'_> {
    pub(super) fn on_cron(&self, to: To, args: &str) -> Vec<Effect> {
        let lane = to.lane;
        let (reply, changed) = match parse(args) {
            Ok(CronRequest::List) => return vec![self.list_cron(to)],
            Ok(CronRequest::Add {
                when,
                prompt,
                silent,
            }) => {
                let now = Utc::now();
                self.add_cron(
                    lane,
                    schedule(&when, self.scope.config.tz, now),
                    prompt,
                    silent,
                    now,
                )
            }
            Ok(CronRequest::Remove { id }) => self.remove_cron(lane, id),
            Err(usage) => (Reply::Refused { why: usage }, false),
        };
        let mut effects = vec![Effect::reply(to, reply)];
        if changed {
            effects.push(Effect::CronChanged);
        }
        effects
    }

    /// The lane's jobs, next fires in the user's zone, with a Cancel button each.
    fn list_cron(&self, to: To) -> Effect {
        let tz = self.scope.config.tz;
        let jobs = match self.store.cron_jobs_of_lane(to.lane) {
            Ok(jobs) => jobs,
            Err(error) => {
                return Effect::reply(
                    to,
                    Reply::Refused {
                        why: format!("Could not list jobs: {error}"),
                    },
                );
            }
        };
        if jobs.is_empty() {
            return Effect::html(to, "No scheduled prompts in this chat.");
        }
        let mut out = String::from("<b>Scheduled prompts</b>");
        for job in &jobs {
            let when = Schedule::from_spec(&job.schedule)
                .map(|s| s.describe(tz))
                .unwrap_or_default();
            let next = job.next_fire.map_or("—".into(), |at| local_time(at, tz));
            let silent = if job.silent { " · silent" } else { "" };
            out.push_str(&format!(
                "\n<code>{}</code> {} · next {}{silent} · {}",
                job.id,
                escape_text(&when),
                next,
                escape_text(&job.prompt.chars().take(60).collect::<String>())
            ));
        }
        let ids: Vec<i64> = jobs.iter().map(|job| job.id).collect();
        Effect::Menu {
            to,
            html: out,
            keyboard: cron_keyboard(&ids),
        }
    }

    fn add_cron(
        &self,
        lane: LaneKey,
        schedule: Result<Schedule, ScheduleError>,
        prompt: String,
        silent: bool,
        now: DateTime<Utc>,
    ) -> (Reply, bool) {
        let refused = |why: String| (Reply::Refused { why }, false);
        let schedule = match schedule {
            Ok(schedule) => schedule,
            Err(error) => return refused(error.to_string()),
        };
        let next_fire = schedule.next_after(now);
        let job = NewCronJob {
            lane,
            schedule: schedule.spec().clone(),
            prompt,
            silent,
            next_fire,
            import_key: None,
        };
        let id = match self.store.add_cron_job(&job).wait() {
            Ok(Some(id)) => id,
            Ok(None) => return refused("Could not save the job: it already exists".into()),
            Err(error) => return refused(format!("Could not save the job: {error}")),
        };
        let kind = cron_kind(schedule.spec());
        if let Err(error) = self.door.cron_register(job_id(id), lane, kind) {
            return (
                Reply::Refused {
                    why: error.to_string(),
                },
                true,
            );
        }
        info!(%lane, job = id, silent, "cron: job added");
        let tz = self.scope.config.tz;
        let next = next_fire.map_or("never".into(), |at| local_time(at, tz));
        let silent = if silent {
            " Silent: you hear from it only when it has something to report."
        } else {
            ""
        };
        let reply = Reply::Html(format!(
            "⏰ Job <code>{id}</code>: {}; next {next}.{silent} <code>/cron rm {id}</code> removes it.",
            escape_text(&schedule.describe(tz))
        ));
        (reply, true)
    }

    pub(super) fn remove_cron(&self, lane: LaneKey, id: i64) -> (Reply, bool) {
        let refused = |why: String| (Reply::Refused { why }, false);
        match self.store.cron_job(id) {
            Ok(Some(job)) if job.lane == lane => {}
            Ok(_) => return refused(format!("No job {id} in this chat.")),
            Err(error) => return refused(format!("Could not look up job {id}: {error}")),
        }
        // The core first: once it says cancelled, the job can never be claimed again.
        let report = self.door.cron_cancel(&job_id(id));
        if let Err(error) = self.store.remove_cron_job(id).wait() {
            return refused(format!("Could not remove job {id}: {error}"));
        }
        info!(%lane, job = id, "cron: job removed");
        let mut out = format!("Removed job {id}.");
        if let Ok(report) = report {
            if report.removed.is_some() {
                out.push_str(" Its queued fire was removed too.");
            }
            if report.running.is_some() {
                out.push_str(" Its current run goes on; /stop stops it.");
            }
        }
        (Reply::Html(out), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(when: When, prompt: &str, silent: bool) -> CronRequest {
        CronRequest::Add {
            when,
            prompt: prompt.into(),
            silent,
        }
    }

    #[test]
    fn cron_parse_reads_each_form() {
        assert_eq!(parse("").unwrap(), CronRequest::List);
        assert_eq!(parse("rm 7").unwrap(), CronRequest::Remove { id: 7 });
        assert_eq!(
            parse("add 0 9 * * 1-5 check the build").unwrap(),
            add(
                When::Cron {
                    expr: "0 9 * * 1-5".into(),
                    tz: None
                },
                "check the build",
                false
            )
        );
        assert_eq!(
            parse("add TZ=Europe/Berlin @daily summarize").unwrap(),
            add(
                When::Cron {
                    expr: "@daily".into(),
                    tz: Some("Europe/Berlin".into())
                },
                "summarize",
                false
            )
        );
        assert_eq!(
            parse("every 2h check the queue").unwrap(),
            add(When::Every("2h".into()), "check the queue", false)
        );
        assert_eq!(
            parse("silent every 30m watch CI").unwrap(),
            add(When::Every("30m".into()), "watch CI", true)
        );
        assert_eq!(
            parse("in 20m ping me").unwrap(),
            add(When::In("20m".into()), "ping me", false)
        );
        assert_eq!(
            parse("at in 1h30m ping me").unwrap(),
            add(When::In("1h30m".into()), "ping me", false)
        );
        assert_eq!(
            parse("at 15:00 deploy").unwrap(),
            add(When::At("15:00".into()), "deploy", false)
        );
    }

    #[test]
    fn cron_parse_refuses_malformed_requests_with_a_usage_line() {
        for bad in [
            "add 0 9 * *",
            "add 0 9 * * 1",
            "rm x",
            "at 15:00",
            "every 2h",
            "in 20m",
            "silent",
            "silent rm 3",
            "frobnicate",
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains("usage: /cron"), "{bad}: {error}");
        }
    }

    #[test]
    fn cron_schedules_read_the_default_zone_and_refuse_bad_times_clearly() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let berlin = Tz::Europe__Berlin;
        let at = |when: When| schedule(&when, berlin, now).map(|s| s.next_after(now));
        // 15:00 in Berlin (UTC+1 in December) is 14:00 UTC.
        assert_eq!(
            at(When::At("15:00".into())).unwrap().unwrap().to_rfc3339(),
            "2026-12-01T14:00:00+00:00"
        );
        assert_eq!(
            at(When::In("20m".into())).unwrap().unwrap().to_rfc3339(),
            "2026-12-01T08:20:00+00:00"
        );
        assert_eq!(
            at(When::Every("2h".into())).unwrap().unwrap().to_rfc3339(),
            "2026-12-01T10:00:00+00:00"
        );
        assert_eq!(
            at(When::Cron {
                expr: "0 9 * * *".into(),
                tz: None
            })
            .unwrap()
            .unwrap()
            .to_rfc3339(),
            "2026-12-02T08:00:00+00:00",
            "09:00 Berlin has passed today"
        );
        for (when, says) in [
            (When::Every("2x".into()), "interval \"2x\""),
            (When::In("soon".into()), "is not a delay"),
            (When::At("25:00".into()), "is not a time"),
            (
                When::Cron {
                    expr: "61 * * * *".into(),
                    tz: None,
                },
                "cron expression",
            ),
        ] {
            let error = schedule(&when, berlin, now).unwrap_err().to_string();
            assert!(error.contains(says), "{when:?}: {error}");
        }
    }
}
