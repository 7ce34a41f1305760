//! The published JSON Schemas in `contract/schema/` must match the types. Regenerate
//! with `RCDIAG_UPDATE_SCHEMA=1 cargo test -p rcdiag-contract --test schema`.

use std::path::Path;

#[test]
fn schemas_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
    let update = std::env::var("RCDIAG_UPDATE_SCHEMA").as_deref() == Ok("1");
    let schemas = rcdiag_contract::schemas();
    let mut stale = Vec::new();
    for (name, bundle_path, fresh) in &schemas {
        let path = dir.join(name);
        if update {
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, fresh).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        if &published != fresh {
            stale.push(format!("{} ({bundle_path})", path.display()));
        }
        // Every schema describes its file's top level and names its fields.
        let v: serde_json::Value = serde_json::from_str(fresh).unwrap();
        assert!(v.get("title").is_some(), "{name} has no title");
    }
    assert!(
        stale.is_empty(),
        "stale schemas: {stale:?}: regenerate them with RCDIAG_UPDATE_SCHEMA=1 cargo test -p rcdiag-contract --test schema"
    );
    // No stray schema file: every file in the folder is one the types publish.
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            schemas.iter().any(|(n, _, _)| *n == name),
            "{name} in contract/schema/ is not published by any type: remove it"
        );
    }
    // The host schema names the fields the analyzer's hardware checks read.
    let host = &schemas
        .iter()
        .find(|(n, _, _)| *n == "host.schema.json")
        .unwrap()
        .2;
    for f in [
        "logical_cores",
        "total_bytes",
        "mount_point",
        "synchronized",
    ] {
        assert!(host.contains(&format!("\"{f}\"")), "host schema lacks {f}");
    }
}
