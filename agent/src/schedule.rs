//! `rcdiag-agent schedule`: the agent as a foreground service. One snapshot (a normal
//! collection run, [`crate::run::run`]) per tick of `--every DURATION` or
//! `--cron "EXPR"` (or just one with `--once`), never two at once: a tick that comes
//! while a snapshot runs is skipped and logged. After each snapshot: retention over the
//! snapshots this scheduler wrote ([`crate::snapshots`]), then `DIR/status.json` and
//! `DIR/rcdiag.prom` (Prometheus text format for node_exporter's textfile collector),
//! both written atomically. SIGTERM/SIGINT stop it; a snapshot cut short leaves no file
//! and no temp file. Log lines are structured: one JSON object a line when stderr is not
//! a terminal, `time LEVEL message key=value` on a terminal.
//!
//! The cron parser is a small, complete one for the classic 5 fields (minute hour
//! day-of-month month day-of-week; `*`, lists, ranges, steps, month and day names,
//! `@daily`-style macros, Vixie cron's day-of-month OR day-of-week rule), evaluated in
//! the local time zone or the one named by a `CRON_TZ=Zone ` prefix.

use std::collections::BTreeMap;
use std::fs;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::collectors;
use crate::run::{self, Progress, RunConfig, RunError, RunReport};
use crate::snapshots::{
    self, CollectorOutcome, Ledger, METRICS_FILE, Retention, RetentionResult, STATUS_FILE,
    SnapshotEntry, rfc3339,
};

/// Format tag of `status.json`.
pub const STATUS_FORMAT: &str = "rcdiag-schedule-status/1";
/// Shortest `--every`: bundle names have a one-second resolution.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

// ------------------------------------------------------------------------- cron

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
    /// local time that occurs twice fires once, at its first occurrence.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let start = t.to_zoned(self.tz.clone()).datetime();
        let mut dt = start
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        let last_year = dt.year().saturating_add(9);
        for _ in 0..200_000 {
            if dt.year() > last_year {
                return None;
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
            if let Ok(z) = self.tz.to_zoned(dt)
                && z.timestamp() > t
            {
                return Some(z.timestamp());
            }
            dt = dt.checked_add(1.minute()).ok()?;
        }
        None
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

// ---------------------------------------------------------------------- trigger

/// When snapshots are taken.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// Every interval, the first one right away (fixed rate from the start).
    Every(Duration),
    /// At the times of a cron expression.
    Cron(Box<Cron>),
    /// One snapshot now, then exit.
    Once,
}

impl Trigger {
    /// `every 6h`, `cron "0 3 * * *" (Europe/Paris)`, `once`.
    pub fn describe(&self) -> String {
        match self {
            Self::Every(d) => format!("every {}", run::humantime(*d)),
            Self::Cron(c) => format!("cron {:?} ({})", c.source(), c.tz_name()),
            Self::Once => "once".into(),
        }
    }

    /// The next `n` scheduled times from `now` (for `--dry-run`).
    pub fn upcoming(&self, now: Timestamp, n: usize) -> Vec<Timestamp> {
        let mut out = Vec::new();
        match self {
            Self::Once => out.push(now),
            Self::Every(d) => {
                for k in 0..n {
                    let off = d.saturating_mul(k as u32);
                    if let Ok(t) = now.checked_add(
                        jiff::SignedDuration::try_from(off).unwrap_or(jiff::SignedDuration::MAX),
                    ) {
                        out.push(t);
                    }
                }
            }
            Self::Cron(c) => {
                let mut t = now;
                while out.len() < n {
                    let Some(next) = c.next_after(t) else { break };
                    out.push(next);
                    t = next;
                }
            }
        }
        out
    }
}

/// When a tick is due.
#[derive(Debug, Clone, Copy)]
enum Due {
    /// Monotonic (for `--every`: immune to wall-clock changes).
    Mono(tokio::time::Instant),
    /// Wall clock (for `--cron`).
    Wall(Timestamp),
}

#[derive(Debug, Clone, Copy)]
struct Tick {
    /// The scheduled time (before jitter), for logs.
    scheduled: Timestamp,
    /// When it fires (after jitter).
    due: Due,
    /// Index (for `--every`).
    index: u64,
}

struct Ticker {
    trigger: Trigger,
    jitter: Duration,
    start_mono: tokio::time::Instant,
    start_wall: Timestamp,
}

impl Ticker {
    fn new(trigger: Trigger, jitter: Duration) -> Self {
        Self {
            trigger,
            jitter,
            start_mono: tokio::time::Instant::now(),
            start_wall: Timestamp::now(),
        }
    }

    fn every_tick(&self, d: Duration, index: u64) -> Tick {
        let off = d.saturating_mul(u32::try_from(index).unwrap_or(u32::MAX));
        let j = random_jitter(self.jitter, index);
        let scheduled = self
            .start_wall
            .checked_add(signed(off))
            .unwrap_or(self.start_wall);
        Tick {
            scheduled,
            due: Due::Mono(self.start_mono + off + j),
            index,
        }
    }

    fn cron_tick(&self, at: Timestamp, index: u64) -> Tick {
        let j = random_jitter(self.jitter, index);
        Tick {
            scheduled: at,
            due: Due::Wall(at.checked_add(signed(j)).unwrap_or(at)),
            index,
        }
    }

