//! The cron parser: a small, complete one for the classic 5 fields (minute hour
//! day-of-month month day-of-week; `*`, lists, ranges, steps, month and day names,
//! `@daily`-style macros, Vixie cron's day-of-month OR day-of-week rule), evaluated in
//! the local time zone or the one named by a `CRON_TZ=Zone ` prefix.
//!
//! Kept rather than `croner` (issue 10 item 5). Measured against croner 4.0.3 (its
//! `jiff` backend, seconds disallowed) on the cases of the tests below, croner differs
//! in three answers and would still need most of this file:
//! - a fixed time skipped by a DST change: croner fires at the end of the gap (02:30 on
//!   2026-03-08 in New York fires 03:00 EDT), this parser at the same offset after it
//!   (03:30 EDT), which `cron_dst_gap_and_fold` asserts;
//! - Vixie's rule that a day field starting with `*` (as `*/2`) makes day-of-month AND
//!   day-of-week: croner ORs them (`0 0 */2 * fri` fires on 2026-03-03, a Tuesday);
//! - croner refuses `?` and `5/15` (accepted here) and accepts `L`, `W`, `#`, which a
//!   crontab written for this agent should not silently depend on.
//!
//! It also has no `CRON_TZ=` syntax and its errors name no field ("Number out of
//! bounds"), so the prefix and the field checks (`cron_errors_say_what_is_wrong`) stay
//! here either way; only `next_after` (about 60 lines) would go, for a dependency that
//! brings `derive_builder` and `strum` (proc macros). In a repeated hour (fall back)
//! both fire an expression whose hour field is `*` in both passes (as Vixie cron runs
//! its wildcard jobs by the clock), and one with fixed hours once, at the first.

use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, ToSpan};

/// A 5-field cron expression (see the module documentation).
#[derive(Debug, Clone)]
pub struct Cron {
    source: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_star: bool,
    weekdays_star: bool,
    tz: TimeZone,
    tz_name: String,
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Cron {
    /// Parses `EXPR` in the system's local time zone, or the one of a `CRON_TZ=Zone `
    /// (or `TZ=Zone `) prefix.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let expr = expr.trim();
        for prefix in ["CRON_TZ=", "TZ="] {
            if let Some(rest) = expr.strip_prefix(prefix) {
                let (zone, rest) = rest.split_once(char::is_whitespace).ok_or_else(|| {
                    format!("cron expression {expr:?}: expected the 5 fields after {prefix}Zone")
                })?;
                let tz = if zone.eq_ignore_ascii_case("UTC") {
                    TimeZone::UTC
                } else {
                    TimeZone::get(zone).map_err(|e| {
                        format!("unknown time zone {zone:?} in {expr:?} ({e}): use an IANA name such as UTC or Europe/Paris")
                    })?
                };
                return Self::parse_in(rest, tz, zone);
            }
        }
        let tz = TimeZone::system();
        let name = tz.iana_name().unwrap_or("local").to_string();
        Self::parse_in(expr, tz, &name)
    }

