//! Fuzzes the bundle reader with arbitrary bytes, as a signed-plain zip and, with a
//! fixed identity, as an age file: it must return an error or a bundle, never panic,
//! hang or allocate without bound.
#![no_main]

use std::io::Cursor;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rcdiag_bundle::{Bundle, Identity, Limits, OpenOptions};

fn identities() -> &'static [Identity] {
    static IDS: OnceLock<Vec<Identity>> = OnceLock::new();
    IDS.get_or_init(|| {
        // A fixed, public test key: seed corpus files may be encrypted to it.
        let key = "AGE-SECRET-KEY-1YVJX07SGYYZFHT7A3YNHKL5X7AKLEL3EFAJAHAKPK8H34C53AGFQMU8U90";
        Identity::from_bytes(key.as_bytes(), "fuzz").unwrap_or_default()
    })
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_entries: 256, max_entry_size: 16 << 20, max_total_size: 64 << 20, ..Default::default() };
    let opts = OpenOptions { identities: identities(), limits, ..Default::default() };
    if let Ok(mut b) = Bundle::from_reader(Box::new(Cursor::new(data.to_vec())), &opts) {
        let paths: Vec<String> = b.entries().iter().map(|e| e.path.clone()).collect();
        for p in paths {
            let _ = b.read_bytes(&p, 1 << 20);
        }
    }
});
