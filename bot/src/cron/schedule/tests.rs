//! Tests of cron and one-shot schedules, time zones and daylight saving changes.

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn cron_next_fire_is_strictly_after_and_in_its_time_zone() {
    let schedule = Schedule::cron("0 9 * * 1-5", "Europe/Berlin").unwrap();
    assert!(schedule.is_recurring());
    // Friday 27 Nov 2026, 08:00 UTC is 09:00 in Berlin (UTC+1): exactly a fire, so not "after".
    assert_eq!(
        schedule.next_after(utc("2026-11-27T07:59:00Z")),
        Some(utc("2026-11-27T08:00:00Z"))
    );
    assert_eq!(
        schedule.next_after(utc("2026-11-27T08:00:00Z")),
        Some(utc("2026-11-30T08:00:00Z")),
        "the weekend is skipped"
    );
    // In summer Berlin is UTC+2.
    assert_eq!(
        schedule.next_after(utc("2026-07-01T00:00:00Z")),
        Some(utc("2026-07-01T07:00:00Z"))
    );
}

#[test]
fn cron_skips_a_local_time_lost_to_a_clock_change() {
    // 29 Mar 2026, Berlin: 02:00 jumps to 03:00, so 02:30 does not exist that day.
    let schedule = Schedule::cron("30 2 * * *", "Europe/Berlin").unwrap();
    let next = schedule.next_after(utc("2026-03-28T02:00:00Z")).unwrap();
    assert!(next > utc("2026-03-28T02:00:00Z"));
    assert_ne!(
        next.with_timezone(&chrono_tz::Europe::Berlin)
            .format("%d %H:%M")
            .to_string(),
        "29 02:30"
    );
    let after = schedule.next_after(next).unwrap();
    assert_eq!(after, utc("2026-03-30T00:30:00Z"));
}

#[test]
fn cron_nicknames_are_accepted() {
    let schedule = Schedule::cron("@daily", "UTC").unwrap();
    assert_eq!(
        schedule.next_after(utc("2026-11-27T10:00:00Z")),
        Some(utc("2026-11-28T00:00:00Z"))
    );
}