    /// Parses the 5 fields (or a macro) in time zone `tz`.
    pub fn parse_in(expr: &str, tz: TimeZone, tz_name: &str) -> Result<Self, String> {
        let source = expr.trim().to_string();
        let expanded = match source.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *".to_string(),
            "@monthly" => "0 0 1 * *".to_string(),
            "@weekly" => "0 0 * * 0".to_string(),
            "@daily" | "@midnight" => "0 0 * * *".to_string(),
            "@hourly" => "0 * * * *".to_string(),
            m if m.starts_with('@') => {
                return Err(format!(
                    "unsupported cron macro {source:?}: use @yearly, @monthly, @weekly, @daily or @hourly (an agent started at boot takes its first snapshot with --every)"
                ));
            }
            _ => source.clone(),
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "cron expression {source:?} has {} field(s): expected 5 (minute hour day-of-month month day-of-week), e.g. \"0 3 * * *\" for 03:00 every day",
                fields.len()
            ));
        }
        let err = |what: &str, e: String| format!("cron expression {source:?}: {what} field: {e}");
        let minutes = parse_field(fields[0], 0, 59, &[], 0).map_err(|e| err("minute", e))?;
        let hours = parse_field(fields[1], 0, 23, &[], 0).map_err(|e| err("hour", e))?;
        let days = parse_field(fields[2], 1, 31, &[], 0).map_err(|e| err("day-of-month", e))?;
        let months = parse_field(fields[3], 1, 12, MONTHS, 1).map_err(|e| err("month", e))?;
        let mut weekdays =
            parse_field(fields[4], 0, 7, WEEKDAYS, 0).map_err(|e| err("day-of-week", e))?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays & !(1 << 7)) | 1;
        }
        let star = |f: &str| f.starts_with('*') || f.starts_with('?');
        let cron = Self {
            source,
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_star: star(fields[2]),
            weekdays_star: star(fields[4]),
            tz,
            tz_name: tz_name.to_string(),
        };
        if cron.next_after(Timestamp::now()).is_none() {
            return Err(format!(
                "cron expression {:?} never fires (e.g. 30 February): check the day and month",
                cron.source
            ));
        }
        Ok(cron)
    }

    /// The expression as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The time zone it is evaluated in.
    pub fn tz_name(&self) -> &str {
        &self.tz_name
    }

    fn day_matches(&self, d: jiff::civil::Date) -> bool {
        let dom = self.days & (1 << d.day()) != 0;
        let dow = self.weekdays & (1 << d.weekday().to_sunday_zero_offset()) != 0;
        if self.days_star || self.weekdays_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first time strictly after `t` that matches, or `None` if none within 9 years.
    /// A local time skipped by a DST change fires at the same offset after the change; a
    /// local time that occurs twice (fall back) fires at both occurrences when the hour
    /// field is `*` (every hour: the repeated hour is an hour like any other), else once,
    /// at the first.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let every_hour = self.hours == (1 << 24) - 1;
        // Every hour: start three hours back in local time, so that the second pass of
        // a repeated hour that `t` falls in is seen (times not after `t` are passed over).
        let back = if every_hour { 3 } else { 0 };
        let start = t.to_zoned(self.tz.clone()).datetime();
        let mut dt = start
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_sub(back.hours())
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        let last_year = dt.year().saturating_add(9);
        // The earliest time after `t` among the matches of a repeated hour seen so far:
        // in local order, the second pass of 02:00 comes before the first of 02:30.
        let mut best: Option<Timestamp> = None;
        for _ in 0..200_000 {
            if dt.year() > last_year {
                return best;
            }
            if self.months & (1 << dt.month()) == 0 {
                dt = dt
                    .date()
                    .first_of_month()
                    .checked_add(1.month())
                    .ok()?
                    .at(0, 0, 0, 0);
                continue;
            }
            if !self.day_matches(dt.date()) {
                dt = dt.date().tomorrow().ok()?.at(0, 0, 0, 0);
                continue;
            }
            if self.hours & (1 << dt.hour()) == 0 {
                dt = dt
                    .with()
                    .minute(0)
                    .build()
                    .ok()?
                    .checked_add(1.hour())
                    .ok()?;
                continue;
            }
            if self.minutes & (1 << dt.minute()) == 0 {
                dt = dt.checked_add(1.minute()).ok()?;
                continue;
            }
            let local = self.tz.to_ambiguous_timestamp(dt);
            let both = every_hour && matches!(local.offset(), AmbiguousOffset::Fold { .. });
            let times = if both {
                [local.earlier().ok(), local.later().ok()]
            } else {
                [local.compatible().ok(), None]
            };
            if let Some(ts) = times.into_iter().flatten().filter(|ts| *ts > t).min() {
                best = Some(best.map_or(ts, |b| b.min(ts)));
            }
            // A time outside a repeated hour comes after every earlier match.
            if !both && best.is_some() {
                return best;
            }
            dt = dt.checked_add(1.minute()).ok()?;
        }
        best
    }
}