    fn first(&self) -> Option<Tick> {
        match &self.trigger {
            Trigger::Once => Some(Tick {
                scheduled: self.start_wall,
                due: Due::Mono(self.start_mono + random_jitter(self.jitter, 0)),
                index: 0,
            }),
            Trigger::Every(d) => Some(self.every_tick(*d, 0)),
            Trigger::Cron(c) => c.next_after(Timestamp::now()).map(|t| self.cron_tick(t, 0)),
        }
    }

    /// The tick after `prev`, and how many were missed (the machine slept, the clock jumped).
    fn next(&self, prev: &Tick) -> (Option<Tick>, u64) {
        match &self.trigger {
            Trigger::Once => (None, 0),
            Trigger::Every(d) => {
                let mut index = prev.index + 1;
                let elapsed = self.start_mono.elapsed();
                let latest = (elapsed.as_nanos() / d.as_nanos().max(1)) as u64;
                let mut missed = 0;
                if latest > index {
                    missed = latest - index;
                    index = latest;
                }
                (Some(self.every_tick(*d, index)), missed)
            }
            Trigger::Cron(c) => {
                let now = Timestamp::now();
                let mut next = c.next_after(prev.scheduled);
                let mut missed = 0;
                while let Some(t) = next {
                    if now.duration_since(t) <= jiff::SignedDuration::from_secs(60)
                        || missed > 100_000
                    {
                        break;
                    }
                    missed += 1;
                    next = c.next_after(t);
                }
                (
                    next.map(|t| self.cron_tick(t, prev.index + 1 + missed)),
                    missed,
                )
            }
        }
    }
}

fn signed(d: Duration) -> jiff::SignedDuration {
    jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX)
}

/// A random delay in `[0, max)` (per tick, from the process's random hasher seed).
fn random_jitter(max: Duration, salt: u64) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(salt);
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let span = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX).max(1);
    Duration::from_nanos(h.finish() % span)
}

async fn wait_due(due: Due) {
    match due {
        Due::Mono(at) => tokio::time::sleep_until(at).await,
        Due::Wall(at) => loop {
            let now = Timestamp::now();
            if now >= at {
                return;
            }
            // Re-check the wall clock at least every minute (suspend, clock steps).
            let left = now
                .duration_until(at)
                .unsigned_abs()
                .min(Duration::from_secs(60));
            tokio::time::sleep(left).await;
        },
    }
}

// ----------------------------------------------------------------------- logger

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line.
    Json,
    /// `time LEVEL message key=value ...`.
    Text,
}

/// Log severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Normal progress.
    Info,
    /// Something to look at; the scheduler goes on.
    Warn,
    /// A snapshot or a status write failed.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// Structured log lines on stderr.
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    /// Line format.
    pub format: LogFormat,
    /// Only warnings and errors.
    pub quiet: bool,
}

impl Logger {
    /// JSON when stderr is not a terminal, else text.
    pub fn auto(quiet: bool) -> Self {
        Self {
            format: if std::io::stderr().is_terminal() {
                LogFormat::Text
            } else {
                LogFormat::Json
            },
            quiet,
        }
    }

    /// Formats one line (without the newline).
    pub fn line(
        &self,
        level: Level,
        event: &str,
        message: &str,
        fields: &[(&str, Value)],
    ) -> String {
        let now = now_rfc3339();
        match self.format {
            LogFormat::Json => {
                let mut obj = serde_json::Map::new();
                obj.insert("timestamp".into(), Value::String(now));
                obj.insert("level".into(), Value::String(level.as_str().into()));
                obj.insert("event".into(), Value::String(event.into()));
                obj.insert("message".into(), Value::String(message.into()));
                for (k, v) in fields {
                    obj.insert((*k).to_string(), v.clone());
                }
                Value::Object(obj).to_string()
            }
            LogFormat::Text => {
                let mut s = format!("{now} {:<5} {message}", level.as_str().to_uppercase());
                for (k, v) in fields {
                    let v = match v {
                        Value::String(s)
                            if !s.is_empty()
                                && !s.contains(char::is_whitespace)
                                && !s.contains('"') =>
                        {
                            s.clone()
                        }
                        Value::Null => continue,
                        other => other.to_string(),
                    };
                    s.push_str(&format!(" {k}={v}"));
                }
                s
            }
        }
    }

    /// Writes one line to stderr.
    pub fn log(&self, level: Level, event: &str, message: &str, fields: &[(&str, Value)]) {
        if self.quiet && level == Level::Info {
            return;
        }
        let line = self.line(level, event, message, fields);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
        let _ = err.flush();
    }

    /// An info line.
    pub fn info(&self, event: &str, message: &str, fields: &[(&str, Value)]) {
        self.log(Level::Info, event, message, fields);
    }

    /// A warning line.
    pub fn warn(&self, event: &str, message: &str, fields: &[(&str, Value)]) {
        self.log(Level::Warn, event, message, fields);
    }

    /// An error line.
    pub fn error(&self, event: &str, message: &str, fields: &[(&str, Value)]) {
        self.log(Level::Error, event, message, fields);
    }
}

// ----------------------------------------------------------------------- status

/// The bundle of a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BundleStatus {
    /// Full path.
    pub path: String,
    /// File name.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Bundle id.
    pub bundle_id: String,
    /// Age-encrypted.
    pub encrypted: bool,
}

