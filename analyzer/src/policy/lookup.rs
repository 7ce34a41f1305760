//! Lookups in a policy: the release line of a version, its support status on a date,
//! MongoDB compatibility, the hardware tier for a user count, remediation links.

use jiff::civil::Date;

use super::{MongoRow, Policy, Release, Tier, Version, parse_major_minor};

impl Policy {
    /// The release line of `major.minor` in the table, or where it falls outside it.
    pub fn release(&self, major: u64, minor: u64) -> ReleaseLookup<'_> {
        let key = (major, minor);
        let parsed: Vec<((u64, u64), &Release)> = self
            .releases
            .table
            .iter()
            .filter_map(|r| parse_major_minor(&r.version).map(|v| (v, r)))
            .collect();
        if let Some((_, r)) = parsed.iter().find(|(v, _)| *v == key) {
            return ReleaseLookup::Known(r);
        }
        match (parsed.first(), parsed.last()) {
            (Some((first, oldest)), _) if key < *first => ReleaseLookup::OlderThanTable { oldest },
            (_, Some((last, newest))) if key > *last => ReleaseLookup::NewerThanTable { newest },
            _ => ReleaseLookup::NotInTable,
        }
    }

    /// Support status of Rocket.Chat `version` on date `on`.
    pub fn support_status(&self, version: &Version, on: Date) -> SupportStatus {
        match self.release(version.major, version.minor) {
            ReleaseLookup::Known(r) => {
                let days_left = on
                    .until(r.eol)
                    .map(|span| i64::from(span.get_days()))
                    .unwrap_or(0);
                if on > r.eol {
                    SupportStatus::Ended {
                        eol: r.eol,
                        lts: r.lts,
                    }
                } else if days_left < self.releases.eol_warn_days {
                    SupportStatus::EndingSoon {
                        eol: r.eol,
                        lts: r.lts,
                        days_left,
                    }
                } else {
                    SupportStatus::Supported {
                        eol: r.eol,
                        lts: r.lts,
                    }
                }
            }
            ReleaseLookup::NewerThanTable { newest } => SupportStatus::NewerThanPolicy {
                newest: newest.version.clone(),
            },
            ReleaseLookup::OlderThanTable { oldest } => {
                // A line older than the table ended before the oldest listed line's EOL
                // plus the LTS period at the latest.
                let bound = oldest
                    .eol
                    .checked_add(jiff::Span::new().months(self.releases.lts_support_months as i64));
                match bound {
                    Ok(b) if on > b.last_of_month() => SupportStatus::OlderThanPolicy {
                        ended_by: Some(b.last_of_month()),
                    },
                    _ => SupportStatus::OlderThanPolicy { ended_by: None },
                }
            }
            ReleaseLookup::NotInTable => SupportStatus::NotInTable,
        }
    }

    /// The matrix row covering Rocket.Chat `rc`.
    pub fn mongo_row(&self, rc: &Version) -> Option<&MongoRow> {
        let key = (rc.major, rc.minor);
        self.mongodb.matrix.iter().find(|row| {
            let Some(from) = parse_major_minor(&row.rocketchat_from) else {
                return false;
            };
            let before = row.rocketchat_before.as_deref().and_then(parse_major_minor);
            key >= from && before.is_none_or(|b| key < b)
        })
    }

    /// Whether MongoDB `mongo` suits Rocket.Chat `rc`, with the matrix row used.
    pub fn mongo_compat(&self, rc: &Version, mongo: &Version) -> (MongoCompat, Option<&MongoRow>) {
        let Some(row) = self.mongo_row(rc) else {
            return (MongoCompat::NoRow, None);
        };
        let m = (mongo.major, mongo.minor);
        let listed = |list: &[String]| {
            list.iter()
                .filter_map(|s| parse_major_minor(s))
                .any(|v| v == m)
        };
        let at_least = |s: &Option<String>| {
            s.as_deref()
                .and_then(parse_major_minor)
                .is_some_and(|v| m >= v)
        };
        let compat = if listed(&row.deprecated) {
            MongoCompat::Deprecated
        } else if listed(&row.supported) || at_least(&row.supported_from) {
            MongoCompat::Supported
        } else if at_least(&row.disputed_from) {
            MongoCompat::Disputed
        } else {
            MongoCompat::Unsupported
        };
        (compat, Some(row))
    }

    /// The hardware tier for `users` concurrent users.
    pub fn tier_for(&self, users: u64) -> Option<&Tier> {
        self.hardware
            .tiers
            .iter()
            .find(|t| t.max_concurrent_users.is_none_or(|m| users <= m))
            .or(self.hardware.tiers.last())
    }

    /// Remediation link of a check (empty when the policy has none).
    pub fn remediation(&self, check_id: &str) -> String {
        self.checks
            .get(check_id)
            .map(|c| c.remediation.clone())
            .unwrap_or_default()
    }
}

/// Where a release line falls in the policy's table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReleaseLookup<'a> {
    /// Listed.
    Known(&'a Release),
    /// Newer than every listed line: the policy is older than the release.
    NewerThanTable {
        /// The newest listed line.
        newest: &'a Release,
    },
    /// Older than every listed line.
    OlderThanTable {
        /// The oldest listed line.
        oldest: &'a Release,
    },
    /// Inside the table's range but not listed (no such release).
    NotInTable,
}

/// Support status of a Rocket.Chat version on a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupportStatus {
    /// Supported, with more than `eol_warn_days` left.
    Supported {
        /// Last day of support.
        eol: Date,
        /// LTS line.
        lts: bool,
    },
    /// Supported, with fewer than `eol_warn_days` left.
    EndingSoon {
        /// Last day of support.
        eol: Date,
        /// LTS line.
        lts: bool,
        /// Days until `eol`.
        days_left: i64,
    },
    /// Past its end of life.
    Ended {
        /// Last day of support.
        eol: Date,
        /// LTS line.
        lts: bool,
    },
    /// Newer than the policy knows: the policy is older than this release.
    NewerThanPolicy {
        /// Newest line the policy lists.
        newest: String,
    },
    /// Older than the policy's table; `ended_by` is set when it has certainly ended.
    OlderThanPolicy {
        /// A date by which it had certainly ended, when `on` is past it.
        ended_by: Option<Date>,
    },
    /// Within the table's range but not a listed release.
    NotInTable,
}

/// Compatibility of a MongoDB version with a Rocket.Chat version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MongoCompat {
    /// Supported.
    Supported,
    /// Supported but deprecated.
    Deprecated,
    /// The sources disagree.
    Disputed,
    /// Not supported.
    Unsupported,
    /// No matrix row covers the Rocket.Chat version.
    NoRow,
}
