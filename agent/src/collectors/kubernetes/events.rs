//! Warning events (`kubernetes/events.json`): core v1 Events of type Warning in the
//! chosen namespaces (read with `fieldSelector=type=Warning`), kept when they were last
//! seen within the run's `since` window.

use k8s_openapi::api::core::v1::Event as K8sEvent;
use rcdiag_contract::kubernetes::{Event, EventsFile};

/// The query that selects Warning events.
pub const WARNING_QUERY: &str = "fieldSelector=type%3DWarning";

fn last_seen(e: &K8sEvent) -> Option<jiff::Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// The summaries of the events last seen after `now - since`, newest first.
pub fn summarize(events: &[K8sEvent], since: std::time::Duration) -> EventsFile {
    let cutoff = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::try_from(since).unwrap_or(jiff::SignedDuration::ZERO))
        .unwrap_or(jiff::Timestamp::MIN);
    let mut kept: Vec<(Option<jiff::Timestamp>, Event)> = events
        .iter()
        .filter(|e| last_seen(e).is_none_or(|t| t >= cutoff))
        .map(|e| {
            let io = &e.involved_object;
            (
                last_seen(e),
                Event {
                    namespace: Some(e.metadata.namespace.clone().unwrap_or_default()),
                    type_: e.type_.clone(),
                    reason: e.reason.clone(),
                    message: e.message.clone(),
                    object: Some(format!(
                        "{}/{}",
                        io.kind.as_deref().unwrap_or(""),
                        io.name.as_deref().unwrap_or("")
                    )),
                    count: e.count.map(i64::from),
                    first_seen: e.first_timestamp.as_ref().map(|t| t.0.to_string()),
                    last_seen: last_seen(e).map(|t| t.to_string()),
                    source: e.source.as_ref().and_then(|s| s.component.clone()),
                    extra: Default::default(),
                },
            )
        })
        .collect();
    kept.sort_by_key(|k| std::cmp::Reverse(k.0));
    EventsFile {
        since_seconds: Some(since.as_secs()),
        read: Some(events.len() as u64),
        events: kept.into_iter().map(|(_, e)| e).collect(),
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn event(reason: &str, secs_ago: i64) -> K8sEvent {
        let t = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(secs_ago);
        K8sEvent {
            reason: Some(reason.into()),
            type_: Some("Warning".into()),
            last_timestamp: Some(Time(t)),
            ..K8sEvent::default()
        }
    }

    #[test]
    fn only_events_of_the_window_are_kept_newest_first() {
        let all = [event("Old", 3 * 3600), event("Older", 5), event("New", 1)];
        let e = summarize(&all, std::time::Duration::from_secs(3600));
        assert_eq!(e.read, Some(3));
        let reasons: Vec<_> = e.events.iter().map(|e| e.reason.clone().unwrap()).collect();
        assert_eq!(reasons, ["New", "Older"]);
    }
}
