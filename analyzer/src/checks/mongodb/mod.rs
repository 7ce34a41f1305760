//! MongoDB checks (facts §5): version compatible with the Rocket.Chat version,
//! a healthy replica set, the WiredTiger engine, and no validation bypass switches.
//! Where MongoDB itself was not read, a cluster view still tells the replica set's
//! StatefulSet and readiness; the bypass switches are read from the env of the
//! Rocket.Chat pods too.//!
//! Files: this one holds the list and `mongodb.version`; `replica_set` the replica set
//! (from MongoDB, else from the cluster view); `settings` the storage engine and the
//! validation bypass switches.

mod replica_set;
mod settings;

use serde_json::Value;

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude, node_rc_version,
};
use crate::model::NodeData;
use crate::policy::{MongoCompat, Version, parse_major_minor};
use replica_set::replica_set;
use settings::{bypass_flags, storage_engine};

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[
    Check {
        id: CheckId::MongodbVersion,
        title: "MongoDB version compatible",
        area: "mongodb",
        description: "The MongoDB version is supported by the Rocket.Chat version per the policy matrix (deprecated warns).",
        run: version,
    },
    Check {
        id: CheckId::MongodbReplicaSet,
        title: "MongoDB replica set healthy",
        area: "mongodb",
        description: "MongoDB is a replica set with a primary and every member healthy (standalone fails).",
        run: replica_set,
    },
    Check {
        id: CheckId::MongodbStorageEngine,
        title: "MongoDB storage engine",
        area: "mongodb",
        description: "MongoDB uses the WiredTiger storage engine.",
        run: storage_engine,
    },
    Check {
        id: CheckId::MongodbBypassFlags,
        title: "No validation bypass switches",
        area: "mongodb",
        description: "No BYPASS_* / SKIP_MONGODEPRECATION_* variable is set on Rocket.Chat containers or host processes.",
        run: bypass_flags,
    },
];

/// The MongoDB version a node saw, most direct source first.
fn mongo_version(node: &NodeData) -> Option<(String, Evidence)> {
    if let Some(s) = node
        .mongodb_summary
        .as_ref()
        .and_then(|s| s.version.as_deref())
    {
        return Some((
            s.to_string(),
            Evidence::file(node, "mongodb/summary.json")
                .at("/version")
                .val(s),
        ));
    }
    if let Some(s) = node
        .mongodb
        .get("buildInfo")
        .and_then(|b| b.pointer("/reply/version"))
        .and_then(Value::as_str)
    {
        return Some((
            s.to_string(),
            Evidence::file(node, "mongodb/buildInfo.json")
                .at("/reply/version")
                .val(s),
        ));
    }
    if let Some(s) = node
        .rc_statistics
        .as_ref()
        .and_then(|s| s.mongo_version.as_deref())
    {
        return Some((
            s.to_string(),
            Evidence::file(node, "rocketchat/statistics.json")
                .at("/mongoVersion")
                .val(s),
        ));
    }
    node.startup_mongo_versions.last().map(|(file, v)| {
        (
            v.clone(),
            Evidence::file(node, file).val(format!("MongoDB Version: {v}")),
        )
    })
}

pub(super) fn missing_mongo(input: &CheckInput) -> String {
    let why: Vec<String> = input
        .nodes
        .iter()
        .map(|n| n.why_missing("mongodb/summary.json", "mongodb"))
        .collect();
    format!(
        "{}; rerun rcdiag-agent collect with --mongodb-uri and a user with clusterMonitor on admin",
        if why.is_empty() {
            "no bundle".into()
        } else {
            why.join("; ")
        }
    )
}

/// The Rocket.Chat version to judge each node's MongoDB against (in the order of
/// `input.nodes`): the node's own, else the first node's that has one. Each node's
/// version is looked up once.
fn rc_versions(input: &CheckInput) -> Vec<Option<(Version, Evidence)>> {
    let own: Vec<Option<(Version, Evidence)>> = input
        .nodes
        .iter()
        .map(|n| node_rc_version(n, input.policy))
        .collect();
    let any = own.iter().flatten().next().cloned();
    own.into_iter().map(|v| v.or_else(|| any.clone())).collect()
}

