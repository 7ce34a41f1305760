//! Round trips through writer and reader: every outer layer, every recipient kind,
//! the file naming, permissions, cleanup of unfinished writers, and typed access.

mod util;

use std::os::unix::fs::PermissionsExt;

use proptest::prelude::*;
use rcdiag_bundle::{
    Bundle, BundleWriter, CollectorRecord, CollectorStatus, Encryption, Error, Identity, NodeKey,
    OpenOptions, Recipient, TrustStatus, TrustedSigners,
};
use util::*;

fn open(path: &std::path::Path, ids: &[Identity]) -> rcdiag_bundle::Result<Bundle> {
    Bundle::open(
        path,
        &OpenOptions {
            identities: ids,
            ..Default::default()
        },
    )
}

fn assert_same_files(b: &mut Bundle, files: &[(&str, Vec<u8>)]) {
    assert_eq!(b.entries().len(), files.len());
    for (name, data) in files {
        assert_eq!(&b.read_bytes(name, 1 << 30).unwrap(), data, "{name}");
        assert_eq!(b.entry(name).unwrap().sha256, sha256_hex(data));
    }
}

#[test]
fn x25519_binary_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let sk = support_key(dir.path());
    let node = NodeKey::generate();
    let files = sample_files();
    let path = write_bundle(dir.path(), age_to(&sk.recipient), &node, &files);
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("rcdiag-node1-") && name.ends_with("Z.rcdiag"),
        "{name}"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let head = std::fs::read(&path).unwrap();
    assert!(head.starts_with(b"age-encryption.org/v1\n"));
    assert!(
        !head.windows(12).any(|w| w == b"\"hostname\":\""),
        "plaintext leaked into the file"
    );
    let mut b = open(&path, &sk.identities).unwrap();
    assert!(b.is_encrypted());
    assert_same_files(&mut b, &files);
    let m = b.manifest().clone();
    assert_eq!(m.format, "rcdiag-bundle");
    assert_eq!(m.format_version, 1);
    assert_eq!(m.signer.fingerprint, node.fingerprint());
    assert_eq!(
        uuid::Uuid::parse_str(&m.bundle_id)
            .unwrap()
            .get_version_num(),
        7
    );
    assert!(
        m.created_at.ends_with('Z') && m.created_at.parse::<jiff::Timestamp>().is_ok(),
        "{}",
        m.created_at
    );
    assert_eq!(*b.trust(), TrustStatus::NotChecked);
    // No temp file left beside it.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")),
        "{left:?}"
    );
}

#[test]
fn armored_and_plain_variants_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let sk = support_key(dir.path());
    let node = NodeKey::generate();
    let files = sample_files();
    let armored = dir.path().join("a.rcdiag");
    let enc = Encryption::Age {
        recipients: vec![Recipient::parse(&sk.recipient).unwrap()],
        armor: true,
    };
    let mut w = BundleWriter::create(options(&armored, enc, &node)).unwrap();
    for (n, d) in &files {
        w.add_bytes(n, d).unwrap();
    }
    w.finish().unwrap();
    assert!(
        std::fs::read_to_string(&armored)
            .unwrap()
            .starts_with("-----BEGIN AGE ENCRYPTED FILE-----")
    );
    assert_same_files(&mut open(&armored, &sk.identities).unwrap(), &files);

    let plain_dir = dir.path().join("p");
    std::fs::create_dir(&plain_dir).unwrap();
    let plain = write_bundle(&plain_dir, Encryption::None, &node, &files);
    assert!(plain.to_string_lossy().ends_with(".rcdiag.zip"));
    let mut b = open(&plain, &[]).unwrap();
    assert!(!b.is_encrypted());
    assert_same_files(&mut b, &files);
}

#[test]
fn ssh_recipients_work_for_ed25519_and_rsa() {
    let Some(keygen) = require_tool("ssh-keygen") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = NodeKey::generate();
    for (kind, bits) in [("ed25519", None), ("rsa", Some("2048"))] {
        let key = dir.path().join(format!("id_{kind}"));
        let mut cmd = std::process::Command::new(&keygen);
        cmd.args(["-q", "-t", kind, "-N", "", "-f"]).arg(&key);
        if let Some(b) = bits {
            cmd.args(["-b", b]);
        }
        assert!(cmd.status().unwrap().success());
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let recipient = Recipient::parse(&public).unwrap();
        let out = dir.path().join(format!("{kind}.rcdiag"));
        let mut w = BundleWriter::create(options(
            &out,
            Encryption::Age {
                recipients: vec![recipient.clone()],
                armor: false,
            },
            &node,
        ))
        .unwrap();
        w.add_bytes("x.txt", b"hello").unwrap();
        w.finish().unwrap();
        let ids = Identity::load_file(&key).unwrap();
        let mut b = open(&out, &ids).unwrap();
        assert_eq!(b.read_bytes("x.txt", 10).unwrap(), b"hello");
        // The wrong key names the recipient by its SSH fingerprint.
        let other = support_key(dir.path());
        match open(&out, &other.identities) {
            Err(Error::NoMatchingIdentity { recipients }) => {
                assert_eq!(recipients, vec![recipient.fingerprint()]);
                assert!(recipients[0].starts_with("SHA256:"));
            }
            other => panic!("expected NoMatchingIdentity, got {other:?}"),
        }
    }
}

