//! The sink holds JSON files until every collector is done: a secret that one collector
//! learns after another put its file is still replaced in that file (the exact-value
//! pass runs at the end of the run, not when the file is put), and every string is cut
//! to the field limit.

use std::sync::Arc;

use rcdiag_agent::collectors::Sink;
use rcdiag_agent::redact::Redactor;
use rcdiag_bundle::{
    AgentInfo, Bundle, BundleWriter, Encryption, NodeInfo, NodeKey, OpenOptions, WriterOptions,
};

#[tokio::test]
async fn a_secret_learnt_later_is_replaced_in_an_earlier_file() {
    let dir = tempfile::tempdir().unwrap();
    let writer = BundleWriter::create(WriterOptions {
        out: dir.path().join("t.rcdiag.zip"),
        encryption: Encryption::None,
        signer: NodeKey::generate(),
        agent: AgentInfo {
            name: "rcdiag-agent".into(),
            version: "test".into(),
        },
        node: NodeInfo {
            hostname: "n".into(),
            ..NodeInfo::default()
        },
        compression_level: None,
    })
    .unwrap();
    let red = Arc::new(Redactor::new(&[]).unwrap());
    let sink = Sink::new(writer, red.clone());
    let host = sink.for_collector("host");
    let long = "y".repeat(10_000);
    host.put_json(
        "host/host.json",
        &serde_json::json!({"cmdline": "worker --x LateSecret-99x", "long": long, "keep": "plain words"}),
    )
    .await
    .unwrap();
    // Docker discovery finishes after the host collector put its file.
    red.register_env_secrets(&["DB_PASSWORD=LateSecret-99x".to_string()]);
    assert!(sink.flush_pending().await.is_empty());
    drop(host);
    let done = sink.into_writer().unwrap().finish().unwrap();
    let mut b = Bundle::open(&done.path, &OpenOptions::default()).unwrap();
    let text = String::from_utf8(b.read_bytes("host/host.json", 1 << 20).unwrap()).unwrap();
    assert!(!text.contains("LateSecret-99x"), "{text}");
    assert!(
        text.contains("worker --x ***REDACTED:exact-secret***"),
        "{text}"
    );
    assert!(text.contains("plain words"));
    assert!(
        text.contains("[cut by rcdiag: 10000 bytes in all]"),
        "long strings are cut"
    );
    assert!(text.len() < 6000, "{}", text.len());
    assert_eq!(b.manifest().files.len(), 1);
}