/// Runs `mongodb.version`.
pub(crate) fn version(input: &CheckInput) -> CheckResult {
    const ID: CheckId = CheckId::MongodbVersion;
    let policy = input.policy;
    let mut findings = Vec::new();
    for (node, rc_version) in input.nodes.iter().zip(rc_versions(input)) {
        let too_old = node
            .mongodb_summary
            .as_ref()
            .and_then(|s| s.too_old.as_ref());
        let found = mongo_version(node).or_else(|| {
            too_old.and_then(|t| t.version.as_deref()).map(|s| {
                (
                    s.to_string(),
                    Evidence::file(node, "mongodb/summary.json")
                        .at("/too_old/version")
                        .val(s),
                )
            })
        });
        let Some((rc, rc_ev)) = rc_version else {
            if let Some((m, ev)) = found {
                findings.push(Finding::new(
                    Outcome::Unknown,
                    format!("MongoDB {m} found, but the Rocket.Chat version to judge it against is unknown ({})", node.why_missing("rocketchat/summary.json", "rocketchat")),
                    vec![ev],
                ));
            }
            continue;
        };
        let Some((raw, ev)) = found else {
            if let Some(t) = too_old {
                // The driver refused a server older than 4.4 and could not read its version.
                let msg = t
                    .message
                    .as_deref()
                    .unwrap_or("older than the driver supports");
                let ev = Evidence::file(node, "mongodb/summary.json")
                    .at("/too_old")
                    .val(msg);
                let lowest = policy.mongo_row(&rc).and_then(|row| {
                    row.supported
                        .iter()
                        .chain(row.supported_from.iter())
                        .filter_map(|s| parse_major_minor(s))
                        .min()
                });
                let f = match lowest {
                    Some(l) if l >= (4, 4) => Finding::new(
                        Outcome::Fail,
                        format!(
                            "MongoDB is older than 4.4 ({msg}); Rocket.Chat {rc} needs at least {}.{}",
                            l.0, l.1
                        ),
                        vec![ev, rc_ev],
                    ),
                    _ => Finding::new(
                        Outcome::Unknown,
                        format!(
                            "MongoDB is older than 4.4 ({msg}) and its exact version is unknown"
                        ),
                        vec![ev, rc_ev],
                    ),
                };
                findings.push(f);
            }
            continue;
        };
        let Some(m) = Version::parse(&raw) else {
            findings.push(Finding::new(
                Outcome::Unknown,
                format!("MongoDB version {raw:?} does not parse"),
                vec![ev],
            ));
            continue;
        };
        let (compat, row) = policy.mongo_compat(&rc, &m);
        let note = row
            .filter(|r| !r.note.is_empty())
            .map(|r| format!(" ({})", r.note))
            .unwrap_or_default();
        let supported = row
            .map(|r| {
                let mut s = r.supported.join(", ");
                if let Some(f) = &r.supported_from {
                    if !s.is_empty() {
                        s.push_str(", ");
                    }
                    s.push_str(&format!("{f} and later"));
                }
                s
            })
            .unwrap_or_default();
        let evs = vec![ev, rc_ev];
        findings.push(match compat {
            MongoCompat::Supported => Finding::new(Outcome::Pass, format!("MongoDB {m} is supported by Rocket.Chat {rc}"), evs),
            MongoCompat::Deprecated => Finding::new(Outcome::Warn, format!("MongoDB {m} is deprecated for Rocket.Chat {rc}{note}: plan the upgrade"), evs),
            MongoCompat::Disputed => Finding::new(Outcome::Warn, format!("MongoDB {m} with Rocket.Chat {rc}: the sources disagree{note}; supported per the release notes: {supported}"), evs),
            MongoCompat::Unsupported => Finding::new(Outcome::Fail, format!("MongoDB {m} is not supported by Rocket.Chat {rc} (supported: {supported}){note}"), evs),
            MongoCompat::NoRow => Finding::new(Outcome::Unknown, format!("the policy's MongoDB matrix has no row for Rocket.Chat {rc}"), evs),
        });
    }
    conclude(
        input,
        ID,
        findings,
        &format!("the MongoDB version is unknown: {}", missing_mongo(input)),
    )
}
