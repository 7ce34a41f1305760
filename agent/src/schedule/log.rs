//! The scheduler's structured log lines on stderr: one JSON object a line when stderr
//! is not a terminal, `time LEVEL message key=value` on a terminal.
//!
//! The lines go through `tracing`: [`Logger`] emits a `tracing` event (target
//! [`TARGET`]) to a `tracing-subscriber` fmt subscriber whose formatter,
//! [`LineFormat`], writes the lines. Native `tracing` events under that subscriber
//! (`tracing::warn!(event = "x", n = 3, "message")`) come out the same way. The
//! callers pass fields as JSON values (arrays and `null` included, which the tests
//! read), and `tracing` records only flat values without its unstable `valuable`
//! support, so [`Logger`] hands them over as one JSON text field (name, value pairs)
//! that the formatter spreads back into the line.

use std::io::IsTerminal;
use std::sync::LazyLock;

use super::job::now_rfc3339;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// The `tracing` target of the scheduler's lines.
pub const TARGET: &str = "rcdiag_agent::schedule";

/// The field that carries [`Logger`]'s JSON fields through `tracing`.
const PACKED: &str = "rcdiag_fields";

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

/// The `tracing` dispatcher that writes `format` lines to stderr.
fn stderr_dispatch(format: LogFormat) -> &'static tracing::Dispatch {
    static JSON: LazyLock<tracing::Dispatch> =
        LazyLock::new(|| dispatch(LogFormat::Json, std::io::stderr));
    static TEXT: LazyLock<tracing::Dispatch> =
        LazyLock::new(|| dispatch(LogFormat::Text, std::io::stderr));
    match format {
        LogFormat::Json => &JSON,
        LogFormat::Text => &TEXT,
    }
}

