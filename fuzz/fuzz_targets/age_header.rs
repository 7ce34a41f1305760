//! Fuzzes the age header path: every input is read as an age file (the magic line is
//! prepended), so each run goes through rcdiag's header bound and then the age
//! parser. It must end in an error or a bundle, never panic, hang or grow without
//! bound; inputs past the header limits must be refused before the age parser runs.
#![no_main]

use std::io::Cursor;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rcdiag_bundle::{Bundle, Identity, Limits, OpenOptions, header_recipients};

fn identities() -> &'static [Identity] {
    static IDS: OnceLock<Vec<Identity>> = OnceLock::new();
    IDS.get_or_init(|| {
        // The reader target's fixed, public test key.
        let key = "AGE-SECRET-KEY-1YVJX07SGYYZFHT7A3YNHKL5X7AKLEL3EFAJAHAKPK8H34C53AGFQMU8U90";
        Identity::from_bytes(key.as_bytes(), "fuzz").unwrap_or_default()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut file = b"age-encryption.org/v1\n".to_vec();
    if data.starts_with(b"age-encryption.org/") || data.starts_with(b"-----BEGIN AGE") {
        file.clear();
    }
    file.extend_from_slice(data);
    let _ = header_recipients(Cursor::new(&file));
    let limits = Limits { max_entries: 64, max_entry_size: 1 << 20, max_total_size: 4 << 20, ..Default::default() };
    let opts = OpenOptions { identities: identities(), limits, ..Default::default() };
    let started = std::time::Instant::now();
    let _ = Bundle::from_reader(Box::new(Cursor::new(file)), &opts);
    // The header is bounded (64 KiB, 256 stanzas): parsing it must stay fast.
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "slow header");
});
