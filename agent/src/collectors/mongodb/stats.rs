//! `$collStats` of every collection of the Rocket.Chat database (`dbStats` is one
//! command, read in `mod.rs`): size, count, storage and index sizes per collection.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use mongodb::Database;
use mongodb::bson::{Document, doc};
use serde_json::{Value, json};

use crate::clients::mongodb::{Access, Budget, CmdError, to_json};
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
        let r = budget
            .run(async {
                let cursor = coll
                    .aggregate(vec![doc! {"$collStats": {"storageStats": {}}}])
                    .await?;
                cursor.try_collect::<Vec<Document>>().await
            })
            .await
            .and_then(|r| r.map_err(|e| CmdError::from_driver(&e, red)));
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
