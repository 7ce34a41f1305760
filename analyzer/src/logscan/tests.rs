//! The block search against the scanner it replaced, kept here as the reference:
//! every line read and judged on its own.

use std::collections::BTreeMap;

use super::judge::count_newlines;
use super::*;
use crate::text::cut;

/// `NodeData::scan_log`, on the findings alone.
trait ScanLog {
    fn scan_log(
        &mut self,
        file: &str,
        reader: impl std::io::Read,
        policy: &Policy,
    ) -> std::io::Result<()>;
}

impl ScanLog for LogFindings {
    fn scan_log(
        &mut self,
        file: &str,
        reader: impl std::io::Read,
        policy: &Policy,
    ) -> std::io::Result<()> {
        LogScanner::new(policy).scan(self, file, reader)
    }
}

/// The log scanner before block search, verbatim but for names (the reference).
struct LineByLine<'p> {
    policy: &'p Policy,
    ids: Vec<String>,
    set: regex::RegexSet,
    rc_version: regex::Regex,
    mongo_version: regex::Regex,
    mongo_engine: regex::Regex,
    oplog: regex::Regex,
}

impl<'p> LineByLine<'p> {
    fn new(policy: &'p Policy) -> Self {
        let re = |p: &str| regex::Regex::new(p).unwrap_or_else(|_| never_matches());
        let valid: Vec<&crate::policy::Signature> = policy
            .logs
            .signatures
            .iter()
            .filter(|s| regex::Regex::new(&s.pattern).is_ok())
            .collect();
        LineByLine {
            policy,
            ids: valid.iter().map(|s| s.id.clone()).collect(),
            set: regex::RegexSet::new(valid.iter().map(|s| s.pattern.as_str()))
                .unwrap_or_else(|_| regex::RegexSet::empty()),
            rc_version: re(r"Rocket\.Chat Version:\s*v?([0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.+-]*)"),
            mongo_version: re(r"MongoDB Version:\s*v?([0-9]+\.[0-9]+(?:\.[0-9]+)?)"),
            mongo_engine: re(r"MongoDB Engine:\s*([A-Za-z][A-Za-z0-9_-]*)"),
            oplog: re(r"ReplicaSet OpLog:\s*(Enabled|Disabled)"),
        }
    }

    fn scan(
        &self,
        found: &mut LogFindings,
        file: &str,
        reader: impl std::io::Read,
    ) -> std::io::Result<()> {
        use std::io::BufRead;
        let mut r = std::io::BufReader::with_capacity(64 * 1024, reader);
        let mut line: Vec<u8> = Vec::with_capacity(1024);
        let mut line_no: u64 = 0;
        let mut overflow = false;
        if !found.log_files.iter().any(|f| f == file) {
            found.log_files.push(file.to_string());
        }
        loop {
            let buf = r.fill_buf()?;
            if buf.is_empty() {
                if !line.is_empty() || overflow {
                    line_no += 1;
                    self.line(found, file, line_no, &line);
                }
                break;
            }
            let (chunk, newline) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..i], Some(i)),
                None => (buf, None),
            };
            if !overflow {
                let room = MAX_SCAN_LINE.saturating_sub(line.len());
                line.extend_from_slice(&chunk[..chunk.len().min(room)]);
                overflow = chunk.len() > room;
            }
            let used = newline.map_or(buf.len(), |i| i + 1);
            r.consume(used);
            if newline.is_some() {
                line_no += 1;
                self.line(found, file, line_no, &line);
                line.clear();
                overflow = false;
            }
        }
        Ok(())
    }

    fn line(&self, found: &mut LogFindings, file: &str, line_no: u64, raw: &[u8]) {
        let text = String::from_utf8_lossy(raw);
        let text = text.trim_end_matches('\r');
        let max_keep = self.policy.logs.max_matches_per_signature;
        for i in self.set.matches(text).iter() {
            let Some(id) = self.ids.get(i) else { continue };
            let count = found.log_match_counts.entry(id.clone()).or_insert(0);
            *count += 1;
            let kept = found
                .log_matches
                .iter()
                .filter(|m| &m.signature == id)
                .count();
            if kept < max_keep {
                found.log_matches.push(LogMatch {
                    signature: id.clone(),
                    file: file.to_string(),
                    line_no,
                    line: cut(text, self.policy.logs.max_line_chars),
                });
            }
        }
        if text.contains("Version:") || text.contains("Engine:") || text.contains("OpLog:") {
            let put = |re: &regex::Regex, into: &mut Vec<(String, String)>| {
                for c in re.captures_iter(text) {
                    if let Some(m) = c.get(1) {
                        let pair = (file.to_string(), m.as_str().to_string());
                        if !into.contains(&pair) && into.len() < 1000 {
                            into.push(pair);
                        }
                    }
                }
            };
            put(&self.rc_version, &mut found.startup_versions);
            put(&self.mongo_version, &mut found.startup_mongo_versions);
            put(&self.mongo_engine, &mut found.startup_mongo_engines);
            put(&self.oplog, &mut found.startup_oplog);
        }
    }
}

