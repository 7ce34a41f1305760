//! `version.supported` and `version.consistent`: the Rocket.Chat release is within
//! its support window at the as-of date (facts §4), and every instance runs the same
//! version (Docker containers, host processes and the Rocket.Chat pods of a cluster
//! view alike).

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, as_of, conclude,
    in_cluster, node_rc_version, rc_containers, rc_pod_servers, result,
};
use crate::policy::{SupportStatus, Version};

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[
    Check {
        id: CheckId::VersionSupported,
        title: "Rocket.Chat version supported",
        area: "version",
        description: "The Rocket.Chat release was within its support window (LTS aware) on the as-of date; a release newer than the policy is unknown.",
        run: supported,
    },
    Check {
        id: CheckId::VersionConsistent,
        title: "All instances run the same version",
        area: "version",
        description: "Image tags (of containers and of Rocket.Chat pods), statistics, /api/info and startup boxes across all bundles report one Rocket.Chat version.",
        run: consistent,
    },
];

/// Runs `version.supported`.
pub(crate) fn supported(input: &CheckInput) -> CheckResult {
    const ID: CheckId = CheckId::VersionSupported;
    let policy = input.policy;
    let mut findings = Vec::new();
    let mut gaps = Vec::new();
    for node in input.nodes {
        let Some((v, ev)) = node_rc_version(node, policy) else {
            // A per-node bundle of a cluster given too: its pods are judged there.
            if !in_cluster(input, node) || node.kube.present() {
                gaps.push(node.why_missing("rocketchat/summary.json", "rocketchat"));
            }
            continue;
        };
        let Some(on) = as_of(input, node) else {
            findings.push(Finding::new(
                Outcome::Unknown,
                format!(
                    "{}: the bundle's created_at {:?} does not parse; pass --as-of DATE",
                    node.label, node.manifest.created_at
                ),
                vec![ev],
            ));
            continue;
        };
        let pre = v
            .pre
            .as_ref()
            .map(|p| format!(" (pre-release build {p}: not a supported release)"))
            .unwrap_or_default();
        let lts = |b: bool| if b { " LTS" } else { "" };
        let f = match policy.support_status(&v, on) {
            SupportStatus::Supported { eol, lts: l } if pre.is_empty() => Finding::new(
                Outcome::Pass,
                format!(
                    "Rocket.Chat {v} ({}{}) is supported until {eol} (as of {on})",
                    v.line(),
                    lts(l)
                ),
                vec![ev],
            ),
            SupportStatus::Supported { eol, lts: l } => Finding::new(
                Outcome::Warn,
                format!(
                    "Rocket.Chat {v}{pre}; line {}{} is supported until {eol} (as of {on})",
                    v.line(),
                    lts(l)
                ),
                vec![ev],
            ),
            SupportStatus::EndingSoon {
                eol,
                lts: l,
                days_left,
            } => Finding::new(
                Outcome::Warn,
                format!(
                    "Rocket.Chat {v} ({}{}) reaches end of life on {eol}, {days_left} day(s) after {on}{pre}: plan the upgrade",
                    v.line(),
                    lts(l)
                ),
                vec![ev],
            ),
            SupportStatus::Ended { eol, lts: l } => Finding::new(
                Outcome::Fail,
                format!(
                    "Rocket.Chat {v} ({}{}) reached end of life on {eol} (as of {on}): no longer supported",
                    v.line(),
                    lts(l)
                ),
                vec![ev],
            ),
            SupportStatus::NewerThanPolicy { newest } => Finding::new(
                Outcome::Unknown,
                format!(
                    "Rocket.Chat {v} is newer than the policy's release table (newest {newest}; policy {} v{} as of {}): the policy is older than this release; update rcdiag-analyzer or pass a newer --policy",
                    policy.name, policy.version, policy.as_of
                ),
                vec![ev],
            ),
            SupportStatus::OlderThanPolicy { ended_by: Some(d) } => Finding::new(
                Outcome::Fail,
                format!(
                    "Rocket.Chat {v} is older than every release in the policy table and had ended by {d} (as of {on})"
                ),
                vec![ev],
            ),
            SupportStatus::OlderThanPolicy { ended_by: None } => Finding::new(
                Outcome::Unknown,
                format!(
                    "Rocket.Chat {v} is older than the policy's release table; its end of life on {on} cannot be told"
                ),
                vec![ev],
            ),
            SupportStatus::NotInTable => Finding::new(
                Outcome::Unknown,
                format!(
                    "Rocket.Chat {v}: line {} is not in the policy's release table (not a known release)",
                    v.line()
                ),
                vec![ev],
            ),
        };
        findings.push(f);
    }
    if findings.is_empty() {
        return result(
            input,
            ID,
            Outcome::Unknown,
            format!(
                "the Rocket.Chat version is unknown: {}; rerun rcdiag-agent collect with read access to the Rocket.Chat database and the Docker socket",
                if gaps.is_empty() {
                    "no bundle".into()
                } else {
                    gaps.join("; ")
                }
            ),
            Vec::new(),
        );
    }
    conclude(input, ID, findings, "")
}

