//! The published JSON Schema of the manifest must match the types. Regenerate with
//! `RCDIAG_UPDATE_SCHEMA=1 cargo test -p rcdiag-bundle --test schema`.

use std::path::Path;

#[test]
fn manifest_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/manifest.schema.json");
    let fresh = rcdiag_bundle::manifest_schema_json();
    if std::env::var("RCDIAG_UPDATE_SCHEMA").as_deref() == Ok("1") {
        // Atomically, so a test reading it meanwhile never sees a half-written file.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, &fresh).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == fresh,
        "{} is stale: regenerate it with RCDIAG_UPDATE_SCHEMA=1 cargo test -p rcdiag-bundle --test schema",
        path.display()
    );
    // The schema names the fields a reader relies on.
    let v: serde_json::Value = serde_json::from_str(&fresh).unwrap();
    let required: Vec<&str> = v["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    for f in [
        "format",
        "format_version",
        "bundle_id",
        "created_at",
        "signer",
    ] {
        assert!(required.contains(&f), "{f} must be required");
    }
}
