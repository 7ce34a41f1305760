//! Streams N MiB of log text into an encrypted bundle, for measuring peak memory:
//! `/usr/bin/time -v cargo run --release -p rcdiag-bundle --example write_big -- 1024 /tmp`.

use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "/tmp".into()));
    let sk = rcdiag_bundle::generate_support_key();
    let mut w = rcdiag_bundle::BundleWriter::create(rcdiag_bundle::WriterOptions {
        out: dir,
        encryption: rcdiag_bundle::Encryption::Age {
            recipients: vec![rcdiag_bundle::Recipient::parse(&sk.recipient).unwrap()],
            armor: false,
        },
        signer: rcdiag_bundle::NodeKey::generate(),
        agent: rcdiag_bundle::AgentInfo {
            name: "write_big".into(),
            version: "0".into(),
        },
        node: rcdiag_bundle::NodeInfo {
            hostname: "big".into(),
            ..Default::default()
        },
        compression_level: None,
    })
    .unwrap();
    w.begin_file("logs/big.log").unwrap();
    let mut line = Vec::new();
    let mut written = 0u64;
    let mut i = 0u64;
    while written < mib << 20 {
        line.clear();
        writeln!(line, "2026-11-26T05:00:{:02}.{:09}Z stdout {{\"level\":30,\"msg\":\"request {} took {}ms\"}}", i % 60, i * 7919 % 1_000_000_000, i, i % 250).unwrap();
        w.write_chunk(&line).unwrap();
        written += line.len() as u64;
        i += 1;
    }
    w.end_file(false).unwrap();
    let done = w.finish().unwrap();
    println!(
        "{} {} bytes from {} MiB",
        done.path.display(),
        done.size,
        mib
    );
    std::fs::remove_file(done.path).unwrap();
}
