//! The scheduler's structured log lines on stderr: one JSON object a line when stderr
//! is not a terminal, `time LEVEL message key=value` on a terminal.

use std::io::{IsTerminal, Write};

use super::job::now_rfc3339;
use serde_json::Value;

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
