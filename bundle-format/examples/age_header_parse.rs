//! Times the age crate's header parser (`age::Decryptor::new_buffered`) on headers of
//! 1,000 to 10,000 X25519 stanzas, against rcdiag's reader, which refuses such a
//! header before parsing it. The figures of `docs/upstream/rage-header-quadratic.md`.
//!
//! `cargo run --release -p rcdiag-bundle --example age_header_parse`

use std::io::Cursor;
use std::time::Instant;

fn header(stanzas: usize) -> Vec<u8> {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut b64 = |n: usize| -> String {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                B64[(state % 64) as usize] as char
            })
            .collect()
    };
    let mut out = String::from("age-encryption.org/v1\n");
    for _ in 0..stanzas {
        out.push_str(&format!("-> X25519 {}A\n{}A\n", b64(42), b64(42)));
    }
    out.push_str(&format!("--- {}A\n", b64(42)));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&[0u8; 64]);
    bytes
}

fn main() {
    for n in [1_000, 2_500, 5_000, 10_000] {
        let data = header(n);
        let t = Instant::now();
        let parsed = age::Decryptor::new_buffered(Cursor::new(data.clone())).is_ok();
        let age_time = t.elapsed();
        let t = Instant::now();
        let ours = rcdiag_bundle::Bundle::from_reader(
            Box::new(Cursor::new(data.clone())),
            &rcdiag_bundle::OpenOptions::default(),
        );
        let our_time = t.elapsed();
        println!(
            "{n:>6} stanzas, {:>7} bytes: age::Decryptor::new_buffered {age_time:>10.3?} (parsed: {parsed}); rcdiag refuses in {our_time:>8.3?}: {}",
            data.len(),
            ours.err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .chars()
                .take(60)
                .collect::<String>()
        );
    }
}
