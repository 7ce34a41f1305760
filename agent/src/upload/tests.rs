//! Unit tests of the upload: links, recorded argv, S3 error codes.

use super::send::{refusal, s3_code};
use super::*;
use reqwest::StatusCode;

#[test]
fn link_hides_query_and_user() {
    let l = Link::parse("https://u:pw@h.example/b/k.rcdiag?X-Amz-Signature=SECRET#f").unwrap();
    assert_eq!(l.shown, "https://h.example/b/k.rcdiag");
    assert!(!format!("{l:?}").contains("SECRET"));
    assert_eq!(
        l.scrub("x https://u:pw@h.example/b/k.rcdiag?X-Amz-Signature=SECRET#f y"),
        "x https://h.example/b/k.rcdiag y"
    );
    assert_eq!(l.scrub("q=X-Amz-Signature=SECRET"), "q=<query removed>");
}

#[test]
fn link_refusals() {
    for (u, want) in [
        ("http://h/x", "must be https://"),
        ("ftp://h/x", "not supported"),
        ("not a url", "not a URL"),
        ("https://h/x?X-Amz-Algorithm=AWS4-HMAC-SHA256", "cut short"),
        ("https://h/x?X-Goog-Algorithm=GOOG4", "cut short"),
        ("https://h/x?sv=2022&sr=b", "cut short"),
    ] {
        let e = Link::parse(u).unwrap_err();
        assert!(e.is_usage());
        assert!(e.to_string().contains(want), "{u}: {e}");
    }
    assert!(Link::parse("https://h/x?sv=2022&sr=b&sig=abc").is_ok());
}

#[test]
fn recorded_argv_has_no_query() {
    let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        scrub_argv(argv(&[
            "rcdiag-agent",
            "collect",
            "--upload",
            "https://h/k?X-Goog-Signature=abc",
            "--upload=https://h/j#frag",
            "-o",
            "https://not/a?link"
        ])),
        argv(&[
            "rcdiag-agent",
            "collect",
            "--upload",
            "https://h/k?<query removed>",
            "--upload=https://h/j?<query removed>",
            "-o",
            "https://not/a?link"
        ])
    );
}

#[test]
fn signed_checksum_header() {
    let l = Link::parse(
        "https://h/x?X-Amz-Algorithm=A&X-Amz-SignedHeaders=host%3Bx-amz-checksum-sha256&X-Amz-Signature=s",
    )
    .unwrap();
    assert!(l.sha256_header);
    let l = Link::parse("https://h/x?X-Amz-SignedHeaders=host&X-Amz-Algorithm=A&X-Amz-Signature=s")
        .unwrap();
    assert!(!l.sha256_header);
}

#[test]
fn folder_links_get_the_name() {
    let l = Link::parse("https://h/up/?sig=1").unwrap();
    let f = l.for_file("a b.rcdiag");
    assert_eq!(f.shown, "https://h/up/a%20b.rcdiag");
    assert_eq!(f.url.query(), Some("sig=1"));
    let l = Link::parse("https://h/up/obj?sig=1").unwrap();
    assert_eq!(l.for_file("x").shown, "https://h/up/obj");
}

#[test]
fn s3_error_codes() {
    assert_eq!(
        s3_code(b"<Error><Code>AccessDenied</Code><Message>m</Message></Error>").as_deref(),
        Some("AccessDenied")
    );
    assert_eq!(s3_code(b"<Code>a b<x></Code>"), None);
    assert_eq!(s3_code(b"\xff<Code>"), None);
    assert_eq!(
        s3_code(b"\xff<Code>SlowDown</Code>\xe2\x82").as_deref(),
        Some("SlowDown")
    );
    assert!(refusal(StatusCode::FORBIDDEN, Some("AccessDenied"), 1).contains("new upload link"));
    assert!(refusal(StatusCode::PAYLOAD_TOO_LARGE, None, 1).contains("too large"));
}

#[test]
fn s3_targets() {
    let t = Target::parse("s3://my-bucket/fleet/prod").unwrap();
    let Target::S3(s3) = &t else { panic!("{t:?}") };
    assert_eq!(s3.prefix, "fleet/prod/");
    assert_eq!(s3.key_for("a.rcdiag"), "fleet/prod/a.rcdiag");
    assert_eq!(
        s3.with_sub_prefix("node1").shown(),
        "s3://my-bucket/fleet/prod/node1/"
    );
    assert!(t.is_folder());
    assert_eq!(t.shown(), "s3://my-bucket/fleet/prod/");
    let Target::S3(s3) = Target::parse("s3://b12").unwrap() else {
        panic!()
    };
    assert_eq!(s3.key_for("x"), "x");
    for (u, want) in [
        ("s3://B/x", "not a valid bucket name"),
        ("s3://ab/x", "not a valid bucket name"),
        ("s3://bucket/x?y=1", "no query string"),
        ("s3://bucket/../x", "not allowed"),
    ] {
        let e = Target::parse(u).unwrap_err();
        assert!(e.is_usage() && e.to_string().contains(want), "{u}: {e}");
    }
    assert!(matches!(
        Target::parse("https://h/up/").unwrap(),
        Target::Https(_)
    ));
}
