//! One process of any user must not make a node's bundles unreadable: a process named
//! `mongod` with a 1.8 MB command line (a Java-style classpath) is recorded cut to the
//! field limit, and the analyzer opens and checks the bundle (before, `host.json`
//! became so compressible that the analyzer refused it as a compression bomb).

use std::process::Command;

use rcdiag_e2e::bin;

#[test]
fn a_huge_command_line_is_cut_and_the_analyzer_opens_the_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let proc = tmp.path().join("proc");
    let pid = proc.join("31337");
    std::fs::create_dir_all(&pid).unwrap();
    std::fs::create_dir_all(proc.join("1")).unwrap();
    std::fs::write(proc.join("1/cmdline"), b"init\0").unwrap();
    let mut argv = b"mongod\0-cp\0".to_vec();
    let classpath: String = (0..60_000)
        .map(|i| format!("/opt/app/lib/dep-{i}.jar:"))
        .collect::<String>();
    assert!(classpath.len() > 1_500_000);
    argv.extend_from_slice(classpath.as_bytes());
    argv.push(0);
    std::fs::write(pid.join("cmdline"), &argv).unwrap();
    std::fs::write(pid.join("comm"), b"mongod\n").unwrap();
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let key = rcdiag_bundle::generate_support_key();
    let idfile = tmp.path().join("support.key");
    std::fs::write(&idfile, &key.identity_file).unwrap();
    let collect = Command::new(bin("rcdiag-agent"))
        .args([
            "collect",
            "--only",
            "host",
            "-q",
            "--config",
            "/dev/null",
            "-r",
            &key.recipient,
        ])
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .arg("-o")
        .arg(&out_dir)
        .env("RCDIAG_HOST_PROC", &proc)
        .output()
        .unwrap();
    assert!(
        matches!(collect.status.code(), Some(0) | Some(3)),
        "{}",
        String::from_utf8_lossy(&collect.stderr)
    );
    let bundle = String::from_utf8_lossy(&collect.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    let ids = rcdiag_bundle::Identity::load_file(&idfile).unwrap();
    let mut b = rcdiag_bundle::Bundle::open(
        std::path::Path::new(&bundle),
        &rcdiag_bundle::OpenOptions {
            identities: &ids,
            ..Default::default()
        },
    )
    .unwrap();
    let host = String::from_utf8(b.read_bytes("host/host.json", 8 << 20).unwrap()).unwrap();
    assert!(host.contains("\"pid\": 31337"), "the process is listed");
    assert!(host.contains("[cut by rcdiag: "), "its command line is cut");
    assert!(
        host.len() < 64 << 10,
        "host.json stays small: {} bytes",
        host.len()
    );
    let check = Command::new(bin("rcdiag-analyzer"))
        .args(["check", &bundle, "--format", "json", "-i"])
        .arg(&idfile)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(!text.contains("UNREADABLE"), "{text}");
    let v: serde_json::Value = serde_json::from_slice(&check.stdout).expect("a JSON report");
    assert!(v.is_object(), "{v}");
}
