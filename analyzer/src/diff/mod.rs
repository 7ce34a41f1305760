//! `rcdiag-analyzer diff OLD NEW`: what changed on one node between two bundles —
//! Rocket.Chat and MongoDB versions, containers added, removed or on another image,
//! restart counts, container states, allow-listed settings, user counts, disk use
//! per mount, host facts, and log signatures newly seen. Warns when the bundles are
//! not from the same node or are given in the wrong order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::model::NodeData;
use rcdiag_contract::docker;

/// A typed field as the JSON value a change shows.
fn jv<T: Clone + Into<Value>>(x: &Option<T>) -> Option<Value> {
    x.clone().map(Into::into)
}
use crate::report::sanitize_line;

/// The value of [`DiffReport::schema`].
pub const DIFF_SCHEMA_ID: &str = "rcdiag.diff/v1";

/// One bundle of a diff.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DiffSide {
    /// Path as given.
    pub file: String,
    /// Bundle id.
    pub bundle_id: String,
    /// Host name.
    pub node: String,
    /// `sha256:` of the machine id, when recorded.
    pub machine_id_hash: Option<String>,
    /// Creation time.
    pub created_at: String,
}

/// What kind of change.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Present only in NEW.
    Added,
    /// Present only in OLD.
    Removed,
    /// Present in both with another value.
    Changed,
}

/// One difference.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    /// `rocketchat`, `mongodb`, `containers`, `settings`, `users`, `disks`, `host`, `docker`, `logs`.
    pub area: String,
    /// What changed: a container name, a setting id, a mount point, a signature id...
    pub item: String,
    /// Which property of it (`image`, `restart_count`, `used_percent`...); empty for the item itself.
    pub field: String,
    /// The kind of change.
    pub kind: ChangeKind,
    /// Value in OLD.
    pub old: Option<Value>,
    /// Value in NEW.
    pub new: Option<Value>,
    /// Context, e.g. an example log line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The result of `diff`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DiffReport {
    /// Always `rcdiag.diff/v1`.
    pub schema: String,
    /// The older bundle.
    pub old: DiffSide,
    /// The newer bundle.
    pub new: DiffSide,
    /// Reasons to doubt the comparison (different nodes, reversed order).
    pub warnings: Vec<String>,
    /// Every difference found, by area.
    pub changes: Vec<Change>,
}

fn side(file: &str, n: &NodeData) -> DiffSide {
    DiffSide {
        file: file.to_string(),
        bundle_id: n.manifest.bundle_id.clone(),
        node: n.manifest.node.hostname.clone(),
        machine_id_hash: n.manifest.node.machine_id_hash.clone(),
        created_at: n.manifest.created_at.clone(),
    }
}

struct Collect {
    changes: Vec<Change>,
}

impl Collect {
    fn push(
        &mut self,
        area: &str,
        item: &str,
        field: &str,
        old: Option<Value>,
        new: Option<Value>,
        note: Option<String>,
    ) {
        let kind = match (&old, &new) {
            (None, None) => return,
            (Some(a), Some(b)) if a == b => return,
            (None, Some(_)) => ChangeKind::Added,
            (Some(_), None) => ChangeKind::Removed,
            _ => ChangeKind::Changed,
        };
        // Bundle values are cut, so a diff's size is bounded by what it compares.
        let cut = |s: &str| rcdiag_bundle::cut_to(s, crate::report::MAX_EVIDENCE_FIELD);
        let cut_value = |v: Option<Value>| match v {
            Some(Value::String(s)) => Some(Value::String(cut(&s))),
            Some(v @ (Value::Array(_) | Value::Object(_)))
                if v.to_string().len() > crate::report::MAX_EVIDENCE_FIELD =>
            {
                Some(Value::String(cut(&v.to_string())))
            }
            other => other,
        };
        self.changes.push(Change {
            area: area.into(),
            item: cut(item),
            field: cut(field),
            kind,
            old: cut_value(old),
            new: cut_value(new),
            note: note.map(|n| rcdiag_bundle::cut_to(&n, crate::report::MAX_MESSAGE)),
        });
    }