fn parse_field(
    field: &str,
    min: u32,
    max: u32,
    names: &[&str],
    name_base: u32,
) -> Result<u64, String> {
    let value = |s: &str| -> Result<u32, String> {
        if let Ok(n) = s.parse::<u32>() {
            return Ok(n);
        }
        let lower = s.to_ascii_lowercase();
        names
            .iter()
            .position(|n| *n == lower)
            .map(|i| i as u32 + name_base)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a number{}",
                    if names.is_empty() {
                        String::new()
                    } else {
                        format!(" or a name ({})", names.join(","))
                    }
                )
            })
    };
    let mut bits = 0u64;
    for part in field.split(',') {
        if part.is_empty() {
            return Err(format!("empty list item in {field:?}"));
        }
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| format!("step {s:?} is not a number"))?;
                if step == 0 {
                    return Err("a step of 0 never advances".into());
                }
                (r, Some(step))
            }
            None => (part, None),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if step.is_some() { max } else { v })
        };
        if lo < min || hi > max {
            return Err(format!("{part:?} is outside {min}-{max}"));
        }
        if lo > hi {
            return Err(format!(
                "range {part:?} goes backwards: write it as two items, e.g. 22-23,0-2"
            ));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step.unwrap_or(1);
        }
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(expr: &str) -> Cron {
        Cron::parse_in(expr, TimeZone::UTC, "UTC").unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn next(c: &Cron, from: &str) -> String {
        c.next_after(ts(from))
            .map(|t| t.to_string())
            .unwrap_or_else(|| "none".into())
    }

    #[test]
    fn cron_basics() {
        let c = utc("*/15 * * * *");
        assert_eq!(next(&c, "2026-03-01T10:00:00Z"), "2026-03-01T10:15:00Z");
        assert_eq!(next(&c, "2026-03-01T10:14:59.9Z"), "2026-03-01T10:15:00Z");
        assert_eq!(next(&c, "2026-03-01T23:50:00Z"), "2026-03-02T00:00:00Z");
        let c = utc("0 3 * * *");
        assert_eq!(next(&c, "2026-03-01T03:00:00Z"), "2026-03-02T03:00:00Z");
        assert_eq!(next(&c, "2026-03-01T02:59:00Z"), "2026-03-01T03:00:00Z");
        let c = utc("30 1-3/2 * * mon-fri");
        // 2026-03-06 is a Friday.
        assert_eq!(next(&c, "2026-03-06T03:30:00Z"), "2026-03-09T01:30:00Z");
        let c = utc("0 0 1 jan,jul *");
        assert_eq!(next(&c, "2026-03-01T00:00:00Z"), "2026-07-01T00:00:00Z");
        let c = utc("@hourly");
        assert_eq!(next(&c, "2026-03-01T10:00:00Z"), "2026-03-01T11:00:00Z");
        let c = utc("0 0 29 2 *");
        assert_eq!(next(&c, "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00Z");
        let c = utc("5 4 * * 7");
        assert_eq!(
            next(&c, "2026-03-02T00:00:00Z"),
            "2026-03-08T04:05:00Z",
            "7 is Sunday"
        );
    }

    #[test]
    fn cron_day_of_month_or_day_of_week() {
        // Both restricted: either matches (the 13th or any Friday).
        let c = utc("0 0 13 * fri");
        assert_eq!(next(&c, "2026-03-01T00:00:00Z"), "2026-03-06T00:00:00Z");
        assert_eq!(next(&c, "2026-03-10T00:00:00Z"), "2026-03-13T00:00:00Z");
        // Day of week `*`: only the 13th.
        let c = utc("0 0 13 * *");
        assert_eq!(next(&c, "2026-03-01T00:00:00Z"), "2026-03-13T00:00:00Z");
    }

    #[test]
    fn cron_dst_gap_and_fold() {
        let tz = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").expect("posix tz");
        // 2026-03-08 02:30 does not exist in New York: it fires at 03:30 EDT (07:30Z).
        let c = Cron::parse_in("30 2 * * *", tz.clone(), "EST5EDT").expect("parse");
        assert_eq!(next(&c, "2026-03-08T05:00:00Z"), "2026-03-08T07:30:00Z");
        // 2026-11-01 01:30 happens twice: it fires once, at the first (05:30Z).
        let c = Cron::parse_in("30 1 * * *", tz, "EST5EDT").expect("parse");
        assert_eq!(next(&c, "2026-11-01T04:00:00Z"), "2026-11-01T05:30:00Z");
        assert_eq!(next(&c, "2026-11-01T05:30:00Z"), "2026-11-02T06:30:00Z");
    }

    #[test]
    fn cron_dst_in_named_zones() {
        // Named zones from the system's tzdb, through the CRON_TZ prefix.
        let c = Cron::parse("CRON_TZ=America/New_York 30 2 * * *")
            .expect("America/New_York (is tzdata installed?)");
        assert_eq!(c.tz_name(), "America/New_York");
        // Spring forward, 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 fires at 03:30 EDT,
        // the next day at 02:30 EDT again.
        assert_eq!(next(&c, "2026-03-08T05:00:00Z"), "2026-03-08T07:30:00Z");
        assert_eq!(next(&c, "2026-03-08T07:30:00Z"), "2026-03-09T06:30:00Z");
        // Hourly: 02:15 does not exist and fires once, at 03:15 EDT; then 04:15 EDT.
        let c = Cron::parse("CRON_TZ=America/New_York 15 * * * *").expect("parse");
        assert_eq!(next(&c, "2026-03-08T06:15:00Z"), "2026-03-08T07:15:00Z");
        assert_eq!(next(&c, "2026-03-08T07:15:00Z"), "2026-03-08T08:15:00Z");
        // Fall back, 2026-10-25 03:00 CEST -> 02:00 CET in Berlin: 02:30 happens twice
        // and fires once, at the first (00:30Z); the next day at 02:30 CET (01:30Z).
        let c = Cron::parse("CRON_TZ=Europe/Berlin 30 2 * * *")
            .expect("Europe/Berlin (is tzdata installed?)");
        assert_eq!(next(&c, "2026-10-24T23:00:00Z"), "2026-10-25T00:30:00Z");
        assert_eq!(next(&c, "2026-10-25T00:30:00Z"), "2026-10-26T01:30:00Z");
        // Every hour at :15: the repeated 02:15 fires in both passes (00:15Z CEST,
        // 01:15Z CET), then 03:15 CET; a fixed hour (`15 2`) fires only the first.
        let c = Cron::parse("CRON_TZ=Europe/Berlin 15 * * * *").expect("parse");
        assert_eq!(next(&c, "2026-10-24T23:30:00Z"), "2026-10-25T00:15:00Z");
        assert_eq!(next(&c, "2026-10-25T00:15:00Z"), "2026-10-25T01:15:00Z");
        assert_eq!(next(&c, "2026-10-25T01:15:00Z"), "2026-10-25T02:15:00Z");
        let c = Cron::parse("CRON_TZ=Europe/Berlin */30 * * * *").expect("parse");
        assert_eq!(next(&c, "2026-10-25T00:30:00Z"), "2026-10-25T01:00:00Z");
        assert_eq!(next(&c, "2026-10-25T01:00:00Z"), "2026-10-25T01:30:00Z");
        let c = Cron::parse("CRON_TZ=Europe/Berlin 15 2 * * *").expect("parse");
        assert_eq!(next(&c, "2026-10-25T00:15:00Z"), "2026-10-26T01:15:00Z");
        // A time after the change is read in the new offset (CET, +01:00).
        let c = Cron::parse("CRON_TZ=Europe/Berlin 0 4 * * *").expect("parse");
        assert_eq!(next(&c, "2026-10-25T00:30:00Z"), "2026-10-25T03:00:00Z");
    }

    #[test]
    fn cron_a_day_field_starting_with_a_star_is_a_star() {
        // Vixie: `*/2` counts as `*`, so day-of-month AND day-of-week: odd days that
        // are Fridays (2026-03-13), not odd days OR Fridays (2026-03-03).
        let c = utc("0 0 */2 * fri");
        assert_eq!(next(&c, "2026-03-01T12:00:00Z"), "2026-03-13T00:00:00Z");
    }

    #[test]
    fn cron_errors_say_what_is_wrong() {
        for (expr, want) in [
            ("* * * *", "has 4 field(s)"),
            ("60 * * * *", "outside 0-59"),
            ("* 5-2 * * *", "goes backwards"),
            ("*/0 * * * *", "step of 0"),
            ("* * * foo *", "not a number or a name"),
            ("0 0 30 2 *", "never fires"),
            ("@reboot", "unsupported cron macro"),
            ("CRON_TZ=Mars/Olympus 0 3 * * *", "unknown time zone"),
        ] {
            let e = Cron::parse(expr).expect_err(expr);
            assert!(e.contains(want), "{expr}: {e}");
        }
        let c = Cron::parse("CRON_TZ=UTC 0 3 * * *").expect("tz prefix");
        assert_eq!(c.tz_name(), "UTC");
    }
}
