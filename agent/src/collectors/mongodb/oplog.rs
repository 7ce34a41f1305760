//! The oplog window: first and last entry of `local.oplog.rs` (by `$natural`), the
//! window between them, and the collection's size and maximum size.

use mongodb::Client;
use mongodb::bson::{Document, doc};
use rcdiag_contract::mongodb::OplogReply;
use serde_json::{Map, Value};

use super::json_of;
use crate::clients::mongodb::{Access, Budget, CmdError, hint_for, millis, storage_stats, to_json};
use crate::redact::Redactor;

/// `oplog.json`: first and last entry of `local.oplog.rs` (by `$natural`), the window
/// between them, and the collection's size and maximum size.
pub(super) async fn oplog_window(
    client: &Client,
    budget: &Budget,
    red: &Redactor,
) -> Result<Value, CmdError> {
    let access = Access::Oplog;
    let coll = client.database("local").collection::<Document>("oplog.rs");
    let projection = doc! {"ts": 1, "wall": 1, "_id": 0};
    let first = budget
        .run(
            coll.find_one(doc! {})
                .sort(doc! {"$natural": 1})
                .projection(projection.clone()),
        )
        .await
        .and_then(|r| r.map_err(|e| CmdError::from_driver(&e, red)))
        .map_err(|e| e.with_hint(&access));
    let last = match &first {
        Ok(Some(_)) => budget
            .run(
                coll.find_one(doc! {})
                    .sort(doc! {"$natural": -1})
                    .projection(projection),
            )
            .await
            .and_then(|r| r.map_err(|e| CmdError::from_driver(&e, red)))
            .map_err(|e| e.with_hint(&access)),
        Ok(None) => Ok(None),
        Err(e) => Err(e.clone()),
    };
    let stats = storage_stats(&coll, budget, red)
        .await
        .map_err(|e| e.with_hint(&access));

    let storage = match &stats {
        Ok(docs) => docs
            .first()
            .and_then(|d| d.get_document("storageStats").ok())
            .cloned(),
        Err(_) => None,
    };
    // A missing oplog is an error (26), whether the server said so or just had nothing.
    if let Err(e) = &stats
        && e.code == Some(26)
    {
        return Err(e.clone());
    }
    if let Err(e) = &first
        && storage.is_none()
    {
        return Err(e.clone());
    }
    if storage.is_none() && matches!(first, Ok(None)) {
        let mut e = stats.err().unwrap_or_else(|| CmdError {
            code: Some(26),
            code_name: Some("NamespaceNotFound".into()),
            message: "local.oplog.rs is empty or missing and its $collStats returned nothing"
                .into(),
            hint: None,
        });
        e.hint = e.hint.or_else(|| hint_for(Some(26), &access));
        return Err(e);
    }

    let pick =
        |r: &Result<Option<Document>, CmdError>| r.as_ref().ok().and_then(Option::as_ref).cloned();
    let mut reply = oplog_reply(
        pick(&first).as_ref(),
        pick(&last).as_ref(),
        storage.as_ref(),
    );
    let mut partial = Map::new();
    if let Err(e) = &first {
        partial.insert("entries".into(), json_of(e));
    }
    if let Err(e) = &last {
        partial.insert("last".into(), json_of(e));
    }
    if let Err(e) = &stats {
        partial.insert("size".into(), json_of(e));
    } else if storage.is_none() {
        partial.insert(
            "size".into(),
            Value::from("$collStats returned no storageStats"),
        );
    }
    if !partial.is_empty() {
        reply.errors = Some(Value::Object(partial));
    }
    Ok(json_of(&reply))
}

/// The `oplog.json` reply from the first and last entries (`ts`, else `wall`) and the
/// `$collStats` storage stats.
pub fn oplog_reply(
    first: Option<&Document>,
    last: Option<&Document>,
    storage: Option<&Document>,
) -> OplogReply {
    let ts = |d: Option<&Document>| {
        d.and_then(|d| millis(d.get("ts")).or_else(|| millis(d.get("wall"))))
    };
    let (first_ms, last_ms) = (ts(first), ts(last));
    let as_time = |ms: Option<i64>| {
        ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| t.to_string())
    };
    let window = match (first_ms, last_ms) {
        (Some(a), Some(b)) => Some((((b - a) as f64) / 3_600_000.0 * 1000.0).round() / 1000.0),
        _ => None,
    };
    let stat = |k: &str| match storage.and_then(|s| s.get(k)).map(to_json) {
        Some(Value::Number(n)) => Some(n),
        _ => None,
    };
    OplogReply {
        first: as_time(first_ms),
        last: as_time(last_ms),
        window_hours: window,
        size_bytes: stat("size"),
        max_size_bytes: stat("maxSize"),
        count: stat("count"),
        storage_size_bytes: stat("storageSize"),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{self, doc};

    #[test]
    fn oplog_window_is_last_minus_first() {
        let ts = |t: u32| doc! {"ts": bson::Timestamp { time: t, increment: 1 }};
        let storage = doc! {"size": 1024_i64, "maxSize": 990_000_000_i64, "count": 7};
        let v = oplog_reply(
            Some(&ts(1_700_000_000)),
            Some(&ts(1_700_000_000 + 5400)),
            Some(&storage),
        );
        assert_eq!(v.window_hours, Some(1.5));
        assert_eq!(v.first.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(v.size_bytes, Some(1024.into()));
        assert_eq!(v.max_size_bytes, Some(990_000_000.into()));
        let none = oplog_reply(None, None, None);
        assert_eq!(none.window_hours, None);
    }
}
