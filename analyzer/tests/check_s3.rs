//! `rcdiag-analyzer check s3://bucket/prefix/` against the S3 API peer of
//! `scripts/test-env` (moto over HTTPS with a test CA): bundles uploaded there by the real
//! agent (`rcdiag-agent upload --to s3://...`) give the same report as the same files on
//! disk; a key that is not a bundle name is skipped with a note; `--max-object-size`
//! skips a larger object; a missing bucket, missing credentials and an untrusted endpoint
//! are refused with what to do.

#[path = "../../agent/tests/s3peer/mod.rs"]
mod s3peer;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use s3peer::S3;
use serde_json::Value;

const AS_OF: &str = "2026-11-26";

fn samples() -> PathBuf {
    rcdiag_testkit::root().join("samples")
}

/// The two compose-2node sample bundles, copied into `dir` under standard bundle names
/// (the names a bucket holds; the samples' own names are short).
fn standard_copies(dir: &Path) -> Vec<PathBuf> {
    ["node1", "node2"]
        .iter()
        .map(|n| {
            let to = dir.join(format!("rcdiag-{n}-20261126T100000Z.rcdiag"));
            std::fs::copy(
                samples().join("compose-2node").join(format!("{n}.rcdiag")),
                &to,
            )
            .expect("copy the sample bundle");
            to
        })
        .collect()
}

/// A fresh prefix in the peer's bucket.
fn fresh_prefix(tag: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{}-{t}/", std::process::id())
}

/// `rcdiag-agent upload FILES --to s3://BUCKET/PREFIX`, which must succeed.
fn agent_upload(s3: &S3, files: &[PathBuf], prefix: &str) {
    let mut c = Command::new(rcdiag_testkit::bin("rcdiag-agent"));
    c.arg("upload")
        .args(files)
        .args(["--to", &format!("s3://{}/{prefix}", s3.bucket)])
        .args(["--ca-file", &s3.ca]);
    s3.env(&mut c, true);
    let out = c.output().expect("run rcdiag-agent upload");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `rcdiag-analyzer check ARGS` with the sample key and signers, at the samples' date.
fn check(s3: &S3, args: &[&str], creds: bool, cwd: &Path) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rcdiag-analyzer"));
    c.current_dir(cwd)
        .env_remove("RCDIAG_IDENTITY")
        .arg("check")
        .args(args)
        .arg("-i")
        .arg(samples().join("demo-support.key"))
        .arg("--trust")
        .arg(samples().join("allowed_signers"))
        .args(["--as-of", AS_OF]);
    s3.env(&mut c, creds);
    c.output().expect("run rcdiag-analyzer check")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn bundles_in_a_bucket_give_the_report_of_the_same_files_on_disk() {
    let Some(s3) = s3peer::peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let files = standard_copies(tmp.path());
    let prefix = fresh_prefix("check");
    agent_upload(&s3, &files, &prefix);
    // An object that is not a bundle: skipped with a note, the verdict unchanged.
    let notes = tmp.path().join("notes.txt");
    std::fs::write(&notes, "not a bundle").unwrap();
    s3.put(&format!("{prefix}notes.txt"), &notes);

    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut local_args: Vec<&str> = names.iter().map(String::as_str).collect();
    local_args.extend(["--format", "json"]);
    let local = check(&s3, &local_args, true, tmp.path());
    let loc = format!("s3://{}/{prefix}", s3.bucket);
    let remote = check(
        &s3,
        &[&loc, "--format", "json", "--ca-file", &s3.ca],
        true,
        tmp.path(),
    );
    let e = text(&remote.stderr);
    assert_eq!(
        remote.status.code(),
        local.status.code(),
        "{e}\n{}",
        text(&local.stderr)
    );
    // The sample compose-2node: 19 pass, 1 warn (samples/README.md), exit status 4.
    assert_eq!(remote.status.code(), Some(4), "{e}");
    let note = format!("note: {loc}notes.txt: skipped, not a bundle name");
    assert!(e.contains(&note), "{e}");
    let local: Value = serde_json::from_slice(&local.stdout).unwrap();
    let mut remote: Value = serde_json::from_str(&text(&remote.stdout).replace(&loc, "")).unwrap();
    let remote_notes = remote["notes"].take();
    let mut local_wo = local.clone();
    local_wo["notes"].take();
    assert_eq!(
        remote, local_wo,
        "the report from the bucket differs from the report from disk"
    );
    assert_eq!(remote["bundles"].as_array().unwrap().len(), 2);
    assert_eq!(remote["bundles"][0]["trust"], "trusted");
    assert!(
        remote_notes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("notes.txt: skipped")),
        "{remote_notes}"
    );
    // The report names the objects by their s3:// address.
    let md = check(
        &s3,
        &[&loc, "--format", "markdown", "--ca-file", &s3.ca],
        true,
        tmp.path(),
    );
    let md = text(&md.stdout);
    for n in &names {
        assert!(md.contains(&format!("{loc}{n}")), "{md}");
    }
}

