//! Hostile-bundle generator for the tests: a hand-rolled zip writer (for the cases the
//! zip crate refuses to write: overlapping entries, a local header naming another
//! file, a Unicode Path field that disagrees, a directory with data, sizes past the
//! archive), a signed manifest by a test key for whatever entries it lists, and an age
//! header with as many stanzas as asked. Every bundle is hostile input, validly
//! signed: only the property under test is wrong.
#![allow(dead_code)]

use rcdiag_bundle::NodeKey;

/// CRC-32 (IEEE), bit by bit: test data is small.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[allow(unused_imports)]
pub use rcdiag_testkit::{sha256_hex, sign_manifest as sign, signed_manifest};

/// Flag bit 11: the name is UTF-8.
pub const UTF8_FLAG: u16 = 0x0800;
/// Flag bit 3: sizes and CRC follow the data in a data descriptor.
pub const DESCRIPTOR_FLAG: u16 = 0x0008;

/// One entry, as written to the archive.
#[derive(Clone, Default)]
pub struct Raw {
    /// Name in the central directory.
    pub name: Vec<u8>,
    /// Name in the local header, when it differs.
    pub local_name: Option<Vec<u8>>,
    /// The bytes stored in the archive (compressed when `method` is 8).
    pub data: Vec<u8>,
    /// 0 stored, 8 Deflate.
    pub method: u16,
    /// Uncompressed size and CRC-32 declared in both headers, when not those of `data`.
    pub declared: Option<(u32, u32)>,
    /// Compressed size declared in both headers, when not the length of `data`.
    pub declared_compressed: Option<u32>,
    /// General purpose flags (both headers).
    pub flags: u16,
    /// Extra field (both headers).
    pub extra: Vec<u8>,
}

impl Raw {
    /// A stored entry.
    pub fn new(name: &str, data: &[u8]) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            ..Default::default()
        }
    }

    /// A Deflate entry of `content` (as one stored Deflate block), declaring that it
    /// inflates to `declared_size` bytes.
    pub fn deflated(name: &str, content: &[u8], declared_size: u32) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            data: deflate_stored(content),
            method: 8,
            declared: Some((declared_size, crc32(&content[..declared_size as usize]))),
            ..Default::default()
        }
    }

    fn sizes(&self) -> (u32, u32, u32) {
        let (usize_, crc) = self
            .declared
            .unwrap_or((self.data.len() as u32, crc32(&self.data)));
        let csize = self.declared_compressed.unwrap_or(self.data.len() as u32);
        (crc, csize, usize_)
    }
}

/// `data` as a raw Deflate stream of stored blocks (no compression): what a hostile
/// writer needs to say anything about sizes.
pub fn deflate_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunks = data.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let n = c.len() as u16;
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out.extend_from_slice(c);
    }
    out
}

/// A local file header for `e`, under `name`.
pub fn local_header(e: &Raw, name: &[u8]) -> Vec<u8> {
    let (crc, csize, usize_) = e.sizes();
    let mut h = Vec::new();
    h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    h.extend_from_slice(&20u16.to_le_bytes()); // version needed
    h.extend_from_slice(&e.flags.to_le_bytes());
    h.extend_from_slice(&e.method.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // time
    h.extend_from_slice(&0x5b7au16.to_le_bytes()); // date
    if e.flags & DESCRIPTOR_FLAG != 0 {
        h.extend_from_slice(&[0u8; 12]);
    } else {
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&csize.to_le_bytes());
        h.extend_from_slice(&usize_.to_le_bytes());
    }
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    h.extend_from_slice(&(e.extra.len() as u16).to_le_bytes());
    h.extend_from_slice(name);
    h.extend_from_slice(&e.extra);
    h
}

/// A central directory header for `e`, pointing at `offset`.
pub fn central_header(e: &Raw, offset: u32) -> Vec<u8> {
    let (crc, csize, usize_) = e.sizes();
    let mut h = Vec::new();
    h.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    h.extend_from_slice(&0x0314u16.to_le_bytes()); // made by unix, 2.0
    h.extend_from_slice(&20u16.to_le_bytes());
    h.extend_from_slice(&e.flags.to_le_bytes());
    h.extend_from_slice(&e.method.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&0x5b7au16.to_le_bytes());
    h.extend_from_slice(&crc.to_le_bytes());
    h.extend_from_slice(&csize.to_le_bytes());
    h.extend_from_slice(&usize_.to_le_bytes());
    h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
    h.extend_from_slice(&(e.extra.len() as u16).to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // comment
    h.extend_from_slice(&0u16.to_le_bytes()); // disk
    h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
    let mode: u32 = if e.name.ends_with(b"/") {
        0o040755
    } else {
        0o100644
    };
    h.extend_from_slice(&(mode << 16).to_le_bytes());
    h.extend_from_slice(&offset.to_le_bytes());
    h.extend_from_slice(&e.name);
    h.extend_from_slice(&e.extra);
    h
}

/// The end of central directory record.
pub fn end_record(entries: usize, cd_size: usize, cd_offset: usize) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&(entries as u16).to_le_bytes());
    h.extend_from_slice(&(entries as u16).to_le_bytes());
    h.extend_from_slice(&(cd_size as u32).to_le_bytes());
    h.extend_from_slice(&(cd_offset as u32).to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h
}

