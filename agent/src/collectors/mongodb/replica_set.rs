//! The replica set: members, states and lag from `replSetGetStatus`, or what `hello`
//! says when that cannot be read.

use mongodb::Database;
use mongodb::bson::{Bson, Document, doc};
use serde_json::Value;

use crate::clients::mongodb::{
    Access, Budget, CmdError, doc_to_json, millis, num, run_raw, strip_envelope,
};
use crate::redact::Redactor;

/// The replica set as `summary.json` records it: the contract's types
/// (`contract/src/mongodb.rs`), the ones the analyzer reads.
pub use rcdiag_contract::mongodb::{Member, ReplicaSet};

/// The replica set from a `replSetGetStatus` reply.
pub fn replica_set_from_status(reply: &Document) -> Result<ReplicaSet, CmdError> {
    let Ok(members) = reply.get_array("members") else {
        return Err(CmdError::unexpected("replSetGetStatus", "members", reply));
    };
    let members: Vec<&Document> = members.iter().filter_map(Bson::as_document).collect();
    let state_of = |m: &Document| -> String {
        m.get_str("stateStr")
            .map(str::to_string)
            .unwrap_or_else(|_| match num(m.get("state")).map(|s| s as i64) {
                Some(1) => "PRIMARY".into(),
                Some(2) => "SECONDARY".into(),
                Some(7) => "ARBITER".into(),
                Some(s) => format!("state {s}"),
                None => "unknown".into(),
            })
    };
    let primary = members.iter().find(|m| state_of(m) == "PRIMARY");
    let primary_optime =
        primary.and_then(|p| millis(p.get("optimeDate")).or_else(|| millis(p.get("optime"))));
    let list = members
        .iter()
        .map(|m| {
            let state = state_of(m);
            let health = num(m.get("health"));
            let optime = millis(m.get("optimeDate"))
                .or_else(|| millis(m.get("optime")))
                .filter(|ms| *ms > 0);
            let healthy = health.is_none_or(|h| h > 0.0);
            let lag = match (primary_optime, optime) {
                (Some(p), Some(o)) if healthy && state != "ARBITER" => {
                    Some(((p - o).max(0) as f64) / 1000.0)
                }
                _ => None,
            };
            Member {
                name: Some(m.get_str("name").unwrap_or_default().to_string()),
                state: Some(state),
                health,
                lag_seconds: lag,
                is_self: Some(m.get_bool("self").unwrap_or(false)),
                optime: optime
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                    .map(|t| t.to_string()),
                uptime: num(m.get("uptime")),
                last_heartbeat_message: m
                    .get_str("lastHeartbeatMessage")
                    .ok()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                sync_source: m
                    .get_str("syncSourceHost")
                    .or_else(|_| m.get_str("syncingTo"))
                    .ok()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                ..Default::default()
            }
        })
        .collect();
    let my_state = members
        .iter()
        .find(|m| m.get_bool("self").unwrap_or(false))
        .map(|m| state_of(m));
    Ok(ReplicaSet {
        state: Some("replica-set".into()),
        set_name: reply.get_str("set").ok().map(str::to_string),
        primary: primary
            .and_then(|p| p.get_str("name").ok())
            .map(str::to_string),
        members: list,
        my_state,
        source: Some("replSetGetStatus".into()),
        error: if primary.is_none() {
            Some("no member is PRIMARY in this member's view".into())
        } else {
            None
        },
        ..Default::default()
    })
}

/// A fallback from `hello` when `replSetGetStatus` could not be read.
fn replica_set_from_hello(hello: &Document, error: String) -> ReplicaSet {
    let set_name = hello.get_str("setName").ok().map(str::to_string);
    let state = if set_name.is_some() {
        "replica-set"
    } else if hello.is_empty() || hello.get_str("msg").ok() == Some("isdbgrid") {
        // No handshake, or a mongos: not a topology this collector can name.
        "unknown"
    } else {
        "standalone"
    };
    let my_state = if set_name.is_none() {
        None
    } else if hello
        .get_bool("isWritablePrimary")
        .or_else(|_| hello.get_bool("ismaster"))
        .unwrap_or(false)
    {
        Some("PRIMARY".to_string())
    } else if hello.get_bool("secondary").unwrap_or(false) {
        Some("SECONDARY".to_string())
    } else {
        None
    };
    ReplicaSet {
        state: Some(state.into()),
        set_name,
        primary: hello.get_str("primary").ok().map(str::to_string),
        members: Vec::new(),
        my_state,
        source: Some("hello".into()),
        error: Some(error),
        ..Default::default()
    }
}

/// Runs `replSetGetStatus`: the replica set (from `hello` when that fails), the result
/// written, and whether a failure is a finding (standalone, error 76) rather than an
/// error of the collection.
pub(super) async fn read(
    admin: &Database,
    hello: &Document,
    budget: &Budget,
    red: &Redactor,
) -> (ReplicaSet, Result<Value, CmdError>, bool) {
    let rs_reply = run_raw(admin, doc! {"replSetGetStatus": 1}, budget, red)
        .await
        .map_err(|e| e.with_hint(&Access::Server));
    match rs_reply {
        Ok(d) => match replica_set_from_status(&d) {
            Ok(rs) => (rs, Ok(doc_to_json(&strip_envelope(&d))), false),
            Err(e) => {
                let rs = replica_set_from_hello(hello, e.status_line());
                (rs, Err(e), false)
            }
        },
        Err(e) if e.code == Some(76) => {
            let rs = ReplicaSet {
                state: Some("standalone".into()),
                source: Some("replSetGetStatus".into()),
                error: Some(format!("not a replica set ({})", e.status_line())),
                ..Default::default()
            };
            (rs, Err(e), true)
        }
        Err(e) => {
            let rs = replica_set_from_hello(
                hello,
                format!(
                    "replSetGetStatus failed ({}); state from hello",
                    e.status_line()
                ),
            );
            (rs, Err(e), false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson;

    #[test]
    fn lag_is_relative_to_the_primary_and_null_for_the_unreachable() {
        let t = |ms: i64| Bson::DateTime(bson::DateTime::from_millis(ms));
        let reply = doc! {"set": "rs0", "members": [
            {"name": "a:1", "stateStr": "PRIMARY", "health": 1.0, "optimeDate": t(100_000), "self": true},
            {"name": "b:1", "stateStr": "SECONDARY", "health": 1.0, "optimeDate": t(89_000)},
            {"name": "c:1", "stateStr": "(not reachable/healthy)", "health": 0.0, "optimeDate": t(0)},
        ]};
        let rs = replica_set_from_status(&reply).expect("parsed");
        assert_eq!(rs.primary.as_deref(), Some("a:1"));
        let lags: Vec<Option<f64>> = rs.members.iter().map(|m| m.lag_seconds).collect();
        assert_eq!(lags, vec![Some(0.0), Some(11.0), None]);
        assert_eq!(rs.my_state.as_deref(), Some("PRIMARY"));
    }
}