/// A version observation: the version, how many components it gives (2 for a `8.5`
/// tag, 3 for `8.5.1`), and where it was seen.
struct Seen {
    version: Version,
    precision: usize,
    source: String,
    evidence: Evidence,
}

fn precision(s: &str) -> usize {
    let core = s.trim().trim_start_matches(['v', 'V']);
    let core = core.split(['-', '+']).next().unwrap_or("");
    core.split('.').count()
}

/// Runs `version.consistent`.
pub(crate) fn consistent(input: &CheckInput) -> CheckResult {
    const ID: CheckId = CheckId::VersionConsistent;
    let mut seen: Vec<Seen> = Vec::new();
    let mut push = |raw: &str, source: String, evidence: Evidence| {
        if let Some(version) = Version::parse(raw) {
            seen.push(Seen {
                version,
                precision: precision(raw),
                source,
                evidence,
            });
        }
    };
    for node in input.nodes {
        let h = node.hostname();
        if let Some(r) = &node.rocketchat {
            let version = r.version.as_ref();
            if let Some(s) = version.and_then(|v| v.value.as_deref()) {
                push(
                    s,
                    format!("{h} summary"),
                    Evidence::file(node, "rocketchat/summary.json")
                        .at("/version/value")
                        .val(s),
                );
            }
            if let Some(src) = version.and_then(|v| v.sources.as_ref()) {
                // In the agent's order (the contract's map is sorted), then any other.
                const ORDER: [&str; 4] = ["statistics", "image_tag", "startup_log", "api_info"];
                let known = ORDER.iter().filter_map(|k| src.get_key_value(*k));
                let others = src.iter().filter(|(k, _)| !ORDER.contains(&k.as_str()));
                for (k, v) in known.chain(others) {
                    if let Some(s) = v.as_deref() {
                        push(
                            s,
                            format!("{h} {k}"),
                            Evidence::file(node, "rocketchat/summary.json")
                                .at(format!("/version/sources/{k}"))
                                .val(s),
                        );
                    }
                }
            }
            for (i, e) in r.endpoints.iter().enumerate() {
                if let Some(s) = e.api_info.as_ref().and_then(|a| a.version.as_deref()) {
                    let c = e.container.as_deref().unwrap_or("?");
                    push(
                        s,
                        format!("{h} /api/info of {c}"),
                        Evidence::file(node, "rocketchat/summary.json")
                            .at(format!("/endpoints/{i}/api_info/version"))
                            .val(s),
                    );
                }
            }
        }
        if let Some(s) = node
            .rc_statistics
            .as_ref()
            .and_then(|r| r.version.as_deref())
        {
            push(
                s,
                format!("{h} statistics"),
                Evidence::file(node, "rocketchat/statistics.json")
                    .at("/version")
                    .val(s),
            );
        }
        for c in rc_containers(input, node).unwrap_or_default() {
            if let Some(tag) = &c.image_ref.tag {
                push(
                    tag,
                    format!("{h} image of {}", c.name),
                    Evidence::file(node, c.file)
                        .at(c.pointer("image"))
                        .val(&c.image),
                );
            }
        }
        // The newest startup box per log file (an older one may predate an upgrade).
        let mut last: Vec<(&str, &str)> = Vec::new();
        for (file, v) in &node.startup_versions {
            match last.iter_mut().find(|(f, _)| f == file) {
                Some(e) => e.1 = v,
                None => last.push((file, v)),
            }
        }
        for (file, v) in last {
            push(
                v,
                format!("{h} startup box in {file}"),
                Evidence::file(node, file).val(format!("Rocket.Chat Version: {v}")),
            );
        }
    }
    for (node, c) in rc_pod_servers(input) {
        if let Some(tag) = &c.image_ref.tag {
            push(
                tag,
                format!(
                    "{} image of pod {}",
                    node.hostname(),
                    crate::model::ns_name(&c.pod.namespace, &c.pod.name)
                ),
                Evidence::file(node, "kubernetes/pods.json")
                    .at(c.pointer("image"))
                    .val(c.image()),
            );
        }
    }
    if seen.is_empty() {
        let why: Vec<String> = input
            .nodes
            .iter()
            .map(|n| n.why_missing("rocketchat/summary.json", "rocketchat"))
            .collect();
        return result(
            input,
            ID,
            Outcome::Unknown,
            format!(
                "no Rocket.Chat version found in any source: {}",
                if why.is_empty() {
                    "no bundle".into()
                } else {
                    why.join("; ")
                }
            ),
            Vec::new(),
        );
    }
    // Full versions must be equal; a partial tag (8.5) must agree with them.
    let full: Vec<&Seen> = seen.iter().filter(|s| s.precision >= 3).collect();
    let reference = full.first().copied().unwrap_or(&seen[0]);
    let agrees = |s: &Seen| {
        let a = &s.version;
        let b = &reference.version;
        match s.precision.min(reference.precision) {
            1 => a.major == b.major,
            2 => a.major == b.major && a.minor == b.minor,
            _ => a == b,
        }
    };
    let differing: Vec<&Seen> = seen.iter().filter(|s| !agrees(s)).collect();
    if differing.is_empty() {
        let n = seen.len();
        let reference = reference.version.clone();
        let evidence = seen.into_iter().map(|s| s.evidence).collect();
        let single = if input.nodes.len() == 1 {
            " (one bundle)"
        } else {
            ""
        };
        let f = vec![Finding::new(
            Outcome::Pass,
            format!("all {n} version sources report Rocket.Chat {reference}{single}"),
            evidence,
        )];
        return conclude(input, ID, f, "");
    }
    // Group the sources by version: "8.5.1 (n1 summary, n1 statistics) vs 8.4.0 (n2 ...)".
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for s in &seen {
        let v = if s.precision >= 3 {
            s.version.to_string()
        } else {
            s.version.line()
        };
        match groups.iter_mut().find(|(g, _)| *g == v) {
            Some((_, sources)) => sources.push(s.source.clone()),
            None => groups.push((v, vec![s.source.clone()])),
        }
    }
    let distinct: Vec<String> = groups
        .iter()
        .map(|(v, sources)| format!("{v} ({})", super::list(sources, 3)))
        .collect();
    let evidence = std::iter::once(reference)
        .chain(differing.iter().copied())
        .map(|s| s.evidence.clone())
        .collect();
    result(
        input,
        ID,
        Outcome::Fail,
        format!(
            "instances report different Rocket.Chat versions: {}",
            distinct.join(" vs ")
        ),
        evidence,
    )
}