fn node() -> LogFindings {
    LogFindings::default()
}

type Pairs = Vec<(String, String)>;

/// Everything a scan leaves in a node.
fn outcome(
    n: &LogFindings,
) -> (
    Vec<LogMatch>,
    BTreeMap<String, u64>,
    [Pairs; 4],
    Vec<String>,
) {
    (
        n.log_matches.clone(),
        n.log_match_counts.clone(),
        [
            n.startup_versions.clone(),
            n.startup_mongo_versions.clone(),
            n.startup_mongo_engines.clone(),
            n.startup_oplog.clone(),
        ],
        n.log_files.clone(),
    )
}

/// The built-in policy with these signatures, keeping every match.
fn policy(signatures: &[(&str, &str)]) -> Policy {
    let mut p = Policy::builtin();
    let template = p.logs.signatures[0].clone();
    p.logs.signatures = signatures
        .iter()
        .map(|(id, pattern)| crate::policy::Signature {
            id: id.to_string(),
            pattern: pattern.to_string(),
            ..template.clone()
        })
        .collect();
    p.logs.max_matches_per_signature = usize::MAX;
    p
}

/// Signatures the block search takes, one of them using `$`.
const SEARCHABLE: &[(&str, &str)] = &[
    ("span", r"foo\s+bar"),
    ("start", "^start"),
    ("end", "end$"),
    ("dot", "a.b"),
    ("word", r"\bword\b"),
    ("nocase", "(?i)server error"),
    ("unicode", "é+ ü"),
    ("not-x", "[^x]{2}zz"),
    ("dup", "foo"),
    ("dup", "bar"),
    ("digits", r"timed out after \d+ ms"),
];

