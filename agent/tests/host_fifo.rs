//! A `/proc`-like root (`RCDIAG_HOST_PROC`) whose files are FIFOs must not block the
//! host collector: every file under it is opened non-blocking and read only when it is
//! a regular file, so the collector finishes at once and no thread or fd is left waiting.

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn fifos_under_a_proc_root_neither_block_nor_hide_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let proc = tmp.path().join("proc");
    let p = proc.join("4242");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::create_dir_all(proc.join("1")).unwrap();
    std::fs::write(
        p.join("cmdline"),
        b"mongod\0--tlsCertificateKeyFilePassword\0Fifo-Test-Pw9\0--port\x0027017\0",
    )
    .unwrap();
    // A second "process" whose every file is a FIFO nobody writes to.
    let q = proc.join("4343");
    std::fs::create_dir_all(&q).unwrap();
    for (dir, name) in [
        (&p, "comm"),
        (&p, "environ"),
        (&p, "cgroup"),
        (&q, "cmdline"),
        (&q, "comm"),
        (&proc.join("1"), "comm"),
        (&proc.join("1"), "cmdline"),
    ] {
        let st = Command::new("mkfifo").arg(dir.join(name)).status().unwrap();
        assert!(st.success(), "mkfifo");
    }
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rcdiag-agent"))
        .args([
            "collect",
            "--no-encrypt",
            "--only",
            "host",
            "-q",
            "--timeout",
            "20s",
        ])
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .arg("-o")
        .arg(&out_dir)
        .env("RCDIAG_HOST_PROC", &proc)
        .output()
        .unwrap();
    let took = t0.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(10), "took {took:?}: {text}");
    assert!(matches!(out.status.code(), Some(0) | Some(3)), "{text}");
    assert!(
        !text.contains("timeout"),
        "the host collector did not time out: {text}"
    );
    let bundle = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".rcdiag.zip"))
        .expect("a bundle");
    let mut b =
        rcdiag_bundle::Bundle::open(&bundle, &rcdiag_bundle::OpenOptions::default()).unwrap();
    let host = String::from_utf8(b.read_bytes("host/host.json", 8 << 20).unwrap()).unwrap();
    assert!(
        host.contains("\"pid\": 4242"),
        "the regular process is still listed: {host}"
    );
    assert!(!host.contains("Fifo-Test-Pw9"), "and redacted");
}
