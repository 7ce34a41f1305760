//! The mongodb collector: what the MongoDB server behind Rocket.Chat says about itself.
//!
//! It runs, one at a time and each under its own time limit, `hello`, `buildInfo`,
//! `serverStatus` (a typed subset, [`server_status`]), `hostInfo`, `getCmdLineOpts`
//! (redacted, [`cmdline`]), `replSetGetStatus` ([`replica_set`]), the oplog window
//! ([`oplog`]), `listDatabases`, `dbStats` and `$collStats` of the Rocket.Chat database
//! ([`stats`]), and writes one `mongodb/<command>.json` per command plus
//! `mongodb/summary.json` (see `docs/collector-outputs.md`). This file sequences them.
//!
//! Findings are not failures: a standalone server (error 76 on `replSetGetStatus`)
//! or a server too old for the driver (wire version < 9, MongoDB < 4.4) is recorded in
//! the summary for the analyzer. A permission error names the role to grant.
//!
//! Time: the collector keeps inside `ctx.options.timeout` on its own (see
//! [`Budget`]). A server that accepts TCP and never answers makes the collector return
//! `failed` after the server-selection timeout.
//!
//! Connecting, the time budget, error classification and BSON helpers are the client's
//! ([`crate::clients::mongodb`]); the URI comes from [`Context::mongodb_uri`].

pub mod cmdline;
pub mod oplog;
pub mod replica_set;
pub mod server_status;
pub mod stats;

use std::collections::BTreeMap;

use mongodb::bson::{Bson, doc};
use rcdiag_contract::mongodb::{CommandError, CommandFile, SummaryFile, TooOld as TooOldFile};
use serde::Serialize;
use serde_json::Value;

pub use self::cmdline::redact_cmdline;
pub use self::oplog::oplog_reply;
pub use self::replica_set::{Member, ReplicaSet, replica_set_from_status};
pub use self::server_status::{
    Connections, Mem, Num, Opcounters, Repl, ServerStatus, StorageEngine, WiredTiger,
    WiredTigerCache,
};
pub use crate::clients::mongodb::{
    APP_NAME, Access, Budget, CmdError, ConnectError, Connection, DEFAULT_DATABASE, NO_URI, TooOld,
    doc_to_json, num, rfc3339, to_json, too_old_from_error, version_of_wire,
};

use self::oplog::oplog_window;
use self::stats::collection_stats;
use super::{CollectorSink, Context, Outcome};
use crate::clients::mongodb::{run_raw, strip_envelope};

/// One command's result while collecting.
struct Run<'a> {
    out: &'a CollectorSink,
    commands: BTreeMap<String, String>,
    /// `(command, short error, hint)` of the reads that failed.
    failed: Vec<(String, String, Option<String>)>,
    write_errors: Vec<String>,
}

impl Run<'_> {
    async fn write(&mut self, file: &str, value: &impl Serialize) {
        if let Err(e) = self
            .out
            .put_json(&format!("mongodb/{file}.json"), value)
            .await
        {
            self.write_errors.push(format!("mongodb/{file}.json: {e}"));
        }
    }

    /// Records a command: its file, its line in `commands`, and whether it counts as a failure.
    async fn record(&mut self, name: &str, result: Result<Value, CmdError>, finding: bool) {
        match result {
            Ok(reply) => {
                self.write(name, &CommandFile::replied(reply)).await;
                self.commands.insert(name.to_string(), "ok".into());
            }
            Err(e) => {
                self.write(name, &CommandFile::<Value>::failed(command_error(&e)))
                    .await;
                let line = e.status_line();
                if !finding {
                    self.failed
                        .push((name.to_string(), e.short(), e.hint.clone()));
                }
                self.commands.insert(name.to_string(), line);
            }
        }
    }
}

descriptor! {
    name: "mongodb",
    reads: "buildInfo, serverStatus, hostInfo, getCmdLineOpts, replSetGetStatus, oplog window, listDatabases, dbStats, $collStats",
    permissions: "a MongoDB user with clusterMonitor on admin and read on the Rocket.Chat database",
    files: "mongodb/<command>.json, mongodb/summary.json",
    isolated: true,
}