/// xorshift64*: a fixed sequence, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A log of `lines` random lines built from signature fragments, CRLF and CR,
/// invalid UTF-8, empty lines and, one time in `long_every`, a line of 32 to 70 KiB
/// with a signature before, across or after the 64 KiB cut.
fn random_log(rng: &mut Rng, lines: usize, long_every: usize) -> Vec<u8> {
    const PARTS: &[&[u8]] = &[
        b"2026-11-26T05:00:00.000Z stdout {\"level\":30,\"msg\":\"method call took 12ms\"}",
        b"MongoServerSelectionError: Server selection timed out after 30000 ms",
        b"SERVER ERROR",
        b"server Error",
        b"|  Rocket.Chat Version: 8.5.1  |",
        b"MongoDB Version: 6.0.13",
        b"MongoDB Engine: wiredTiger",
        b"ReplicaSet OpLog: Enabled",
        b"foo",
        b"bar",
        b" foo ",
        b"  bar",
        b"foo \t bar",
        b"start here",
        b"the end",
        b"end",
        b"a\rb",
        b"a.b",
        b"word",
        b"swords",
        b"\xc3\xa9\xc3\xa9 \xc3\xbc",
        b"\xff\xfe",
        b"\xe2\x82",
        b"zz",
        b"x",
        b"\r",
        b"",
    ];
    const ENDS: &[&[u8]] = &[b"\n", b"\n", b"\n", b"\n", b"\r\n", b"\r\r\n", b"\n\n"];
    let mut out = Vec::new();
    for _ in 0..lines {
        if rng.below(long_every) == 0 {
            let len = [32 * 1024, MAX_SCAN_LINE - 5, MAX_SCAN_LINE, 70 * 1024][rng.below(4)];
            let mut long = vec![b'y'; len];
            let at = rng.below(len);
            let n = (len - at).min(20);
            long[at..at + n].copy_from_slice(&b"SERVER ERROR foo bar"[..n]);
            out.extend_from_slice(&long);
        }
        for _ in 0..rng.below(4) {
            out.extend_from_slice(PARTS[rng.below(PARTS.len())]);
        }
        out.extend_from_slice(ENDS[rng.below(ENDS.len())]);
    }
    if rng.below(2) == 0 {
        out.extend_from_slice(b"start without a newline: Rocket.Chat Version: 9.0.0 end");
    }
    out
}

/// Scans `data` with `feed` in pieces cut at the given lengths (cycled).
fn scan_in_pieces(
    scanner: &LogScanner<'_>,
    n: &mut LogFindings,
    file: &str,
    data: &[u8],
    cuts: &[usize],
) {
    let mut log = scanner.start(n, file);
    let mut rest = data;
    for &len in cuts.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, next) = rest.split_at(len.clamp(1, rest.len()));
        scanner.feed(n, &mut log, piece);
        rest = next;
    }
    scanner.finish(n, log);
}

/// Scans `data` line by line (the reference) and with the block search, read
/// whole and fed in pieces of several sizes, and asserts the same outcome.
fn assert_same(policy: &Policy, data: &[u8], rng: &mut Rng) {
    let mut expected = node();
    LineByLine::new(policy)
        .scan(&mut expected, "logs/a.log", data)
        .unwrap();
    let expected = outcome(&expected);
    let scanner = LogScanner::new(policy);
    let mut whole = node();
    scanner.scan(&mut whole, "logs/a.log", data).unwrap();
    assert_eq!(outcome(&whole), expected, "read whole");
    let random: Vec<usize> = (0..64).map(|_| 1 + rng.below(3 * MAX_SCAN_LINE)).collect();
    for cuts in [
        &[1][..],
        &[7, 1, 300],
        &[4096],
        &[MAX_SCAN_LINE + 3],
        &random,
    ] {
        if cuts == [1] && data.len() > 200_000 {
            continue;
        }
        let mut n = node();
        scan_in_pieces(&scanner, &mut n, "logs/a.log", data, cuts);
        assert_eq!(outcome(&n), expected, "fed in pieces of {cuts:?}");
    }
}

