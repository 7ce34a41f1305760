//! `DIR/rcdiag.prom`: the Prometheus text exposition format (version 0.0.4) of the
//! status, for node_exporter's textfile collector.
//!
//! Written by hand rather than with `prometheus-client` (issue 10 item 5; asked again
//! by issue 14): that crate encodes OpenMetrics text only (a `# EOF` trailer, counters
//! exposed as `NAME_total` under `# TYPE NAME counter`, `# UNIT` lines, `info` types).
//! node_exporter's textfile collector parses the Prometheus 0.0.4 text format, where a
//! sample must carry its family's name: the counter's samples would lose their type, and
//! an `info` family is an unknown type that fails the whole file. Ten to thirteen gauge
//! families do not need a registry, and the names scraped today stay as they are. When
//! `--upload` is set, three more: `rcdiag_last_upload_success_timestamp_seconds`,
//! `rcdiag_upload_failures`, `rcdiag_uploads_pending`.

use jiff::Timestamp;

use super::status::Status;
use crate::collectors;

/// Renders the Prometheus text exposition format (version 0.0.4) of `status`.
pub fn render_metrics(status: &Status, next_run: Option<Timestamp>) -> String {
    fn family(
        out: &mut String,
        name: &str,
        kind: &str,
        help: &str,
        samples: &[(Vec<(&str, String)>, f64)],
    ) {
        out.push_str(&format!(
            "# HELP {name} {}\n# TYPE {name} {kind}\n",
            escape_help(help)
        ));
        for (labels, v) in samples {
            out.push_str(name);
            if !labels.is_empty() {
                let l: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                    .collect();
                out.push_str(&format!("{{{}}}", l.join(",")));
            }
            out.push_str(&format!(" {}\n", prom_float(*v)));
        }
    }
    let mut out = String::new();
    let last_success = status
        .last_success
        .as_ref()
        .map(|s| s.timestamp_seconds)
        .unwrap_or(0.0);
    let last = status.last_run.as_ref();
    family(
        &mut out,
        "rcdiag_last_success_timestamp_seconds",
        "gauge",
        "Unix time at which the last snapshot bundle was written (0: none yet).",
        &[(vec![], last_success)],
    );
    family(
        &mut out,
        "rcdiag_last_duration_seconds",
        "gauge",
        "Duration of the last snapshot attempt in seconds.",
        &[(vec![], last.map(|l| l.duration_seconds).unwrap_or(0.0))],
    );
    let failures: Vec<(Vec<(&str, String)>, f64)> = collectors::names()
        .into_iter()
        .map(|n| {
            (
                vec![("collector", n.to_string())],
                *status.consecutive_failures.get(n).unwrap_or(&0) as f64,
            )
        })
        .collect();
    family(
        &mut out,
        "rcdiag_collector_failures",
        "gauge",
        "Consecutive snapshots in which the collector failed, timed out or was partial (0: the last one was ok or skipped).",
        &failures,
    );
    family(
        &mut out,
        "rcdiag_bundles_kept",
        "gauge",
        "Snapshot bundles written by the scheduler and kept in the folder after retention.",
        &[(vec![], status.retention.kept as f64)],
    );
    family(
        &mut out,
        "rcdiag_bundle_bytes",
        "gauge",
        "Total size in bytes of the snapshot bundles kept.",
        &[(vec![], status.retention.kept_bytes as f64)],
    );
    family(
        &mut out,
        "rcdiag_last_run_timestamp_seconds",
        "gauge",
        "Unix time at which the last snapshot attempt ended (0: none yet).",
        &[(
            vec![],
            last.and_then(|l| l.finished_at.parse::<Timestamp>().ok())
                .map(unix_seconds)
                .unwrap_or(0.0),
        )],
    );
    family(
        &mut out,
        "rcdiag_last_run_success",
        "gauge",
        "1 if the last snapshot attempt wrote a bundle, else 0.",
        &[(
            vec![],
            if last.is_some_and(|l| l.outcome == "ok" || l.outcome == "degraded") {
                1.0
            } else {
                0.0
            },
        )],
    );
    family(
        &mut out,
        "rcdiag_next_run_timestamp_seconds",
        "gauge",
        "Unix time at which the next snapshot is due (0: none scheduled).",
        &[(vec![], next_run.map(unix_seconds).unwrap_or(0.0))],
    );
    family(
        &mut out,
        "rcdiag_ticks_skipped_total",
        "counter",
        "Ticks skipped since the scheduler started because a snapshot was still running.",
        &[(vec![], status.counters.ticks_skipped as f64)],
    );
    if let Some(u) = &status.upload {
        family(
            &mut out,
            "rcdiag_last_upload_success_timestamp_seconds",
            "gauge",
            "Unix time at which the last snapshot upload (--upload) was confirmed (0: none yet).",
            &[(
                vec![],
                u.last_success
                    .as_ref()
                    .map(|r| r.timestamp_seconds)
                    .unwrap_or(0.0),
            )],
        );
        family(
            &mut out,
            "rcdiag_upload_failures",
            "gauge",
            "Snapshot uploads that failed in a row (0: the last one was confirmed).",
            &[(vec![], u.consecutive_failures as f64)],
        );
        family(
            &mut out,
            "rcdiag_uploads_pending",
            "gauge",
            "Snapshots kept in the folder that are not uploaded yet.",
            &[(vec![], u.pending as f64)],
        );
    }
    family(
        &mut out,
        "rcdiag_agent_info",
        "gauge",
        "Version of the rcdiag agent writing these metrics.",
        &[(vec![("version", status.agent_version.clone())], 1.0)],
    );
    out
}

fn prom_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub(super) fn unix_seconds(t: Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::LastSuccess;

    #[test]
    fn metrics_render_every_family_once() {
        let mut s = Status {
            agent_version: "1.2.3".into(),
            ..Status::default()
        };
        s.consecutive_failures.insert("docker".into(), 2);
        s.retention.kept = 3;
        s.retention.kept_bytes = 12345;
        s.last_success = Some(LastSuccess {
            timestamp_seconds: 1767225600.25,
            ..LastSuccess::default()
        });
        let text = render_metrics(&s, None);
        assert!(
            text.contains("rcdiag_collector_failures{collector=\"docker\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("rcdiag_collector_failures{collector=\"host\"} 0\n"));
        assert!(text.contains("rcdiag_bundles_kept 3\n"));
        assert!(text.contains("rcdiag_bundle_bytes 12345\n"));
        assert!(text.contains("rcdiag_last_success_timestamp_seconds 1767225600.25\n"));
        assert_eq!(text.matches("# TYPE ").count(), 10);
        assert!(
            !text.contains("upload"),
            "no upload families without --upload"
        );
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        s.upload = Some(crate::schedule::UploadStatus {
            consecutive_failures: 2,
            pending: 3,
            last_success: Some(crate::schedule::UploadRecord {
                timestamp_seconds: 1767225700.5,
                ..Default::default()
            }),
            ..Default::default()
        });
        let text = render_metrics(&s, None);
        assert_eq!(text.matches("# TYPE ").count(), 13);
        assert!(text.contains("rcdiag_last_upload_success_timestamp_seconds 1767225700.5\n"));
        assert!(text.contains("rcdiag_upload_failures 2\n"));
        assert!(text.contains("rcdiag_uploads_pending 3\n"));
    }
}
