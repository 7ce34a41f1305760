//! A small plain-HTTP/1.0 client for the Rocket.Chat containers' `/api/info` and
//! `/metrics`: one request per connection, within a time limit, a reply read up to a
//! budget ([`MAX_HTTP_BYTES`] of body) and de-chunked.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Most bytes read of one HTTP reply.
pub const MAX_HTTP_BYTES: usize = 512 * 1024;

/// A plain HTTP reply.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Body (at most [`MAX_HTTP_BYTES`]), de-chunked.
    pub body: Vec<u8>,
}

/// `GET path` over HTTP/1.0 to `host:port` (plain http only), within `limit`.
pub async fn http_get(
    host: &str,
    port: u16,
    path: &str,
    limit: Duration,
) -> Result<HttpReply, String> {
    let fut = async {
        let mut s = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let host_header = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let req = format!(
            "GET {path} HTTP/1.0\r\nHost: {host_header}\r\nUser-Agent: rcdiag-agent\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("cannot send the request: {e}"))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = s
                .read(&mut chunk)
                .await
                .map_err(|e| format!("reading the reply: {e}"))?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > MAX_HTTP_BYTES + 64 * 1024 {
                break;
            }
        }
        parse_http(&buf)
    };
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no complete answer within {:.1} s",
            limit.as_secs_f64()
        )),
    }
}

fn parse_http(buf: &[u8]) -> Result<HttpReply, String> {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("not an HTTP reply (no header end)")?;
    let head = String::from_utf8_lossy(&buf[..split]);
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let proto = parts.next().unwrap_or_default();
    if !proto.starts_with("HTTP/") {
        return Err(format!(
            "not an HTTP reply: {:?}",
            status_line.chars().take(60).collect::<String>()
        ));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("HTTP reply without a status code")?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let raw = &buf[split + 4..];
    let mut body = if chunked { dechunk(raw) } else { raw.to_vec() };
    body.truncate(MAX_HTTP_BYTES);
    Ok(HttpReply { status, body })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&raw[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_hex, 16) else {
            break;
        };
        if size == 0 {
            break;
        }
        let start = eol + 2;
        let end = (start + size).min(raw.len());
        out.extend_from_slice(&raw[start..end]);
        raw = raw.get(end + 2..).unwrap_or(&[]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reply_is_read_up_to_its_budget_and_a_silent_peer_up_to_the_limit() {
        use tokio::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = l.local_addr().expect("addr").port();
        let server = tokio::spawn(async move {
            // A body of 16 MiB, streamed: the client stops reading past its budget.
            let (mut s, _) = l.accept().await.expect("accept");
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
            let chunk = vec![b'm'; 64 << 10];
            for _ in 0..256 {
                if s.write_all(&chunk).await.is_err() {
                    break;
                }
            }
            // Then one that never answers.
            let (_s, _) = l.accept().await.expect("accept");
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let r = http_get("127.0.0.1", port, "/metrics", Duration::from_secs(5))
            .await
            .expect("reply");
        assert_eq!(r.status, 200);
        assert_eq!(r.body.len(), MAX_HTTP_BYTES);
        let t0 = std::time::Instant::now();
        let e = http_get("127.0.0.1", port, "/api/info", Duration::from_millis(300))
            .await
            .expect_err("silent");
        assert!(e.contains("no complete answer"), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(2));
        server.abort();
    }
}