#[test]
fn block_search_finds_what_line_by_line_finds() {
    let with_empty_match: Vec<(&str, &str)> =
        SEARCHABLE.iter().copied().chain([("any", "x*")]).collect();
    let without_dollar: Vec<(&str, &str)> = SEARCHABLE
        .iter()
        .copied()
        .filter(|(_, p)| !p.contains('$'))
        .collect();
    let not_searchable: Vec<(&str, &str)> = SEARCHABLE
        .iter()
        .copied()
        .chain([("text-start", r"\Astart"), ("no-m", "(?-m)end$")])
        .collect();
    let policies = [
        Policy::builtin(),
        policy(SEARCHABLE),
        policy(&without_dollar),
        policy(&with_empty_match),
        policy(&not_searchable),
    ];
    let s = |p: &Policy| {
        let s = LogScanner::new(p);
        (s.block.is_some(), s.block_cr_sensitive)
    };
    assert_eq!(s(&policies[0]), (true, false));
    assert_eq!(s(&policies[1]), (true, true));
    assert_eq!(s(&policies[2]), (true, false));
    assert!(!s(&policies[4]).0);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for _ in 0..8 {
        let data = random_log(&mut rng, 300, 60);
        for p in &policies {
            assert_same(p, &data, &mut rng);
        }
    }
    // Longer logs, over several read blocks: matches kept are capped, as the
    // reference counts them again for every hit.
    for _ in 0..2 {
        let data = random_log(&mut rng, 40_000, 8000);
        assert!(data.len() > SCAN_BLOCK);
        for p in &policies {
            let mut p = p.clone();
            p.logs.max_matches_per_signature = p.logs.max_matches_per_signature.min(20);
            assert_same(&p, &data, &mut rng);
        }
    }
}

/// Lines of `data` where `scan_log` finds signature `id`.
fn hits(policy: &Policy, data: &[u8], id: &str) -> Vec<u64> {
    let mut n = node();
    n.scan_log("logs/a.log", data, policy).unwrap();
    let mut reference = node();
    LineByLine::new(policy)
        .scan(&mut reference, "logs/a.log", data)
        .unwrap();
    assert_eq!(outcome(&n), outcome(&reference));
    n.log_matches
        .iter()
        .filter(|m| m.signature == id)
        .map(|m| m.line_no)
        .collect()
}

#[test]
fn only_the_first_64_kib_of_a_line_is_examined() {
    let p = Policy::builtin();
    let mut data = Vec::new();
    // 1: before the cut, 2: across it, 3: after it, 4: short.
    for at in [100, MAX_SCAN_LINE - 6, MAX_SCAN_LINE + 10] {
        let mut line = vec![b'a'; 70 * 1024];
        line[at..at + 12].copy_from_slice(b"SERVER ERROR");
        data.extend_from_slice(&line);
        data.push(b'\n');
    }
    data.extend_from_slice(b"SERVER ERROR\n");
    assert_eq!(hits(&p, &data, "server-error-box"), vec![1, 4]);
    // The same lines at the end of a read block and across two.
    for shift in [1, 1000, SCAN_BLOCK - 80_000, SCAN_BLOCK - 40] {
        let mut shifted = b"x\n".repeat(shift / 2);
        shifted.extend_from_slice(&data);
        let first = (shift / 2) as u64;
        assert_eq!(
            hits(&p, &shifted, "server-error-box"),
            vec![first + 1, first + 4],
            "shifted by {shift}"
        );
    }
}

#[test]
fn signatures_at_block_boundaries_are_found_with_their_line_numbers() {
    let p = Policy::builtin();
    let line = b"2026-11-26T05:00:00.000Z stdout {\"msg\":\"ok\"}\n";
    let sig = b"2026-11-26T05:00:00.000Z stderr SERVER ERROR\n";
    for offset in 0..sig.len() + 2 {
        // The signature line begins `offset` bytes before the end of the first block.
        let mut data = Vec::new();
        while data.len() + line.len() <= SCAN_BLOCK - offset {
            data.extend_from_slice(line);
        }
        data.extend(std::iter::repeat_n(b'z', SCAN_BLOCK - offset - data.len()));
        data.push(b'\n');
        let before = count_newlines(&data);
        data.extend_from_slice(sig);
        data.extend_from_slice(line);
        data.extend_from_slice(&sig[..sig.len() - 1]);
        assert_eq!(
            hits(&p, &data, "server-error-box"),
            vec![before + 1, before + 3],
            "offset {offset}"
        );
    }
}