/// Collects mongodb data into the bundle. See the module documentation.
pub async fn collect(ctx: &Context, out: &CollectorSink) -> Outcome {
    let budget = Budget::new(ctx.options.timeout);
    let red = out.redactor();
    let conn = match ctx.connect_mongodb(out, &budget).await {
        Ok(c) => c,
        Err(ConnectError::NoUri) => return Outcome::skipped(ctx.no_mongodb_uri_reason().await),
        Err(e) => return connection_failed(ctx, out, e).await,
    };
    let mut run = Run {
        out,
        commands: BTreeMap::new(),
        failed: Vec::new(),
        write_errors: Vec::new(),
    };
    let admin = conn.client.database("admin");
    let rcdb = conn.client.database(&conn.database);
    let server_access = Access::Server;

    // buildInfo
    let build = run_raw(&admin, doc! {"buildInfo": 1}, &budget, red)
        .await
        .map_err(|e| e.with_hint(&server_access));
    let build = build.and_then(|d| match d.get("version") {
        Some(Bson::String(_)) => Ok(d),
        _ => Err(CmdError::unexpected("buildInfo", "version", &d)),
    });
    let version = build
        .as_ref()
        .ok()
        .and_then(|d| d.get_str("version").ok())
        .map(str::to_string);
    run.record(
        "buildInfo",
        build.map(|d| doc_to_json(&strip_envelope(&d))),
        false,
    )
    .await;

    // serverStatus (typed subset)
    let status = server_status::read(&admin, &budget, red).await;
    let storage_engine = status
        .as_ref()
        .ok()
        .and_then(|(s, _)| s.storage_engine.as_ref())
        .and_then(|e| e.name.clone());
    let version = version.or_else(|| status.as_ref().ok().and_then(|(s, _)| s.version.clone()));
    run.record("serverStatus", status.map(|(_, v)| v), false)
        .await;

    // hostInfo
    let host = run_raw(&admin, doc! {"hostInfo": 1}, &budget, red)
        .await
        .map_err(|e| e.with_hint(&server_access))
        .and_then(|d| {
            if d.get_document("system").is_ok() {
                Ok(doc_to_json(&strip_envelope(&d)))
            } else {
                Err(CmdError::unexpected("hostInfo", "system", &d))
            }
        });
    run.record("hostInfo", host, false).await;

    // getCmdLineOpts (redacted)
    let opts = cmdline::read(&admin, &budget, red).await;
    run.record("getCmdLineOpts", opts, false).await;

    // replSetGetStatus
    let (replica_set, rs_result, rs_finding) =
        replica_set::read(&admin, &conn.hello, &budget, red).await;
    run.record("replSetGetStatus", rs_result, rs_finding).await;
    let standalone = replica_set.state.as_deref() == Some("standalone");

    // oplog window
    let oplog = oplog_window(&conn.client, &budget, red).await;
    run.record("oplog", oplog, standalone).await;

    // listDatabases
    let dbs = run_raw(
        &admin,
        doc! {"listDatabases": 1, "nameOnly": false},
        &budget,
        red,
    )
    .await
    .map_err(|e| e.with_hint(&server_access))
    .and_then(|d| {
        if d.get_array("databases").is_ok() {
            Ok(d)
        } else {
            Err(CmdError::unexpected("listDatabases", "databases", &d))
        }
    });
    let database_found = dbs
        .as_ref()
        .ok()
        .and_then(|d| d.get_array("databases").ok())
        .map(|list| {
            list.iter()
                .filter_map(Bson::as_document)
                .any(|d| d.get_str("name").ok() == Some(conn.database.as_str()))
        });
    run.record(
        "listDatabases",
        dbs.map(|d| doc_to_json(&strip_envelope(&d))),
        false,
    )
    .await;

    // dbStats of the Rocket.Chat database
    let read_access = Access::Read(conn.database.clone());
    let db_stats = stats::db_stats(&rcdb, &budget, red).await;
    run.record("dbStats", db_stats, false).await;

    // $collStats of its collections
    let (coll_stats, coll_errors) = collection_stats(&rcdb, &budget, red, &read_access).await;
    match coll_stats {
        Ok(stats) => {
            let n_err = coll_errors.len();
            let total = stats.len() + n_err;
            let mut v = CommandFile::replied(stats);
            if n_err > 0 {
                let errors = coll_errors
                    .iter()
                    .map(|(k, e)| (k.clone(), json_of(&command_error(e))))
                    .collect();
                v.extra.insert("errors".into(), Value::Object(errors));
            }
            run.write("collStats", &v).await;
            if n_err == 0 {
                run.commands.insert("collStats".into(), "ok".into());
            } else {
                let (first, e) = coll_errors
                    .iter()
                    .next()
                    .map(|(k, e)| (k.clone(), e.status_line()))
                    .unwrap_or_default();
                let line = format!("{n_err} of {total} collections failed, first {first}: {e}");
                run.failed.push(("collStats".into(), line.clone(), None));
                run.commands.insert("collStats".into(), line);
            }
        }
        Err(e) => run.record("collStats", Err(e), false).await,
    }

    // summary
    let summary = SummaryFile {
        uri_source: Some(conn.uri_source.clone()),
        uri: Some(conn.redacted_uri.clone()),
        uri_rewrite: conn.rewrite.clone(),
        server: Some(conn.server.clone()),
        version,
        storage_engine,
        wire_version: num(conn.hello.get("maxWireVersion")).map(|w| w as i64),
        replica_set: Some(replica_set),
        too_old: None,
        commands: Some(run.commands.clone()),
        database: Some(conn.database.clone()),
        database_found,
        collected_in_seconds: Some((budget.elapsed().as_secs_f64() * 1000.0).round() / 1000.0),
        error: None,
        ..Default::default()
    };
    run.write("summary", &summary).await;

    if run.failed.is_empty() && run.write_errors.is_empty() {
        return Outcome::ok();
    }
    let mut message = String::new();
    if !run.failed.is_empty() {
        message = format!(
            "{} of {} MongoDB reads failed: {}",
            run.failed.len(),
            run.commands.len(),
            group_failures(&run.failed)
        );
    }
    if !run.write_errors.is_empty() {
        if !message.is_empty() {
            message.push_str("; ");
        }
        message.push_str(&format!("could not write {}", run.write_errors.join(", ")));
    }
    Outcome::partial(message)
}