    /// A change of one scalar that exists in both bundles (missing data on one side is not a change).
    fn both(
        &mut self,
        area: &str,
        item: &str,
        field: &str,
        old: Option<&Value>,
        new: Option<&Value>,
    ) {
        if let (Some(o), Some(n)) = (old, new)
            && o != n
        {
            self.push(area, item, field, Some(o.clone()), Some(n.clone()), None);
        }
    }
}

/// The Rocket.Chat version a node reports: summary first, then statistics, then the startup box.
fn rc_version(n: &NodeData) -> Option<Value> {
    n.rocketchat
        .as_ref()
        .and_then(|r| r.version.as_ref()?.value.clone())
        .or_else(|| n.rc_statistics.as_ref()?.version.clone())
        .map(Value::String)
        .or_else(|| {
            n.startup_versions
                .last()
                .map(|(_, v)| Value::String(v.clone()))
        })
}

fn containers(n: &NodeData) -> BTreeMap<String, &docker::Container> {
    let mut map = BTreeMap::new();
    if let Some(arr) = n.docker_containers.as_ref() {
        for (i, c) in arr.0.iter().enumerate() {
            let name = c
                .name
                .as_deref()
                .map(|s| s.trim_start_matches('/').to_string())
                .or_else(|| c.id.as_deref().map(|s| s.chars().take(12).collect()))
                .unwrap_or_else(|| format!("#{i}"));
            map.insert(name, c);
        }
    }
    map
}

