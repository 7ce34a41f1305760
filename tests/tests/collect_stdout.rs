//! `rcdiag-agent collect -o -`: the encrypted bundle on stdout (for `kubectl exec POD --
//! rcdiag-agent collect -o - > node.rcdiag`), the summary on stderr, nothing left on
//! disk; refused with `--no-encrypt` and `--upload`. The cluster is kube-replay
//! (`scripts/kube-replay.py`), so the bundle holds pods and pod logs.

use std::process::{Command, Stdio};

use rcdiag_e2e::{bin, files_in, require_peer, support_key};

#[test]
fn the_encrypted_bundle_goes_to_stdout_and_nothing_stays_on_disk() {
    let Some(kc) = require_peer("RCDIAG_TEST_KUBECONFIG_REPLAY") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = support_key(dir.path());
    let work = dir.path().join("work");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let out_path = dir.path().join("node.rcdiag");
    let out = Command::new(bin("rcdiag-agent"))
        .current_dir(&work)
        .env("TMPDIR", &tmp)
        .args([
            "collect",
            "-r",
            &recipient,
            "-o",
            "-",
            "--only",
            "kubernetes",
        ])
        .args(["--config", "/dev/null", "--kubeconfig", &kc])
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .stdout(Stdio::from(std::fs::File::create(&out_path).unwrap()))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("collector")
            && stderr.contains("kubernetes")
            && stderr.contains("output:     stdout"),
        "the summary is on stderr: {stderr}"
    );
    let bytes = std::fs::read(&out_path).unwrap();
    assert!(
        bytes.starts_with(b"age-encryption.org/v1\n"),
        "an age file on stdout ({} bytes)",
        bytes.len()
    );
    assert!(files_in(&work).is_empty(), "{:?}", files_in(&work));
    assert!(files_in(&tmp).is_empty(), "{:?}", files_in(&tmp));
    let mut b = rcdiag_bundle::Bundle::open(
        &out_path,
        &rcdiag_bundle::OpenOptions {
            identities: &rcdiag_bundle::Identity::load_file(&key).unwrap(),
            ..Default::default()
        },
    )
    .unwrap();
    b.verify_contents().unwrap();
    let pods: serde_json::Value = b.read_json("kubernetes/pods.json").unwrap();
    assert!(!pods["pods"].as_array().unwrap().is_empty(), "{pods}");
    let index: serde_json::Value = b.read_json("logs/index.json").unwrap();
    assert!(
        index
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "kubernetes" && e["file"].is_string()),
        "{index}"
    );
}

#[test]
fn stdout_output_is_refused_for_plain_bundles_and_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let (_key, recipient) = support_key(dir.path());
    for extra in [
        &["--no-encrypt"][..],
        &["-r", &recipient, "--upload", "https://127.0.0.1:9/x?sig=1"][..],
    ] {
        let out = Command::new(bin("rcdiag-agent"))
            .current_dir(dir.path())
            .args([
                "collect",
                "-o",
                "-",
                "--only",
                "host",
                "--config",
                "/dev/null",
            ])
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains("-o -"), "{stderr}");
        assert!(out.stdout.is_empty(), "nothing on stdout");
    }
}