#[test]
fn invalid_utf8_crlf_and_spans_across_lines() {
    let p = policy(SEARCHABLE);
    // Invalid UTF-8 is replaced, as line by line.
    let data = b"ok\n\xff SERVER ERROR \xe2\x82\nserver error\n";
    assert_eq!(hits(&p, data, "nocase"), vec![2, 3]);
    let mut n = node();
    n.scan_log("logs/a.log", &data[..], &p).unwrap();
    assert_eq!(n.log_matches[0].line, "\u{fffd} SERVER ERROR \u{fffd}");
    // A CRLF line ends before its '\r', for `$` too.
    let data = b"the end\r\nthe end \r\nthe end\r\r\nend\nthe end";
    assert_eq!(hits(&p, data, "end"), vec![1, 3, 4, 5]);
    let without_dollar: Vec<(&str, &str)> = SEARCHABLE
        .iter()
        .copied()
        .filter(|(_, p)| !p.contains('$'))
        .collect();
    let data = b"SERVER ERROR\r\nx\r\nserver error\r\n";
    assert_eq!(hits(&policy(&without_dollar), data, "nocase"), vec![1, 3]);
    // `\s+` and `[^x]` match '\n' in a block, but a line is judged alone.
    let data = b"x foo\nbar\nfoo   bar\nfoo\r\n bar\nfoo\n\nbar foo bar\n";
    assert_eq!(hits(&p, data, "span"), vec![3, 8]);
    let data = b"ab\nzz\nabzz\na\nbbzz\n";
    assert_eq!(hits(&p, data, "not-x"), vec![3, 5]);
    // `^` at the start of each line; '\r' inside a line is matched by `.`.
    let data = b"start\nx start\nstart\r\na\rb\n";
    assert_eq!(hits(&p, data, "start"), vec![1, 3]);
    assert_eq!(hits(&p, data, "dot"), vec![4]);
}

#[test]
fn kept_matches_are_capped_per_node_across_logs_and_shared_by_ids() {
    let mut p = policy(&[("dup", "foo"), ("dup", "bar"), ("other", "baz")]);
    p.logs.max_matches_per_signature = 3;
    let data = b"foo\nbar\nfoo bar\nbaz\nfoo\n";
    let mut n = node();
    let mut reference = node();
    for file in ["logs/a.log", "logs/b.log"] {
        n.scan_log(file, &data[..], &p).unwrap();
        LineByLine::new(&p)
            .scan(&mut reference, file, &data[..])
            .unwrap();
    }
    assert_eq!(outcome(&n), outcome(&reference));
    assert_eq!(n.log_match_counts.get("dup"), Some(&10));
    assert_eq!(
        n.log_matches
            .iter()
            .filter(|m| m.signature == "dup")
            .count(),
        3
    );
    assert_eq!(
        n.log_matches
            .iter()
            .filter(|m| m.signature == "other")
            .count(),
        2
    );
}

#[test]
fn patterns_anchored_to_the_whole_text_are_not_block_searched() {
    for p in [
        r"\Afoo",
        r"foo\z",
        "(?-m)^foo",
        "(?i-m:foo$)",
        "(?x) foo # c",
    ] {
        assert!(!block_searchable(p), "{p}");
    }
    for p in [
        "foo", "^foo$", "(?i)foo", "(?P<n>x)", "(?m-i:x)", r"\(?-m", "(?s:.)",
    ] {
        assert!(block_searchable(p) || p == r"\(?-m", "{p}");
    }
}

#[test]
fn counts_newlines_like_a_filter() {
    let mut rng = Rng(7);
    let data: Vec<u8> = (0..5000)
        .map(|_| if rng.below(5) == 0 { b'\n' } else { b'a' })
        .collect();
    for start in [0, 1, 17, 254, 255, 256] {
        for end in [
            start,
            start + 1,
            start + 255,
            start + 511,
            start + 4000,
            data.len(),
        ] {
            let s = &data[start..end.min(data.len())];
            let naive = s.iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(count_newlines(s), naive);
        }
    }
    assert_eq!(count_newlines(&[b'\n'; 1000]), 1000);
}
