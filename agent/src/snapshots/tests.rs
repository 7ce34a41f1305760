//! Unit tests of the snapshots folder: names, the ledger, retention, the list.

use super::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

fn entry(file_time: &str, bytes: u64, degraded: bool) -> SnapshotEntry {
    let file = format!("rcdiag-node-{file_time}.rcdiag");
    let created = parse_bundle_name(&file).expect("test name parses").time;
    SnapshotEntry {
        file,
        bytes,
        created_at: created.to_string(),
        started_at: String::new(),
        finished_at: created.to_string(),
        bundle_id: String::new(),
        encrypted: true,
        degraded,
        duration_ms: 0,
        collectors: Vec::new(),
        upload: None,
    }
}

fn kept(d: &[Decision]) -> Vec<String> {
    d.iter()
        .filter(|d| d.delete.is_none())
        .map(|d| d.file[12..28].to_string())
        .collect()
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

#[test]
fn names_parse_and_others_do_not() {
    let n = parse_bundle_name("rcdiag-rc-node-1-20260102T030405Z-CASE-42.rcdiag").expect("parses");
    assert_eq!(n.host, "rc-node-1");
    assert_eq!(n.case.as_deref(), Some("CASE-42"));
    assert!(n.encrypted);
    assert_eq!(n.time, ts("2026-01-02T03:04:05Z"));
    let n = parse_bundle_name("rcdiag-vm-20261126T055031Z.rcdiag.zip").expect("parses");
    assert_eq!((n.host.as_str(), n.case, n.encrypted), ("vm", None, false));
    for bad in [
        "rcdiag-vm-20261126T055031Z.rcdiag.tmp",
        ".rcdiag-abc.tmp",
        "status.json",
        "rcdiag-vm-20261326T055031Z.rcdiag",
        "rcdiag-20261126T055031Z.rcdiag",
        "xrcdiag-vm-20261126T055031Z.rcdiag",
        "rcdiag-vm-20261126T055031Z.rcdiag.zip.bak",
    ] {
        assert!(parse_bundle_name(bad).is_none(), "{bad} must not parse");
    }
}

#[test]
fn keep_by_count_age_and_size() {
    let e = vec![
        entry("20260101T000000Z", 100, false),
        entry("20260102T000000Z", 100, false),
        entry("20260103T000000Z", 100, false),
        entry("20260104T000000Z", 100, false),
    ];
    let now = ts("2026-01-04T12:00:00Z");
    let r = Retention {
        keep: Some(2),
        ..Retention::default()
    };
    assert_eq!(
        kept(&plan_retention(&e, &r, now)),
        ["20260104T000000Z", "20260103T000000Z"]
    );
    let r = Retention {
        max_age: Some(Duration::from_secs(2 * 86400)),
        ..Retention::default()
    };
    assert_eq!(
        kept(&plan_retention(&e, &r, now)),
        ["20260104T000000Z", "20260103T000000Z"]
    );
    let r = Retention {
        max_total: Some(350),
        ..Retention::default()
    };
    assert_eq!(
        kept(&plan_retention(&e, &r, now)),
        ["20260104T000000Z", "20260103T000000Z", "20260102T000000Z"]
    );
    let r = Retention {
        keep: Some(3),
        max_total: Some(250),
        ..Retention::default()
    };
    assert_eq!(
        kept(&plan_retention(&e, &r, now)),
        ["20260104T000000Z", "20260103T000000Z"]
    );
    assert_eq!(
        kept(&plan_retention(&e, &Retention::default(), now)).len(),
        4
    );
}

#[test]
fn once_over_the_size_budget_older_ones_go_too() {
    let e = vec![
        entry("20260101T000000Z", 10, false),
        entry("20260102T000000Z", 500, false),
        entry("20260103T000000Z", 100, false),
    ];
    let r = Retention {
        max_total: Some(300),
        ..Retention::default()
    };
    let d = plan_retention(&e, &r, ts("2026-01-04T00:00:00Z"));
    assert_eq!(kept(&d), ["20260103T000000Z"]);
}

#[test]
fn the_newest_good_snapshot_is_never_deleted() {
    let e = vec![
        entry("20260101T000000Z", 100, false),
        entry("20260102T000000Z", 100, true),
        entry("20260103T000000Z", 100, true),
    ];
    let now = ts("2026-01-03T00:00:01Z");
    let d = plan_retention(
        &e,
        &Retention {
            keep: Some(1),
            ..Retention::default()
        },
        now,
    );
    assert_eq!(kept(&d), ["20260103T000000Z", "20260101T000000Z"]);
    assert!(d.iter().any(|d| d.protected && d.file.contains("20260101")));
    // Too old and over the budget: still kept.
    let r = Retention {
        max_age: Some(Duration::from_secs(1)),
        max_total: Some(1),
        keep: Some(0),
        hold_unuploaded: false,
    };
    assert_eq!(kept(&plan_retention(&e, &r, now)), ["20260101T000000Z"]);
    // No good one at all: the newest is kept.
    let bad = vec![
        entry("20260101T000000Z", 100, true),
        entry("20260102T000000Z", 100, true),
    ];
    assert_eq!(kept(&plan_retention(&bad, &r, now)), ["20260102T000000Z"]);
}

#[test]
fn snapshots_not_uploaded_are_held_until_max_total() {
    let pending = |t: &str| {
        let mut e = entry(t, 100, false);
        e.upload = Some(UploadState {
            pending: true,
            ..UploadState::default()
        });
        e
    };
    let mut done = entry("20260104T000000Z", 100, false);
    done.upload = Some(UploadState::default());
    let e = vec![
        pending("20260101T000000Z"),
        entry("20260102T000000Z", 100, false),
        pending("20260103T000000Z"),
        done,
    ];
    let now = ts("2026-01-04T12:00:00Z");
    let mut r = Retention {
        keep: Some(1),
        max_age: Some(Duration::from_secs(3600)),
        hold_unuploaded: true,
        ..Retention::default()
    };
    // --keep and --max-age would keep only the newest: the two pending ones stay too.
    assert_eq!(
        kept(&plan_retention(&e, &r, now)),
        ["20260104T000000Z", "20260103T000000Z", "20260101T000000Z"]
    );
    // Without --upload they go.
    r.hold_unuploaded = false;
    assert_eq!(kept(&plan_retention(&e, &r, now)), ["20260104T000000Z"]);
    // --max-total still forces them out, and says they were never uploaded.
    r.hold_unuploaded = true;
    r.max_total = Some(250);
    let d = plan_retention(&e, &r, now);
    assert_eq!(kept(&d), ["20260104T000000Z", "20260103T000000Z"]);
    let gone = d.iter().find(|d| d.file.contains("20260101")).unwrap();
    assert!(
        gone.delete
            .as_deref()
            .is_some_and(|r| r.contains("never uploaded")),
        "{gone:?}"
    );
}

#[test]
fn retention_deletes_only_ledger_files_that_are_still_ours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut ledger = Ledger::default();
    for (t, body) in [
        ("20260101T000000Z", "aaaa"),
        ("20260102T000000Z", "bbbb"),
        ("20260103T000000Z", "cccc"),
    ] {
        let mut e = entry(t, 4, false);
        fs::write(d.join(&e.file), body).expect("write");
        e.bytes = 4;
        ledger.snapshots.push(e);
    }
    // Replaced by someone else (other size): must not be deleted.
    fs::write(d.join("rcdiag-node-20260101T000000Z.rcdiag"), "replaced!").expect("write");
    // Not in the ledger, same pattern: never deleted.
    fs::write(d.join("rcdiag-node-20250101T000000Z.rcdiag"), "x").expect("write");
    let r = Retention {
        keep: Some(1),
        ..Retention::default()
    };
    let res = apply_retention(d, &mut ledger, &r, ts("2026-01-04T00:00:00Z")).expect("retention");
    assert_eq!(
        res.deleted.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        ["rcdiag-node-20260102T000000Z.rcdiag"]
    );
    assert_eq!(res.released.len(), 1, "{res:?}");
    assert!(d.join("rcdiag-node-20260101T000000Z.rcdiag").exists());
    assert!(d.join("rcdiag-node-20250101T000000Z.rcdiag").exists());
    assert!(d.join("rcdiag-node-20260103T000000Z.rcdiag").exists());
    assert_eq!((res.kept, res.kept_bytes), (1, 4));
    let (again, w) = Ledger::load(d, true).expect("load");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(again.snapshots.len(), 1);
}

