//! The reads of the Rocket.Chat database: the newest `rocketchat_statistics` document,
//! user counts, the instances, and the allow-listed settings.

use futures_util::TryStreamExt;
use mongodb::Database;
use mongodb::bson::{Bson, Document, doc};
use serde_json::{Map, Value, json};

use super::{
    LIVE_WINDOW_SECONDS, MAX_INSTANCES, SETTINGS_ALLOW_LIST, STATISTICS_SCALARS,
    STATISTICS_SUBSETS, allow_statistics,
};
use crate::clients::mongodb::{Access, Budget, CmdError, num, to_json};
use crate::redact::Redactor;

pub(super) async fn read<T>(
    budget: &Budget,
    red: &Redactor,
    db: &str,
    fut: impl std::future::IntoFuture<Output = mongodb::error::Result<T>>,
) -> Result<T, CmdError> {
    budget
        .run(fut)
        .await
        .and_then(|r| r.map_err(|e| CmdError::from_driver(&e, red)))
        .map_err(|e| e.with_hint(&Access::Read(db.to_string())))
}

/// The newest statistics document, allow-listed, and its `createdAt`.
pub(super) async fn newest_statistics(
    db: &Database,
    budget: &Budget,
    red: &Redactor,
) -> Result<Option<Map<String, Value>>, CmdError> {
    let mut projection = Document::new();
    for k in STATISTICS_SCALARS
        .iter()
        .chain(STATISTICS_SUBSETS.iter().map(|(k, _)| k))
    {
        projection.insert(*k, 1);
    }
    projection.insert("os", 1);
    let coll = db.collection::<Document>("rocketchat_statistics");
    let found = read(
        budget,
        red,
        db.name(),
        coll.find_one(doc! {})
            .sort(doc! {"createdAt": -1})
            .projection(projection),
    )
    .await?;
    Ok(found.map(|d| allow_statistics(&d)))
}

/// User counts: `(counts, first error)`.
pub(super) async fn user_counts(
    db: &Database,
    budget: &Budget,
    red: &Redactor,
) -> (Map<String, Value>, Option<CmdError>) {
    let online = doc! {"$exists": true, "$ne": "offline"};
    let queries: [(&str, Document); 7] = [
        ("total", doc! {}),
        ("humans", doc! {"type": "user"}),
        ("active_humans", doc! {"type": "user", "active": true}),
        (
            "active_guests",
            doc! {"type": "user", "active": true, "roles": "guest"},
        ),
        ("bots", doc! {"type": "bot"}),
        ("online", doc! {"statusConnection": online.clone()}),
        (
            "online_humans",
            doc! {"type": "user", "statusConnection": online},
        ),
    ];
    let coll = db.collection::<Document>("users");
    let mut out = Map::new();
    for (name, filter) in queries {
        match read(budget, red, db.name(), coll.count_documents(filter)).await {
            Ok(n) => {
                out.insert(name.into(), json!(n));
            }
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

/// The instances and how many are live at `now`.
pub(super) async fn instances(
    db: &Database,
    budget: &Budget,
    red: &Redactor,
    now: jiff::Timestamp,
) -> Result<Value, CmdError> {
    let coll = db.collection::<Document>("instances");
    let projection = doc! {"_id": 1, "name": 1, "pid": 1, "extraInformation": 1, "_updatedAt": 1, "_createdAt": 1};
    let docs: Vec<Document> = read(budget, red, db.name(), async {
        coll.find(doc! {})
            .projection(projection)
            .limit(MAX_INSTANCES)
            .await?
            .try_collect()
            .await
    })
    .await?;
    let now_ms = now.as_millisecond();
    let mut list = Vec::new();
    let mut live = 0;
    for d in &docs {
        let extra = d.get_document("extraInformation").ok();
        let updated = match d.get("_updatedAt") {
            Some(Bson::DateTime(dt)) => Some(dt.timestamp_millis()),
            Some(Bson::String(s)) => s
                .parse::<jiff::Timestamp>()
                .ok()
                .map(|t| t.as_millisecond()),
            _ => None,
        };
        let age = updated.map(|u| (now_ms - u) as f64 / 1000.0);
        let is_live = age.is_some_and(|a| a <= LIVE_WINDOW_SECONDS as f64);
        if is_live {
            live += 1;
        }
        let id = match d.get("_id") {
            Some(Bson::String(s)) => json!(s),
            Some(other) => to_json(other),
            None => Value::Null,
        };
        let port = extra.and_then(|e| match e.get("port") {
            Some(Bson::String(s)) => s.parse::<f64>().ok(),
            other => num(other),
        });
        list.push(json!({
            "id": id,
            "name": d.get_str("name").ok(),
            "host": extra.and_then(|e| e.get_str("host").ok()),
            "port": port.map(|p| p as i64),
            "pid": num(d.get("pid")).map(|p| p as i64),
            "node_version": extra.and_then(|e| e.get_str("nodeVersion").ok()),
            "updated_at": d.get("_updatedAt").map(to_json),
            "age_seconds": age.map(|a| (a * 10.0).round() / 10.0),
            "live": is_live,
        }));
    }
    Ok(
        json!({"live": live, "total": docs.len(), "window_seconds": LIVE_WINDOW_SECONDS, "list": list}),
    )
}

/// The allow-listed settings found, `{id: value}`.
pub(super) async fn settings(
    db: &Database,
    budget: &Budget,
    red: &Redactor,
) -> Result<Map<String, Value>, CmdError> {
    let coll = db.collection::<Document>("rocketchat_settings");
    let ids: Vec<Bson> = SETTINGS_ALLOW_LIST
        .iter()
        .map(|s| Bson::String((*s).to_string()))
        .collect();
    let docs: Vec<Document> = read(budget, red, db.name(), async {
        coll.find(doc! {"_id": {"$in": ids}})
            .projection(doc! {"_id": 1, "value": 1})
            .await?
            .try_collect()
            .await
    })
    .await?;
    let mut out = Map::new();
    for d in docs {
        // Checked again here: the server is trusted to filter, not to keep secrets out.
        let Ok(id) = d.get_str("_id") else { continue };
        if SETTINGS_ALLOW_LIST.contains(&id) {
            out.insert(
                id.to_string(),
                d.get("value").map(to_json).unwrap_or(Value::Null),
            );
        }
    }
    Ok(out)
}

pub(super) fn truthy(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        _ => None,
    }
}

pub(super) fn port_of(v: Option<&Value>) -> Option<u16> {
    match v? {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
