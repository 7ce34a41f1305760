//! Interop with standard tools: Debian's `age` decrypts our bundles and `unzip -t`
//! accepts the inner zip; `ssh-keygen -Y verify` accepts our signatures; and a bundle
//! made only with `zip`, `ssh-keygen -Y sign` and `age`, following SPEC.md, is accepted
//! by our reader. Missing tools fail under RCDIAG_REQUIRE_PEERS=1.

mod util;

use std::path::Path;
use std::process::{Command, Stdio};

use rcdiag_bundle::{
    Bundle, Encryption, Identity, NodeKey, OpenOptions, TrustStatus, TrustedSigners,
};
use util::*;

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn age_cli_decrypts_our_bundle_and_unzip_accepts_it() {
    let (Some(age), Some(unzip)) = (require_tool("age"), require_tool("unzip")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sk = support_key(dir.path());
    let node = NodeKey::generate();
    let files = sample_files();
    for armor in [false, true] {
        let out = dir.path().join(format!("b{armor}.rcdiag"));
        let enc = Encryption::Age {
            recipients: vec![rcdiag_bundle::Recipient::parse(&sk.recipient).unwrap()],
            armor,
        };
        let mut w = rcdiag_bundle::BundleWriter::create(options(&out, enc, &node)).unwrap();
        for (n, d) in &files {
            w.add_bytes(n, d).unwrap();
        }
        w.finish().unwrap();
        let zip = dir.path().join(format!("b{armor}.zip"));
        run(Command::new(&age)
            .arg("-d")
            .arg("-i")
            .arg(&sk.file)
            .arg("-o")
            .arg(&zip)
            .arg(&out));
        let t = run(Command::new(&unzip).arg("-t").arg(&zip));
        let text = String::from_utf8_lossy(&t.stdout);
        assert!(text.contains("No errors detected"), "{text}");
        for (n, _) in &files {
            assert!(text.contains(n), "{n} missing in unzip -t output:\n{text}");
        }
        let x = dir.path().join(format!("x{armor}"));
        run(Command::new(&unzip).arg("-q").arg(&zip).arg("-d").arg(&x));
        for (n, d) in &files {
            assert_eq!(&std::fs::read(x.join(n)).unwrap(), d);
        }
    }
}

#[test]
fn ssh_keygen_verifies_our_signature() {
    let (Some(keygen), Some(unzip)) = (require_tool("ssh-keygen"), require_tool("unzip")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let node = NodeKey::load_or_create(&state).unwrap();
    let path = write_bundle(dir.path(), Encryption::None, &node, &sample_files());
    let x = dir.path().join("x");
    run(Command::new(&unzip).arg("-q").arg(&path).arg("-d").arg(&x));
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(&allowed, format!("node1 {}\n", node.public_key_openssh())).unwrap();
    let verify = |manifest: &Path| {
        Command::new(&keygen)
            .args(["-Y", "verify", "-f"])
            .arg(&allowed)
            .args(["-I", "node1", "-n", "rcdiag-bundle", "-s"])
            .arg(x.join("manifest.json.sig"))
            .stdin(std::fs::File::open(manifest).unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    let ok = verify(&x.join("manifest.json"));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Good \"rcdiag-bundle\" signature"));
    // And it fails on a changed manifest (the check can fail).
    let changed = dir.path().join("changed.json");
    let mut m = std::fs::read(x.join("manifest.json")).unwrap();
    m.push(b' ');
    std::fs::write(&changed, m).unwrap();
    assert!(!verify(&changed).status.success());
}

#[test]
fn a_bundle_made_with_standard_tools_is_accepted() {
    let (Some(zip), Some(keygen), Some(age), Some(sha)) = (
        require_tool("zip"),
        require_tool("ssh-keygen"),
        require_tool("age"),
        require_tool("sha256sum"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(work.join("host")).unwrap();
    std::fs::write(work.join("host/host.json"), b"{\"hostname\":\"byhand\"}\n").unwrap();
    std::fs::write(
        work.join("notes.txt"),
        b"made with zip, ssh-keygen and age\n",
    )
    .unwrap();
    // The node key, made by ssh-keygen.
    let key = dir.path().join("node_ed25519");
    run(Command::new(&keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(&key));
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let public = public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let fp = String::from_utf8(
        run(Command::new(&keygen)
            .arg("-lf")
            .arg(key.with_extension("pub")))
        .stdout,
    )
    .unwrap();
    let fp = fp.split_whitespace().nth(1).unwrap().to_string();
    // Hashes and sizes, as a person following SPEC.md would get them.
    let mut files = Vec::new();
    for rel in ["host/host.json", "notes.txt"] {
        let out = run(Command::new(&sha).arg(work.join(rel)));
        let hash = String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let size = std::fs::metadata(work.join(rel)).unwrap().len();
        files.push(format!(
            r#"{{"path": "{rel}", "size": {size}, "sha256": "{hash}"}}"#
        ));
    }
    let manifest = format!(
        r#"{{
  "format": "rcdiag-bundle",
  "format_version": 1,
  "bundle_id": "0192f3a0-1234-7abc-8def-0123456789ab",
  "created_at": "2026-11-26T05:00:00Z",
  "agent": {{"name": "by-hand", "version": "1"}},
  "node": {{"hostname": "byhand"}},
  "files": [{}],
  "signer": {{"algorithm": "sshsig-ed25519", "public_key": "{public}", "fingerprint": "{fp}"}}
}}
"#,
        files.join(", ")
    );
    std::fs::write(work.join("manifest.json"), &manifest).unwrap();
    run(Command::new(&keygen)
        .args(["-Y", "sign", "-n", "rcdiag-bundle", "-f"])
        .arg(&key)
        .arg(work.join("manifest.json")));
    let zipped = dir.path().join("byhand.rcdiag.zip");
    run(Command::new(&zip)
        .current_dir(&work)
        .args(["-q", "-X", "-D", "-r"])
        .arg(&zipped)
        .args(["."]));
    // Plain variant.
    let trust = TrustedSigners::parse(&format!("byhand {public}\n"), "t").unwrap();
    let opts = |ids: &'static [Identity]| OpenOptions {
        identities: ids,
        trusted: Some(&trust),
        require_trusted: true,
        ..Default::default()
    };
    let mut b = Bundle::open(&zipped, &opts(&[])).unwrap();
    assert_eq!(b.manifest().node.hostname, "byhand");
    assert!(matches!(b.trust(), TrustStatus::Trusted { .. }));
    assert_eq!(
        b.read_bytes("notes.txt", 100).unwrap(),
        b"made with zip, ssh-keygen and age\n"
    );
    // Encrypted with the age CLI, binary and armored, to an age key and to an SSH key.
    let sk = support_key(dir.path());
    let ssh_id = dir.path().join("id_support");
    run(Command::new(&keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&ssh_id));
    let ids: &'static [Identity] = Box::leak(
        sk.identities
            .into_iter()
            .chain(Identity::load_file(&ssh_id).unwrap())
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    for (n, args) in [
        ("age", vec!["-r".to_string(), sk.recipient.clone()]),
        (
            "armor",
            vec!["-a".to_string(), "-r".to_string(), sk.recipient.clone()],
        ),
        (
            "ssh",
            vec![
                "-R".to_string(),
                ssh_id.with_extension("pub").display().to_string(),
            ],
        ),
    ] {
        let out = dir.path().join(format!("byhand-{n}.rcdiag"));
        run(Command::new(&age)
            .args(&args)
            .arg("-o")
            .arg(&out)
            .arg(&zipped));
        let mut b = Bundle::open(&out, &opts(ids)).unwrap();
        assert!(b.is_encrypted());
        let v: serde_json::Value = b.read_json("host/host.json").unwrap();
        assert_eq!(v["hostname"], "byhand", "{n}");
    }
}
