//! `/cron`: listing, adding and removing a lane's scheduled prompts. The
//! store keeps the schedule; the core decides whether a fire may run.

use std::sync::Arc;

use baton_core::{CronKind, LaneKey};
use chrono::Utc;
use tracing::info;

use super::App;
use super::cron_tick::job_id;
use super::replies::Reply;
use crate::cron::schedule::{Schedule, ScheduleError};
use crate::store::NewCronJob;
use crate::telegram::render::escape_text;

/// Schedules are read in this zone; `/cron add` accepts a `TZ=Area/City` prefix.
const DEFAULT_TZ: &str = "UTC";

/// What `/cron ARGS` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronRequest {
    List,
    Add {
        schedule: String,
        tz: String,
        prompt: String,
    },
    At {
        when: String,
        prompt: String,
    },
    Remove {
        id: i64,
    },
}

/// Parses the argument of `/cron`; the error is a usage line for the user.
pub fn parse(args: &str) -> Result<CronRequest, String> {
    let usage = "usage: /cron · /cron add [TZ=Area/City] MIN HOUR DOM MON DOW prompt · /cron at WHEN prompt · /cron rm ID";
    let words: Vec<&str> = args.split_whitespace().collect();
    match words.as_slice() {
        [] => Ok(CronRequest::List),
        ["rm", id] => id
            .parse()
            .map(|id| CronRequest::Remove { id })
            .map_err(|_| format!("{id:?} is not a job id; {usage}")),
        ["add", rest @ ..] => {
            let (tz, rest) = match rest.first().and_then(|w| w.strip_prefix("TZ=")) {
                Some(tz) => (tz.to_owned(), &rest[1..]),
                None => (DEFAULT_TZ.to_owned(), rest),
            };
            let fields = if rest.first().is_some_and(|w| w.starts_with('@')) {
                1
            } else {
                5
            };
            if rest.len() <= fields {
                return Err(usage.into());
            }
            Ok(CronRequest::Add {
                schedule: rest[..fields].join(" "),
                tz,
                prompt: rest[fields..].join(" "),
            })
        }
        ["at", "in", delay, prompt @ ..] if !prompt.is_empty() => Ok(CronRequest::At {
            when: format!("in {delay}"),
            prompt: prompt.join(" "),
        }),
        ["at", when, prompt @ ..] if !prompt.is_empty() => Ok(CronRequest::At {
            when: (*when).to_owned(),
            prompt: prompt.join(" "),
        }),
        _ => Err(usage.into()),
    }
}

impl App {
    pub(super) fn on_cron(self: &Arc<Self>, lane: LaneKey, args: &str) {
        let reply = match parse(args) {
            Ok(CronRequest::List) => self.list_cron(lane),
            Ok(CronRequest::Add {
                schedule,
                tz,
                prompt,
            }) => self.add_cron(lane, Schedule::cron(&schedule, &tz), prompt),
            Ok(CronRequest::At { when, prompt }) => self.add_cron(
                lane,
                Schedule::parse_at(&when, DEFAULT_TZ, Utc::now()),
                prompt,
            ),
            Ok(CronRequest::Remove { id }) => self.remove_cron(lane, id),
            Err(usage) => Reply::Refused { why: usage },
        };
        self.reply(lane, reply);
    }

    fn list_cron(&self, lane: LaneKey) -> Reply {
        match self.store.cron_jobs_of_lane(lane) {
            Ok(jobs) if jobs.is_empty() => Reply::Html("No scheduled prompts in this chat.".into()),
            Ok(jobs) => {
                let mut out = String::from("<b>Scheduled prompts</b>");
                for job in jobs {
                    let when = Schedule::from_spec(&job.schedule)
                        .map(|s| s.describe())
                        .unwrap_or_default();
                    let next = job.next_fire.map_or("—".into(), |at| {
                        at.format("%Y-%m-%d %H:%M UTC").to_string()
                    });
                    out.push_str(&format!(
                        "\n<code>{}</code> {} · next {} · {}",
                        job.id,
                        escape_text(&when),
                        next,
                        escape_text(&job.prompt.chars().take(60).collect::<String>())
                    ));
                }
                Reply::Html(out)
            }
            Err(error) => Reply::Refused {
                why: format!("Could not list jobs: {error}"),
            },
        }
    }