#[test]
fn wrong_identity_names_every_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let a = support_key(dir.path());
    let b = support_key(dir.path());
    let c = support_key(dir.path());
    let node = NodeKey::generate();
    let enc = Encryption::Age {
        recipients: vec![
            Recipient::parse(&a.recipient).unwrap(),
            Recipient::parse(&b.recipient).unwrap(),
        ],
        armor: false,
    };
    let path = write_bundle(dir.path(), enc, &node, &sample_files());
    let err = open(&path, &c.identities).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NoMatchingIdentity { .. }));
    assert!(
        msg.contains(&a.recipient) && msg.contains(&b.recipient),
        "{msg}"
    );
    assert!(msg.contains("-i"), "the message says what to do: {msg}");
    // Either key opens it.
    open(&path, &b.identities).unwrap();
    let err = open(&path, &[]).unwrap_err();
    assert!(matches!(err, Error::NoMatchingIdentity { .. }), "{err}");
}

#[test]
fn dropping_an_unfinished_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeKey::generate();
    let sk = support_key(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    {
        let mut w = BundleWriter::create(options(&out, age_to(&sk.recipient), &node)).unwrap();
        w.add_bytes("a.txt", &log_text(5000)).unwrap();
        w.begin_file("b.txt").unwrap();
        w.write_chunk(b"partial").unwrap();
        assert_eq!(
            std::fs::read_dir(&out).unwrap().count(),
            1,
            "the temp file exists while writing"
        );
    }
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        0,
        "no output and no temp file after drop"
    );
    // Same after a panic while writing.
    let out2 = out.clone();
    let r = std::panic::catch_unwind(move || {
        let mut w =
            BundleWriter::create(options(&out2, Encryption::None, &NodeKey::generate())).unwrap();
        w.add_bytes("a.txt", b"x").unwrap();
        panic!("collector crashed");
    });
    assert!(r.is_err());
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

#[test]
fn writer_refuses_overwrite_bad_names_and_missing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeKey::generate();
    let existing = dir.path().join("x.rcdiag.zip");
    std::fs::write(&existing, b"keep me").unwrap();
    let err = BundleWriter::create(options(&existing, Encryption::None, &node))
        .err()
        .unwrap();
    assert!(err.to_string().contains("never overwrites"), "{err}");
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
    let err = BundleWriter::create(options(
        &dir.path().join("no/such/dir/x.rcdiag"),
        Encryption::None,
        &node,
    ))
    .err()
    .unwrap();
    assert!(err.to_string().contains("does not exist"), "{err}");
    let mut w = BundleWriter::create(options(
        &dir.path().join("y.rcdiag.zip"),
        Encryption::None,
        &node,
    ))
    .unwrap();
    for bad in ["../x", "/abs", "a\\b", "manifest.json", "manifest.json.sig"] {
        assert!(w.begin_file(bad).is_err(), "{bad}");
    }
    w.add_bytes("ok.txt", b"1").unwrap();
    assert!(w.add_bytes("ok.txt", b"2").is_err(), "duplicates refused");
    assert!(w.add_json("ok2.json", &serde_json::json!({"a": 1})).is_ok());
}

#[test]
fn open_entry_is_truncation_marked_and_collectors_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeKey::generate();
    let mut w = BundleWriter::create(options(dir.path(), Encryption::None, &node)).unwrap();
    w.begin_file("logs/a.log").unwrap();
    w.write_chunk(b"line1\n").unwrap();
    w.begin_file("logs/b.log").unwrap(); // closes a.log as truncated
    w.write_chunk(b"line2\n").unwrap();
    w.end_file(false).unwrap();
    w.record_collector(CollectorRecord {
        name: "logs".into(),
        status: CollectorStatus::Timeout,
        started_at: "2026-11-26T05:00:00.000Z".into(),
        duration_ms: 60000,
        error: Some("did not finish within 60s".into()),
        files: vec!["logs/a.log".into(), "logs/b.log".into()],
    });
    let path = w.finish().unwrap().path;
    let b = open(&path, &[]).unwrap();
    assert!(b.entry("logs/a.log").unwrap().truncated);
    assert!(!b.entry("logs/b.log").unwrap().truncated);
    assert_eq!(b.manifest().collectors[0].status, CollectorStatus::Timeout);
}

