//! Fuzzes the manifest parser (`rcdiag_bundle::parse_manifest`, what the reader runs
//! on `manifest.json` before checking its signature): it must return an error or a
//! manifest within every limit of SPEC.md 3.1, never panic; a manifest it accepts
//! must serialize and parse back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rcdiag_bundle::{check_manifest_limits, parse_manifest};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = parse_manifest(data, 20_000) {
        assert!(check_manifest_limits(&m, 20_000).is_ok());
        let again = serde_json::to_vec(&m).expect("a parsed manifest serializes");
        let back = parse_manifest(&again, 20_000).expect("and parses back");
        assert_eq!(back, m);
    }
});
