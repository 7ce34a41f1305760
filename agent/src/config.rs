//! Configuration: `/etc/rcdiag/agent.toml` (or `--config FILE`), overridden by flags,
//! plus the parsers for durations (`90s`, `30m`, `24h`, `7d`) and sizes (`5MiB`, `500k`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default config file.
pub const DEFAULT_CONFIG: &str = "/etc/rcdiag/agent.toml";

/// The config file's keys (all optional); flags override them.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Recipients (`age1...` or SSH public keys).
    #[serde(default)]
    pub recipients: Vec<String>,
    /// A file of recipients, one a line.
    pub recipients_file: Option<PathBuf>,
    /// Output file or folder.
    pub out: Option<PathBuf>,
    /// Docker endpoint.
    pub docker_host: Option<String>,
    /// MongoDB URI (keep this file 0600 if it holds a password).
    pub mongodb_uri: Option<String>,
    /// Log window, e.g. `24h`.
    pub since: Option<String>,
    /// Most log lines per container.
    pub log_lines: Option<u64>,
    /// Most log bytes per container, e.g. `5MiB`.
    pub log_bytes: Option<String>,
    /// Where json-file logs are read from: `auto` or `engine`.
    pub log_source: Option<crate::collectors::LogSource>,
    /// Per-collector time limit, e.g. `60s`.
    pub timeout: Option<String>,
    /// State dir (node key).
    pub state_dir: Option<PathBuf>,
    /// Collectors to run.
    pub only: Option<Vec<String>>,
    /// Collectors to leave out.
    pub skip: Option<Vec<String>>,
    /// Extra redaction patterns.
    #[serde(default)]
    pub redact_patterns: Vec<String>,
    /// Consistent pseudonyms: `"hostnames,ips,emails,usernames"` or `"all"`.
    pub pseudonymize: Option<String>,
    /// ASCII-armored output.
    pub armor: Option<bool>,
}

impl FileConfig {
    /// Loads `path` if given (must exist), else the default file if it exists.
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Self::default());
            }
            Err(e) => return Err(format!("cannot read config {}: {e}", path.display())),
        };
        toml::from_str(&text).map_err(|e| format!("config {}: {e}", path.display()))
    }
}

/// Parses `90s`, `30m`, `24h`, `7d`, `1h30m`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut rest = s.chars().peekable();
    let mut any = false;
    while let Some(c) = rest.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = rest.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                rest.next();
            } else {
                break;
            }
        }
        let v: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: expected e.g. 90s, 30m, 24h, 7d"))?;
        let mult = match unit.as_str() {
            "ms" => 0.001,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 7.0 * 86400.0,
            _ => {
                return Err(format!(
                    "invalid duration unit {unit:?} in {s:?}: use ms, s, m, h, d or w"
                ));
            }
        };
        total += v * mult;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(format!(
            "invalid duration {s:?}: expected e.g. 90s, 30m, 24h, 7d"
        ));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Parses `5MiB`, `5M`, `500k`, `1G`, `1024` (bytes). Units are binary (k = 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let v: f64 = n
        .parse()
        .map_err(|_| format!("invalid size {s:?}: expected e.g. 5MiB, 500k, 1G"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "invalid size unit {other:?} in {s:?}: use k, M or G"
            ));
        }
    };
    Ok((v * mult as f64) as u64)
}

/// Formats a byte count for people (`1.5 MiB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("60").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("5MiB").unwrap(), 5 << 20);
        assert_eq!(parse_size("500k").unwrap(), 500 << 10);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("123").unwrap(), 123);
        assert!(parse_size("5 parsecs").is_err());
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn config_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("agent.toml");
        std::fs::write(&p, "recipients = [\"age1x\"]\nlog_lines = 5\n").unwrap();
        let c = FileConfig::load(Some(&p)).unwrap();
        assert_eq!(c.log_lines, Some(5));
        std::fs::write(&p, "recipient = \"x\"\n").unwrap();
        assert!(
            FileConfig::load(Some(&p))
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(FileConfig::load(Some(&dir.path().join("missing.toml"))).is_err());
    }
}
