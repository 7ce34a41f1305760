//! Helpers shared by the bundle-format tests: writing bundles, crafting hostile zips,
//! and requiring interop tools (missing tools fail under RCDIAG_REQUIRE_PEERS=1).
#![allow(dead_code)]

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use rcdiag_bundle::{
    AgentInfo, BundleWriter, Encryption, Identity, NodeInfo, NodeKey, Recipient, WriterOptions,
};

pub struct SupportKey {
    pub identities: Vec<Identity>,
    pub recipient: String,
    pub file: PathBuf,
}

pub fn support_key(dir: &Path) -> SupportKey {
    let k = rcdiag_bundle::generate_support_key();
    let file = dir.join(format!("support-{}.key", &k.recipient[4..12]));
    std::fs::write(&file, &k.identity_file).unwrap();
    SupportKey {
        identities: Identity::load_file(&file).unwrap(),
        recipient: k.recipient,
        file,
    }
}

pub fn options(out: &Path, encryption: Encryption, signer: &NodeKey) -> WriterOptions {
    WriterOptions {
        out: out.to_path_buf(),
        encryption,
        signer: signer.clone(),
        agent: AgentInfo {
            name: "rcdiag-test".into(),
            version: "0".into(),
        },
        node: NodeInfo {
            hostname: "node1".into(),
            ..Default::default()
        },
        compression_level: None,
    }
}

pub fn age_to(recipient: &str) -> Encryption {
    Encryption::Age {
        recipients: vec![Recipient::parse(recipient).unwrap()],
        armor: false,
    }
}

/// Writes a bundle with `files` and returns its path.
pub fn write_bundle(
    dir: &Path,
    encryption: Encryption,
    signer: &NodeKey,
    files: &[(&str, Vec<u8>)],
) -> PathBuf {
    let mut w = BundleWriter::create(options(dir, encryption, signer)).unwrap();
    for (name, data) in files {
        w.add_bytes(name, data).unwrap();
    }
    w.finish().unwrap().path
}

pub fn sample_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "host/host.json",
            br#"{"hostname":"node1","cpu":{"logical_cores":4}}"#.to_vec(),
        ),
        (
            "docker/containers.json",
            br#"[{"name":"rc1","image":"rocketchat/rocket.chat:8.5.0"}]"#.to_vec(),
        ),
        ("logs/rc1.log", log_text(2000)),
    ]
}

/// Realistic Rocket.Chat log text (pino JSON lines), `lines` long.
pub fn log_text(lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..lines {
        writeln!(
            out,
            "2026-11-26T05:{:02}:{:02}.{:09}Z stdout {{\"level\":30,\"time\":\"2026-11-26T05:{:02}:{:02}.{:03}Z\",\"pid\":7,\"hostname\":\"rc1\",\"name\":\"Rocket.Chat\",\"section\":\"Meteor\",\"msg\":\"method call sendMessage by user {} in room {}\"}}",
            (i / 60) % 60, i % 60, i * 7919 % 1_000_000_000, (i / 60) % 60, i % 60, i % 1000, i * 31 % 997, i * 17 % 101
        )
        .unwrap();
    }
    out
}

#[allow(unused_imports)]
pub use rcdiag_testkit::{sha256_hex, signed_manifest};

/// A plain zip with exactly these entries, in order (names are not checked).
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zw = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        zw.start_file(*name, opts).unwrap();
        zw.write_all(data).unwrap();
    }
    zw.finish().unwrap().into_inner()
}

/// A crafted plain bundle: `files` plus a manifest listing `listed` and its signature.
pub fn crafted(key: &NodeKey, files: &[(&str, &[u8])], listed: &[(&str, &[u8])]) -> Vec<u8> {
    let (m, s) = signed_manifest(key, listed, |_| {});
    let mut entries: Vec<(&str, &[u8])> = files.to_vec();
    entries.push(("manifest.json", &m));
    entries.push(("manifest.json.sig", &s));
    zip_of(&entries)
}

pub fn open_bytes(data: Vec<u8>, ids: &[Identity]) -> rcdiag_bundle::Result<rcdiag_bundle::Bundle> {
    rcdiag_bundle::Bundle::from_reader(
        Box::new(Cursor::new(data)),
        &rcdiag_bundle::OpenOptions {
            identities: ids,
            ..Default::default()
        },
    )
}

/// Path of an interop tool, or None (failing when RCDIAG_REQUIRE_PEERS=1).
pub fn require_tool(name: &str) -> Option<PathBuf> {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return Some(p);
        }
    }
    if std::env::var("RCDIAG_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!(
            "interop tool `{name}` is missing and RCDIAG_REQUIRE_PEERS=1: run `scripts/test-env install`"
        );
    }
    eprintln!(
        "\n*** SKIPPED: interop tool `{name}` is not installed (run `scripts/test-env install`) ***\n"
    );
    None
}
