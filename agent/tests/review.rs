//! The customer's review flow through the `rcdiag-agent` binary: `collect --no-encrypt`,
//! `redact` (more rules, re-signed, recorded in the manifest) and `seal` (encrypted to
//! support byte for byte: the signature still verifies, stock `age` decrypts it to the
//! very plain bundle, the header says it was sealed after review).

use std::path::{Path, PathBuf};
use std::process::Command;

use rcdiag_bundle::{Bundle, Identity, OpenOptions};

fn agent(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rcdiag-agent"))
        .args(args)
        .output()
        .expect("run rcdiag-agent")
}

fn ok(out: &std::process::Output, what: &str) -> PathBuf {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .expect("the path is the last line of stdout")
            .trim(),
    )
}

/// A signed plain host-only bundle of this machine.
fn plain_bundle(dir: &Path) -> PathBuf {
    let state = dir.join("state");
    let out = agent(&[
        "collect",
        "--no-encrypt",
        "--only",
        "host",
        "-q",
        "--state-dir",
        state.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    ok(&out, "collect")
}

fn text_of(path: &Path, ids: &[Identity]) -> (Bundle, String) {
    let mut b = Bundle::open(
        path,
        &OpenOptions {
            identities: ids,
            ..OpenOptions::default()
        },
    )
    .expect("open");
    let names: Vec<String> = b.entries().iter().map(|e| e.path.clone()).collect();
    let mut all = String::new();
    for n in names {
        all.push_str(&String::from_utf8_lossy(
            &b.read_bytes(&n, 64 << 20).expect("read"),
        ));
    }
    (b, all)
}

#[test]
fn redact_removes_more_re_signs_and_records_it() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = plain_bundle(tmp.path());
    let (b0, text0) = text_of(&plain, &[]);
    // Something the bundle surely holds: the kernel's name, from host/host.json.
    let literal = "Linux";
    assert!(text0.contains(literal), "the host file names the kernel");
    let outdir = tmp.path().join("redone");
    std::fs::create_dir(&outdir).unwrap();
    let state = tmp.path().join("state");
    let out = agent(&[
        "redact",
        plain.to_str().unwrap(),
        "--literal",
        literal,
        "--pattern",
        "[0-9]+ bytes",
        "--state-dir",
        state.to_str().unwrap(),
        "-o",
        outdir.to_str().unwrap(),
    ]);
    let redone = ok(&out, "redact");
    assert!(String::from_utf8_lossy(&out.stderr).contains("literal-1"));
    let (b1, text1) = text_of(&redone, &[]);
    assert!(!text1.contains(literal), "the literal is gone");
    assert!(text1.contains("***REDACTED:literal-1***"));
    let rr = &b1.manifest().redaction.re_redactions;
    assert_eq!(rr.len(), 1, "{rr:?}");
    assert!(rr[0].rules.get("literal-1").copied().unwrap_or(0) >= 1);
    assert_eq!(rr[0].from_bundle_id, b0.manifest().bundle_id);
    assert_eq!(b1.manifest().collectors, b0.manifest().collectors);
    assert_eq!(
        b1.manifest().redaction.rules,
        b0.manifest().redaction.rules,
        "the first redaction's counts are kept"
    );
    // Without any rule it refuses and says what to give.
    let out = agent(&["redact", plain.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--literal"));
}

#[test]
fn seal_encrypts_the_plain_bundle_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = plain_bundle(tmp.path());
    let plain_bytes = std::fs::read(&plain).unwrap();
    let key = rcdiag_bundle::generate_support_key();
    let idfile = tmp.path().join("support.key");
    std::fs::write(&idfile, &key.identity_file).unwrap();
    let outdir = tmp.path().join("sealed");
    std::fs::create_dir(&outdir).unwrap();
    let out = agent(&[
        "seal",
        plain.to_str().unwrap(),
        "-r",
        &key.recipient,
        "-o",
        outdir.to_str().unwrap(),
        "--remove-plain",
    ]);
    let sealed = ok(&out, "seal");
    assert!(sealed.to_string_lossy().ends_with(".rcdiag"), "{sealed:?}");
    assert!(!plain.exists(), "--remove-plain removed the plain copy");
    assert!(rcdiag_bundle::is_sealed(&sealed), "the header says sealed");
    let ids = Identity::load_file(&idfile).unwrap();
    let (b, _) = text_of(&sealed, &ids);
    assert!(b.is_encrypted());
    // Stock age decrypts it to the very bytes of the plain bundle.
    let dec = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&idfile)
        .arg(&sealed)
        .output()
        .expect("run age (apt-get install age)");
    assert!(
        dec.status.success(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    assert_eq!(dec.stdout, plain_bytes, "sealing changed nothing inside");
    // A bundle that is already encrypted is refused with what to give instead.
    let again = agent(&["seal", sealed.to_str().unwrap(), "-r", &key.recipient]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already encrypted"));
    assert!(!rcdiag_bundle::is_sealed(&idfile));
}

#[test]
fn pseudonymized_bundles_hold_stable_tokens_and_lookup_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let host = rcdiag_bundle::hostname();
    let mut tokens = Vec::new();
    for i in 0..2 {
        let out_dir = tmp.path().join(format!("out{i}"));
        std::fs::create_dir(&out_dir).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_rcdiag-agent"))
            .args(["collect", "--no-encrypt", "--only", "host", "-q"])
            .args(["--pseudonymize", "hostnames,ips"])
            .arg("--state-dir")
            .arg(&state)
            .arg("-o")
            .arg(&out_dir)
            .env_remove("RCDIAG_NODE_NAME")
            .output()
            .unwrap();
        let path = ok(&out, "collect --pseudonymize");
        assert!(
            !path.file_name().unwrap().to_string_lossy().contains(&host),
            "the file name does not carry the host name: {path:?}"
        );
        let (b, text) = text_of(&path, &[]);
        let token = b.manifest().node.hostname.clone();
        assert!(token.starts_with("host-"), "{token}");
        assert!(
            !text.contains(&format!("\"{host}\"")),
            "host name left in the files"
        );
        assert!(text.contains(&token), "the token is used in the files too");
        assert!(
            b.manifest()
                .redaction
                .rules
                .get("pseudonym-hostname")
                .copied()
                .unwrap_or(0)
                >= 1,
            "{:?}",
            b.manifest().redaction.rules
        );
        tokens.push(token);
    }
    assert_eq!(
        tokens[0], tokens[1],
        "the same token in every bundle of the node"
    );
    let look = agent(&[
        "pseudonyms",
        "lookup",
        &tokens[0],
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert!(look.status.success());
    assert_eq!(String::from_utf8_lossy(&look.stdout).trim(), host);
    let miss = agent(&[
        "pseudonyms",
        "lookup",
        "host-0000",
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_eq!(miss.status.code(), Some(1));
    // The map never enters a bundle: it is only in the state dir, mode 0600.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(state.join("pseudonyms.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
