//! Version numbers and release dates as Rocket.Chat, MongoDB and the policy write them.

use jiff::civil::Date;

/// A version number as Rocket.Chat and MongoDB print them (`8.5.0`, `v7.10.3`,
/// `8.6.0-rc.1`, `4.4`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch (0 when absent).
    pub patch: u64,
    /// Pre-release or build suffix (`rc.1`, `develop`), if any.
    pub pre: Option<String>,
}

impl Version {
    /// Parses `MAJOR.MINOR[.PATCH][-PRE|+BUILD]`, with an optional leading `v`;
    /// `None` for anything else (`latest`, `develop`, garbage).
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s
            .strip_prefix('v')
            .or_else(|| s.strip_prefix('V'))
            .unwrap_or(s);
        let (core, pre) = match s.find(['-', '+']) {
            Some(i) => (
                &s[..i],
                Some(s[i + 1..].to_string()).filter(|p| !p.is_empty()),
            ),
            None => (s, None),
        };
        let mut parts = core.split('.');
        let num = |p: Option<&str>| -> Option<u64> {
            let p = p?;
            if p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let major = num(parts.next())?;
        let minor = num(parts.next())?;
        let patch = match parts.next() {
            Some(p) => num(Some(p))?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// `major.minor`.
    pub fn line(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(p) = &self.pre {
            write!(f, "-{p}")?;
        }
        Ok(())
    }
}

/// Parses `MAJOR.MINOR` (nothing else).
pub fn parse_major_minor(s: &str) -> Option<(u64, u64)> {
    let v = Version::parse(s)?;
    (v.pre.is_none() && s.trim().split('.').count() == 2).then_some((v.major, v.minor))
}

/// Parses a release date given as `YYYY-MM` (first of the month) or `YYYY-MM-DD`.
pub fn parse_release_date(s: &str) -> Option<Date> {
    if let Ok(d) = s.parse::<Date>() {
        return Some(d);
    }
    let (y, m) = s.split_once('-')?;
    Date::new(y.parse().ok()?, m.parse().ok()?, 1).ok()
}
