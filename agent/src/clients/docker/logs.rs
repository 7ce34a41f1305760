//! Container logs through the Engine API, decoded in bounded chunks: a frame never
//! allocates more than [`LOG_LINE_MAX`] whatever its header claims, and longer lines
//! are cut with a marker. The stream is not capped by the reply budget; its reader
//! (the logs collector's line and byte limits, and the deadline) bounds it.

use std::pin::Pin;

use bollard::container::LogOutput;
use bytes::BytesMut;
use futures_util::Stream;
use http_body_util::BodyExt;

use super::transport::{Endpoint, get};
use crate::clients::budget::LOG_LINE_MAX;

/// The options of a logs request that [`logs`] uses.
#[derive(Debug, Clone)]
pub struct LogsRequest {
    /// Unix seconds of the window start (0: all).
    pub since: i64,
    /// Most recent lines (`all` or a number).
    pub tail: String,
}

/// Streams a container's log (stdout and stderr, with timestamps, not followed) from
/// the engine at `endpoint` (API `version`, e.g. `1.41`), decoded in bounded chunks:
/// one item per frame (or line, for a TTY container), each at most [`LOG_LINE_MAX`]
/// bytes plus a marker saying how much was cut.
pub fn logs(
    endpoint: &str,
    version: &str,
    id: &str,
    opts: &LogsRequest,
) -> Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>> {
    let path = format!(
        "/v{version}/containers/{id}/logs?stdout=true&stderr=true&timestamps=true&follow=false&since={}&tail={}",
        opts.since,
        if opts.tail.chars().all(|c| c.is_ascii_alphanumeric()) {
            opts.tail.as_str()
        } else {
            "all"
        }
    );
    let ep = Endpoint::parse(endpoint);
    Box::pin(async_stream(ep, path))
}

fn async_stream(
    ep: Option<Endpoint>,
    path: String,
) -> impl Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send {
    use futures_util::StreamExt as _;
    let start = async move {
        let Some(ep) = ep else {
            return Err(bollard::errors::Error::UnsupportedURISchemeError {
                uri: "the Docker endpoint".into(),
            });
        };
        get(&ep, &path, None).await
    };
    futures_util::stream::once(start).flat_map(|r| match r {
        Err(e) => futures_util::stream::iter(vec![Err(e)]).boxed(),
        Ok(body) => futures_util::stream::unfold(
            (body, LogDecoder::default(), false),
            |(mut body, mut dec, done)| async move {
                loop {
                    if let Some(item) = dec.next_item() {
                        return Some((Ok(item), (body, dec, done)));
                    }
                    if done {
                        return None;
                    }
                    match body.frame().await {
                        Some(Ok(f)) => {
                            if let Some(d) = f.data_ref() {
                                dec.feed(d);
                            }
                        }
                        Some(Err(e)) => {
                            return Some((Err(bollard::errors::Error::from(e)), (body, dec, true)));
                        }
                        None => {
                            dec.finish();
                            return dec.next_item().map(|i| (Ok(i), (body, dec, true)));
                        }
                    }
                }
            },
        )
        .boxed(),
    })
}

/// Decodes the engine's log stream: multiplexed frames (8-byte header: stream, 0, 0, 0,
/// big-endian length) or, for a TTY container, raw lines. Holds at most one header, one
/// kept line of [`LOG_LINE_MAX`] bytes and the items decoded but not yet taken.
#[derive(Default)]
pub struct LogDecoder {
    mode: Option<bool>,
    header: Vec<u8>,
    stream: u8,
    remaining: u64,
    in_frame: bool,
    kept: BytesMut,
    dropped: u64,
    ready: std::collections::VecDeque<LogOutput>,
}

