//! Redaction throughput on realistic log text, in MB/s, against two baselines in the
//! same run: copying the lines (the floor: what writing them costs without redaction)
//! and the first pattern rule alone (what one regex pass costs).
//!
//! `cargo bench -p rcdiag-agent --bench redact` (size: RCDIAG_BENCH_MIB, default 64;
//! runs: RCDIAG_BENCH_RUNS, default 3). Every 50th line carries a secret, every line is
//! a pino JSON line as Rocket.Chat writes them; 20 exact secrets are registered.

use std::io::Write;
use std::time::Instant;

use rcdiag_agent::redact::Redactor;

fn log_lines(bytes: usize) -> Vec<String> {
    let msgs = [
        "method call sendMessage",
        "DDP connection opened",
        "Subscription stream-notify-user ready",
        "Livechat routing: agent assigned",
        "GET /api/v1/channels.list?count=50 200",
        "Meteor method getUsersOfRoom",
    ];
    let secrets = [
        "Authorization: Bearer Zq8xK2mNvB4tR7yW1pL9eH3c",
        "connecting to mongodb://rc:Pw0rd-9x7Y@mongo:27017/rocketchat?replicaSet=rs0",
        "{\\\"password\\\":\\\"Esc4ped-Pw!\\\"}",
        "posting with xoxb-1111-2222-LogSlackT0kenValue",
        "X-Auth-Token: aT0k9F3kLmN2pQrZ",
    ];
    let mut out = Vec::new();
    let mut total = 0;
    let mut i: u64 = 0;
    while total < bytes {
        let msg = if i.is_multiple_of(50) {
            secrets[(i / 50 % 5) as usize]
        } else {
            msgs[(i % 6) as usize]
        };
        let mut line = Vec::new();
        let _ = write!(
            line,
            "{{\"level\":30,\"time\":\"2026-11-26T05:{:02}:{:02}.{:03}Z\",\"pid\":7,\"hostname\":\"rocketchat-{}\",\"name\":\"Rocket.Chat\",\"msg\":\"{msg} user={:x}\"}}",
            (i / 60) % 60,
            i % 60,
            i % 1000,
            i % 3,
            (i * 2_654_435_761) % 0xffff_ffff
        );
        let line = String::from_utf8(line).expect("utf8");
        total += line.len() + 1;
        out.push(line);
        i += 1;
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let mib: usize = std::env::var("RCDIAG_BENCH_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let runs: usize = std::env::var("RCDIAG_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let lines = log_lines(mib << 20);
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mb = bytes as f64 / 1e6;

    let redactor = Redactor::new(&[]).expect("rules");
    for i in 0..20 {
        redactor.register_secret(&format!("Exact-Secret-{i:03}-xYz"));
    }
    let one_rule =
        regex::Regex::new(rcdiag_agent::redact::rules::BUILTIN[0].pattern).expect("rule");

    let mut copy = Vec::new();
    let mut single = Vec::new();
    let mut full = Vec::new();
    let mut sink = 0usize;
    for _ in 0..runs {
        let t = Instant::now();
        for l in &lines {
            sink += l.clone().len();
        }
        copy.push(mb / t.elapsed().as_secs_f64());
        let t = Instant::now();
        for l in &lines {
            sink += one_rule.replace_all(l, "x").len();
        }
        single.push(mb / t.elapsed().as_secs_f64());
        let t = Instant::now();
        for l in &lines {
            sink += redactor.redact_line(l).len();
        }
        full.push(mb / t.elapsed().as_secs_f64());
    }
    let (c, s, f) = (median(copy), median(single), median(full));
    println!(
        "redaction of {mb:.0} MB of pino log lines ({} lines), median of {runs} runs:",
        lines.len()
    );
    println!("  copy only (floor)        {c:8.1} MB/s");
    println!("  one pattern rule         {s:8.1} MB/s");
    println!(
        "  every rule + exact pass  {f:8.1} MB/s  ({} rules, 20 exact secrets)",
        rcdiag_agent::redact::rules::BUILTIN.len()
    );
    println!("  counts: {:?}", redactor.counts());
    std::hint::black_box(sink);
}
