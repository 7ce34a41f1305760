//! Hostile and damaged bundles: every one must be rejected with a typed error, never a
//! panic, and a zip bomb must fail fast from the central directory.

mod util;

use rand::{Rng, SeedableRng};
use rcdiag_bundle::{Encryption, Error, NodeKey};
use util::*;

fn reject(data: Vec<u8>, ids: &[rcdiag_bundle::Identity]) -> Error {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| open_bytes(data, ids))) {
        Ok(Ok(_)) => panic!("a damaged bundle was accepted"),
        Ok(Err(e)) => e,
        Err(_) => panic!("the reader panicked"),
    }
}

fn bundles() -> (tempfile::TempDir, Vec<(String, Vec<u8>)>, SupportKey) {
    let dir = tempfile::tempdir().unwrap();
    let sk = support_key(dir.path());
    let node = NodeKey::generate();
    let files = sample_files();
    let d1 = dir.path().join("enc");
    let d2 = dir.path().join("plain");
    std::fs::create_dir(&d1).unwrap();
    std::fs::create_dir(&d2).unwrap();
    let enc = std::fs::read(write_bundle(&d1, age_to(&sk.recipient), &node, &files)).unwrap();
    let plain = std::fs::read(write_bundle(&d2, Encryption::None, &node, &files)).unwrap();
    (
        dir,
        vec![("encrypted".into(), enc), ("plain".into(), plain)],
        sk,
    )
}

#[test]
fn a_flipped_byte_anywhere_is_rejected() {
    // Every byte of an encrypted bundle is authenticated (age header MAC, payload AEAD):
    // a single flipped byte anywhere is always rejected.
    let (_dir, variants, sk) = bundles();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let (_, data) = &variants[0];
    open_bytes(data.clone(), &sk.identities).unwrap();
    for _ in 0..200 {
        let pos = rng.gen_range(0..data.len());
        let mut bad = data.clone();
        bad[pos] ^= 1u8 << rng.gen_range(0..8);
        reject(bad, &sk.identities);
    }
}

#[test]
fn a_flipped_byte_in_the_plain_variant_never_changes_what_is_read() {
    // The signed-plain zip has bytes no check covers (timestamps, attributes in the zip
    // headers). A flip there may be accepted, but then everything read is unchanged;
    // a flip in any content, name, size or the manifest is rejected.
    let (_dir, variants, sk) = bundles();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let (_, data) = &variants[1];
    let mut good = open_bytes(data.clone(), &[]).unwrap();
    let reference: Vec<(String, Vec<u8>)> = good
        .entries()
        .to_vec()
        .iter()
        .map(|f| (f.path.clone(), good.read_bytes(&f.path, 1 << 30).unwrap()))
        .collect();
    let manifest = good.manifest_bytes().to_vec();
    let mut rejected = 0;
    for _ in 0..200 {
        let pos = rng.gen_range(0..data.len());
        let mut bad = data.clone();
        bad[pos] ^= 1u8 << rng.gen_range(0..8);
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            open_bytes(bad, &sk.identities)
        }))
        .expect("the reader panicked");
        match res {
            Err(_) => rejected += 1,
            Ok(mut b) => {
                assert_eq!(
                    b.manifest_bytes(),
                    &manifest[..],
                    "flip at {pos} changed the manifest"
                );
                for (p, d) in &reference {
                    assert_eq!(
                        &b.read_bytes(p, 1 << 30).unwrap(),
                        d,
                        "flip at {pos} changed {p}"
                    );
                }
            }
        }
    }
    assert!(rejected > 150, "only {rejected} of 200 flips rejected");
}

#[test]
fn truncation_at_random_lengths_is_rejected() {
    let (_dir, variants, sk) = bundles();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for (_, data) in variants {
        let mut lens: Vec<usize> = (0..60).map(|_| rng.gen_range(0..data.len())).collect();
        lens.extend([0, 1, 10, data.len() - 1, data.len() - 22]);
        for len in lens {
            reject(data[..len].to_vec(), &sk.identities);
        }
    }
}

