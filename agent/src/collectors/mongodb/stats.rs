//! The Rocket.Chat database's `dbStats`, and `$collStats` of every collection in it:
//! size, count, storage and index sizes per collection.

use std::collections::BTreeMap;

use mongodb::Database;
use mongodb::bson::{Document, doc};
use serde_json::{Value, json};

use crate::clients::mongodb::{
    Access, Budget, CmdError, doc_to_json, run_raw, storage_stats, strip_envelope, to_json,
};
use crate::redact::Redactor;

/// Most collections of the Rocket.Chat database whose `$collStats` are read.
const MAX_COLLECTIONS: usize = 400;

/// `collStats.json`: `{size, count, storageSize, totalIndexSize, nindexes}` per collection
/// of the Rocket.Chat database, plus per-collection errors.
pub(super) async fn collection_stats(
    db: &Database,
    budget: &Budget,
    red: &Redactor,
    access: &Access,
) -> (
    Result<BTreeMap<String, Value>, CmdError>,
    BTreeMap<String, CmdError>,
) {
    let mut errors = BTreeMap::new();
    let names = budget
        .run(db.list_collection_names())
        .await
        .and_then(|r| r.map_err(|e| CmdError::from_driver(&e, red)))
        .map_err(|e| e.with_hint(access));
    let mut names = match names {
        Ok(n) => n,
        Err(e) => return (Err(e), errors),
    };
    names.retain(|n| !n.starts_with("system."));
    names.sort();
    let mut stats = BTreeMap::new();
    for name in names.into_iter().take(MAX_COLLECTIONS) {
        let coll = db.collection::<Document>(&name);
        let r = storage_stats(&coll, budget, red).await;
        match r {
            Ok(docs) => match docs
                .first()
                .and_then(|d| d.get_document("storageStats").ok())
            {
                Some(s) => {
                    let pick = |k: &str| s.get(k).map(to_json).unwrap_or(Value::Null);
                    stats.insert(
                        name,
                        json!({
                            "size": pick("size"),
                            "count": pick("count"),
                            "storageSize": pick("storageSize"),
                            "totalIndexSize": pick("totalIndexSize"),
                            "nindexes": pick("nindexes"),
                        }),
                    );
                }
                None => {
                    let empty = Document::new();
                    let d = docs.first().unwrap_or(&empty);
                    errors.insert(name, CmdError::unexpected("$collStats", "storageStats", d));
                }
            },
            Err(e) => {
                let stop = e.code_name.as_deref() == Some("NotRun");
                errors.insert(name, e.with_hint(&Access::Server));
                if stop {
                    break;
                }
            }
        }
    }
    (Ok(stats), errors)
}

/// `dbStats` of the Rocket.Chat database: the JSON written.
pub(super) async fn db_stats(
    db: &Database,
    budget: &Budget,
    red: &Redactor,
) -> Result<Value, CmdError> {
    run_raw(db, doc! {"dbStats": 1, "scale": 1}, budget, red)
        .await
        .map_err(|e| e.with_hint(&Access::Server))
        .and_then(|d| {
            if d.contains_key("collections") || d.contains_key("objects") {
                Ok(doc_to_json(&strip_envelope(&d)))
            } else {
                Err(CmdError::unexpected("dbStats", "collections", &d))
            }
        })
}
