//! Remarks about a set of bundles as a whole.

use super::*;

#[test]
fn cluster_notes_flag_different_deployments_and_duplicates() {
    let a = healthy("a", "n1");
    let mut b = healthy("b", "n2");
    b.edit_json("rocketchat/summary.json", |doc| {
        doc["unique_id"] = json!("ws-2");
    });
    let notes = cluster_notes(&[a.clone(), b]);
    assert!(
        notes.iter().any(|n| n.contains("different deployments")
            && n.contains("ws-1")
            && n.contains("ws-2")),
        "{notes:?}"
    );
    let mut dup = a.clone();
    dup.label = "a2".into();
    let notes = cluster_notes(&[a.clone(), dup]);
    assert!(notes.iter().any(|n| n.contains("same node")), "{notes:?}");
    assert!(cluster_notes(&[a, healthy("c", "n3")]).is_empty());
}