#[test]
fn the_empty_and_foreign_files_say_what_they_are() {
    assert!(matches!(reject(Vec::new(), &[]), Error::Truncated(_)));
    assert!(matches!(
        reject(b"hello world".to_vec(), &[]),
        Error::NotABundle { .. }
    ));
    // A zip that is not a bundle.
    let z = zip_of(&[("readme.txt", b"hi")]);
    assert!(matches!(reject(z, &[]), Error::NotABundle { .. }));
}

#[test]
fn zip_slip_names_are_refused() {
    let key = NodeKey::generate();
    for name in [
        "../../etc/cron.d/x",
        "/etc/passwd",
        "a/../../b",
        "dir\\..\\x",
    ] {
        let err = reject(crafted(&key, &[(name, b"x")], &[]), &[]);
        assert!(
            matches!(err, Error::UnsafeEntryName { .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_duplicate_entry_is_refused() {
    let key = NodeKey::generate();
    // Two entries a.txt and b.txt, then rename b.txt to a.txt in place (headers and central directory).
    let mut z = crafted(
        &key,
        &[("a.txt", b"one"), ("b.txt", b"two")],
        &[("a.txt", b"one"), ("b.txt", b"two")],
    );
    let mut i = 0;
    while let Some(p) = z[i..].windows(5).position(|w| w == b"b.txt") {
        z[i + p] = b'a';
        i += p + 5;
    }
    let err = reject(z, &[]);
    assert!(
        matches!(err, Error::UnsafeEntryName { ref reason, .. } if reason.contains("duplicate")),
        "{err}"
    );
}

#[test]
fn an_extra_a_missing_and_a_changed_file_are_refused() {
    let key = NodeKey::generate();
    let err = reject(
        crafted(
            &key,
            &[("a.txt", b"one"), ("extra.txt", b"sneaky")],
            &[("a.txt", b"one")],
        ),
        &[],
    );
    assert!(
        matches!(err, Error::UnlistedFile { ref path } if path == "extra.txt"),
        "{err}"
    );
    let err = reject(
        crafted(
            &key,
            &[("a.txt", b"one")],
            &[("a.txt", b"one"), ("gone.txt", b"x")],
        ),
        &[],
    );
    assert!(
        matches!(err, Error::MissingFile { ref path } if path == "gone.txt"),
        "{err}"
    );
    let err = reject(
        crafted(&key, &[("a.txt", b"ONE")], &[("a.txt", b"one")]),
        &[],
    );
    assert!(
        matches!(err, Error::HashMismatch { ref path } if path == "a.txt"),
        "{err}"
    );
    assert!(err.to_string().contains("a.txt"));
    let err = reject(
        crafted(&key, &[("a.txt", b"one!")], &[("a.txt", b"one")]),
        &[],
    );
    assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
}

#[test]
fn a_tampered_manifest_or_foreign_signature_is_refused() {
    let key = NodeKey::generate();
    let (m, s) = signed_manifest(&key, &[("a.txt", b"one")], |_| {});
    let mut m2 = m.clone();
    let pos = m2.windows(5).position(|w| w == b"node1").unwrap();
    m2[pos + 4] = b'2';
    let err = reject(
        zip_of(&[
            ("a.txt", b"one"),
            ("manifest.json", &m2),
            ("manifest.json.sig", &s),
        ]),
        &[],
    );
    assert!(matches!(err, Error::SignatureInvalid(_)), "{err}");
    // Signed by another key than the manifest names.
    let other = NodeKey::generate();
    let s2 = other.sign("rcdiag-bundle", &m).unwrap();
    let err = reject(
        zip_of(&[
            ("a.txt", b"one"),
            ("manifest.json", &m),
            ("manifest.json.sig", s2.as_bytes()),
        ]),
        &[],
    );
    assert!(matches!(err, Error::SignatureInvalid(_)), "{err}");
    // Right key, wrong namespace.
    let s3 = key.sign("git", &m).unwrap();
    let err = reject(
        zip_of(&[
            ("a.txt", b"one"),
            ("manifest.json", &m),
            ("manifest.json.sig", s3.as_bytes()),
        ]),
        &[],
    );
    assert!(matches!(err, Error::SignatureInvalid(_)), "{err}");
    // No signature.
    let err = reject(zip_of(&[("a.txt", b"one"), ("manifest.json", &m)]), &[]);
    assert!(matches!(err, Error::SignatureInvalid(_)), "{err}");
}

#[test]
fn a_newer_format_is_refused_naming_both_versions_and_unknown_fields_are_ignored() {
    let key = NodeKey::generate();
    let (m, s) = signed_manifest(&key, &[], |m| m.format_version = 2);
    let err = reject(
        zip_of(&[("manifest.json", &m), ("manifest.json.sig", &s)]),
        &[],
    );
    assert!(
        matches!(
            err,
            Error::NewerVersion {
                found: 2,
                supported: 1
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains('2') && err.to_string().contains('1'));
    // Unknown fields (a minor addition) are ignored.
    let (m, _) = signed_manifest(&key, &[("a.txt", b"one")], |_| {});
    let mut v: serde_json::Value = serde_json::from_slice(&m).unwrap();
    v["future_field"] = serde_json::json!({"x": 1});
    v["files"][0]["future"] = serde_json::json!(true);
    let m = serde_json::to_vec_pretty(&v).unwrap();
    let s = key.sign("rcdiag-bundle", &m).unwrap();
    open_bytes(
        zip_of(&[
            ("a.txt", b"one"),
            ("manifest.json", &m),
            ("manifest.json.sig", s.as_bytes()),
        ]),
        &[],
    )
    .unwrap();
}

#[test]
fn a_symlink_entry_is_refused() {
    let key = NodeKey::generate();
    let (m, s) = signed_manifest(&key, &[], |_| {});
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zw.add_symlink(
        "link",
        "/etc/passwd",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    let opts = zip::write::SimpleFileOptions::default();
    zw.start_file("manifest.json", opts).unwrap();
    std::io::Write::write_all(&mut zw, &m).unwrap();
    zw.start_file("manifest.json.sig", opts).unwrap();
    std::io::Write::write_all(&mut zw, &s).unwrap();
    let z = zw.finish().unwrap().into_inner();
    let err = reject(z, &[]);
    assert!(
        matches!(err, Error::UnsafeEntryName { ref reason, .. } if reason.contains("symbolic")),
        "{err}"
    );
}

#[test]
fn a_one_gib_zero_bomb_fails_fast() {
    use std::io::Write;
    let key = NodeKey::generate();
    // 1 GiB of zeros, deflated (about 1 MiB), listed honestly in a signed manifest.
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .large_file(true);
    zw.start_file("logs/bomb.log", opts).unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    for _ in 0..1024 {
        zw.write_all(&zeros).unwrap();
        sha2::Digest::update(&mut hasher, &zeros);
    }
    let (m, s) = signed_manifest(&key, &[], |m| {
        m.files.push(rcdiag_bundle::FileRecord {
            path: "logs/bomb.log".into(),
            size: 1 << 30,
            sha256: hex::encode(sha2::Digest::finalize(hasher)),
            truncated: false,
        })
    });
    zw.start_file("manifest.json", zip::write::SimpleFileOptions::default())
        .unwrap();
    zw.write_all(&m).unwrap();
    zw.start_file(
        "manifest.json.sig",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zw.write_all(&s).unwrap();
    let z = zw.finish().unwrap().into_inner();
    assert!(z.len() < 4 << 20, "the bomb is small: {}", z.len());
    let t = std::time::Instant::now();
    let err = reject(z.clone(), &[]);
    assert!(matches!(err, Error::LimitExceeded(_)), "{err}");
    assert!(
        err.to_string().contains("bomb") || err.to_string().contains("limit"),
        "{err}"
    );
    // It failed from the central directory, without inflating a GiB.
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    // Same with a tighter size limit and a ratio limit high enough to let it through the ratio check.
    let limits = rcdiag_bundle::Limits {
        max_ratio: 100_000,
        max_entry_size: 512 << 20,
        ..Default::default()
    };
    let err = rcdiag_bundle::Bundle::from_reader(
        Box::new(std::io::Cursor::new(z)),
        &rcdiag_bundle::OpenOptions {
            limits,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::LimitExceeded(ref m) if m.contains("uncompressed")),
        "{err}"
    );
}

#[test]
fn too_many_entries_are_refused() {
    let key = NodeKey::generate();
    let names: Vec<String> = (0..50).map(|i| format!("f{i}")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let z = crafted(&key, &files, &files);
    let limits = rcdiag_bundle::Limits {
        max_entries: 20,
        ..Default::default()
    };
    let err = rcdiag_bundle::Bundle::from_reader(
        Box::new(std::io::Cursor::new(z)),
        &rcdiag_bundle::OpenOptions {
            limits,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::LimitExceeded(_)), "{err}");
}

#[test]
fn a_changed_file_is_caught_by_verify_contents_after_a_lazy_open() {
    // skip_content_check defers hashing to reads; verify_contents then checks every file
    // not yet read to the end, so a change in a file nobody read is still caught.
    let key = NodeKey::generate();
    let z = crafted(
        &key,
        &[("read.txt", b"fine"), ("unread.txt", b"CHANGED")],
        &[("read.txt", b"fine"), ("unread.txt", b"changed")],
    );
    let mut b = rcdiag_bundle::Bundle::from_reader(
        Box::new(std::io::Cursor::new(z)),
        &rcdiag_bundle::OpenOptions {
            skip_content_check: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(b.read_bytes("read.txt", 100).unwrap(), b"fine");
    let err = b.verify_contents().unwrap_err();
    assert!(
        matches!(err, Error::HashMismatch { ref path } if path == "unread.txt"),
        "{err}"
    );
}

#[test]
fn an_age_header_past_its_limits_is_refused_before_parsing() {
    // 300 stanzas (past 256), and one stanza line past 64 KiB.
    let mut many = String::from("age-encryption.org/v1\n");
    for _ in 0..300 {
        many.push_str("-> X25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
    }
    many.push_str("--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
    let err = reject(many.into_bytes(), &[]);
    assert!(
        matches!(err, Error::LimitExceeded(ref m) if m.contains("256 recipient stanzas")),
        "{err}"
    );
    let mut long = b"age-encryption.org/v1\n-> X25519 ".to_vec();
    long.extend(std::iter::repeat_n(b'A', 65 << 10));
    let err = reject(long, &[]);
    assert!(
        matches!(err, Error::LimitExceeded(ref m) if m.contains("65536 bytes")),
        "{err}"
    );
    // Within the limits, the header goes on to the age parser as before.
    let err = reject(b"age-encryption.org/v1\n-> X25519 AAAA\n".to_vec(), &[]);
    assert!(!matches!(err, Error::LimitExceeded(_)), "{err}");
}

#[test]
fn a_local_name_other_than_the_central_directory_is_a_zip_inconsistency() {
    let key = NodeKey::generate();
    let mut z = crafted(&key, &[("a.txt", b"one")], &[("a.txt", b"one")]);
    // The first local header's name (at offset 30) becomes b.txt; the central
    // directory still says a.txt.
    assert_eq!(&z[30..35], b"a.txt");
    z[30] = b'b';
    let err = reject(z, &[]);
    assert!(
        matches!(err, Error::ZipInconsistent { ref entry, .. } if entry == "a.txt"),
        "{err}"
    );
    assert!(err.to_string().contains("would not agree"), "{err}");
}

#[test]
fn an_entry_inflating_past_its_record_is_entry_too_large_not_an_age_failure() {
    use std::io::Write;
    let key = NodeKey::generate();
    let dir = tempfile::tempdir().unwrap();
    let sk = support_key(dir.path());
    let (m, s) = signed_manifest(&key, &[("a.txt", b"one")], |_| {});
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zw.start_file("a.txt", opts).unwrap();
    zw.write_all(b"one and more").unwrap();
    zw.start_file("manifest.json", opts).unwrap();
    zw.write_all(&m).unwrap();
    zw.start_file("manifest.json.sig", opts).unwrap();
    zw.write_all(&s).unwrap();
    let mut z = zw.finish().unwrap().into_inner();
    // Declare 3 bytes uncompressed in both headers of a.txt (it inflates to 12).
    z[22..26].copy_from_slice(&3u32.to_le_bytes());
    let cd = z.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    z[cd + 24..cd + 28].copy_from_slice(&3u32.to_le_bytes());
    let err = reject(z.clone(), &[]);
    assert!(
        matches!(err, Error::EntryTooLarge { ref path } if path == "a.txt"),
        "{err}"
    );
    assert!(
        err.to_string().contains("altered after it was signed"),
        "{err}"
    );
    // Encrypted, the same zip says the same: the age layer was intact.
    let enc = {
        let r: age::x25519::Recipient = sk.recipient.parse().unwrap();
        let e =
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
        let mut out = Vec::new();
        let mut w = e.wrap_output(&mut out).unwrap();
        w.write_all(&z).unwrap();
        w.finish().unwrap();
        out
    };
    let err = reject(enc, &sk.identities);
    assert!(matches!(err, Error::EntryTooLarge { .. }), "{err}");
    assert!(!err.to_string().contains("authentication"), "{err}");
}

#[test]
fn the_writer_refuses_a_host_name_past_the_limit_and_cuts_long_errors() {
    let dir = tempfile::tempdir().unwrap();
    let key = NodeKey::generate();
    let mut o = options(dir.path(), Encryption::None, &key);
    o.node.hostname = "h".repeat(256);
    let Err(err) = rcdiag_bundle::BundleWriter::create(o) else {
        panic!("a 256-byte host name was accepted")
    };
    assert!(
        err.to_string().contains("node.hostname is 256 bytes"),
        "{err}"
    );
    let mut w =
        rcdiag_bundle::BundleWriter::create(options(dir.path(), Encryption::None, &key)).unwrap();
    w.record_collector(rcdiag_bundle::CollectorRecord {
        name: "logs".into(),
        status: rcdiag_bundle::CollectorStatus::Failed,
        started_at: "2026-11-26T05:00:00Z".into(),
        duration_ms: 1,
        error: Some("é".repeat(10_000)),
        files: vec![],
    });
    let done = w.finish().unwrap();
    let e = done.manifest.collectors[0].error.clone().unwrap();
    assert!(
        e.len() <= 16_384 && e.ends_with("[cut, 20000 bytes]"),
        "{}",
        e.len()
    );
    // And the reader accepts what the writer wrote.
    open_bytes(std::fs::read(&done.path).unwrap(), &[]).unwrap();
}

#[test]
fn a_changed_encrypted_payload_still_says_it_failed_authentication() {
    // The age layer's own failures keep their message (only they do).
    let (_dir, variants, sk) = bundles();
    let (_, data) = &variants[0];
    let mut saw = 0;
    for at in [data.len() / 3, data.len() / 2, data.len() * 2 / 3] {
        let mut bad = data.clone();
        bad[at] ^= 0x40;
        let err = reject(bad, &sk.identities);
        if err.to_string().contains("failed authentication") {
            saw += 1;
        }
        assert!(
            matches!(err, Error::Corrupt(_) | Error::Truncated(_)),
            "flip at {at}: {err}"
        );
    }
    assert!(
        saw >= 2,
        "the age layer's failures were not reported as such"
    );
}