    fn add_cron(
        &self,
        lane: LaneKey,
        schedule: Result<Schedule, ScheduleError>,
        prompt: String,
    ) -> Reply {
        let schedule = match schedule {
            Ok(schedule) => schedule,
            Err(error) => {
                return Reply::Refused {
                    why: error.to_string(),
                };
            }
        };
        let next_fire = schedule.next_after(Utc::now());
        let job = NewCronJob {
            lane,
            schedule: schedule.spec().clone(),
            prompt,
            silent: false,
            next_fire,
        };
        let id = match self.store.add_cron_job(&job) {
            Ok(id) => id,
            Err(error) => {
                return Reply::Refused {
                    why: format!("Could not save the job: {error}"),
                };
            }
        };
        let kind = if schedule.is_recurring() {
            CronKind::Recurring
        } else {
            CronKind::OneShot
        };
        if let Err(error) = self.door.cron_register(job_id(id), lane, kind) {
            return Reply::Refused {
                why: error.to_string(),
            };
        }
        self.cron_changed.notify_one();
        info!(%lane, job = id, "cron: job added");
        let next = next_fire.map_or("never".into(), |at| {
            at.format("%Y-%m-%d %H:%M UTC").to_string()
        });
        Reply::Html(format!(
            "⏰ Job <code>{id}</code>: {}; next {next}. <code>/cron rm {id}</code> removes it.",
            escape_text(&schedule.describe())
        ))
    }

    fn remove_cron(&self, lane: LaneKey, id: i64) -> Reply {
        match self.store.cron_job(id) {
            Ok(Some(job)) if job.lane == lane => {}
            Ok(_) => {
                return Reply::Refused {
                    why: format!("No job {id} in this chat."),
                };
            }
            Err(error) => {
                return Reply::Refused {
                    why: format!("Could not look up job {id}: {error}"),
                };
            }
        }
        // The core first: once it says cancelled, the job can never be claimed again.
        let report = self.door.cron_cancel(&job_id(id));
        if let Err(error) = self.store.remove_cron_job(id) {
            return Reply::Refused {
                why: format!("Could not remove job {id}: {error}"),
            };
        }
        self.cron_changed.notify_one();
        let mut out = format!("Removed job {id}.");
        if let Ok(report) = report {
            if report.removed.is_some() {
                out.push_str(" Its queued fire was removed too.");
            }
            if report.running.is_some() {
                out.push_str(" Its current run goes on; /stop stops it.");
            }
        }
        Reply::Html(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_parse_reads_each_form() {
        assert_eq!(parse("").unwrap(), CronRequest::List);
        assert_eq!(parse("rm 7").unwrap(), CronRequest::Remove { id: 7 });
        assert_eq!(
            parse("add 0 9 * * 1-5 check the build").unwrap(),
            CronRequest::Add {
                schedule: "0 9 * * 1-5".into(),
                tz: "UTC".into(),
                prompt: "check the build".into()
            }
        );
        assert_eq!(
            parse("add TZ=Europe/Berlin @daily summarize").unwrap(),
            CronRequest::Add {
                schedule: "@daily".into(),
                tz: "Europe/Berlin".into(),
                prompt: "summarize".into()
            }
        );
        assert_eq!(
            parse("at in 1h30m ping me").unwrap(),
            CronRequest::At {
                when: "in 1h30m".into(),
                prompt: "ping me".into()
            }
        );
        assert_eq!(
            parse("at 15:00 deploy").unwrap(),
            CronRequest::At {
                when: "15:00".into(),
                prompt: "deploy".into()
            }
        );
    }

    #[test]
    fn cron_parse_refuses_incomplete_requests_with_usage() {
        for bad in [
            "add 0 9 * *",
            "add 0 9 * * 1",
            "rm x",
            "at 15:00",
            "frobnicate",
        ] {
            let error = parse(bad).unwrap_err();
            assert!(
                error.contains("usage") || error.contains("job id"),
                "{bad}: {error}"
            );
        }
    }
}
