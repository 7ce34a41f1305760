//! The plain-HTTP client for the Rocket.Chat containers' `/api/info` and `/metrics`:
//! `reqwest` (already in the tree for upload), one request per connection, within a
//! time limit, the body read up to a budget ([`MAX_HTTP_BYTES`]); no redirect is
//! followed, no proxy is used (the address is a container's own), no TLS.

use std::time::Duration;

/// Most bytes read of one HTTP reply's body.
pub const MAX_HTTP_BYTES: usize = 512 * 1024;

/// A plain HTTP reply.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Body (at most [`MAX_HTTP_BYTES`]), de-chunked.
    pub body: Vec<u8>,
}

/// The client: built once (no certificate is loaded: plain http only), no idle
/// connection kept, so each request has a connection of its own.
fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: std::sync::OnceLock<Result<reqwest::Client, String>> =
        std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .referer(false)
                .http1_only()
                .pool_max_idle_per_host(0)
                .tls_built_in_root_certs(false)
                .tls_built_in_native_certs(false)
                .user_agent("rcdiag-agent")
                .build()
                .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// `GET path` to `host:port` (plain http only), within `limit` for the whole reply.
/// A redirect is returned as it is (its status), not followed; a body longer than
/// [`MAX_HTTP_BYTES`] is cut there.
pub async fn http_get(
    host: &str,
    port: u16,
    path: &str,
    limit: Duration,
) -> Result<HttpReply, String> {
    let host_part = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let url = format!("http://{host_part}:{port}{path}");
    let fut = async {
        let mut resp = client()?
            .get(&url)
            .header(reqwest::header::ACCEPT, "*/*")
            .header(reqwest::header::CONNECTION, "close")
            .send()
            .await
            .map_err(|e| {
                let e = e.without_url();
                if e.is_connect() {
                    format!("cannot connect: {}", chain(&e))
                } else {
                    format!("not an HTTP reply: {}", chain(&e))
                }
            })?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while body.len() < MAX_HTTP_BYTES {
            let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| format!("reading the reply: {}", chain(&e.without_url())))?
            else {
                break;
            };
            let room = MAX_HTTP_BYTES - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        Ok(HttpReply { status, body })
    };
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no complete answer within {:.1} s",
            limit.as_secs_f64()
        )),
    }
}

/// An error and its sources, joined.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Accepts one connection, reads the request, writes `reply`, closes.
    async fn answer_once(l: &TcpListener, reply: &[u8]) {
        let (mut s, _) = l.accept().await.expect("accept");
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await;
        let _ = s.write_all(reply).await;
    }

    #[tokio::test]
    async fn a_redirect_is_returned_not_followed() {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = l.local_addr().expect("addr").port();
        let elsewhere = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let other = elsewhere.local_addr().expect("addr").port();
        let reply = format!(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{other}/api/info\r\nContent-Length: 0\r\n\r\n"
        );
        let server = tokio::spawn(async move { answer_once(&l, reply.as_bytes()).await });
        let r = http_get("127.0.0.1", port, "/api/info", Duration::from_secs(5))
            .await
            .expect("reply");
        assert_eq!(r.status, 302);
        assert!(r.body.is_empty());
        server.await.expect("server");
        // Nobody came to the address the redirect named.
        let came = tokio::time::timeout(Duration::from_millis(200), elsewhere.accept()).await;
        assert!(came.is_err(), "the redirect was followed");
    }

    #[tokio::test]
    async fn a_chunked_body_is_cut_at_the_budget_and_garbage_is_not_a_reply() {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = l.local_addr().expect("addr").port();
        let server = tokio::spawn(async move {
            // 64 chunks of 16 KiB (1 MiB), twice the budget.
            let mut reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for _ in 0..64 {
                reply.extend_from_slice(format!("{:x}\r\n", 16 << 10).as_bytes());
                reply.extend_from_slice(&[b'c'; 16 << 10]);
                reply.extend_from_slice(b"\r\n");
            }
            reply.extend_from_slice(b"0\r\n\r\n");
            answer_once(&l, &reply).await;
            answer_once(&l, b"SSH-2.0-OpenSSH_9.2\r\n").await;
        });
        let r = http_get("127.0.0.1", port, "/metrics", Duration::from_secs(5))
            .await
            .expect("reply");
        assert_eq!((r.status, r.body.len()), (200, MAX_HTTP_BYTES));
        assert!(
            r.body.iter().all(|&b| b == b'c'),
            "chunk framing left in the body"
        );
        let e = http_get("127.0.0.1", port, "/metrics", Duration::from_secs(5))
            .await
            .expect_err("not HTTP");
        assert!(e.contains("not an HTTP reply"), "{e}");
        server.await.expect("server");
        // Nothing listens any more.
        let e = http_get("127.0.0.1", port, "/metrics", Duration::from_secs(5))
            .await
            .expect_err("closed");
        assert!(e.starts_with("cannot connect"), "{e}");
    }

    /// Against a real HTTP server (Python's `http.server`, which the test peers'
    /// install brings): status, body, and a 404 as a status, not an error.
    #[tokio::test]
    async fn reads_a_real_http_server() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("api")).expect("mkdir");
        std::fs::write(
            dir.path().join("api/info"),
            br#"{"version":"7.4.1","success":true}"#,
        )
        .expect("write");
        let mut child = match tokio::process::Command::new("python3")
            .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
        {
            Ok(c) => c,
            Err(e) if std::env::var_os("RCDIAG_REQUIRE_PEERS").is_none() => {
                eprintln!("skipped: no python3 for the HTTP server ({e})");
                return;
            }
            Err(e) => panic!("python3 -m http.server: {e} (RCDIAG_REQUIRE_PEERS is set)"),
        };
        let mut out = child.stdout.take().expect("stdout");
        let mut seen = String::new();
        let port: u16 = tokio::time::timeout(Duration::from_secs(10), async {
            let mut buf = [0u8; 256];
            loop {
                let n = out.read(&mut buf).await.expect("read stdout");
                assert!(n > 0, "http.server exited: {seen}");
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                if let Some(p) = seen
                    .split(" port ")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|p| p.parse().ok())
                {
                    return p;
                }
            }
        })
        .await
        .expect("http.server said its port");
        let r = http_get("127.0.0.1", port, "/api/info", Duration::from_secs(5))
            .await
            .expect("reply");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, br#"{"version":"7.4.1","success":true}"#);
        let r = http_get("127.0.0.1", port, "/metrics", Duration::from_secs(5))
            .await
            .expect("reply");
        assert_eq!(r.status, 404);
        let _ = child.kill().await;
    }

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
