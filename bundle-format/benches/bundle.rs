//! Throughput of the bundle writer and reader against the zip crate alone, in the same
//! run, on realistic Rocket.Chat log text (pino JSON lines with docker timestamps).
//!
//! `cargo bench -p rcdiag-bundle` (size: RCDIAG_BENCH_MIB, default 256; runs: RCDIAG_BENCH_RUNS, default 3).
//! Prints MB/s of each side (median of the runs) and the ratio bundle/zip (lower is better).

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::Instant;

use rcdiag_bundle::{
    AgentInfo, Bundle, BundleWriter, Encryption, Identity, NodeInfo, NodeKey, OpenOptions,
    Recipient, WriterOptions,
};

const CHUNK: usize = 64 * 1024;

fn log_text(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 512);
    let msgs = [
        "method call sendMessage",
        "DDP connection opened",
        "Subscription stream-notify-user ready",
        "Livechat routing: agent assigned",
        "Apps engine: app started",
        "Meteor method getUsersOfRoom",
    ];
    let mut i: u64 = 0;
    while out.len() < bytes {
        let s = i / 50;
        writeln!(
            out,
            "2026-11-26T{:02}:{:02}:{:02}.{:09}Z stdout {{\"level\":{},\"time\":\"2026-11-26T{:02}:{:02}:{:02}.{:03}Z\",\"pid\":7,\"hostname\":\"rocketchat-{}\",\"name\":\"Rocket.Chat\",\"section\":\"Meteor\",\"msg\":\"{} user={:x} room={:x} took {}ms\"}}",
            (s / 3600) % 24, (s / 60) % 60, s % 60, (i * 7_919_113) % 1_000_000_000,
            if i.is_multiple_of(97) { 40 } else { 30 },
            (s / 3600) % 24, (s / 60) % 60, s % 60, i % 1000,
            i % 3,
            msgs[(i % 6) as usize],
            (i * 2_654_435_761) % 0xffff_ffff,
            (i * 40_503) % 0xffff,
            (i * 37) % 250
        )
        .unwrap();
        i += 1;
    }
    out.truncate(bytes);
    out
}

fn write_zip_alone(path: &Path, data: &[u8]) {
    let f = BufWriter::with_capacity(256 * 1024, File::create(path).unwrap());
    let mut z = zip::ZipWriter::new_stream(f);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(None)
        .large_file(true);
    z.start_file("logs/rc.log", opts).unwrap();
    for c in data.chunks(CHUNK) {
        z.write_all(c).unwrap();
    }
    let mut f = z.finish().unwrap().into_inner();
    f.flush().unwrap();
    f.get_ref().sync_all().unwrap();
}

fn write_bundle(path: &Path, data: &[u8], recipient: &Recipient, node: &NodeKey) {
    let mut w = BundleWriter::create(WriterOptions {
        out: path.to_path_buf(),
        encryption: Encryption::Age {
            recipients: vec![recipient.clone()],
            armor: false,
        },
        signer: node.clone(),
        agent: AgentInfo {
            name: "bench".into(),
            version: "0".into(),
        },
        node: NodeInfo {
            hostname: "bench".into(),
            ..Default::default()
        },
        compression_level: None,
    })
    .unwrap();
    w.begin_file("logs/rc.log").unwrap();
    for c in data.chunks(CHUNK) {
        w.write_chunk(c).unwrap();
    }
    w.end_file(false).unwrap();
    w.finish().unwrap();
}

fn read_zip_alone(path: &Path) -> u64 {
    let mut a = zip::ZipArchive::new(std::io::BufReader::new(File::open(path).unwrap())).unwrap();
    let mut f = a.by_name("logs/rc.log").unwrap();
    let mut buf = vec![0u8; CHUNK];
    let mut n = 0;
    loop {
        let k = f.read(&mut buf).unwrap();
        if k == 0 {
            break n;
        }
        n += k as u64;
    }
}

/// Decrypt, check names/limits/signature/file set, then read the entry once: its
/// SHA-256 is checked as it is read (the reader's `open_entry`).
fn verify_and_read_bundle(path: &Path, ids: &[Identity]) -> u64 {
    let mut b = Bundle::open(
        path,
        &OpenOptions {
            identities: ids,
            skip_content_check: true,
            ..Default::default()
        },
    )
    .unwrap();
    let mut r = b.open_entry("logs/rc.log").unwrap();
    let mut buf = vec![0u8; CHUNK];
    let mut n = 0;
    loop {
        let k = r.read(&mut buf).unwrap();
        if k == 0 {
            break n;
        }
        n += k as u64;
    }
}