#[test]
fn max_object_size_skips_a_larger_object_with_a_note() {
    let Some(s3) = s3peer::peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let files = standard_copies(tmp.path());
    let prefix = fresh_prefix("cap");
    agent_upload(&s3, &files, &prefix);
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .collect();
    assert!(
        sizes[0] > sizes[1],
        "node1's sample is the larger: {sizes:?}"
    );
    let loc = format!("s3://{}/{prefix}", s3.bucket);
    let cap = sizes[1].to_string();
    let out = check(
        &s3,
        &[
            &loc,
            "--format",
            "json",
            "--ca-file",
            &s3.ca,
            "--max-object-size",
            &cap,
        ],
        true,
        tmp.path(),
    );
    let e = text(&out.stderr);
    let big = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        e.contains(&format!(
            "note: {loc}{big}: skipped, {} bytes is more than --max-object-size ({cap} bytes)",
            sizes[0]
        )),
        "{e}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bundles = report["bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 1, "{e}");
    assert_eq!(bundles[0]["node"], "node2");
    // Nothing under the cap: refused, and the note says why.
    let out = check(
        &s3,
        &[&loc, "--ca-file", &s3.ca, "--max-object-size", "1k"],
        true,
        tmp.path(),
    );
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("no bundle to check under this prefix") && e.contains("--max-object-size"),
        "{e}"
    );
    // The cap applies to s3:// bundles only.
    let out = check(
        &s3,
        &[files[0].to_str().unwrap(), "--max-object-size", "1k"],
        true,
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn a_missing_bucket_no_credentials_and_an_untrusted_endpoint_say_what_to_do() {
    let Some(s3) = s3peer::peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = check(
        &s3,
        &["s3://rcdiag-no-such-bucket/x/", "--ca-file", &s3.ca],
        true,
        tmp.path(),
    );
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(
        e.contains("the bucket rcdiag-no-such-bucket does not exist (NoSuchBucket)")
            && e.contains("check the name"),
        "{e}"
    );
    assert!(!e.contains(&s3.secret), "{e}");

    let loc = format!("s3://{}/x/", s3.bucket);
    let t0 = std::time::Instant::now();
    let out = check(&s3, &[&loc, "--ca-file", &s3.ca], false, tmp.path());
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(
        e.contains("no AWS credentials could be had")
            && e.contains("AWS_ACCESS_KEY_ID")
            && e.contains("aws configure export-credentials"),
        "{e}"
    );
    assert!(t0.elapsed().as_secs() < 60, "took {:?}", t0.elapsed());

    let out = check(&s3, &[&loc], true, tmp.path());
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("--ca-file"), "{e}");

    let out = check(&s3, &["s3://Bad_Bucket/x/"], true, tmp.path());
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("not a valid bucket name"), "{e}");
}

#[test]
fn a_key_with_control_characters_is_refused_escaped_with_what_to_do() {
    let Some(s3) = s3peer::peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let files = standard_copies(tmp.path());
    let prefix = fresh_prefix("hostile");
    agent_upload(&s3, &files[..1], &prefix);
    s3.put(
        &format!("{prefix}evil\u{1b}[2J/rcdiag-node9-20261126T100000Z.rcdiag"),
        &files[1],
    );
    let loc = format!("s3://{}/{prefix}", s3.bucket);
    let out = check(&s3, &[&loc, "--ca-file", &s3.ca], true, tmp.path());
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(
        e.contains("has a key that is not a usable path") && e.contains("remove or rename"),
        "{e}"
    );
    assert!(
        !e.contains('\u{1b}'),
        "a raw escape reached the terminal: {e:?}"
    );
}

#[test]
fn on_a_checking_peer_a_reader_may_check_and_wrong_keys_say_what_to_do() {
    // The peer that checks each request's signature and the user's IAM policy.
    let Some(writer) = s3peer::auth_peer("WRITER") else {
        return;
    };
    let Some(reader) = s3peer::auth_peer("READER") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let files = standard_copies(tmp.path());
    let prefix = fresh_prefix("checked");
    agent_upload(&writer, &files, &prefix);
    let loc = format!("s3://{}/{prefix}", reader.bucket);
    let args = [loc.as_str(), "--format", "json", "--ca-file", &reader.ca];
    // s3:ListBucket and s3:GetObject are enough: the sample's report (exit 4).
    let out = check(&reader, &args, true, tmp.path());
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["bundles"].as_array().map(Vec::len),
        Some(2),
        "{report}"
    );
    // Allowed to list but not to read: the first fetch is refused, saying what it needs.
    if let Some(lister) = s3peer::auth_peer("LISTER") {
        let out = check(&lister, &args, true, tmp.path());
        let e = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{e}");
        assert!(
            e.contains(&format!("access denied to {loc} (AccessDenied: ")),
            "{e}"
        );
        assert!(
            e.contains("reading needs s3:ListBucket and s3:GetObject"),
            "{e}"
        );
        assert!(!e.contains("<Error>"), "{e}");
    }
    // A wrong secret key and an unknown key id: refused, saying what to check.
    let wrong = "wrongwrongwrongwrongwrongwrongwrongwrong";
    for (s3, code) in [
        (reader.with_secret(wrong), "SignatureDoesNotMatch"),
        (
            reader.with_keys("AKIARCDIAGNOSUCHKEY0", wrong),
            "InvalidAccessKeyId",
        ),
    ] {
        let out = check(&s3, &args, true, tmp.path());
        let e = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{e}");
        // The S3 error document cut to its code and message, without the XML.
        assert!(
            e.contains(&format!("access denied to {loc} ({code}: ")),
            "{e}"
        );
        assert!(!e.contains("<Error>") && !e.contains("RequestId"), "{e}");
        assert!(
            e.contains("check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"),
            "{e}"
        );
        assert!(!e.contains(wrong), "the secret key was printed: {e}");
    }
}
