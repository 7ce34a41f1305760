//! Warning events (`kubernetes/events.json`): core v1 Events of type Warning in the
//! chosen namespaces (read with `fieldSelector=type=Warning`), kept when they were last
//! seen within the run's `since` window.

use k8s_openapi::api::core::v1::Event;
use serde::Serialize;

/// The query that selects Warning events.
pub const WARNING_QUERY: &str = "fieldSelector=type%3DWarning";

/// Everything of `events.json`.
#[derive(Debug, Default, Serialize)]
pub struct Events {
    /// The window, in seconds before collection.
    pub since_seconds: u64,
    /// Warning events read, before the window.
    pub read: usize,
    /// Events kept, newest first.
    pub events: Vec<EventSummary>,
}

/// A Warning event.
#[derive(Debug, Clone, Serialize)]
pub struct EventSummary {
    /// Namespace.
    pub namespace: String,
    /// `Warning`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `FailedScheduling`, `BackOff`...
    pub reason: Option<String>,
    /// The message.
    pub message: Option<String>,
    /// `Kind/name` of the object it is about.
    pub object: String,
    /// How many times it happened.
    pub count: Option<i32>,
    /// First seen.
    pub first_seen: Option<String>,
    /// Last seen.
    pub last_seen: Option<String>,
    /// Reporting component.
    pub source: Option<String>,
}

fn last_seen(e: &Event) -> Option<jiff::Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// The summaries of the events last seen after `now - since`, newest first.
pub fn summarize(events: &[Event], since: std::time::Duration) -> Events {
    let cutoff = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::try_from(since).unwrap_or(jiff::SignedDuration::ZERO))
        .unwrap_or(jiff::Timestamp::MIN);
    let mut kept: Vec<(Option<jiff::Timestamp>, EventSummary)> = events
        .iter()
        .filter(|e| last_seen(e).is_none_or(|t| t >= cutoff))
        .map(|e| {
            let io = &e.involved_object;
            (
                last_seen(e),
                EventSummary {
                    namespace: e.metadata.namespace.clone().unwrap_or_default(),
                    type_: e.type_.clone(),
                    reason: e.reason.clone(),
                    message: e.message.clone(),
                    object: format!(
                        "{}/{}",
                        io.kind.as_deref().unwrap_or(""),
                        io.name.as_deref().unwrap_or("")
                    ),
                    count: e.count,
                    first_seen: e.first_timestamp.as_ref().map(|t| t.0.to_string()),
                    last_seen: last_seen(e).map(|t| t.to_string()),
                    source: e.source.as_ref().and_then(|s| s.component.clone()),
                },
            )
        })
        .collect();
    kept.sort_by_key(|k| std::cmp::Reverse(k.0));
    Events {
        since_seconds: since.as_secs(),
        read: events.len(),
        events: kept.into_iter().map(|(_, e)| e).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn event(reason: &str, secs_ago: i64) -> Event {
        let t = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(secs_ago);
        Event {
            reason: Some(reason.into()),
            type_: Some("Warning".into()),
            last_timestamp: Some(Time(t)),
            ..Event::default()
        }
    }

    #[test]
    fn only_events_of_the_window_are_kept_newest_first() {
        let all = [event("Old", 3 * 3600), event("Older", 5), event("New", 1)];
        let e = summarize(&all, std::time::Duration::from_secs(3600));
        assert_eq!(e.read, 3);
        let reasons: Vec<_> = e.events.iter().map(|e| e.reason.clone().unwrap()).collect();
        assert_eq!(reasons, ["New", "Older"]);
    }
}