/// The last snapshot attempt.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LastRun {
    /// When the tick was scheduled.
    pub scheduled_for: String,
    /// When the snapshot started.
    pub started_at: String,
    /// When it ended.
    pub finished_at: String,
    /// Duration in seconds.
    pub duration_seconds: f64,
    /// `ok`, `degraded` (bundle written, a collector failed/timed out/was partial),
    /// `failed` (no bundle), `interrupted` (stopped by a signal; no bundle) or `died`
    /// (the scheduler was killed during it; recorded by the next start).
    pub outcome: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The bundle written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<BundleStatus>,
    /// Per collector.
    pub collectors: Vec<CollectorOutcome>,
}

/// The last snapshot that wrote a bundle.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LastSuccess {
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// The same, as Unix seconds (what `rcdiag_last_success_timestamp_seconds` shows).
    pub timestamp_seconds: f64,
    /// The bundle path.
    pub bundle: String,
}

/// Retention settings and state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RetentionStatus {
    /// `--keep`.
    pub keep: Option<usize>,
    /// `--max-age` in seconds.
    pub max_age_seconds: Option<u64>,
    /// `--max-total` in bytes.
    pub max_total_bytes: Option<u64>,
    /// Snapshots of this scheduler kept in the folder.
    pub kept: usize,
    /// Their total size.
    pub kept_bytes: u64,
    /// Files deleted after the last snapshot, with the reason.
    pub deleted: Vec<String>,
    /// The newest good snapshot, kept beyond a limit after the last snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protected: Option<String>,
}

/// Counters since the scheduler started.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Counters {
    /// When these counters started (the process start).
    pub since: String,
    /// Snapshots started.
    pub started: u64,
    /// Bundles written with every collector ok or skipped.
    pub ok: u64,
    /// Bundles written with a collector failed, timed out or partial.
    pub degraded: u64,
    /// Snapshots that wrote no bundle.
    pub failed: u64,
    /// Snapshots stopped by a signal.
    pub interrupted: u64,
    /// Ticks skipped because a snapshot was still running.
    pub ticks_skipped: u64,
}

/// `DIR/status.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Status {
    /// [`STATUS_FORMAT`].
    pub format: String,
    /// Agent version.
    pub agent_version: String,
    /// Host name.
    pub host: String,
    /// Process id of the scheduler.
    pub pid: u32,
    /// The snapshots folder.
    pub dir: String,
    /// The schedule (`every 6h`, `cron "0 3 * * *" (UTC)`, `once`).
    pub schedule: String,
    /// Collectors selected.
    pub collectors: Vec<String>,
    /// `waiting`, `running` or `stopped`.
    pub state: String,
    /// Why it stopped (`SIGTERM`, `SIGINT`, `count reached`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
    /// When this file was written.
    pub updated_at: String,
    /// Set when the previous scheduler of this folder died without stopping cleanly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_run_died: Option<String>,
    /// When the next snapshot is due.
    pub next_run: Option<String>,
    /// The last attempt.
    pub last_run: Option<LastRun>,
    /// The last bundle written.
    pub last_success: Option<LastSuccess>,
    /// Retention.
    pub retention: RetentionStatus,
    /// Counters since the start.
    pub counters: Counters,
    /// Per collector: consecutive snapshots (latest backwards) in which it failed, timed
    /// out or was partial (0 once it is ok or skipped again).
    pub consecutive_failures: BTreeMap<String, u64>,
}

impl Status {
    /// Loads a previous `status.json` (to carry the last success and failure streaks
    /// over a restart); `None` when missing or unreadable.
    pub fn load(dir: &Path) -> Option<Self> {
        let text = fs::read(dir.join(STATUS_FILE)).ok()?;
        serde_json::from_slice::<Self>(&text)
            .ok()
            .filter(|s| s.format == STATUS_FORMAT)
    }
}

/// Renders the Prometheus text exposition format (version 0.0.4) of `status`.
pub fn render_metrics(status: &Status, next_run: Option<Timestamp>) -> String {
    fn family(
        out: &mut String,
        name: &str,
        kind: &str,
        help: &str,
        samples: &[(Vec<(&str, String)>, f64)],
    ) {
        out.push_str(&format!(
            "# HELP {name} {}\n# TYPE {name} {kind}\n",
            escape_help(help)
        ));
        for (labels, v) in samples {
            out.push_str(name);
            if !labels.is_empty() {
                let l: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                    .collect();
                out.push_str(&format!("{{{}}}", l.join(",")));
            }
            out.push_str(&format!(" {}\n", prom_float(*v)));
        }
    }
    let mut out = String::new();
    let last_success = status
        .last_success
        .as_ref()
        .map(|s| s.timestamp_seconds)
        .unwrap_or(0.0);
    let last = status.last_run.as_ref();
    family(
        &mut out,
        "rcdiag_last_success_timestamp_seconds",
        "gauge",
        "Unix time at which the last snapshot bundle was written (0: none yet).",
        &[(vec![], last_success)],
    );
    family(
        &mut out,
        "rcdiag_last_duration_seconds",
        "gauge",
        "Duration of the last snapshot attempt in seconds.",
        &[(vec![], last.map(|l| l.duration_seconds).unwrap_or(0.0))],
    );
    let failures: Vec<(Vec<(&str, String)>, f64)> = collectors::names()
        .into_iter()
        .map(|n| {
            (
                vec![("collector", n.to_string())],
                *status.consecutive_failures.get(n).unwrap_or(&0) as f64,
            )
        })
        .collect();
    family(
        &mut out,
        "rcdiag_collector_failures",
        "gauge",
        "Consecutive snapshots in which the collector failed, timed out or was partial (0: the last one was ok or skipped).",
        &failures,
    );
    family(
        &mut out,
        "rcdiag_bundles_kept",
        "gauge",
        "Snapshot bundles written by the scheduler and kept in the folder after retention.",
        &[(vec![], status.retention.kept as f64)],
    );
    family(
        &mut out,
        "rcdiag_bundle_bytes",
        "gauge",
        "Total size in bytes of the snapshot bundles kept.",
        &[(vec![], status.retention.kept_bytes as f64)],
    );
    family(
        &mut out,
        "rcdiag_last_run_timestamp_seconds",
        "gauge",
        "Unix time at which the last snapshot attempt ended (0: none yet).",
        &[(
            vec![],
            last.and_then(|l| l.finished_at.parse::<Timestamp>().ok())
                .map(unix_seconds)
                .unwrap_or(0.0),
        )],
    );
    family(
        &mut out,
        "rcdiag_last_run_success",
        "gauge",
        "1 if the last snapshot attempt wrote a bundle, else 0.",
        &[(
            vec![],
            if last.is_some_and(|l| l.outcome == "ok" || l.outcome == "degraded") {
                1.0
            } else {
                0.0
            },
        )],
    );
    family(
        &mut out,
        "rcdiag_next_run_timestamp_seconds",
        "gauge",
        "Unix time at which the next snapshot is due (0: none scheduled).",
        &[(vec![], next_run.map(unix_seconds).unwrap_or(0.0))],
    );
    family(
        &mut out,
        "rcdiag_ticks_skipped_total",
        "counter",
        "Ticks skipped since the scheduler started because a snapshot was still running.",
        &[(vec![], status.counters.ticks_skipped as f64)],
    );
    family(
        &mut out,
        "rcdiag_agent_info",
        "gauge",
        "Version of the rcdiag agent writing these metrics.",
        &[(vec![("version", status.agent_version.clone())], 1.0)],
    );
    out
}

