//! The HTTP probes of each Rocket.Chat container: `/api/info` on its port and the
//! Prometheus exporter's `/metrics`.

use std::time::Duration;

use rcdiag_contract::rocketchat::{Endpoint, Probe};
use serde_json::Value;

use super::{DEFAULT_PORT, DiscoveredContainer};
use crate::clients::http::http_get;

/// A probe that got no complete answer: `error` says why.
fn unanswered(url: String, error: String) -> Probe {
    Probe {
        url: Some(url),
        ok: Some(false),
        error: Some(error),
        ..Probe::default()
    }
}

pub(super) async fn probe_api_info(host: &str, port: u16, limit: Duration) -> Probe {
    let url = format!("http://{}:{port}/api/info", bracket(host));
    match http_get(host, port, "/api/info", limit).await {
        Ok(r) => {
            let v: Option<Value> = serde_json::from_slice(&r.body).ok();
            let version = v.as_ref().and_then(|v| {
                v.get("version")
                    .or_else(|| v.get("info").and_then(|i| i.get("version")))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
            let ok = r.status == 200 && v.is_some();
            let error = if r.status != 200 {
                Some(format!("HTTP {}", r.status))
            } else if v.is_none() {
                Some("the reply is not JSON: is this Rocket.Chat?".into())
            } else {
                None
            };
            Probe {
                url: Some(url),
                ok: Some(ok),
                status: Some(u64::from(r.status)),
                version,
                error,
                ..Probe::default()
            }
        }
        Err(e) => unanswered(url, e),
    }
}

pub(super) async fn probe_metrics(host: &str, port: u16, limit: Duration) -> Probe {
    let url = format!("http://{}:{port}/metrics", bracket(host));
    match http_get(host, port, "/metrics", limit).await {
        Ok(r) => {
            let text = String::from_utf8_lossy(&r.body);
            let has_rc = text.lines().any(|l| l.starts_with("rocketchat_"));
            let version =
                regex::Regex::new(r#"(?m)^rocketchat_(?:version|info)\{[^}]*\bversion="([^"]+)""#)
                    .ok()
                    .and_then(|re| {
                        re.captures(&text)
                            .and_then(|c| c.get(1))
                            .map(|m| m.as_str().to_string())
                    });
            let error = (r.status != 200).then(|| format!("HTTP {}", r.status));
            Probe {
                url: Some(url),
                ok: Some(r.status == 200),
                status: Some(u64::from(r.status)),
                version,
                error,
                rocketchat_metrics: Some(has_rc),
                ..Probe::default()
            }
        }
        Err(e) => unanswered(url, e),
    }
}

pub(super) fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Probes `/api/info` and `/metrics` of each running Rocket.Chat container, all at once.
pub(super) async fn probe_containers(
    containers: &[DiscoveredContainer],
    prometheus_port: u16,
    limit: Duration,
) -> Vec<Endpoint> {
    let probes = containers
        .iter()
        .filter(|c| c.running)
        .take(20)
        .map(|c| async move {
            let port = c
                .env_value("PORT")
                .and_then(|p| p.trim().parse::<u16>().ok())
                .unwrap_or(DEFAULT_PORT);
            let mport = c
                .env_value("PROMETHEUS_PORT")
                .and_then(|p| p.trim().parse::<u16>().ok())
                .unwrap_or(prometheus_port);
            let (host, note) = match c.ips.first() {
                Some(ip) => (ip.clone(), None),
                None => (
                    "127.0.0.1".to_string(),
                    Some("the container has no IP of its own (host network?): tried 127.0.0.1"),
                ),
            };
            let (api, metrics) = tokio::join!(
                probe_api_info(&host, port, limit),
                probe_metrics(&host, mport, limit)
            );
            Endpoint {
                container: Some(c.name.clone()),
                address: Some(host),
                note: note.map(str::to_string),
                api_info: Some(api),
                metrics: Some(metrics),
                ..Endpoint::default()
            }
        });
    futures_util::future::join_all(probes).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn http_get_reads_status_and_body_and_times_out() {
        use tokio::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = l.local_addr().expect("addr").port();
        let (a, b) = ("# HELP x\nrocketchat_version{version=", "\"8.5.0\"} 1\n");
        let chunked = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        );
        let server = tokio::spawn(async move {
            for reply in [
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"version\":\"8.5.0\",\"success\":true}".to_string(),
                chunked,
            ] {
                let (mut s, _) = l.accept().await.expect("accept");
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(reply.as_bytes()).await;
            }
            // Third: accept and never answer.
            let (_s, _) = l.accept().await.expect("accept");
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let p = probe_api_info("127.0.0.1", port, Duration::from_secs(2)).await;
        assert_eq!(p.ok, Some(true), "{p:?}");
        assert_eq!(p.version.as_deref(), Some("8.5.0"));
        let m = probe_metrics("127.0.0.1", port, Duration::from_secs(2)).await;
        assert_eq!(m.ok, Some(true), "{m:?}");
        assert_eq!(m.rocketchat_metrics, Some(true));
        assert_eq!(m.version.as_deref(), Some("8.5.0"));
        let t0 = std::time::Instant::now();
        let h = probe_api_info("127.0.0.1", port, Duration::from_millis(300)).await;
        assert!(
            h.ok == Some(false) && t0.elapsed() < Duration::from_secs(2),
            "{h:?}"
        );
        assert!(
            h.error
                .as_deref()
                .is_some_and(|e| e.contains("no complete answer")),
            "{h:?}"
        );
        server.abort();
    }
}
