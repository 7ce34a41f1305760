//! `rcdiag-agent upload` to presigned URLs made by the S3 API peer of `scripts/test-env`
//! (moto's server over HTTPS with a test CA, see scripts/README.md "The S3 peer"): the
//! link signs `x-amz-checksum-sha256`, the object read back through the S3 API is
//! byte-identical, and the link's signature never appears in the agent's output.

mod common;

use std::process::{Command, Output};

use common::{age_file, require_peer, sha256_hex};

struct S3 {
    endpoint: String,
    ca: String,
    bucket: String,
    key_id: String,
    secret: String,
    helper: Vec<String>,
}

fn peer() -> Option<S3> {
    Some(S3 {
        endpoint: require_peer("RCDIAG_TEST_S3_ENDPOINT")?,
        ca: require_peer("RCDIAG_TEST_S3_CA")?,
        bucket: require_peer("RCDIAG_TEST_S3_BUCKET")?,
        key_id: require_peer("RCDIAG_TEST_S3_ACCESS_KEY_ID")?,
        secret: require_peer("RCDIAG_TEST_S3_SECRET_ACCESS_KEY")?,
        helper: require_peer("RCDIAG_TEST_S3_HELPER")?
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    })
}

impl S3 {
    /// Runs `scripts/s3-peer.py CMD --key KEY EXTRA...` and returns its stdout.
    fn helper(&self, cmd: &str, key: &str, extra: &[&str]) -> String {
        let out = Command::new(&self.helper[0])
            .args(&self.helper[1..])
            .args([cmd, "--endpoint", &self.endpoint, "--ca", &self.ca])
            .args(["--bucket", &self.bucket, "--key", key])
            .args(extra)
            .env("AWS_ACCESS_KEY_ID", &self.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .output()
            .expect("run scripts/s3-peer.py");
        assert!(
            out.status.success(),
            "s3-peer.py {cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

fn agent(args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rcdiag-agent"));
    c.args(args).env("RCDIAG_UPLOAD_BACKOFF", "10ms");
    for v in [
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        c.env_remove(v);
    }
    c.output().expect("run rcdiag-agent")
}

#[test]
fn presigned_put_from_the_s3_peer_is_byte_identical() {
    let Some(s3) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "node1.rcdiag", 700 * 1024 + 3);
    let local = std::fs::read(&f).unwrap();
    let sha = sha256_hex(&local);
    let key = format!("case-{}/node1.rcdiag", uuid::Uuid::now_v7().simple());
    let url = s3.helper("presign-put", &key, &["--sha256-hex", &sha]);
    assert!(
        url.contains("x-amz-checksum-sha256"),
        "the presigned link signs the checksum header: {}",
        url.split('?').next().unwrap_or("")
    );
    let out = agent(&[
        "upload",
        f.to_str().unwrap(),
        "--to",
        &url,
        "--ca-file",
        &s3.ca,
    ]);
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{o}{e}");
    for s in [&o, &e] {
        assert!(
            !s.contains("X-Amz-Signature") && !s.contains("X-Amz-Credential"),
            "the link's query string was printed:\n{s}"
        );
    }
    let want = format!(
        "to {}/{}/{key} ({} bytes, sha256 {sha})",
        s3.endpoint,
        s3.bucket,
        local.len()
    );
    assert!(o.contains(&want), "stdout lacks {want:?}:\n{o}");
    let back = tmp.path().join("back");
    s3.helper("get", &key, &["--out", back.to_str().unwrap()]);
    assert!(
        std::fs::read(&back).unwrap() == local,
        "the object in the bucket differs from the local file"
    );
    let head = s3.helper("head", &key, &[]);
    assert!(
        head.contains(&format!("\"size\": {}", local.len())),
        "{head}"
    );
}

#[test]
fn presigned_put_for_a_missing_bucket_is_refused_and_keeps_the_file() {
    let Some(s3) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "node2.rcdiag", 4096);
    let before = std::fs::read(&f).unwrap();
    // A link made for a bucket that does not exist: the peer answers 404 NoSuchBucket.
    let url = s3.helper("presign-put", "node2.rcdiag", &[]).replacen(
        &format!("/{}/", s3.bucket),
        "/rcdiag-no-such-bucket/",
        1,
    );
    let out = agent(&[
        "upload",
        f.to_str().unwrap(),
        "--to",
        &url,
        "--ca-file",
        &s3.ca,
    ]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a 404 must fail the upload: {e}");
    assert!(!e.contains("X-Amz-Signature"), "{e}");
    assert!(e.contains("404"), "the error names the status: {e}");
    assert_eq!(std::fs::read(&f).unwrap(), before, "the file is kept");
}
