//! Errors of the command line: usage errors (exit 2) apart from runtime failures (exit
//! 1), and the one-line message printed for an error and its causes.

/// An error in what the user asked for: bad values, a missing recipient, options that
/// do not go together (exit status 2; runtime failures are 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(String);

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// The error and its causes on one line, each cause once: a cause whose text the
/// message already holds (errors that print their source) is not repeated.
pub fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}