fn prom_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn unix_seconds(t: Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

// --------------------------------------------------------------------- schedule

/// Everything a scheduler needs.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// When to take snapshots.
    pub trigger: Trigger,
    /// The snapshots folder (created if missing).
    pub dir: PathBuf,
    /// Retention limits.
    pub retention: Retention,
    /// Random delay in `[0, jitter)` added to each tick.
    pub jitter: Duration,
    /// Stop after this many snapshots.
    pub count: Option<u64>,
    /// Also write `rcdiag.prom` into this folder (node_exporter's textfile directory).
    pub textfile_dir: Option<PathBuf>,
    /// The collection run; its `out` is replaced by `dir` and its progress is quiet.
    pub run: RunConfig,
    /// Log lines.
    pub log: Logger,
}

/// What a scheduler did before it stopped.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Counters.
    pub counters: Counters,
    /// `SIGTERM`, `SIGINT`, or `None` when `--count`/`--once` was reached.
    pub stopped_by: Option<&'static str>,
}

/// Why the scheduler could not start (or had to stop).
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// A folder is unsafe (a link, another user's, writable by others).
    #[error(transparent)]
    Unsafe(#[from] rcdiag_bundle::Error),
    /// The folder cannot be created or used.
    #[error(
        "cannot use the snapshots folder {dir}: {source}; create it and make it writable for the agent's user, or pass another --dir"
    )]
    Dir {
        /// Folder.
        dir: String,
        /// Cause.
        source: std::io::Error,
    },
    /// `--textfile-dir` does not exist.
    #[error(
        "--textfile-dir {dir} does not exist: create it (node_exporter's --collector.textfile.directory) and make it writable for the agent's user, or pass another --textfile-dir"
    )]
    TextfileDir {
        /// Folder.
        dir: String,
    },
    /// Another scheduler holds the folder.
    #[error(
        "another rcdiag-agent schedule is already writing into {dir}: stop it first (e.g. `systemctl stop rcdiag-agent`) or pass another --dir"
    )]
    Locked {
        /// Folder.
        dir: String,
    },
    /// The ledger.
    #[error(transparent)]
    Snapshots(#[from] snapshots::SnapshotsError),
    /// status.json or rcdiag.prom cannot be written.
    #[error("cannot write {path}: {source}; check free space and that the agent may write there")]
    Status {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

struct JobResult {
    tick: Timestamp,
    started: Timestamp,
    finished: Timestamp,
    result: Result<RunReport, RunError>,
}

/// A running snapshot: its own task, so it starts at the tick even while the loop is
/// writing status files (an fsync on a busy disk can take a second).
type Job = tokio::task::JoinHandle<JobResult>;

async fn stopped(mut rx: watch::Receiver<Option<&'static str>>) -> &'static str {
    loop {
        if let Some(s) = *rx.borrow_and_update() {
            return s;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// The result of a snapshot task; a task that panicked is a failed snapshot.
fn joined(res: Result<JobResult, tokio::task::JoinError>, since: Timestamp) -> JobResult {
    res.unwrap_or_else(|e| {
        let now = Timestamp::now();
        JobResult {
            tick: since,
            started: since,
            finished: now,
            result: Err(RunError::Internal(format!(
                "the snapshot task crashed: {e}; please report this"
            ))),
        }
    })
}

fn snapshot_job(
    cfg: RunConfig,
    tick: Timestamp,
    stop: watch::Receiver<Option<&'static str>>,
) -> Job {
    tokio::spawn(async move {
        let cancel = stopped(stop);
        tokio::pin!(cancel);
        // Bundle names have a one-second resolution and the writer never overwrites: never
        // start in a second whose name is taken (the previous bundle, a previous process's
        // last one, a `collect -o DIR` of this host).
        for _ in 0..3 {
            let now = Timestamp::now();
            let name = rcdiag_bundle::bundle_file_name(
                &rcdiag_bundle::hostname(),
                now,
                cfg.case.as_deref(),
                matches!(cfg.encryption, rcdiag_bundle::Encryption::Age { .. }),
            );
            if !cfg.out.join(name).exists() {
                break;
            }
            let next_second = Timestamp::from_second(now.as_second() + 1).unwrap_or(now);
            tokio::select! {
                _ = tokio::time::sleep(now.duration_until(next_second).unsigned_abs()) => {}
                sig = &mut cancel => {
                    let t = Timestamp::now();
                    return JobResult { tick, started: t, finished: t, result: Err(RunError::Interrupted(sig)) };
                }
            }
        }
        let started = Timestamp::now();
        let result = run::run(cfg, cancel).await;
        JobResult {
            tick,
            started,
            finished: Timestamp::now(),
            result,
        }
    })
}

struct Scheduler {
    cfg: ScheduleConfig,
    ledger: Ledger,
    status: Status,
}

impl Scheduler {
    fn fields_retention(&self) -> RetentionStatus {
        RetentionStatus {
            keep: self.cfg.retention.keep,
            max_age_seconds: self.cfg.retention.max_age.map(|d| d.as_secs()),
            max_total_bytes: self.cfg.retention.max_total,
            kept: self.ledger.snapshots.len(),
            kept_bytes: self.ledger.total_bytes(),
            deleted: Vec::new(),
            protected: None,
        }
    }

    /// Writes status.json (and, with `metrics`, rcdiag.prom) atomically.
    fn write_status(
        &mut self,
        next: Option<Timestamp>,
        metrics: bool,
    ) -> Result<(), ScheduleError> {
        self.status.updated_at = now_rfc3339();
        self.status.next_run = next.map(rfc3339);
        let mut json = serde_json::to_vec_pretty(&self.status).unwrap_or_default();
        json.push(b'\n');
        let path = self.cfg.dir.join(STATUS_FILE);
        snapshots::write_atomic(&path, &json, 0o644).map_err(|source| ScheduleError::Status {
            path: path.display().to_string(),
            source,
        })?;
        if metrics {
            let text = render_metrics(&self.status, next);
            let mut targets = vec![self.cfg.dir.join(METRICS_FILE)];
            if let Some(d) = &self.cfg.textfile_dir {
                targets.push(d.join(METRICS_FILE));
            }
            for path in targets {
                snapshots::write_atomic(&path, text.as_bytes(), 0o644).map_err(|source| {
                    ScheduleError::Status {
                        path: path.display().to_string(),
                        source,
                    }
                })?;
            }
        }
        Ok(())
    }

    fn write_status_logged(&mut self, next: Option<Timestamp>, metrics: bool) {
        if let Err(e) = self.write_status(next, metrics) {
            self.cfg
                .log
                .error("status_write_failed", &e.to_string(), &[]);
        }
    }

    fn finish_job(&mut self, job: JobResult) {
        let log = self.cfg.log;
        let duration = job.started.duration_until(job.finished).unsigned_abs();
        let mut last = LastRun {
            scheduled_for: rfc3339_ms(job.tick),
            started_at: rfc3339_ms(job.started),
            finished_at: rfc3339_ms(job.finished),
            duration_seconds: (duration.as_millis() as f64) / 1000.0,
            ..LastRun::default()
        };
        match job.result {
            Ok(report) => {
                let b = &report.bundle;
                let file = b
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let collectors: Vec<CollectorOutcome> = report
                    .collectors
                    .iter()
                    .map(|(r, bytes)| CollectorOutcome {
                        name: r.name.clone(),
                        status: r.status.as_str().to_string(),
                        duration_ms: r.duration_ms,
                        bytes: *bytes,
                        error: r.error.clone(),
                    })
                    .collect();
                for c in &collectors {
                    let fields = [
                        ("collector", json!(c.name)),
                        ("status", json!(c.status)),
                        ("duration_seconds", json!(c.duration_ms as f64 / 1000.0)),
                        ("bytes", json!(c.bytes)),
                        ("error", json!(c.error)),
                    ];
                    if c.is_failure() {
                        log.warn(
                            "collector",
                            &format!("collector {} {}", c.name, c.status),
                            &fields,
                        );
                    } else {
                        log.info(
                            "collector",
                            &format!("collector {} {}", c.name, c.status),
                            &fields,
                        );
                    }
                }
                let degraded = report.degraded();
                self.ledger.snapshots.push(SnapshotEntry {
                    file: file.clone(),
                    bytes: b.size,
                    created_at: b.manifest.created_at.clone(),
                    started_at: last.started_at.clone(),
                    finished_at: last.finished_at.clone(),
                    bundle_id: b.manifest.bundle_id.clone(),
                    encrypted: b.encrypted,
                    degraded,
                    duration_ms: duration.as_millis() as u64,
                    collectors: collectors.clone(),
                });
                if let Err(e) = self.ledger.save(&self.cfg.dir) {
                    log.error(
                        "ledger_write_failed",
                        &format!("{e}; this snapshot will not be deleted by retention"),
                        &[],
                    );
                }
                last.outcome = if degraded { "degraded" } else { "ok" }.into();
                last.bundle = Some(BundleStatus {
                    path: b.path.display().to_string(),
                    file,
                    bytes: b.size,
                    bundle_id: b.manifest.bundle_id.clone(),
                    encrypted: b.encrypted,
                });
                for c in &collectors {
                    let streak = self
                        .status
                        .consecutive_failures
                        .entry(c.name.clone())
                        .or_insert(0);
                    *streak = if c.is_failure() { *streak + 1 } else { 0 };
                }
                last.collectors = collectors;
                self.status.last_success = Some(LastSuccess {
                    finished_at: last.finished_at.clone(),
                    timestamp_seconds: unix_seconds(job.finished),
                    bundle: b.path.display().to_string(),
                });
                if degraded {
                    self.status.counters.degraded += 1;
                } else {
                    self.status.counters.ok += 1;
                }
                let failed: Vec<&str> = last
                    .collectors
                    .iter()
                    .filter(|c| c.is_failure())
                    .map(|c| c.name.as_str())
                    .collect();
                let fields = [
                    ("bundle", json!(b.path.display().to_string())),
                    ("bytes", json!(b.size)),
                    ("bundle_id", json!(b.manifest.bundle_id)),
                    ("created_at", json!(b.manifest.created_at)),
                    ("outcome", json!(last.outcome)),
                    ("started_at", json!(last.started_at)),
                    ("finished_at", json!(last.finished_at)),
                    ("duration_seconds", json!(last.duration_seconds)),
                    ("failed_collectors", json!(failed)),
                ];
                if degraded {
                    log.warn(
                        "snapshot_written",
                        "snapshot written, but some collectors failed, timed out or were partial",
                        &fields,
                    );
                } else {
                    log.info("snapshot_written", "snapshot written", &fields);
                }
            }
            Err(RunError::Interrupted(sig)) => {
                last.outcome = "interrupted".into();
                last.error = Some(format!(
                    "interrupted by {sig}: no bundle was written and no temporary file is left"
                ));
                self.status.counters.interrupted += 1;
                log.warn(
                    "snapshot_interrupted",
                    &format!("snapshot interrupted by {sig}: no bundle was written and no temporary file is left"),
                    &[("started_at", json!(last.started_at)), ("signal", json!(sig))],
                );
            }
            Err(e) => {
                last.outcome = "failed".into();
                last.error = Some(e.to_string());
                self.status.counters.failed += 1;
                log.error(
                    "snapshot_failed",
                    &format!("snapshot failed, no bundle written: {e}"),
                    &[
                        ("started_at", json!(last.started_at)),
                        ("error", json!(e.to_string())),
                    ],
                );
            }
        }
        let interrupted = last.outcome == "interrupted";
        self.status.last_run = Some(last);
        if !interrupted {
            self.retention();
        }
    }

    fn retention(&mut self) {
        let log = self.cfg.log;
        let mut rs = self.fields_retention();
        match snapshots::apply_retention(
            &self.cfg.dir,
            &mut self.ledger,
            &self.cfg.retention,
            Timestamp::now(),
        ) {
            Ok(RetentionResult {
                deleted,
                failed,
                released,
                protected,
                kept,
                kept_bytes,
            }) => {
                for (file, reason) in &deleted {
                    log.info(
                        "snapshot_deleted",
                        &format!("deleted {file}: {reason}"),
                        &[("file", json!(file)), ("reason", json!(reason))],
                    );
                }
                for (file, e) in &failed {
                    log.warn(
                        "snapshot_delete_failed",
                        &format!("could not delete {file}: {e}; it stays managed and is tried again after the next snapshot"),
                        &[("file", json!(file)), ("error", json!(e))],
                    );
                }
                for note in &released {
                    log.warn("snapshot_released", note, &[]);
                }
                log.info(
                    "retention",
                    &format!(
                        "retention: {kept} snapshot(s) kept, {} deleted",
                        deleted.len()
                    ),
                    &[
                        ("kept", json!(kept)),
                        ("kept_bytes", json!(kept_bytes)),
                        (
                            "deleted",
                            json!(deleted.iter().map(|d| &d.0).collect::<Vec<_>>()),
                        ),
                        ("protected", json!(protected)),
                        (
                            "kept_files",
                            json!(
                                self.ledger
                                    .snapshots
                                    .iter()
                                    .map(|s| &s.file)
                                    .collect::<Vec<_>>()
                            ),
                        ),
                    ],
                );
                rs.kept = kept;
                rs.kept_bytes = kept_bytes;
                rs.deleted = deleted
                    .into_iter()
                    .map(|(f, r)| format!("{f}: {r}"))
                    .collect();
                rs.protected = protected;
            }
            Err(e) => log.error("retention_failed", &format!("retention failed: {e}"), &[]),
        }
        self.status.retention = rs;
    }
}

fn now_rfc3339() -> String {
    rfc3339_ms(Timestamp::now())
}

/// `2026-01-02T03:04:05.678Z`.
fn rfc3339_ms(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Leftover temp files of bundle writers (`.rcdiag-*.tmp`) in `dir`.
pub fn stray_temp_files(dir: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".rcdiag-") && n.ends_with(".tmp"))
        .collect()
}

/// Runs the scheduler until `shutdown` resolves (SIGTERM/SIGINT) or `count` snapshots
/// are done. A snapshot running at shutdown is cut short and leaves nothing behind.
pub async fn schedule(
    mut cfg: ScheduleConfig,
    shutdown: impl Future<Output = &'static str>,
) -> Result<Summary, ScheduleError> {
    let log = cfg.log;
    cfg.run.out = cfg.dir.clone();
    cfg.run.progress = Progress::Quiet;
    let dir_err = |source| ScheduleError::Dir {
        dir: cfg.dir.display().to_string(),
        source,
    };
    // Root writes status.json, rcdiag.prom and the ledger here: the folders must not be
    // links, nor owned or writable by other users (OpenSSH's StrictModes rule).
    rcdiag_bundle::safefs::ensure_dir(&cfg.dir, 0o750, "--dir")?;
    if let Some(t) = &cfg.textfile_dir {
        if !t.is_dir() && fs::symlink_metadata(t).is_err() {
            return Err(ScheduleError::TextfileDir {
                dir: t.display().to_string(),
            });
        }
        rcdiag_bundle::safefs::check_dir(t, "--textfile-dir")?;
    }
    // One scheduler per folder: an exclusive lock on the folder itself (released when
    // the process exits, however it exits).
    let lock = fs::File::open(&cfg.dir).map_err(dir_err)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            return Err(ScheduleError::Locked {
                dir: cfg.dir.display().to_string(),
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(dir_err(e)),
    }
    let (ledger, warnings) = Ledger::load(&cfg.dir, true)?;
    for w in warnings {
        log.warn("ledger", &w, &[]);
    }
    let mut ledger = ledger;
    for note in ledger.reconcile(&cfg.dir) {
        log.warn("snapshot_released", &note, &[]);
    }
    let stale = rcdiag_bundle::safefs::remove_stale_temp_files(&cfg.dir);
    if !stale.removed.is_empty() {
        log.warn(
            "stale_temp_files_removed",
            "removed the temporary files of runs that died (SIGKILL, OOM, power loss)",
            &[("files", json!(stale.removed))],
        );
    }
    if !stale.kept.is_empty() {
        log.warn(
            "stray_temp_files",
            "temporary files found whose writer may still be running (a `collect -o` right now, another container or user); remove them if no collection is running",
            &[("files", json!(stale.kept))],
        );
    }
    let previous = Status::load(&cfg.dir);
    let started_at = now_rfc3339();
    let mut status = Status {
        format: STATUS_FORMAT.into(),
        agent_version: env!("CARGO_PKG_VERSION").into(),
        host: rcdiag_bundle::hostname(),
        pid: std::process::id(),
        dir: cfg.dir.display().to_string(),
        schedule: cfg.trigger.describe(),
        collectors: cfg.run.collectors.clone(),
        state: "waiting".into(),
        counters: Counters {
            since: started_at,
            ..Counters::default()
        },
        ..Status::default()
    };
    if let Some(p) = previous {
        // We hold the folder's lock: a previous scheduler that did not write `stopped`
        // died (SIGKILL, OOM, power loss).
        let died = p.state != "stopped" && !p.state.is_empty();
        status.last_run = p.last_run;
        status.last_success = p.last_success;
        status.consecutive_failures = p.consecutive_failures;
        if died {
            let during = p.state == "running";
            let message = format!(
                "the previous scheduler (pid {}) died{} without stopping cleanly (SIGKILL, OOM, power loss); last sign of life {}",
                p.pid,
                if during { " during a snapshot" } else { "" },
                p.updated_at
            );
            log.warn(
                "previous_run_died",
                &message,
                &[
                    ("pid", json!(p.pid)),
                    ("state", json!(p.state)),
                    ("updated_at", json!(p.updated_at)),
                ],
            );
            if during {
                status.last_run = Some(LastRun {
                    started_at: p.updated_at.clone(),
                    finished_at: p.updated_at.clone(),
                    outcome: "died".into(),
                    error: Some(message.clone()),
                    ..LastRun::default()
                });
            }
            status.previous_run_died = Some(message);
        }
    }
    let mut s = Scheduler {
        cfg,
        ledger,
        status,
    };
    s.status.retention = s.fields_retention();
    let ticker = Ticker::new(s.cfg.trigger.clone(), s.cfg.jitter);
    let mut next = ticker.first();
    s.write_status(next.map(|t| t.scheduled), true)?;
    log.info(
        "schedule_started",
        &format!(
            "scheduler started: {}, snapshots in {}",
            s.cfg.trigger.describe(),
            s.cfg.dir.display()
        ),
        &[
            ("schedule", json!(s.cfg.trigger.describe())),
            ("dir", json!(s.cfg.dir.display().to_string())),
            ("retention", json!(s.cfg.retention.describe())),
            ("jitter_seconds", json!(s.cfg.jitter.as_secs_f64())),
            ("collectors", json!(s.cfg.run.collectors)),
            (
                "encrypted",
                json!(matches!(
                    s.cfg.run.encryption,
                    rcdiag_bundle::Encryption::Age { .. }
                )),
            ),
            ("count", json!(s.cfg.count)),
            ("managed_snapshots", json!(s.ledger.snapshots.len())),
            ("next_run", json!(next.map(|t| rfc3339(t.scheduled)))),
        ],
    );

    let (stop_tx, stop_rx) = watch::channel::<Option<&'static str>>(None);
    tokio::pin!(shutdown);
    let mut running: Option<(Job, Timestamp)> = None;
    let mut started: u64 = 0;
    let limit = s.cfg.count;
    let mut stopped_by: Option<&'static str> = None;
    loop {
        let more = limit.is_none_or(|n| started < n) && next.is_some();
        if !more && running.is_none() {
            break;
        }
        let due = next.map(|t| t.due);
        tokio::select! {
            sig = &mut shutdown => {
                stopped_by = Some(sig);
                let _ = stop_tx.send(Some(sig));
                log.info("schedule_stopping", &format!("{sig} received: stopping"), &[("signal", json!(sig)), ("snapshot_running", json!(running.is_some()))]);
                if let Some((job, since)) = running.take() {
                    s.finish_job(joined(job.await, since));
                }
                break;
            }
            res = async { match running.as_mut() { Some((job, since)) => joined(job.await, *since), None => std::future::pending().await } } => {
                running = None;
                s.finish_job(res);
                s.status.state = "waiting".into();
                let nr = if limit.is_none_or(|n| started < n) { next.map(|t| t.scheduled) } else { None };
                s.write_status_logged(nr, true);
            }
            _ = async { match due { Some(d) => wait_due(d).await, None => std::future::pending().await } }, if more => {
                let Some(tick) = next.take() else { continue };
                let (after, missed) = ticker.next(&tick);
                next = after;
                if missed > 0 {
                    log.warn(
                        "ticks_missed",
                        &format!("{missed} tick(s) missed (the machine slept or the clock jumped)"),
                        &[("missed", json!(missed))],
                    );
                }
                if let Some((_, since)) = &running {
                    s.status.counters.ticks_skipped += 1;
                    log.warn(
                        "tick_skipped",
                        "tick skipped: the previous snapshot is still running (never two at once)",
                        &[
                            ("scheduled_for", json!(rfc3339_ms(tick.scheduled))),
                            ("running_since", json!(rfc3339_ms(*since))),
                            ("next_run", json!(next.map(|t| rfc3339(t.scheduled)))),
                        ],
                    );
                    s.write_status_logged(next.map(|t| t.scheduled), false);
                    continue;
                }
                started += 1;
                s.status.counters.started += 1;
                let now = Timestamp::now();
                log.info(
                    "snapshot_started",
                    "snapshot started",
                    &[
                        ("scheduled_for", json!(rfc3339_ms(tick.scheduled))),
                        ("number", json!(started)),
                        ("collectors", json!(s.cfg.run.collectors)),
                    ],
                );
                running = Some((snapshot_job(s.cfg.run.clone(), tick.scheduled, stop_rx.clone()), now));
                s.status.state = "running".into();
                let nr = if limit.is_none_or(|n| started < n) { next.map(|t| t.scheduled) } else { None };
                s.write_status_logged(nr, false);
            }
        }
    }
    s.status.state = "stopped".into();
    s.status.stopped_by = Some(stopped_by.unwrap_or("count reached").to_string());
    s.write_status_logged(None, true);
    let stray = stray_temp_files(&s.cfg.dir);
    if !stray.is_empty() {
        log.warn(
            "stray_temp_files",
            "temporary bundle files are still in the folder (not written by this scheduler?)",
            &[("files", json!(stray))],
        );
    }
    log.info(
        "schedule_stopped",
        &format!(
            "scheduler stopped ({})",
            stopped_by.unwrap_or("count reached")
        ),
        &[
            ("stopped_by", json!(stopped_by.unwrap_or("count reached"))),
            ("snapshots_started", json!(s.status.counters.started)),
            ("ok", json!(s.status.counters.ok)),
            ("degraded", json!(s.status.counters.degraded)),
            ("failed", json!(s.status.counters.failed)),
            ("interrupted", json!(s.status.counters.interrupted)),
            ("ticks_skipped", json!(s.status.counters.ticks_skipped)),
        ],
    );
    drop(lock);
    Ok(Summary {
        counters: s.status.counters.clone(),
        stopped_by,
    })
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

    #[test]
    fn metrics_render_every_family_once() {
        let mut s = Status {
            agent_version: "1.2.3".into(),
            ..Status::default()
        };
        s.consecutive_failures.insert("docker".into(), 2);
        s.retention.kept = 3;
        s.retention.kept_bytes = 12345;
        s.last_success = Some(LastSuccess {
            timestamp_seconds: 1767225600.25,
            ..LastSuccess::default()
        });
        let text = render_metrics(&s, None);
        assert!(
            text.contains("rcdiag_collector_failures{collector=\"docker\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("rcdiag_collector_failures{collector=\"host\"} 0\n"));
        assert!(text.contains("rcdiag_bundles_kept 3\n"));
        assert!(text.contains("rcdiag_bundle_bytes 12345\n"));
        assert!(text.contains("rcdiag_last_success_timestamp_seconds 1767225600.25\n"));
        assert_eq!(text.matches("# TYPE ").count(), 10);
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn jitter_stays_below_its_bound() {
        for i in 0..1000 {
            assert!(random_jitter(Duration::from_millis(7), i) < Duration::from_millis(7));
        }
        assert_eq!(random_jitter(Duration::ZERO, 1), Duration::ZERO);
    }

    #[test]
    fn log_lines_are_json_objects_or_text() {
        let j = Logger {
            format: LogFormat::Json,
            quiet: false,
        };
        let line = j.line(
            Level::Warn,
            "tick_skipped",
            "tick skipped",
            &[("n", json!(3)), ("path", json!("/a b"))],
        );
        let v: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(
            (v["level"].as_str(), v["event"].as_str(), v["n"].as_u64()),
            (Some("warn"), Some("tick_skipped"), Some(3))
        );
        let t = Logger {
            format: LogFormat::Text,
            quiet: false,
        };
        let line = t.line(
            Level::Info,
            "x",
            "hello",
            &[("path", json!("/a b")), ("k", json!("v"))],
        );
        assert!(line.ends_with("INFO  hello path=\"/a b\" k=v"), "{line}");
    }
}