#[test]
fn trust_is_checked_against_allowed_signers() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeKey::generate();
    let path = write_bundle(dir.path(), Encryption::None, &node, &sample_files());
    let trusted = TrustedSigners::parse(
        &format!(
            "# support's pins\nnode1,node1.example {} comment\n",
            node.public_key_openssh()
        ),
        "t",
    )
    .unwrap();
    let b = Bundle::open(
        &path,
        &OpenOptions {
            trusted: Some(&trusted),
            require_trusted: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        *b.trust(),
        TrustStatus::Trusted {
            principals: vec!["node1".into(), "node1.example".into()]
        }
    );
    let other = TrustedSigners::parse(
        &format!("node2 {}\n", NodeKey::generate().public_key_openssh()),
        "t",
    )
    .unwrap();
    let err = Bundle::open(
        &path,
        &OpenOptions {
            trusted: Some(&other),
            require_trusted: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::SignerUntrusted { ref fingerprint } if *fingerprint == node.fingerprint()),
        "{err}"
    );
    let b = Bundle::open(
        &path,
        &OpenOptions {
            trusted: Some(&other),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(*b.trust(), TrustStatus::Untrusted);
    // A namespaces option that excludes rcdiag-bundle does not count.
    let ns = TrustedSigners::parse(
        &format!("node1 namespaces=\"git\" {}\n", node.public_key_openssh()),
        "t",
    )
    .unwrap();
    assert!(ns.is_empty());
    assert!(TrustedSigners::parse("just-garbage\n", "t").is_err());
}

#[test]
fn node_key_is_created_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let k1 = NodeKey::load_or_create(&state).unwrap();
    let k2 = NodeKey::load_or_create(&state).unwrap();
    assert_eq!(k1.fingerprint(), k2.fingerprint());
    let key = state.join("node_ed25519");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    assert!(
        std::fs::read_to_string(key.with_extension("pub"))
            .unwrap()
            .starts_with("ssh-ed25519 ")
    );
}

#[test]
fn reader_streams_large_entries_from_inside_the_encrypted_file() {
    let dir = tempfile::tempdir().unwrap();
    let sk = support_key(dir.path());
    let node = NodeKey::generate();
    let big = log_text(200_000); // ~40 MiB
    let mut w = BundleWriter::create(options(dir.path(), age_to(&sk.recipient), &node)).unwrap();
    w.add_reader("logs/big.log", std::io::Cursor::new(&big))
        .unwrap();
    w.add_bytes("small.json", b"{\"a\":1}").unwrap();
    let done = w.finish().unwrap();
    assert!(
        done.size < big.len() as u64 / 4,
        "compressed: {} of {}",
        done.size,
        big.len()
    );
    let mut b = open(&done.path, &sk.identities).unwrap();
    let v: serde_json::Value = b.read_json("small.json").unwrap();
    assert_eq!(v["a"], 1);
    let mut r = b.open_entry("logs/big.log").unwrap();
    let mut n = 0u64;
    let mut buf = [0u8; 8192];
    loop {
        let k = std::io::Read::read(&mut r, &mut buf).unwrap();
        if k == 0 {
            break;
        }
        n += k as u64;
    }
    assert_eq!(n, big.len() as u64);
    drop(r);
    assert!(matches!(
        b.read_bytes("logs/big.log", 1024),
        Err(Error::LimitExceeded(_))
    ));
    assert!(matches!(
        b.read_bytes("nope", 1024),
        Err(Error::NoSuchEntry(_))
    ));
}

#[test]
fn extract_writes_verified_files_only_into_an_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeKey::generate();
    let files = sample_files();
    let path = write_bundle(dir.path(), Encryption::None, &node, &files);
    let mut b = open(&path, &[]).unwrap();
    let out = dir.path().join("x");
    let written = b.extract_to(&out).unwrap();
    assert_eq!(written.len(), files.len() + 2);
    for (n, d) in &files {
        assert_eq!(&std::fs::read(out.join(n)).unwrap(), d);
    }
    assert!(b.extract_to(&out).is_err(), "refuses a non-empty folder");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]
    #[test]
    fn random_entry_sets_round_trip(
        entries in proptest::collection::btree_map("[a-z]{1,8}(/[a-z0-9_-][a-z0-9_.-]{0,7}){0,2}", proptest::collection::vec(any::<u8>(), 0..4096), 0..12),
        encrypt in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let node = NodeKey::generate();
        let sk = support_key(dir.path());
        // A name may not be both a file and a folder of another file.
        let names: Vec<&String> = entries.keys().collect();
        let clash = names.iter().any(|a| names.iter().any(|b| b.starts_with(&format!("{a}/"))));
        prop_assume!(!clash);
        let files: Vec<(&str, Vec<u8>)> = entries.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let enc = if encrypt { age_to(&sk.recipient) } else { Encryption::None };
        let path = write_bundle(dir.path(), enc, &node, &files);
        let mut b = open(&path, &sk.identities).unwrap();
        prop_assert_eq!(b.entries().len(), files.len());
        for (n, d) in &files {
            prop_assert_eq!(&b.read_bytes(n, 1 << 20).unwrap(), d);
        }
    }
}
