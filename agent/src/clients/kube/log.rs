//! A pod log being read from the API server, line by line, with one line and one
//! network frame held at a time.

use http_body_util::BodyExt;

use super::KubeError;

/// Longest log line kept; the rest of a longer line is left out with a marker.
pub const LOG_LINE_MAX: usize = 64 << 10;

/// The body of a pod log being read ([`super::Kube::open_log`]): at most one line
/// ([`LOG_LINE_MAX`]) and one network frame are held at a time.
pub struct LogBody {
    body: kube::client::Body,
    path: String,
    buf: Vec<u8>,
    /// Bytes of the current line left out past [`LOG_LINE_MAX`].
    skip: u64,
    done: bool,
    /// Bytes read from the server so far.
    pub read: u64,
}

impl LogBody {
    /// A log body just opened at `path` (as shown in errors).
    pub(super) fn new(body: kube::client::Body, path: String) -> LogBody {
        LogBody {
            body,
            path,
            buf: Vec::new(),
            skip: 0,
            done: false,
            read: 0,
        }
    }

    /// The next line, without its `\n` (a line longer than [`LOG_LINE_MAX`] is cut and
    /// ends with `[rcdiag: line cut at 64 KiB, N more bytes left out]`); `None` at the end.
    pub async fn next_line(&mut self) -> Result<Option<String>, KubeError> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let rest = self.buf.split_off(i + 1);
                let mut line = std::mem::replace(&mut self.buf, rest);
                line.pop();
                return Ok(Some(self.finish_line(line)));
            }
            if self.buf.len() > LOG_LINE_MAX {
                self.skip += (self.buf.len() - LOG_LINE_MAX) as u64;
                self.buf.truncate(LOG_LINE_MAX);
            }
            if self.done {
                if self.buf.is_empty() && self.skip == 0 {
                    return Ok(None);
                }
                let line = std::mem::take(&mut self.buf);
                return Ok(Some(self.finish_line(line)));
            }
            match self.body.frame().await {
                None => self.done = true,
                Some(Err(e)) => {
                    return Err(KubeError::Transport {
                        path: self.path.clone(),
                        message: e.to_string(),
                    });
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.read += data.len() as u64;
                        if self.skip > 0 && self.buf.len() >= LOG_LINE_MAX {
                            // Still inside a cut line: keep only what follows its end.
                            match data.iter().position(|b| *b == b'\n') {
                                Some(i) => {
                                    self.skip += i as u64;
                                    self.buf.extend_from_slice(&data[i..]);
                                }
                                None => self.skip += data.len() as u64,
                            }
                        } else {
                            self.buf.extend_from_slice(&data);
                        }
                    }
                }
            }
        }
    }

    fn finish_line(&mut self, mut line: Vec<u8>) -> String {
        if line.len() > LOG_LINE_MAX {
            self.skip += (line.len() - LOG_LINE_MAX) as u64;
            line.truncate(LOG_LINE_MAX);
        }
        let mut s = String::from_utf8_lossy(&line).into_owned();
        if s.ends_with('\r') {
            s.pop();
        }
        let skipped = std::mem::take(&mut self.skip);
        if skipped > 0 {
            s.push_str(&format!(
                " [rcdiag: line cut at 64 KiB, {skipped} more bytes left out]"
            ));
        }
        s
    }
}