fn disks(n: &NodeData) -> BTreeMap<String, (f64, f64)> {
    let mut map = BTreeMap::new();
    if let Some(host) = &n.host {
        for d in &host.disks {
            let (Some(mount), Some(total), Some(avail)) = (
                d.mount_point.as_deref(),
                d.total_bytes.map(|b| b as f64),
                d.available_bytes.map(|b| b as f64),
            ) else {
                continue;
            };
            if total > 0.0 {
                map.insert(mount.to_string(), (total - avail, total));
            }
        }
    }
    map
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A change of disk use smaller than this many percentage points is not reported.
pub const DISK_PERCENT_STEP: f64 = 1.0;

/// Compares two snapshots of one node.
pub fn diff_nodes(old_file: &str, old: &NodeData, new_file: &str, new: &NodeData) -> DiffReport {
    let mut warnings = Vec::new();
    let (om, nm) = (&old.manifest.node, &new.manifest.node);
    match (&om.machine_id_hash, &nm.machine_id_hash) {
        (Some(a), Some(b)) if a != b => warnings.push(format!(
            "the bundles come from different machines (machine id {a} vs {b}): this compares two nodes, not two snapshots of one"
        )),
        _ => {}
    }
    if om.hostname != nm.hostname {
        warnings.push(format!(
            "the host names differ ({} vs {}): the bundles may describe different nodes",
            om.hostname, nm.hostname
        ));
    }
    if old.manifest.bundle_id == new.manifest.bundle_id {
        warnings.push("both files are the same bundle".to_string());
    }
    let (ofp, nfp) = (
        &old.manifest.signer.fingerprint,
        &new.manifest.signer.fingerprint,
    );
    if ofp != nfp {
        warnings.push(format!(
            "OLD and NEW are signed by different keys ({ofp} vs {nfp}): a node signs with one key, so one of them may not come from this node"
        ));
    }
    for (side, n) in [("OLD", old), ("NEW", new)] {
        if !matches!(n.trust, rcdiag_bundle::TrustStatus::Trusted { .. }) {
            warnings.push(format!(
                "{side} is signed by {}, not verified: anyone can sign a bundle; pass --trust ALLOWED_SIGNERS to pin node keys",
                n.manifest.signer.fingerprint
            ));
        }
    }
    if let (Some(a), Some(b)) = (old.created_at(), new.created_at())
        && a > b
    {
        warnings.push(format!(
            "OLD ({}) was created after NEW ({}): were the two swapped?",
            old.manifest.created_at, new.manifest.created_at
        ));
    }

    let mut c = Collect {
        changes: Vec::new(),
    };

    // Rocket.Chat.
    let (old_rc, new_rc) = (old.rocketchat.as_ref(), new.rocketchat.as_ref());
    c.both(
        "rocketchat",
        "Rocket.Chat",
        "version",
        rc_version(old).as_ref(),
        rc_version(new).as_ref(),
    );
    type Summary = rcdiag_contract::rocketchat::SummaryFile;
    type Read = fn(&Summary) -> Option<Value>;
    let fields: [(&str, &str, Read); 4] = [
        ("deploy", "method", |s| jv(&s.deploy.as_ref()?.method)),
        ("deploy", "platform", |s| jv(&s.deploy.as_ref()?.platform)),
        ("instances", "live", |s| jv(&s.instances.as_ref()?.live)),
        ("instances", "total", |s| jv(&s.instances.as_ref()?.total)),
    ];
    for (item, f, read) in fields {
        let (o, n) = (old_rc.and_then(read), new_rc.and_then(read));
        c.both("rocketchat", item, f, o.as_ref(), n.as_ref());
    }

    // MongoDB.
    type Mongo = rcdiag_contract::mongodb::SummaryFile;
    type ReadMongo = fn(&Mongo) -> Option<Value>;
    let mongo_fields: [(&str, &str, ReadMongo); 3] = [
        ("MongoDB", "version", |s| jv(&s.version)),
        ("MongoDB", "storage_engine", |s| jv(&s.storage_engine)),
        ("replica set", "state", |s| {
            jv(&s.replica_set.as_ref()?.state)
        }),
    ];
    let (om, nm) = (old.mongodb_summary.as_ref(), new.mongodb_summary.as_ref());
    for (item, field, read) in mongo_fields {
        let (o, n) = (om.and_then(read), nm.and_then(read));
        c.both("mongodb", item, field, o.as_ref(), n.as_ref());
    }
    // The member count, when a replica set view was collected.
    let members = |n: &NodeData| {
        n.mongodb_summary
            .as_ref()
            .and_then(|s| s.replica_set.as_ref())
            .map(|r| Value::from(r.members.len()))
    };
    c.both(
        "mongodb",
        "replica set",
        "members",
        members(old).as_ref(),
        members(new).as_ref(),
    );

    // Containers.
    if old.docker_containers.is_some() && new.docker_containers.is_some() {
        let (oc, nc) = (containers(old), containers(new));
        let names: BTreeSet<&String> = oc.keys().chain(nc.keys()).collect();
        for name in names {
            match (oc.get(name), nc.get(name)) {
                (None, Some(n)) => {
                    c.push(
                        "containers",
                        name,
                        "",
                        None,
                        jv(&n.image).or(Some(Value::Null)),
                        None,
                    );
                }
                (Some(o), None) => {
                    c.push(
                        "containers",
                        name,
                        "",
                        jv(&o.image).or(Some(Value::Null)),
                        None,
                        None,
                    );
                }
                (Some(o), Some(n)) => {
                    let state = |c: &docker::Container| c.state.clone().unwrap_or_default();
                    let (os, ns) = (state(o), state(n));
                    let fields = [
                        ("image", jv(&o.image), jv(&n.image)),
                        ("image_id", jv(&o.image_id), jv(&n.image_id)),
                        ("restart_count", jv(&o.restart_count), jv(&n.restart_count)),
                        ("status", jv(&os.status), jv(&ns.status)),
                        ("health", jv(&os.health), jv(&ns.health)),
                        ("oom_killed", jv(&os.oom_killed), jv(&ns.oom_killed)),
                    ];
                    for (field, ov, nv) in fields {
                        // The image id matters only when the image reference is the same.
                        if field == "image_id" && o.image != n.image {
                            continue;
                        }
                        c.both("containers", name, field, ov.as_ref(), nv.as_ref());
                    }
                }
                (None, None) => {}
            }
        }
    }

    // Settings (allow-listed only: that is all a bundle holds).
    if let (Some(o), Some(n)) = (&old.rc_settings, &new.rc_settings) {
        let (o, n) = (&o.0, &n.0);
        let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
        for k in keys {
            c.push(
                "settings",
                k,
                "",
                o.get(k).cloned(),
                n.get(k).cloned(),
                None,
            );
        }
    }

    // Users.
    let fields: [(&str, Read); 4] = [
        ("total", |s| jv(&s.users.as_ref()?.total)),
        ("active_humans", |s| jv(&s.users.as_ref()?.active_humans)),
        ("online", |s| jv(&s.users.as_ref()?.online)),
        ("concurrent", |s| jv(&s.users.as_ref()?.concurrent)),
    ];
    for (f, read) in fields {
        let (o, n) = (old_rc.and_then(read), new_rc.and_then(read));
        c.both("users", "users", f, o.as_ref(), n.as_ref());
    }

    // Disks.
    if old.host.is_some() && new.host.is_some() {
        let (od, nd) = (disks(old), disks(new));
        let mounts: BTreeSet<&String> = od.keys().chain(nd.keys()).collect();
        for m in mounts {
            let pct = |(used, total): (f64, f64)| round1(used * 100.0 / total);
            match (od.get(m), nd.get(m)) {
                (Some(&o), Some(&n)) => {
                    if (pct(o) - pct(n)).abs() >= DISK_PERCENT_STEP {
                        c.push(
                            "disks",
                            m,
                            "used_percent",
                            Some(Value::from(pct(o))),
                            Some(Value::from(pct(n))),
                            Some(format!("{} -> {} used", gib(o.0), gib(n.0))),
                        );
                    }
                    if o.1 != n.1 {
                        c.push(
                            "disks",
                            m,
                            "total_bytes",
                            Some(Value::from(o.1 as u64)),
                            Some(Value::from(n.1 as u64)),
                            None,
                        );
                    }
                }
                (o, n) => c.push(
                    "disks",
                    m,
                    "used_percent",
                    o.map(|&d| Value::from(pct(d))),
                    n.map(|&d| Value::from(pct(d))),
                    None,
                ),
            }
        }
    }

    // Host and Docker engine.
    let host_fields = |n: &NodeData| {
        let h = n.host.as_ref();
        let os = h.and_then(|h| h.os.as_ref());
        [
            ("os", os.and_then(|o| jv(&o.version))),
            ("kernel", os.and_then(|o| jv(&o.kernel))),
            (
                "logical_cores",
                h.and_then(|h| jv(&h.cpu.as_ref()?.logical_cores)),
            ),
            (
                "memory_total_bytes",
                h.and_then(|h| jv(&h.memory.as_ref()?.total_bytes)),
            ),
        ]
    };
    for ((field, o), (_, n)) in host_fields(old).into_iter().zip(host_fields(new)) {
        c.both("host", "host", field, o.as_ref(), n.as_ref());
    }
    c.both(
        "docker",
        "engine",
        "version",
        old.docker_info
            .as_ref()
            .and_then(|i| jv(&i.server_version))
            .as_ref(),
        new.docker_info
            .as_ref()
            .and_then(|i| jv(&i.server_version))
            .as_ref(),
    );

    // Log signatures newly seen (counts include hits beyond the kept examples).
    let sigs: BTreeSet<&String> = old
        .log_match_counts
        .keys()
        .chain(new.log_match_counts.keys())
        .collect();
    for sig in sigs {
        let o = old.log_match_counts.get(sig).copied().unwrap_or(0);
        let n = new.log_match_counts.get(sig).copied().unwrap_or(0);
        if o == n {
            continue;
        }
        let example = new
            .log_matches
            .iter()
            .find(|m| &m.signature == sig)
            .map(|m| format!("{}:{}: {}", m.file, m.line_no, m.line));
        let (ov, nv) = (
            (o > 0).then(|| Value::from(o)),
            (n > 0).then(|| Value::from(n)),
        );
        c.push("logs", sig, "hits", ov, nv, example);
    }

    DiffReport {
        schema: DIFF_SCHEMA_ID.to_string(),
        old: side(old_file, old),
        new: side(new_file, new),
        warnings,
        changes: c.changes,
    }
}

fn gib(bytes: f64) -> String {
    format!("{:.1} GiB", bytes / f64::from(1u32 << 30))
}

/// Settings whose value is a number of bytes (Rocket.Chat's allow-listed settings).
const SIZE_SETTINGS: &[&str] = &["FileUpload_MaxFileSize"];

/// Whether a change's values are byte counts: a size setting, or a `*_bytes` field.
fn is_size(ch: &Change) -> bool {
    (ch.area == "settings" && SIZE_SETTINGS.contains(&ch.item.as_str()))
        || ch.field.ends_with("_bytes")
}

/// A byte count as a size (`200.0 MiB`); other values (`-1`, text) as they are.
fn show_as(ch: &Change, v: &Option<Value>) -> String {
    match v.as_ref().and_then(bytes_of) {
        Some(n) if is_size(ch) => crate::explore::human_size(n),
        _ => show(v),
    }
}

/// A byte count: a non-negative integer, or a string of one (settings may be either).
fn bytes_of(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())
}