/// The parts of the read path, for finding where time goes.
fn parts(path: &Path, identity_file: &str, data: &[u8]) -> (f64, f64) {
    let ids = age::IdentityFile::from_buffer(identity_file.as_bytes())
        .unwrap()
        .into_identities()
        .unwrap();
    let mb = data.len() as f64 / 1e6;
    let t = Instant::now();
    let f = std::io::BufReader::new(File::open(path).unwrap());
    let d = age::Decryptor::new_buffered(f).unwrap();
    let mut r = d
        .decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .unwrap();
    std::io::copy(&mut r, &mut std::io::sink()).unwrap();
    let decrypt = mb / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let h = <sha2::Sha256 as sha2::Digest>::digest(data);
    std::hint::black_box(h);
    (decrypt, mb / t.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    // `cargo test --benches` runs this with --test-ish flags: only do the real run under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mib: usize = std::env::var("RCDIAG_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let runs: usize = std::env::var("RCDIAG_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let data = log_text(mib << 20);
    let dir =
        tempfile::tempdir_in(std::env::var("RCDIAG_BENCH_DIR").unwrap_or_else(|_| "/tmp".into()))
            .unwrap();
    let sk = rcdiag_bundle::generate_support_key();
    let recipient = Recipient::parse(&sk.recipient).unwrap();
    let ids = Identity::from_bytes(sk.identity_file.as_bytes(), "bench").unwrap();
    let node = NodeKey::generate();
    let mb = data.len() as f64 / 1e6;
    let (mut wz, mut wb, mut rz, mut rb) = (vec![], vec![], vec![], vec![]);
    let (mut zsize, mut bsize) = (0, 0);
    for run in 0..runs {
        let zp = dir.path().join(format!("z{run}.zip"));
        let bp = dir.path().join(format!("b{run}.rcdiag"));
        let t = Instant::now();
        write_zip_alone(&zp, &data);
        wz.push(mb / t.elapsed().as_secs_f64());
        let t = Instant::now();
        write_bundle(&bp, &data, &recipient, &node);
        wb.push(mb / t.elapsed().as_secs_f64());
        zsize = std::fs::metadata(&zp).unwrap().len();
        bsize = std::fs::metadata(&bp).unwrap().len();
        let t = Instant::now();
        assert_eq!(read_zip_alone(&zp), data.len() as u64);
        rz.push(mb / t.elapsed().as_secs_f64());
        let t = Instant::now();
        assert_eq!(verify_and_read_bundle(&bp, &ids), data.len() as u64);
        rb.push(mb / t.elapsed().as_secs_f64());
        std::fs::remove_file(&zp).unwrap();
        std::fs::remove_file(&bp).unwrap();
    }
    let probe = dir.path().join("probe.rcdiag");
    write_bundle(&probe, &data, &recipient, &node);
    let (decrypt, sha) = parts(&probe, &sk.identity_file, &data);
    let (wz, wb, rz, rb) = (median(wz), median(wb), median(rz), median(rb));
    println!(
        "bundle benchmark: {mib} MiB of log text, {runs} runs (median), Deflate default level"
    );
    println!(
        "  sizes:   zip alone {:.1} MB, bundle {:.1} MB (ratio {:.1}x)",
        zsize as f64 / 1e6,
        bsize as f64 / 1e6,
        mb / (bsize as f64 / 1e6)
    );
    println!(
        "  write:   zip alone {wz:8.1} MB/s   bundle (sha256+zip+age+fsync) {wb:8.1} MB/s   time ratio {:.2}x (target <= 1.3x)",
        wz / wb
    );
    println!(
        "  parts:   age decrypt alone {decrypt:8.1} MB/s of compressed data (= {:.1} MB/s of log text)   sha256 alone {sha:8.1} MB/s",
        decrypt * mb / (bsize as f64 / 1e6)
    );
    println!(
        "  read:    unzip alone {rz:8.1} MB/s   bundle verify+read (age+unzip+sha256) {rb:8.1} MB/s   time ratio {:.2}x (target <= 1.3x)",
        rz / rb
    );
}