/// A zip of `entries`, one after the other, each local header followed by its data
/// (and a data descriptor when its flags ask for one).
pub fn zip(entries: &[Raw]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut cd = Vec::new();
    for e in entries {
        let offset = body.len() as u32;
        body.extend(local_header(e, e.local_name.as_deref().unwrap_or(&e.name)));
        body.extend_from_slice(&e.data);
        if e.flags & DESCRIPTOR_FLAG != 0 {
            let (crc, csize, usize_) = e.sizes();
            body.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
            body.extend_from_slice(&crc.to_le_bytes());
            body.extend_from_slice(&csize.to_le_bytes());
            body.extend_from_slice(&usize_.to_le_bytes());
        }
        cd.extend(central_header(e, offset));
    }
    let cd_offset = body.len();
    let cd_size = cd.len();
    body.extend(cd);
    body.extend(end_record(entries.len(), cd_size, cd_offset));
    body
}

/// A manifest (from [`signed_manifest`]'s fields) grown to exactly `size` bytes with an
/// unknown field of random letters (readers ignore unknown fields; random so the
/// ratio limit holds), signed by `key`.
pub fn padded_manifest(key: &NodeKey, manifest: &[u8], size: usize) -> (Vec<u8>, Vec<u8>) {
    let text = std::str::from_utf8(manifest).expect("utf-8 manifest");
    let body = text.trim_end().strip_suffix('}').expect("a JSON object");
    let mut out = format!("{body},\n  \"padding\": \"");
    let mut state = 0x0bad_5eed_1234_5678u64;
    while out.len() + 3 < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push(char::from(b'a' + (state % 26) as u8));
    }
    out.push_str("\"}\n");
    sign(key, out.into_bytes())
}

/// `entries` followed by a manifest (listing `listed`) and its signature.
pub fn signed_zip(key: &NodeKey, mut entries: Vec<Raw>, listed: &[(&str, &[u8])]) -> Vec<u8> {
    let (m, s) = signed_manifest(key, listed, |_| {});
    entries.push(Raw::new("manifest.json", &m));
    entries.push(Raw::new("manifest.json.sig", &s));
    zip(&entries)
}

/// An Info-ZIP Unicode Path extra field (0x7075) naming `unicode`, with the CRC-32 of
/// `header_name` (so readers that follow the field take it).
pub fn unicode_path_field(header_name: &[u8], unicode: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0x7075u16.to_le_bytes());
    f.extend_from_slice(&((5 + unicode.len()) as u16).to_le_bytes());
    f.push(1);
    f.extend_from_slice(&crc32(header_name).to_le_bytes());
    f.extend_from_slice(unicode);
    f
}

/// A binary age file whose header has `stanzas` X25519 stanzas of random-looking keys
/// (none of them for any real identity), a MAC line and a short payload.
pub fn age_with_stanzas(stanzas: usize) -> Vec<u8> {
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
        // 32 bytes in unpadded base64 is 43 characters, the last of 4 valid ones.
        out.push_str(&format!("-> X25519 {}A\n{}A\n", b64(42), b64(42)));
    }
    out.push_str(&format!("--- {}A\n", b64(42)));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&[0u8; 64]);
    bytes
}

/// Appends `e` (local header and data) to `body`; returns its offset.
pub fn append(body: &mut Vec<u8>, e: &Raw) -> u32 {
    let offset = body.len() as u32;
    body.extend(local_header(e, e.local_name.as_deref().unwrap_or(&e.name)));
    body.extend_from_slice(&e.data);
    offset
}

/// Ends `body` with a central directory listing `entries` at their offsets.
pub fn finish(mut body: Vec<u8>, entries: &[(Raw, u32)]) -> Vec<u8> {
    let cd_offset = body.len();
    let mut cd = Vec::new();
    for (e, offset) in entries {
        cd.extend(central_header(e, *offset));
    }
    let cd_size = cd.len();
    body.extend(cd);
    body.extend(end_record(entries.len(), cd_size, cd_offset));
    body
}

/// Two entries whose bytes overlap: `outer`'s stored data holds `inner`'s local
/// header and data, and the central directory lists both (the trick behind
/// non-recursive zip bombs), followed by a signed manifest listing both.
pub fn overlapping(key: &NodeKey) -> Vec<u8> {
    let inner = Raw::new("logs/inner.log", b"inner log line\n");
    let mut inner_bytes = local_header(&inner, &inner.name);
    let inner_at = inner_bytes.len();
    inner_bytes.extend_from_slice(&inner.data);
    let outer = Raw::new("logs/outer.log", &inner_bytes);
    let mut body = Vec::new();
    let outer_off = append(&mut body, &outer);
    let inner_off = outer_off + local_header(&outer, &outer.name).len() as u32;
    let _ = inner_at;
    let (m, s) = signed_manifest(
        key,
        &[
            ("logs/outer.log", &outer.data),
            ("logs/inner.log", &inner.data),
        ],
        |_| {},
    );
    let m = Raw::new("manifest.json", &m);
    let s = Raw::new("manifest.json.sig", &s);
    let m_off = append(&mut body, &m);
    let s_off = append(&mut body, &s);
    finish(
        body,
        &[
            (outer, outer_off),
            (inner, inner_off),
            (m, m_off),
            (s, s_off),
        ],
    )
}