/// ` (+100.0 MiB)` between two byte counts; empty unless both are.
fn size_delta(old: Option<&Value>, new: Option<&Value>) -> String {
    match (old.and_then(bytes_of), new.and_then(bytes_of)) {
        (Some(a), Some(b)) if b >= a => format!(" (+{})", crate::explore::human_size(b - a)),
        (Some(a), Some(b)) => format!(" (-{})", crate::explore::human_size(a - b)),
        _ => String::new(),
    }
}

fn show(v: &Option<Value>) -> String {
    match v {
        None => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

impl DiffReport {
    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_string());
        s.push('\n');
        crate::report::json_escape_controls(&s)
    }

    /// Text for a terminal: a header, warnings, changes by area, a count.
    pub fn render_text(&self) -> String {
        let cl = |s: &str| sanitize_line(s);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "old: {}  {}  created {}  ({})",
            cl(&self.old.node),
            cl(&self.old.bundle_id),
            cl(&self.old.created_at),
            cl(&self.old.file)
        );
        let _ = writeln!(
            out,
            "new: {}  {}  created {}  ({})",
            cl(&self.new.node),
            cl(&self.new.bundle_id),
            cl(&self.new.created_at),
            cl(&self.new.file)
        );
        for w in &self.warnings {
            let _ = writeln!(out, "warning: {}", cl(w));
        }
        let mut area = "";
        for ch in &self.changes {
            if ch.area != area {
                area = &ch.area;
                let _ = writeln!(out, "\n{}:", cl(area));
            }
            let what = if ch.field.is_empty() {
                cl(&ch.item)
            } else {
                format!("{} {}", cl(&ch.item), cl(&ch.field))
            };
            let line = match ch.kind {
                ChangeKind::Added if ch.area == "logs" => {
                    format!("  + {what}: {} (not seen in OLD)", show(&ch.new))
                }
                ChangeKind::Removed if ch.area == "logs" => {
                    format!("  - {what}: no longer seen (was {})", show(&ch.old))
                }
                ChangeKind::Added => format!("  + {what}: {}", cl(&show_as(ch, &ch.new))),
                ChangeKind::Removed => format!("  - {what}: {}", cl(&show_as(ch, &ch.old))),
                ChangeKind::Changed if is_size(ch) => {
                    format!(
                        "  ~ {what}: {} -> {}{}",
                        cl(&show_as(ch, &ch.old)),
                        cl(&show_as(ch, &ch.new)),
                        size_delta(ch.old.as_ref(), ch.new.as_ref())
                    )
                }
                ChangeKind::Changed => {
                    let delta = match (
                        ch.old.as_ref().and_then(Value::as_f64),
                        ch.new.as_ref().and_then(Value::as_f64),
                    ) {
                        (Some(a), Some(b)) if ch.field != "version" => {
                            let d = b - a;
                            if d.fract() == 0.0 {
                                format!(" ({d:+})")
                            } else {
                                format!(" ({d:+.1})")
                            }
                        }
                        _ => String::new(),
                    };
                    format!(
                        "  ~ {what}: {} -> {}{delta}",
                        cl(&show(&ch.old)),
                        cl(&show(&ch.new))
                    )
                }
            };
            let _ = writeln!(out, "{line}");
            if let Some(note) = &ch.note {
                let _ = writeln!(out, "      {}", cl(note));
            }
        }
        if self.changes.is_empty() {
            let _ = writeln!(out, "\nno differences found");
        } else {
            let _ = writeln!(out, "\n{} change(s)", self.changes.len());
        }
        out
    }
}

#[cfg(test)]
mod tests;
