//! `rcdiag-agent upload` to presigned URLs made by the S3 API peer of `scripts/test-env`
//! (moto's server over HTTPS with a test CA, see scripts/README.md "The S3 peer"): the
//! link signs `x-amz-checksum-sha256`, the object read back through the S3 API is
//! byte-identical, and the link's signature never appears in the agent's output. And
//! `s3://bucket/prefix/` targets with credentials from the environment or a profile
//! file: one PUT and multipart uploads read back byte for byte, a missing bucket and a
//! missing profile refused with what to do.

mod common;
mod s3peer;

use std::path::Path;
use std::process::{Command, Output};

use common::{age_file, for_upload_peers, sha256_hex};
use s3peer::{S3, peer};

/// `upload FILE --to TO --ca-file CA`.
fn upload_args<'a>(file: &'a Path, to: &'a str, ca: &'a str) -> [&'a str; 6] {
    [
        "upload",
        file.to_str().unwrap(),
        "--to",
        to,
        "--ca-file",
        ca,
    ]
}

fn agent(args: &[&str]) -> Output {
    for_upload_peers(Command::new(env!("CARGO_BIN_EXE_rcdiag-agent")).args(args))
        .output()
        .expect("run rcdiag-agent")
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
    let out = agent(&upload_args(&f, &url, &s3.ca));
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
    let out = agent(&upload_args(&f, &url, &s3.ca));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a 404 must fail the upload: {e}");
    assert!(!e.contains("X-Amz-Signature"), "{e}");
    assert!(e.contains("404"), "the error names the status: {e}");
    assert_eq!(std::fs::read(&f).unwrap(), before, "the file is kept");
}

/// The agent with the peer's endpoint and CA, and no AWS setting of the caller's own;
/// `creds` sets AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
fn agent_s3(s3: &S3, args: &[&str], creds: bool, extra_env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rcdiag-agent"));
    c.args(args);
    s3.env(&mut c, creds);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c.output().expect("run rcdiag-agent")
}

#[test]
fn s3_target_one_put_and_multipart_are_byte_identical() {
    let Some(s3) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // One under the 8 MiB single-PUT limit, one over it (3 parts of 8 MiB and a rest).
    let small = age_file(
        tmp.path(),
        "rcdiag-node1-20261204T100000Z.rcdiag",
        300 * 1024 + 7,
    );
    let large = age_file(
        tmp.path(),
        "rcdiag-node1-20261204T110000Z.rcdiag",
        (25 << 20) + 11,
    );
    let prefix = format!("case-{}/", uuid::Uuid::now_v7().simple());
    let to = format!("s3://{}/{prefix}", s3.bucket);
    let out = agent_s3(
        &s3,
        &[
            "upload",
            small.to_str().unwrap(),
            large.to_str().unwrap(),
            "--to",
            &to,
            "--ca-file",
            &s3.ca,
        ],
        true,
        &[],
    );
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{o}{e}");
    assert!(
        e.contains("multipart"),
        "the large file went as a multipart upload: {e}"
    );
    assert!(e.contains("one PUT"), "the small file went in one PUT: {e}");
    for f in [&small, &large] {
        let local = std::fs::read(f).unwrap();
        let name = f.file_name().unwrap().to_str().unwrap();
        let key = format!("{prefix}{name}");
        let want = format!(
            "uploaded {} to s3://{}/{key} ({} bytes, sha256 {})",
            f.display(),
            s3.bucket,
            local.len(),
            sha256_hex(&local)
        );
        assert!(o.contains(&want), "stdout lacks {want:?}:\n{o}");
        let back = tmp.path().join(format!("back-{name}"));
        s3.helper("get", &key, &["--out", back.to_str().unwrap()]);
        assert!(
            std::fs::read(&back).unwrap() == local,
            "the object {key} differs from the local file"
        );
    }
}