#[test]
fn cron_errors_name_the_expression_and_the_cause() {
    assert_eq!(
        Schedule::cron("* * *", "UTC").unwrap_err().to_string(),
        r#"cron expression "* * *": needs 5 fields (minute hour day-of-month month day-of-week), found 3"#
    );
    assert_eq!(
        Schedule::cron("0 0 9 * * *", "UTC")
            .unwrap_err()
            .to_string(),
        r#"cron expression "0 0 9 * * *": needs 5 fields (minute hour day-of-month month day-of-week), found 6"#
    );
    let error = Schedule::cron("61 * * * *", "UTC").unwrap_err().to_string();
    assert!(
        error.starts_with(r#"cron expression "61 * * * *": "#),
        "{error}"
    );
    assert_eq!(
        Schedule::cron("0 0 31 2 *", "UTC").unwrap_err().to_string(),
        r#"cron expression "0 0 31 2 *": never fires"#
    );
    assert_eq!(
        Schedule::cron("0 9 * * *", "Mars/Olympus")
            .unwrap_err()
            .to_string(),
        r#"time zone "Mars/Olympus": not a known IANA time zone name (e.g. Europe/Berlin, UTC)"#
    );
}

#[test]
fn once_fires_only_before_its_moment() {
    let at = utc("2026-11-27T12:00:00Z");
    let schedule = Schedule::once(at);
    assert!(!schedule.is_recurring());
    assert_eq!(schedule.next_after(utc("2026-11-27T11:59:59Z")), Some(at));
    assert_eq!(schedule.next_after(at), None);
}

#[test]
fn parse_at_reads_every_form() {
    let now = utc("2026-11-27T10:00:00Z");
    let at = |text: &str, tz: &str| match Schedule::parse_at(text, tz, now).unwrap().spec() {
        ScheduleSpec::Once { at } => *at,
        other => panic!("not a one-shot: {other:?}"),
    };
    assert_eq!(
        at("2026-11-28T15:00:00+01:00", "UTC"),
        utc("2026-11-28T14:00:00Z")
    );
    assert_eq!(
        at("2026-11-28 15:00", "Europe/Berlin"),
        utc("2026-11-28T14:00:00Z")
    );
    assert_eq!(
        at("2026-11-28T15:00:30", "UTC"),
        utc("2026-11-28T15:00:30Z")
    );
    assert_eq!(
        at("15:00", "Europe/Berlin"),
        utc("2026-11-27T14:00:00Z"),
        "later today"
    );
    assert_eq!(
        at("10:30", "Europe/Berlin"),
        utc("2026-11-28T09:30:00Z"),
        "passed: tomorrow"
    );
    assert_eq!(at("in 45m", "UTC"), utc("2026-11-27T10:45:00Z"));
    assert_eq!(at("+1h30m", "UTC"), utc("2026-11-27T11:30:00Z"));
    assert_eq!(at("in 2 days", "UTC"), utc("2026-11-29T10:00:00Z"));
}

#[test]
fn parse_at_refuses_past_nonexistent_and_unreadable_times() {
    let now = utc("2026-11-27T10:00:00Z");
    let error = |text: &str, tz: &str| Schedule::parse_at(text, tz, now).unwrap_err().to_string();
    assert_eq!(
        error("2026-11-27 09:00", "UTC"),
        r#"time "2026-11-27 09:00": is in the past"#
    );
    assert_eq!(
        error("2026-03-29 02:30", "Europe/Berlin"),
        r#"time "2026-03-29 02:30": does not exist in Europe/Berlin (the clocks change then)"#
    );
    assert_eq!(
        error("in 5 fortnights", "UTC"),
        r#"time "in 5 fortnights": is not a delay such as 45m, 2h or 1h30m (units s, m, h, d)"#
    );
    assert_eq!(
        error("+0m", "UTC"),
        r#"time "+0m": is not a delay such as 45m, 2h or 1h30m (units s, m, h, d)"#
    );
    assert_eq!(
        error("tomorrow", "UTC"),
        r#"time "tomorrow": is not a time such as 15:00, 2026-11-27 15:00, an RFC 3339 time, or in 45m"#
    );
    assert!(error("15:00", "Nowhere").starts_with("time zone \"Nowhere\""));
}

#[test]
fn parse_at_takes_the_earlier_moment_of_a_repeated_hour() {
    // 25 Oct 2026, Berlin: 03:00 goes back to 02:00, so 02:30 happens twice.
    let now = utc("2026-10-01T00:00:00Z");
    let schedule = Schedule::parse_at("2026-10-25 02:30", "Europe/Berlin", now).unwrap();
    assert_eq!(
        schedule.spec(),
        &ScheduleSpec::Once {
            at: utc("2026-10-25T00:30:00Z")
        }
    );
}

#[test]
fn spec_round_trips_through_json_and_from_spec() {
    for schedule in [
        Schedule::cron("*/15 8-18 * * MON-FRI", "America/New_York").unwrap(),
        Schedule::once(utc("2026-12-01T00:00:00Z")),
    ] {
        let json = serde_json::to_string(schedule.spec()).unwrap();
        let spec: ScheduleSpec = serde_json::from_str(&json).unwrap();
        let rebuilt = Schedule::from_spec(&spec).unwrap();
        assert_eq!(rebuilt.spec(), schedule.spec());
        let probe = utc("2026-11-27T10:07:00Z");
        assert_eq!(rebuilt.next_after(probe), schedule.next_after(probe));
    }
    assert_eq!(
        serde_json::to_value(ScheduleSpec::Cron {
            expr: "0 9 * * *".into(),
            tz: "UTC".into()
        })
        .unwrap(),
        serde_json::json!({"kind": "cron", "expr": "0 9 * * *", "tz": "UTC"})
    );
}

#[test]
fn describe_names_expression_and_zone() {
    assert_eq!(
        Schedule::cron("0 9 * * 1-5", "Europe/Berlin")
            .unwrap()
            .describe(Tz::UTC),
        "0 9 * * 1-5 (Europe/Berlin)"
    );
    assert_eq!(
        Schedule::once(utc("2026-12-01T08:05:00Z")).describe(Tz::UTC),
        "once at 2026-12-01 08:05 UTC"
    );
    assert_eq!(
        Schedule::once(utc("2026-12-01T08:05:00Z")).describe(Tz::Europe__Berlin),
        "once at 2026-12-01 09:05 CET"
    );
    let now = utc("2026-12-01T08:00:00Z");
    assert_eq!(
        Schedule::every("1h30m", now).unwrap().describe(Tz::UTC),
        "every 1h30m"
    );
}

#[test]
fn interval_fires_on_whole_intervals_from_its_anchor() {
    let now = utc("2026-12-01T08:00:00Z");
    let schedule = Schedule::every("2h", now).unwrap();
    assert!(schedule.is_recurring());
    assert_eq!(schedule.next_after(now), Some(utc("2026-12-01T10:00:00Z")));
    // A fire taken late (the bot was down, or a run was long) keeps the grid: the next one
    // is the first whole interval after, never "late + 2h", and missed ones are not owed.
    assert_eq!(
        schedule.next_after(utc("2026-12-01T10:00:00Z")),
        Some(utc("2026-12-01T12:00:00Z"))
    );
    assert_eq!(
        schedule.next_after(utc("2026-12-01T17:59:00Z")),
        Some(utc("2026-12-01T18:00:00Z"))
    );
    let stored = Schedule::from_spec(schedule.spec()).unwrap();
    assert_eq!(
        stored.next_after(utc("2026-12-01T11:00:00Z")),
        Some(utc("2026-12-01T12:00:00Z"))
    );
    for bad in ["", "2x", "0m", "h"] {
        assert!(
            matches!(
                Schedule::every(bad, now),
                Err(ScheduleError::Interval { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(
        Schedule::from_spec(&ScheduleSpec::Every {
            every_ms: 0,
            anchor: now
        })
        .is_err()
    );
}
