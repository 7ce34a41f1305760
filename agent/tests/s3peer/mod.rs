//! The S3 API peer of `scripts/test-env` (moto over HTTPS with a test CA, see
//! scripts/README.md "The S3 peer"), shared by the upload tests: its address, CA, bucket
//! and keys from `$D/env` (a missing one fails under `RCDIAG_REQUIRE_PEERS=1`), the
//! second peer that checks signatures and IAM policies ([`auth_peer`]), the
//! `scripts/s3-peer.py` helper to read back what the agent sent, and the agent's
//! environment for an `s3://` target (no AWS setting of the caller's own).
#![allow(dead_code)]

use std::process::Command;

use rcdiag_testkit::require_peer;

/// The S3 peer.
#[derive(Clone)]
pub struct S3 {
    pub endpoint: String,
    pub ca: String,
    pub bucket: String,
    pub key_id: String,
    pub secret: String,
    helper: Vec<String>,
}

/// The peer from the environment, or `None` (skipped loudly) when it is not there.
pub fn peer() -> Option<S3> {
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

/// The second S3 peer, the one that checks every signature and IAM policy, as user
/// `who` (`WRITER`: s3:*, `READER`: s3:GetObject and s3:ListBucket, `LISTER`:
/// s3:ListBucket only); `None` (skipped
/// loudly) when it is not there.
pub fn auth_peer(who: &str) -> Option<S3> {
    let main = peer()?;
    Some(S3 {
        endpoint: require_peer("RCDIAG_TEST_S3_AUTH_ENDPOINT")?,
        key_id: require_peer(&format!("RCDIAG_TEST_S3_AUTH_{who}_KEY_ID"))?,
        secret: require_peer(&format!("RCDIAG_TEST_S3_AUTH_{who}_SECRET"))?,
        ..main
    })
}

impl S3 {
    /// The same peer and user with another secret key (a wrong one).
    pub fn with_secret(&self, secret: &str) -> S3 {
        S3 {
            secret: secret.to_string(),
            ..self.clone()
        }
    }

    /// The same peer with another key id and secret (a user it does not know).
    pub fn with_keys(&self, key_id: &str, secret: &str) -> S3 {
        S3 {
            key_id: key_id.to_string(),
            secret: secret.to_string(),
            ..self.clone()
        }
    }

    /// Runs `scripts/s3-peer.py CMD --key KEY EXTRA...` and returns its stdout.
    pub fn helper(&self, cmd: &str, key: &str, extra: &[&str]) -> String {
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

    /// The object `key`, read back through the S3 API.
    pub fn get(&self, key: &str) -> Vec<u8> {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("object");
        self.helper("get", key, &["--out", out.to_str().expect("utf-8")]);
        std::fs::read(&out).expect("read the object back")
    }

    /// The keys under `prefix`, with their sizes, sorted.
    pub fn list(&self, prefix: &str) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .helper("list", prefix, &[])
            .lines()
            .filter_map(|l| {
                let (k, n) = l.rsplit_once(' ')?;
                Some((k.to_string(), n.parse().ok()?))
            })
            .collect();
        v.sort();
        v
    }

    /// Puts `file` at `key` (objects the agent would never send).
    pub fn put(&self, key: &str, file: &std::path::Path) {
        self.helper("put", key, &["--file", file.to_str().expect("utf-8")]);
    }

    /// Sets up `c` (an `rcdiag-agent` command) for an `s3://` target on this peer: its
    /// endpoint and region, no AWS setting or proxy of the caller's own, no instance
    /// metadata service to wait for, no home folder; `creds` adds the peer's keys.
    pub fn env(&self, c: &mut Command, creds: bool) {
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") || k.to_ascii_lowercase().ends_with("_proxy") {
                c.env_remove(k);
            }
        }
        c.env("RCDIAG_UPLOAD_BACKOFF", "10ms")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_METADATA_ENDPOINT", "https://127.0.0.1:9")
            .env("HOME", "/nonexistent-rcdiag-home");
        if creds {
            c.env("AWS_ACCESS_KEY_ID", &self.key_id)
                .env("AWS_SECRET_ACCESS_KEY", &self.secret);
        }
    }
}