impl LogDecoder {
    /// Feeds bytes of the body.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let multiplexed = *self.mode.get_or_insert_with(|| {
                data.first().is_some_and(|b| *b <= 2) && (data.len() < 4 || data[1..4] == [0, 0, 0])
            });
            if !multiplexed {
                data = self.feed_raw(data);
                continue;
            }
            if !self.in_frame {
                let need = 8 - self.header.len();
                let take = need.min(data.len());
                self.header.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.header.len() < 8 {
                    return;
                }
                self.stream = self.header[0];
                self.remaining = u64::from(u32::from_be_bytes([
                    self.header[4],
                    self.header[5],
                    self.header[6],
                    self.header[7],
                ]));
                self.header.clear();
                self.in_frame = true;
                if self.remaining == 0 {
                    self.end_frame();
                }
                continue;
            }
            let take = (self.remaining as usize).min(data.len());
            self.keep(&data[..take]);
            self.remaining -= take as u64;
            data = &data[take..];
            if self.remaining == 0 {
                self.end_frame();
            }
        }
    }

    fn keep(&mut self, chunk: &[u8]) {
        let room = LOG_LINE_MAX.saturating_sub(self.kept.len());
        let k = room.min(chunk.len());
        self.kept.extend_from_slice(&chunk[..k]);
        self.dropped += (chunk.len() - k) as u64;
    }

    fn feed_raw<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        match memchr::memchr(b'\n', data) {
            Some(i) => {
                self.keep(&data[..=i]);
                self.stream = 1;
                self.end_frame();
                &data[i + 1..]
            }
            None => {
                self.keep(data);
                &[]
            }
        }
    }

    fn end_frame(&mut self) {
        self.in_frame = false;
        let mut line = std::mem::take(&mut self.kept);
        if self.dropped > 0 {
            let ends_nl = line.last() == Some(&b'\n');
            if ends_nl {
                line.truncate(line.len() - 1);
            }
            line.extend_from_slice(
                format!(
                    " [rcdiag: line cut at {} KiB, {} more bytes left out]\n",
                    LOG_LINE_MAX >> 10,
                    self.dropped
                )
                .as_bytes(),
            );
            self.dropped = 0;
        }
        let message = line.freeze();
        self.ready.push_back(match (self.mode, self.stream) {
            (Some(false), _) => LogOutput::Console { message },
            (_, 0) => LogOutput::StdIn { message },
            (_, 2) => LogOutput::StdErr { message },
            _ => LogOutput::StdOut { message },
        });
    }

    /// The end of the body: a partial raw line is emitted.
    pub fn finish(&mut self) {
        if (self.mode == Some(false) && !self.kept.is_empty()) || self.in_frame {
            self.end_frame();
        }
    }

    /// The next decoded item.
    pub fn next_item(&mut self) -> Option<LogOutput> {
        self.ready.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(stream: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![stream, 0, 0, 0];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn all(d: &mut LogDecoder) -> Vec<LogOutput> {
        std::iter::from_fn(|| d.next_item()).collect()
    }

    #[test]
    fn frames_split_anywhere_decode_the_same() {
        let mut bytes = frame(1, b"2026-01-01T00:00:00Z a\n");
        bytes.extend(frame(2, b"2026-01-01T00:00:01Z b\n"));
        for cut in 0..bytes.len() {
            let mut d = LogDecoder::default();
            d.feed(&bytes[..cut]);
            d.feed(&bytes[cut..]);
            d.finish();
            let items = all(&mut d);
            assert_eq!(items.len(), 2, "cut at {cut}");
            assert!(
                matches!(&items[1], LogOutput::StdErr { message } if message.as_ref() == b"2026-01-01T00:00:01Z b\n")
            );
        }
    }

    #[test]
    fn a_huge_frame_keeps_64_kib_and_says_how_much_was_cut() {
        let mut d = LogDecoder::default();
        // A header claiming 4 GiB, then 10 MiB of it in chunks: memory stays bounded.
        d.feed(&[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..10 {
            d.feed(&chunk);
            assert!(d.kept.capacity() <= 2 * LOG_LINE_MAX);
        }
        assert!(d.next_item().is_none(), "the frame is not over");
        d.finish();
        let items = all(&mut d);
        assert_eq!(items.len(), 1);
        let text = String::from_utf8_lossy(items[0].as_ref()).into_owned();
        assert!(text.starts_with("xxxx"));
        assert!(
            text.ends_with(&format!(
                " [rcdiag: line cut at 64 KiB, {} more bytes left out]\n",
                (10 << 20) - LOG_LINE_MAX
            )),
            "{}",
            &text[text.len() - 80..]
        );
        assert!(text.len() < LOG_LINE_MAX + 100);
    }

    #[test]
    fn raw_tty_streams_are_split_into_capped_lines() {
        let mut d = LogDecoder::default();
        d.feed(b"hello\nwor");
        d.feed(b"ld\n");
        let long = vec![b'y'; 200 << 10];
        d.feed(&long);
        d.feed(b"\ntail");
        d.finish();
        let items = all(&mut d);
        assert_eq!(items.len(), 4);
        assert_eq!(items[1].as_ref(), b"world\n");
        assert!(String::from_utf8_lossy(items[2].as_ref()).contains("line cut at 64 KiB"));
        assert_eq!(items[3].as_ref(), b"tail");
    }
}
