//! Remarks about a set of bundles as a whole (different deployments, the same node
//! twice, different replica sets, far-apart collection times), shown beside the checks.

use crate::model::NodeData;

/// Remarks about the set of bundles as a whole (e.g. bundles of different deployments).
pub fn cluster_notes(nodes: &[NodeData]) -> Vec<String> {
    let mut notes = Vec::new();
    // Different workspaces.
    let mut ids: Vec<(String, &str)> = Vec::new();
    for n in nodes {
        let id = n
            .rocketchat
            .as_ref()
            .and_then(|r| r.unique_id.as_deref())
            .or_else(|| {
                n.rc_statistics
                    .as_ref()
                    .and_then(|s| s.unique_id.as_deref())
            });
        if let Some(id) = id.filter(|s| !s.is_empty()) {
            ids.push((id.to_string(), &n.label));
        }
    }
    if let Some((first, first_label)) = ids.first()
        && let Some((other, other_label)) = ids.iter().find(|(i, _)| i != first)
    {
        notes.push(format!(
            "bundles look like different deployments: uniqueId {first} ({first_label}) vs {other} ({other_label}); analyze each deployment's bundles separately"
        ));
    }
    // Same node twice.
    for (i, a) in nodes.iter().enumerate() {
        for b in &nodes[i + 1..] {
            let same_machine = matches!((&a.manifest.node.machine_id_hash, &b.manifest.node.machine_id_hash), (Some(x), Some(y)) if x == y);
            let same_key = a.manifest.signer.fingerprint == b.manifest.signer.fingerprint
                && !a.manifest.signer.fingerprint.is_empty();
            if same_machine || same_key {
                notes.push(format!(
                    "{} and {} come from the same node ({}): it is counted once where instances are counted",
                    a.label,
                    b.label,
                    if same_machine { "same machine id" } else { "same signing key" }
                ));
            }
        }
    }
    // Replica sets.
    let mut sets: Vec<(String, &str)> = Vec::new();
    for n in nodes {
        if let Some(s) = n
            .mongodb_summary
            .as_ref()
            .and_then(|s| s.replica_set.as_ref())
            .and_then(|r| r.set_name.as_deref())
            && !s.is_empty()
        {
            sets.push((s.to_string(), &n.label));
        }
    }
    if let Some((first, fl)) = sets.first()
        && let Some((other, ol)) = sets.iter().find(|(s, _)| s != first)
    {
        notes.push(format!(
            "bundles see different MongoDB replica sets: {first} ({fl}) vs {other} ({ol})"
        ));
    }
    // Collection times far apart.
    let times: Vec<jiff::Timestamp> = nodes.iter().filter_map(NodeData::created_at).collect();
    if let (Some(min), Some(max)) = (times.iter().min(), times.iter().max()) {
        let hours = max.as_second().saturating_sub(min.as_second()) / 3600;
        if hours >= 24 {
            notes.push(format!(
                "bundles were created {hours} hours apart: versions, instances and clocks may have changed in between"
            ));
        }
    }
    notes
}
