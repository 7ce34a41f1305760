//! The age layer of an encrypted bundle: the header bounded before it is parsed
//! (size and stanza count), decryption with the support identities, and errors of the
//! age payload told apart from errors of the zip inside it.

use std::io::{self, BufReader, Read, Seek};

use crate::error::{Error, Result};
use crate::keys::Identity;
use crate::writer::HINT_STANZA_TAG;

use super::*;

pub(super) fn decrypt(buffered: BufReader<Source>, identities: &[Identity]) -> Result<Source> {
    let armored = age::armor::ArmoredReader::new(buffered);
    let decryptor = age::Decryptor::new_buffered(armored).map_err(|e| match e {
        age::DecryptError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            Error::Truncated("the age header ends early".into())
        }
        age::DecryptError::UnknownFormat => Error::NotABundle {
            reason: "unknown age format version".into(),
        },
        other => Error::Corrupt(format!("age header: {other}")),
    })?;
    // Keep a copy of the header's stanzas to name the recipients if no identity matches.
    match decryptor.decrypt(identities.iter().map(|i| i.as_age())) {
        Ok(reader) => Ok(Box::new(AgeLayer(reader))),
        Err(age::DecryptError::NoMatchingKeys) => Err(Error::NoMatchingIdentity {
            recipients: Vec::new(),
        }),
        Err(age::DecryptError::InvalidMac) => {
            Err(Error::Corrupt("the age header MAC does not verify".into()))
        }
        Err(e) => Err(Error::Corrupt(format!("age: {e}"))),
    }
}

/// The age payload reader, marking its errors so they are told apart from errors of
/// the zip inside it (only the age layer's failures mean "failed authentication").
struct AgeLayer<R>(R);

/// An error of the age payload (decryption, authentication, truncation).
#[derive(Debug)]
struct AgeLayerError(io::Error);

impl std::fmt::Display for AgeLayerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for AgeLayerError {}

fn age_err(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), AgeLayerError(e))
}

pub(super) fn is_age_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<AgeLayerError>())
}

impl<R: Read> Read for AgeLayer<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(age_err)
    }
}

impl<R: Seek> Seek for AgeLayer<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.0.seek(pos).map_err(age_err)
    }
}

/// Reads the age header (through the armor, if any) up to its `---` MAC line, refusing
/// it when it is larger than `limits.max_age_header` bytes or has more than
/// `limits.max_age_stanzas` stanzas, and returns the recipients it names: the
/// `rcdiag-recipient` hints when present, else the stanza types (X25519 keys carry no
/// public name). A header that ends early is left for the age parser to report.
pub(super) fn scan_age_header(source: impl Read, limits: &Limits) -> Result<Vec<String>> {
    let max = limits.max_age_header;
    // Armor costs 4/3 plus line breaks: twice the limit is enough input to find the end.
    let budget = (max as u64).saturating_mul(2).saturating_add(4096);
    let mut armored = age::armor::ArmoredReader::new(BufReader::new(source.take(budget)));
    let mut hints = Vec::new();
    let mut others = Vec::new();
    let mut raw = Vec::new();
    let mut total = 0usize;
    let mut stanzas = 0usize;
    let mut byte = [0u8; 1];
    while let Ok(1) = armored.read(&mut byte) {
        total += 1;
        if total > max {
            return Err(Error::LimitExceeded(format!(
                "the age header is larger than {max} bytes (a bundle's header holds a few hundred bytes per recipient); this file was not made by rcdiag-agent: ask the sender for a new bundle"
            )));
        }
        if byte[0] != b'\n' {
            raw.push(byte[0]);
            continue;
        }
        let line = String::from_utf8_lossy(&raw).into_owned();
        raw.clear();
        if line.starts_with("---") {
            break;
        }
        if let Some(rest) = line.strip_prefix("-> ") {
            stanzas += 1;
            if stanzas > limits.max_age_stanzas {
                return Err(Error::LimitExceeded(format!(
                    "the age header has more than {} recipient stanzas, the limit; this file was not made by rcdiag-agent: ask the sender for a new bundle",
                    limits.max_age_stanzas
                )));
            }
            let mut args = rest.split(' ');
            match (args.next(), args.next()) {
                (Some(HINT_STANZA_TAG), Some(fp)) => {
                    hints.push(crate::manifest::cut_to(fp, 128));
                }
                (Some("X25519"), _) => others.push("an age X25519 key".to_string()),
                (Some(tag), Some(t)) if tag.starts_with("ssh-") => others.push(format!(
                    "an {} key (tag {})",
                    crate::manifest::cut_to(tag, 64),
                    crate::manifest::cut_to(t, 64)
                )),
                (Some(tag), _) => {
                    others.push(format!("a {} recipient", crate::manifest::cut_to(tag, 64)));
                }
                _ => {}
            }
        }
    }
    Ok(if hints.is_empty() { others } else { hints })
}

/// Lists the recipients named in an age header: the `rcdiag-recipient` hints when
/// present, else the stanza types (X25519 keys carry no public name). Empty when the
/// header is past the default limits.
pub fn header_recipients(source: impl Read) -> Vec<String> {
    scan_age_header(source, &Limits::default()).unwrap_or_default()
}