#[test]
fn a_corrupt_ledger_is_moved_aside_and_nothing_is_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join(LEDGER_FILE), "{not json").expect("write");
    let (l, w) = Ledger::load(dir.path(), false).expect("load");
    assert!(l.snapshots.is_empty() && w.len() == 1 && dir.path().join(LEDGER_FILE).exists());
    let (l, w) = Ledger::load(dir.path(), true).expect("load");
    assert!(l.snapshots.is_empty());
    assert!(w[0].contains("moved aside"), "{w:?}");
    assert!(!dir.path().join(LEDGER_FILE).exists());
    let aside = fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
    assert!(aside);
    // An entry naming a path outside the folder is dropped.
    let evil = r#"{"format":"rcdiag-snapshots/1","snapshots":[{"file":"../rcdiag-x-20260101T000000Z.rcdiag","bytes":1,"created_at":""}]}"#;
    fs::write(dir.path().join(LEDGER_FILE), evil).expect("write");
    let (l, w) = Ledger::load(dir.path(), true).expect("load");
    assert!(l.snapshots.is_empty() && w.len() == 1, "{w:?}");
}

#[test]
fn atomic_write_leaves_no_temp_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("status.json");
    write_atomic(&p, b"{}\n", 0o644).expect("write");
    write_atomic(&p, b"{\"a\":1}\n", 0o644).expect("write");
    assert_eq!(fs::read_to_string(&p).expect("read"), "{\"a\":1}\n");
    assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 1);
    assert_eq!(
        fs::metadata(&p).expect("stat").permissions().mode() & 0o777,
        0o644
    );
}