/// A `tracing` dispatcher that writes `format` lines to `writer`.
pub fn dispatch<W>(format: LogFormat, writer: W) -> tracing::Dispatch
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .event_format(LineFormat(format))
            .with_writer(writer)
            .with_max_level(tracing::Level::INFO)
            .finish(),
    )
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
        let fields: Vec<(String, Value)> = fields
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect();
        render(self.format, level.as_str(), event, message, &fields)
    }

    /// Writes one line to stderr.
    pub fn log(&self, level: Level, event: &str, message: &str, fields: &[(&str, Value)]) {
        self.log_to(stderr_dispatch(self.format), level, event, message, fields);
    }

    /// Emits one line as a `tracing` event to `dispatch`.
    pub fn log_to(
        &self,
        dispatch: &tracing::Dispatch,
        level: Level,
        event: &str,
        message: &str,
        fields: &[(&str, Value)],
    ) {
        if self.quiet && level == Level::Info {
            return;
        }
        // `[[name, value], ...]`: a JSON object would lose the order of the fields.
        let packed = Value::Array(
            fields
                .iter()
                .map(|(k, v)| Value::Array(vec![Value::String((*k).to_string()), v.clone()]))
                .collect(),
        )
        .to_string();
        let packed = packed.as_str();
        tracing::dispatcher::with_default(dispatch, || match level {
            Level::Info => {
                tracing::info!(target: TARGET, event, rcdiag_fields = packed, "{message}");
            }
            Level::Warn => {
                tracing::warn!(target: TARGET, event, rcdiag_fields = packed, "{message}");
            }
            Level::Error => {
                tracing::error!(target: TARGET, event, rcdiag_fields = packed, "{message}");
            }
        });
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

/// One line: the time now, the level, the event name, the message, the fields.
fn render(
    format: LogFormat,
    level: &str,
    event: &str,
    message: &str,
    fields: &[(String, Value)],
) -> String {
    let now = now_rfc3339();
    match format {
        LogFormat::Json => {
            let mut obj = Map::new();
            obj.insert("timestamp".into(), Value::String(now));
            obj.insert("level".into(), Value::String(level.into()));
            obj.insert("event".into(), Value::String(event.into()));
            obj.insert("message".into(), Value::String(message.into()));
            for (k, v) in fields {
                obj.insert(k.clone(), v.clone());
            }
            Value::Object(obj).to_string()
        }
        LogFormat::Text => {
            let mut s = format!("{now} {:<5} {message}", level.to_uppercase());
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

/// The `tracing-subscriber` event formatter that writes [`LogFormat`] lines.
#[derive(Debug, Clone, Copy)]
pub struct LineFormat(pub LogFormat);

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        let meta = event.metadata();
        let level = match *meta.level() {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warn",
            tracing::Level::INFO => "info",
            tracing::Level::DEBUG => "debug",
            tracing::Level::TRACE => "trace",
        };
        let event_name = f.event.unwrap_or_else(|| meta.target().to_string());
        let line = render(self.0, level, &event_name, &f.message, &f.fields);
        writeln!(writer, "{line}")
    }
}

/// What a visit of one event's fields collects.
#[derive(Default)]
struct Fields {
    event: Option<String>,
    message: String,
    fields: Vec<(String, Value)>,
}

impl Fields {
    fn push(&mut self, field: &Field, v: Value) {
        self.fields.push((field.name().to_string(), v));
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "event" => self.event = Some(value.to_string()),
            "message" => self.message = value.to_string(),
            PACKED => match serde_json::from_str::<Vec<(String, Value)>>(value) {
                Ok(pairs) => self.fields.extend(pairs),
                Err(_) => self.push(field, Value::String(value.into())),
            },
            _ => self.push(field, Value::String(value.into())),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
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

    /// A writer into memory, for a dispatcher under test.
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    impl Buf {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().expect("lock").clone())
                .expect("utf-8")
                .lines()
                .map(str::to_string)
                .collect()
        }
    }

    #[test]
    fn lines_go_through_tracing_with_their_fields_kept() {
        let buf = Buf::default();
        let d = dispatch(LogFormat::Json, buf.clone());
        let quiet = Logger {
            format: LogFormat::Json,
            quiet: true,
        };
        quiet.log_to(&d, Level::Info, "dropped", "quiet drops info lines", &[]);
        quiet.log_to(
            &d,
            Level::Warn,
            "snapshot_failed",
            "snapshot failed",
            &[
                ("failed_collectors", json!(["docker"])),
                ("next_run", Value::Null),
                ("n", json!(3)),
                ("ratio", json!(0.5)),
            ],
        );
        // A native tracing event under the same subscriber: the same line shape.
        tracing::dispatcher::with_default(&d, || {
            tracing::error!(target: TARGET, event = "native", bytes = 5u64, ok = true, "native {}", 1);
            tracing::debug!(target: TARGET, event = "hidden", "below info: not written");
        });
        let lines = buf.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        let v: Value = serde_json::from_str(&lines[0]).expect("json");
        assert_eq!(
            (&v["level"], &v["event"], &v["message"]),
            (
                &json!("warn"),
                &json!("snapshot_failed"),
                &json!("snapshot failed")
            )
        );
        assert_eq!(v["failed_collectors"], json!(["docker"]));
        assert!(v.get("next_run").is_some_and(Value::is_null), "{v}");
        assert_eq!((v["n"].as_u64(), v["ratio"].as_f64()), (Some(3), Some(0.5)));
        assert!(
            v["timestamp"]
                .as_str()
                .is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok())
        );
        let v: Value = serde_json::from_str(&lines[1]).expect("json");
        assert_eq!(
            (
                &v["level"],
                &v["event"],
                &v["message"],
                &v["bytes"],
                &v["ok"]
            ),
            (
                &json!("error"),
                &json!("native"),
                &json!("native 1"),
                &json!(5),
                &json!(true)
            )
        );
        // Text: fields in the order given, strings with spaces quoted, nulls left out.
        let buf = Buf::default();
        let d = dispatch(LogFormat::Text, buf.clone());
        Logger {
            format: LogFormat::Text,
            quiet: false,
        }
        .log_to(
            &d,
            Level::Info,
            "x",
            "hello",
            &[
                ("z", json!(1)),
                ("path", json!("/a b")),
                ("none", Value::Null),
                ("a", json!(["p", "q"])),
            ],
        );
        let lines = buf.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].ends_with(r#"INFO  hello z=1 path="/a b" a=["p","q"]"#),
            "{}",
            lines[0]
        );
    }
}