/// A failed command as its file records it.
pub(crate) fn command_error(e: &CmdError) -> CommandError {
    CommandError {
        code: e.code.map(i64::from),
        code_name: e.code_name.clone(),
        message: Some(e.message.clone()),
        hint: e.hint.clone(),
        ..Default::default()
    }
}

/// Any serializable value as JSON (`null` on the impossible failure).
pub(super) fn json_of(v: &impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// `a, b: error 13 Unauthorized (grant ...); c: ...`: commands that failed alike share one line.
fn group_failures(failed: &[(String, String, Option<String>)]) -> String {
    let mut groups: Vec<(Vec<&str>, &str, Option<&str>)> = Vec::new();
    for (name, short, hint) in failed {
        match groups
            .iter_mut()
            .find(|g| g.1 == short.as_str() && g.2 == hint.as_deref())
        {
            Some(g) => g.0.push(name),
            None => groups.push((vec![name.as_str()], short.as_str(), hint.as_deref())),
        }
    }
    groups
        .iter()
        .map(|(names, short, hint)| match hint {
            Some(h) => format!("{}: {short} ({h})", names.join(", ")),
            None => format!("{}: {short}", names.join(", ")),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Writes the summary of a collection that could not start, and the outcome.
async fn connection_failed(ctx: &Context, out: &CollectorSink, e: ConnectError) -> Outcome {
    let (uri_source, uri) = match ctx.mongodb_uri().await {
        Some((uri, src, _)) => (Some(src), Some(out.redactor().redact_uri(&uri))),
        None => (None, None),
    };
    let too_old = match &e {
        ConnectError::TooOld(t) => Some(TooOldFile {
            message: Some(t.message.clone()),
            version: t.version.clone(),
            wire_version: t.wire_version.map(i64::from),
            driver_error: Some(t.driver_error.clone()),
            ..Default::default()
        }),
        _ => None,
    };
    let message = e.to_string();
    let summary = SummaryFile {
        uri_source,
        uri,
        version: too_old.as_ref().and_then(|t| t.version.clone()),
        replica_set: Some(ReplicaSet {
            state: Some("unknown".into()),
            error: Some("not connected".into()),
            ..Default::default()
        }),
        too_old,
        commands: Some(Default::default()),
        error: Some(message.clone()),
        ..Default::default()
    };
    let mut message = message;
    if let Err(w) = out.put_json("mongodb/summary.json", &summary).await {
        message.push_str(&format!(
            " (and mongodb/summary.json could not be written: {w})"
        ));
    }
    Outcome::failed(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn unknown_command_placeholder_is_not_success() {
        let reply = doc! {"ok": 1, "result": []};
        assert!(replica_set_from_status(&reply).is_err());
        assert!(ServerStatus::from_reply(&reply).is_err());
        let e = CmdError::unexpected("hostInfo", "system", &reply);
        assert!(
            e.status_line().starts_with("unexpected reply shape"),
            "{}",
            e.status_line()
        );
    }

    #[test]
    fn failures_with_the_same_cause_share_a_line() {
        let hint = Some("grant clusterMonitor".to_string());
        let f = vec![
            (
                "serverStatus".to_string(),
                "error 13 Unauthorized".to_string(),
                hint.clone(),
            ),
            (
                "hostInfo".to_string(),
                "error 13 Unauthorized".to_string(),
                hint,
            ),
            (
                "collStats".to_string(),
                "error 13 Unauthorized".to_string(),
                Some("grant read".to_string()),
            ),
        ];
        assert_eq!(
            group_failures(&f),
            "serverStatus, hostInfo: error 13 Unauthorized (grant clusterMonitor); collStats: error 13 Unauthorized (grant read)"
        );
    }
}