#[test]
fn s3_target_credentials_from_a_profile_file() {
    let Some(s3) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "rcdiag-node3-20261204T100000Z.rcdiag", 5000);
    let creds = tmp.path().join("credentials");
    std::fs::write(
        &creds,
        format!(
            "[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[support]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            s3.key_id, s3.secret
        ),
    )
    .unwrap();
    let prefix = format!("profile-{}/", uuid::Uuid::now_v7().simple());
    let to = format!("s3://{}/{prefix}", s3.bucket);
    let args = upload_args(&f, &to, &s3.ca);
    let with_profile = |profile: &str| {
        agent_s3(
            &s3,
            &args,
            false,
            &[
                ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
                ("AWS_PROFILE", profile),
            ],
        )
    };
    let out = with_profile("support");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{e}");
    let back = tmp.path().join("back");
    s3.helper(
        "get",
        &format!("{prefix}{}", f.file_name().unwrap().to_str().unwrap()),
        &["--out", back.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&f).unwrap());
    // A profile that is not there: refused before anything is sent, with what to do.
    let out = with_profile("nosuch");
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("AWS_PROFILE=nosuch: no such profile")
            && e.contains("aws configure --profile nosuch"),
        "{e}"
    );
}

#[test]
fn s3_target_missing_bucket_says_what_to_do_and_keeps_the_file() {
    let Some(s3) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "rcdiag-node2-20261204T100000Z.rcdiag", 4096);
    let before = std::fs::read(&f).unwrap();
    let out = agent_s3(
        &s3,
        &upload_args(&f, "s3://rcdiag-no-such-bucket/x/", &s3.ca),
        true,
        &[],
    );
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(
        e.contains("the bucket rcdiag-no-such-bucket does not exist (NoSuchBucket)")
            && e.contains("check the bucket name"),
        "{e}"
    );
    assert!(e.contains("the file is kept"), "{e}");
    assert!(!e.contains(&s3.secret), "the secret key was printed: {e}");
    assert_eq!(std::fs::read(&f).unwrap(), before);
    // Without the peer's CA the endpoint is not trusted: said so, with the flag to use.
    let out = agent_s3(
        &s3,
        &[
            "upload",
            f.to_str().unwrap(),
            "--to",
            &format!("s3://{}/x/", s3.bucket),
            "--tries",
            "1",
        ],
        true,
        &[],
    );
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("--ca-file"), "{e}");
}

#[test]
fn s3_target_on_a_checking_peer_wrong_keys_and_a_missing_permission_say_what_to_do() {
    // The peer that checks each request's signature and the user's IAM policy.
    let Some(writer) = s3peer::auth_peer("WRITER") else {
        return;
    };
    let Some(reader) = s3peer::auth_peer("READER") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "rcdiag-node3-20261204T100000Z.rcdiag", 4096);
    let before = std::fs::read(&f).unwrap();
    let to = format!("s3://{}/checked/", writer.bucket);
    let upload = |s3: &S3| {
        let out = agent_s3(
            s3,
            &[
                "upload",
                f.to_str().unwrap(),
                "--to",
                &to,
                "--ca-file",
                &s3.ca,
            ],
            true,
            &[],
        );
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The right keys: accepted by a server that checks the signature.
    let (code, e) = upload(&writer);
    assert_eq!(code, Some(0), "{e}");
    assert_eq!(
        writer.list("checked/"),
        [(
            "checked/rcdiag-node3-20261204T100000Z.rcdiag".to_string(),
            4096
        )]
    );
    // A wrong secret key, a key id the server does not know, a user without PutObject.
    let wrong = "wrongwrongwrongwrongwrongwrongwrongwrong";
    for (s3, want) in [
        (
            writer.with_secret(wrong),
            "the credentials were refused (SignatureDoesNotMatch)",
        ),
        (
            writer.with_keys("AKIARCDIAGNOSUCHKEY0", wrong),
            "the credentials were refused (InvalidAccessKeyId)",
        ),
        (
            reader.clone(),
            "access denied (AccessDenied) with the credentials from",
        ),
    ] {
        let (code, e) = upload(&s3);
        assert_eq!(code, Some(1), "{e}");
        assert!(e.contains(want), "want {want:?}: {e}");
        assert!(e.contains("the file is kept"), "{e}");
        assert!(!e.contains(&s3.secret), "the secret key was printed: {e}");
        assert_eq!(std::fs::read(&f).unwrap(), before);
    }
    let (_, e) = upload(&writer.with_secret(wrong));
    assert!(e.contains("check or renew them"), "{e}");
    let (_, e) = upload(&reader);
    assert!(
        e.contains(&format!(
            "s3:PutObject on arn:aws:s3:::{}/checked/*",
            reader.bucket
        )),
        "the permission to grant: {e}"
    );
}
