//! When snapshots are taken: `--every`, `--cron` or `--once`, and the ticker that turns
//! them into ticks (monotonic for `--every`, wall clock for `--cron`) with their jitter.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use jiff::Timestamp;

use super::cron::Cron;
use crate::run::{self};

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
pub(super) enum Due {
    /// Monotonic (for `--every`: immune to wall-clock changes).
    Mono(tokio::time::Instant),
    /// Wall clock (for `--cron`).
    Wall(Timestamp),
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Tick {
    /// The scheduled time (before jitter), for logs.
    pub(super) scheduled: Timestamp,
    /// When it fires (after jitter).
    pub(super) due: Due,
    /// Index (for `--every`).
    pub(super) index: u64,
}

pub(super) struct Ticker {
    pub(super) trigger: Trigger,
    pub(super) jitter: Duration,
    pub(super) start_mono: tokio::time::Instant,
    pub(super) start_wall: Timestamp,
}

impl Ticker {
    pub(super) fn new(trigger: Trigger, jitter: Duration) -> Self {
        Self {
            trigger,
            jitter,
            start_mono: tokio::time::Instant::now(),
            start_wall: Timestamp::now(),
        }
    }

    pub(super) fn every_tick(&self, d: Duration, index: u64) -> Tick {
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

    pub(super) fn cron_tick(&self, at: Timestamp, index: u64) -> Tick {
        let j = random_jitter(self.jitter, index);
        Tick {
            scheduled: at,
            due: Due::Wall(at.checked_add(signed(j)).unwrap_or(at)),
            index,
        }
    }

    pub(super) fn first(&self) -> Option<Tick> {
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
    pub(super) fn next(&self, prev: &Tick) -> (Option<Tick>, u64) {
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

pub(super) async fn wait_due(due: Due) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn jitter_stays_below_its_bound() {
        for i in 0..1000 {
            assert!(random_jitter(Duration::from_millis(7), i) < Duration::from_millis(7));
        }
        assert_eq!(random_jitter(Duration::ZERO, 1), Duration::ZERO);
    }
}
