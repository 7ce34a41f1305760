//! The checks that read Docker containers read the cluster view too: for each of them a
//! Kubernetes case that passes and one that does not, from the cluster views the real
//! agent wrote against the kube-replay peer (`tests/fixtures/kubernetes/<profile>/`),
//! edited where a verdict needs another state. Table-driven: one row per case.

use super::kubernetes::{edit_named, kube};
use super::*;

/// An edit of a cluster view before the checks run.
type Edit = fn(&mut NodeData);

/// One case: the check, the profile, an edit, the outcome and a part of the message.
struct Case {
    id: &'static str,
    profile: &'static str,
    edit: Edit,
    outcome: Outcome,
    needle: &'static str,
}

fn none(_: &mut NodeData) {}

/// Applies `f` to every Rocket.Chat server pod's first container.
fn rc_ctr(n: &mut NodeData, f: impl Fn(&mut Value)) {
    n.edit_json("kubernetes/pods.json", |v| {
        for p in v["pods"].as_array_mut().unwrap() {
            if p["role"] == "rocketchat" {
                f(&mut p["containers"][0]);
            }
        }
    });
}

/// The database's user count, as the mongodb/rocketchat collectors of the CronJob give.
fn with_users(n: &mut NodeData, concurrent: u64) {
    n.set_json(
        "rocketchat/summary.json",
        json!({"users": {"concurrent": concurrent, "active_humans": concurrent}}),
    );
}

const CASES: &[Case] = &[
    // image.official: the repository and the digest the runtime pulled (imageID).
    Case {
        id: "image.official",
        profile: "helm-compliant",
        edit: none,
        outcome: Outcome::Pass,
        needle: "official image registry.rocket.chat/rocketchat/rocket.chat (pulled from registry.rocket.chat/rocketchat/rocket.chat)",
    },
    Case {
        id: "image.official",
        profile: "noncompliant",
        edit: none,
        outcome: Outcome::Fail,
        needle: "runs myregistry.local/rc-custom:6.9.0 (myregistry.local/rc-custom), not an official Rocket.Chat image",
    },
    Case {
        id: "image.official",
        profile: "helm-compliant",
        edit: |n| {
            rc_ctr(n, |c| {
                c["image_id"] = json!(
                    "mirror.example.com/rocketchat/rocket.chat@sha256:c95dfbd9ba1be90391879955fae49dded7279a30b43e4ae69c1f5882e8984666"
                )
            })
        },
        outcome: Outcome::Warn,
        needle: "pulled it from mirror.example.com/rocketchat/rocket.chat (imageID), not an official repository",
    },
    Case {
        id: "image.official",
        profile: "helm-compliant",
        edit: |n| rc_ctr(n, |c| c["image_id"] = Value::Null),
        outcome: Outcome::Unknown,
        needle: "has not recorded the image it pulled",
    },
    Case {
        id: "image.official",
        profile: "helm-compliant",
        edit: |n| {
            rc_ctr(n, |c| {
                c["env"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "DEPLOY_METHOD", "value": "tar"}))
            })
        },
        outcome: Outcome::Fail,
        needle: "sets DEPLOY_METHOD=tar",
    },
    // containers.restarting: restart counts, CrashLoopBackOff, OOMKilled.
    Case {
        id: "containers.restarting",
        profile: "helm-compliant",
        edit: none,
        outcome: Outcome::Fail,
        needle: "container rocketchat of pod rocketchat/rocketchat-rocketchat-74095cb1d5-b9q4m was killed for lack of memory (OOMKilled at 2026-12-03T12:28:24Z)",
    },
    Case {
        id: "containers.restarting",
        profile: "helm-compliant",
        edit: |n| {
            rc_ctr(n, |c| {
                c["last_terminated"] = Value::Null;
                c["restart_count"] = json!(0);
            })
        },
        outcome: Outcome::Pass,
        needle: "none of 18 containers is restarting",
    },
    Case {
        id: "containers.restarting",
        profile: "noncompliant",
        edit: none,
        outcome: Outcome::Fail,
        needle: "restarted 7 times",
    },
    Case {
        id: "containers.restarting",
        profile: "helm-compliant",
        edit: |n| {
            rc_ctr(n, |c| {
                c["last_terminated"] = Value::Null;
                c["restart_count"] = json!(0);
                c["state"] = json!("waiting");
                c["state_reason"] = json!("CrashLoopBackOff");
            })
        },
        outcome: Outcome::Fail,
        needle: "is in a restart loop (CrashLoopBackOff)",
    },
    // version.supported / version.consistent: the Rocket.Chat pods' image tags.
    Case {
        id: "version.supported",
        profile: "helm-compliant",
        edit: none,
        outcome: Outcome::Pass,
        needle: "Rocket.Chat 8.6.1 (8.6) is supported until 2027-01-31",
    },
    Case {
        id: "version.supported",
        profile: "noncompliant",
        edit: none,
        outcome: Outcome::Fail,
        needle: "Rocket.Chat 6.9.0 (6.9) reached end of life on 2024-12-31",
    },
    Case {
        id: "version.consistent",
        profile: "helm-compliant",
        edit: none,
        outcome: Outcome::Pass,
        needle: "all 3 version sources report Rocket.Chat 8.6.1",
    },
    Case {
        id: "version.consistent",
        profile: "noncompliant",
        edit: none,
        outcome: Outcome::Fail,
        needle: "different Rocket.Chat versions: 6.9.0 (cluster image of pod chat/rocketchat-0588df19a5-4kq7z) vs 6.9.1 (cluster image of pod chat/rocketchat-5f6d7c8b9a-zz9kq)",
    },
    // scale.orchestrated: running pods count as instances; Helm labels on the Deployment.
    Case {
        id: "scale.orchestrated",
        profile: "helm-compliant",
        edit: none,
        outcome: Outcome::Pass,
        needle: "scaled installation (3 instance(s) (running Rocket.Chat pods in the cluster view)) is orchestrated: Deployment rocketchat/rocketchat-rocketchat is managed by Kubernetes with Helm (label helm.sh/chart=rocketchat-7.0.2)",
    },
    Case {
        id: "scale.orchestrated",
        profile: "helm-compliant",
        edit: |n| {
            edit_named(
                n,
                "kubernetes/workloads.json",
                "deployments",
                "rocketchat-rocketchat",
                |d| {
                    d["labels"] = json!({"app.kubernetes.io/name": "rocketchat"});
                },
            );
            rc_ctr(n, |c| {
                c["env"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|e| e["name"] != "DEPLOY_PLATFORM")
            });
        },
        outcome: Outcome::Warn,
        needle: "is managed by Kubernetes (no sign of Helm) (distribution kubernetes)",
    },
    Case {
        id: "scale.orchestrated",
        profile: "helm-compliant",
        edit: |n| {
            n.edit_json("kubernetes/cluster.json", |c| {
                c["distribution"] =
                    json!([{"name": "openshift", "evidence": ["API group apps.openshift.io/v1"]}])
            })
        },
        outcome: Outcome::Pass,
        needle: "managed by Red Hat OpenShift (distribution openshift)",
    },
    // monitoring: the env override, Prometheus/Grafana pods, PodMonitor/ServiceMonitor.
    Case {
        id: "monitoring.prometheus",
        profile: "helm-compliant",
        edit: none,
        outcome: Outcome::Pass,
        needle: "the Prometheus exporter is enabled and a scraper was found",
    },
    Case {
        id: "monitoring.prometheus",
        profile: "helm-compliant",
        edit: |n| {
            rc_ctr(n, |c| {
                for e in c["env"].as_array_mut().unwrap() {
                    if e["name"] == "OVERWRITE_SETTING_Prometheus_Enabled" {
                        e["value"] = json!("false");
                    }
                }
            })
        },
        outcome: Outcome::Warn,
        needle: "exporter is disabled",
    },
    Case {
        id: "monitoring.prometheus",
        profile: "noncompliant",
        edit: none,
        outcome: Outcome::Warn,
        needle: "nothing scrapes Rocket.Chat",
    },
    Case {
        id: "monitoring.grafana",
        profile: "helm-compliant",
        edit: none,
        outcome: Outcome::Pass,
        needle: "a Grafana pod was found",
    },
    Case {
        id: "monitoring.grafana",
        profile: "noncompliant",
        edit: none,
        outcome: Outcome::Warn,
        needle: "no Grafana container or pod",
    },
    // hardware: node capacity and pod limits.
    Case {
        id: "hardware.cpu",
        profile: "helm-compliant",
        edit: |n| with_users(n, 300),
        outcome: Outcome::Pass,
        // The three nodes are alike: said once (checks/group.rs).
        needle: "3 Kubernetes nodes (worker-1, worker-2, worker-3) (Rocket.Chat and MongoDB pods; tier Pro for 300 concurrent users) have 8 vCPU (needs 4)",
    },
    Case {
        id: "hardware.cpu",
        profile: "helm-compliant",
        edit: |n| {
            with_users(n, 300);
            rc_ctr(n, |c| c["limits"]["cpu"] = json!("1500m"));
        },
        outcome: Outcome::Fail,
        needle: "container rocketchat of pod rocketchat/rocketchat-rocketchat-74095cb1d5-x7k2p is limited to 1.5 vCPU, Rocket.Chat needs 2",
    },
    Case {
        id: "hardware.cpu",
        profile: "noncompliant",
        edit: none,
        outcome: Outcome::Unknown,
        needle: "Kubernetes node chat-node-1 (Rocket.Chat and MongoDB pods; smallest tier Starter, the user count being unknown) has 4 vCPU (needs 3) (meets the smallest tier;",
    },
    // Without a user count, the unknown says exactly what to add to the cluster bundle:
    // the MongoDB URI named by the Secret MONGO_URL comes from...
    Case {
        id: "hardware.cpu",
        profile: "helm-compliant",
        edit: none,
        outcome: Outcome::Unknown,
        needle: "no usable rocketchat/summary.json in cluster.rcdiag: the rocketchat collector was skipped: deselected (--only/--skip); add the mongodb and rocketchat collectors to the cluster bundle: rcdiag-agent collect --only kubernetes,mongodb,rocketchat --mongodb-uri URI (the CronJob of packaging/kubernetes runs them, mongodb_uri in its agent.toml), URI being the value of key mongo-uri of Secret rocketchat/rocketchat-rocketchat, which MONGO_URL of the Rocket.Chat pods comes from",
    },
    // ... or the pod whose inline MONGO_URL the agent takes by itself.
    Case {
        id: "hardware.memory",
        profile: "noncompliant",
        edit: none,
        outcome: Outcome::Unknown,
        needle: "rcdiag-agent collect --only kubernetes,mongodb,rocketchat (the CronJob of packaging/kubernetes runs them, mongodb_uri in its agent.toml; without --mongodb-uri the agent takes the MONGO_URL inline in the spec of pod chat/rocketchat-",
    },
    // The rocketchat collector ran but could not read the database: its reason is said.
    Case {
        id: "hardware.disk",
        profile: "helm-compliant",
        edit: |n| {
            for c in &mut n.manifest.collectors {
                if c.name == "rocketchat" {
                    c.status = CollectorStatus::Failed;
                    c.error = Some(
                        "not authorized on rocketchat to execute command { find: \"users\" }"
                            .into(),
                    );
                }
            }
        },
        outcome: Outcome::Unknown,
        needle: "the rocketchat collector failed: not authorized on rocketchat",
    },
    Case {
        id: "hardware.cpu",
        profile: "noncompliant",
        edit: |n| {
            edit_named(n, "kubernetes/nodes.json", "nodes", "chat-node-1", |k| {
                k["capacity"]["cpu"] = json!("2")
            })
        },
        outcome: Outcome::Fail,
        needle: "Kubernetes node chat-node-1 (Rocket.Chat and MongoDB pods; smallest tier Starter, the user count being unknown) has 2 vCPU, needs 3",
    },
    Case {
        id: "hardware.memory",
        profile: "helm-compliant",
        edit: |n| with_users(n, 300),
        outcome: Outcome::Pass,
        needle: "have 32.0 GiB memory (needs 8 GiB)",
    },
    Case {
        id: "hardware.memory",
        profile: "helm-compliant",
        edit: |n| {
            with_users(n, 300);
            edit_named(n, "kubernetes/nodes.json", "nodes", "worker-3", |k| {
                k["capacity"]["memory"] = json!("4Gi")
            });
        },
        outcome: Outcome::Fail,
        needle: "Kubernetes node worker-3 (Rocket.Chat and MongoDB pods; tier Pro for 300 concurrent users) has 4.0 GiB memory, needs 8 GiB",
    },
    Case {
        id: "hardware.disk",
        profile: "helm-compliant",
        edit: |n| with_users(n, 300),
        outcome: Outcome::Pass,
        needle: "GB of ephemeral storage (Rocket.Chat needs 40 GB)",
    },
    Case {
        id: "hardware.disk",
        profile: "helm-compliant",
        edit: |n| {
            with_users(n, 300);
            edit_named(
                n,
                "kubernetes/storage.json",
                "pvcs",
                "datadir-rocketchat-mongodb-0",
                |p| p["capacity"] = json!("8Gi"),
            );
        },
        outcome: Outcome::Fail,
        needle: "MongoDB's volume datadir-rocketchat-mongodb-0 has 8.6 GB, needs 20 GB",
    },
    // mongodb.replica-set from the StatefulSet when MongoDB itself was not read.
    Case {
        id: "mongodb.replica-set",
        profile: "helm-compliant",
        edit: none,
        outcome: Outcome::Pass,
        needle: "replica set rs0 runs as StatefulSet rocketchat/rocketchat-mongodb with 3 members, all ready",
    },
    Case {
        id: "mongodb.replica-set",
        profile: "helm-compliant",
        edit: |n| {
            edit_named(
                n,
                "kubernetes/workloads.json",
                "statefulsets",
                "rocketchat-mongodb",
                |s| s["ready_replicas"] = json!(2),
            )
        },
        outcome: Outcome::Fail,
        needle: "only 2 of 3 members ready",
    },
    Case {
        id: "mongodb.replica-set",
        profile: "noncompliant",
        edit: none,
        outcome: Outcome::Warn,
        needle: "MongoDB runs in Deployment chat/mongo with 1 replica",
    },
    // mongodb.bypass-flags from the Rocket.Chat pods' env.
    Case {
        id: "mongodb.bypass-flags",
        profile: "helm-compliant",
        edit: none,
        outcome: Outcome::Pass,
        needle: "is set on 3 Rocket.Chat container(s)",
    },
    Case {
        id: "mongodb.bypass-flags",
        profile: "helm-compliant",
        edit: |n| {
            rc_ctr(n, |c| {
                c["env"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "BYPASS_OPLOG_VALIDATION", "value": "true"}))
            })
        },
        outcome: Outcome::Fail,
        needle: "sets BYPASS_OPLOG_VALIDATION",
    },
];

#[test]
fn docker_checks_read_the_cluster_view() {
    let policy = Policy::builtin();
    let mut failed = Vec::new();
    for case in CASES {
        let mut n = kube(case.profile);
        (case.edit)(&mut n);
        let results = run_all(&CheckInput {
            nodes: std::slice::from_ref(&n),
            policy: &policy,
            as_of: Some(date("2026-11-26")),
            trust_given: true,
        });
        let r = get(&results, case.id);
        let at = format!(
            "{} on {} (expecting {:?})",
            case.id, case.profile, case.needle
        );
        if r.outcome != case.outcome {
            failed.push(format!(
                "{at}: {} instead of {}: {}",
                r.outcome, case.outcome, r.message
            ));
        } else if !r.message.contains(case.needle) {
            failed.push(format!("{at}: message {:?}", r.message));
        } else if r.outcome != Outcome::Unknown
            // Every Kubernetes verdict points into the cluster view.
            && !r.evidence.iter().any(|e| {
                e.file.as_deref().is_some_and(|f| f.starts_with("kubernetes/")) && e.pointer.is_some()
            })
        {
            failed.push(format!(
                "{at}: no kubernetes/* evidence with a pointer: {:?}",
                r.evidence
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases:\n{}",
        failed.len(),
        CASES.len(),
        failed.join("\n")
    );
}

#[test]
fn kubernetes_checks_do_not_apply_to_docker_installations() {
    let results = run(&[healthy("a", "n1")]);
    for r in results.iter().filter(|r| r.area == "kubernetes") {
        assert!(r.not_applicable, "{}: {}", r.id, r.message);
        assert!(r.message.starts_with("does not apply"), "{}", r.message);
        assert_eq!(
            r.evidence[0].file.as_deref(),
            Some("docker/containers.json")
        );
    }
    // The other checks apply; a cluster view makes the kubernetes ones apply too.
    assert!(
        results
            .iter()
            .filter(|r| r.area != "kubernetes")
            .all(|r| !r.not_applicable)
    );
    let results = run(&[kube("helm-compliant")]);
    assert!(results.iter().all(|r| !r.not_applicable));
}

/// A per-node bundle of Kubernetes node `name`: host facts only (the DaemonSet's view).
fn node_of(name: &str, cores: u64, mem_gib: u64) -> NodeData {
    let mut n = healthy(&format!("{name}.rcdiag"), name);
    no_docker(&mut n);
    for f in [
        "mongodb/summary.json",
        "rocketchat/summary.json",
        "rocketchat/settings.json",
        "rocketchat/statistics.json",
    ] {
        n.set_json(f, Value::Null);
    }
    n.log_files.clear();
    n.startup_versions.clear();
    n.edit_json("host/host.json", |h| {
        h["cpu"]["logical_cores"] = json!(cores);
        h["memory"]["total_bytes"] = json!(mem_gib << 30);
    });
    n
}

#[test]
fn node_bundles_attach_to_the_kubernetes_nodes_of_their_name() {
    let mut cluster = kube("helm-compliant");
    with_users(&mut cluster, 300);
    // worker-1 has a bundle of its own (2 cores: below the tier), worker-2 too (8 cores),
    // worker-3 none: judged on its capacity.
    let nodes = [
        cluster,
        node_of("worker-1", 2, 32),
        node_of("worker-2", 8, 32),
    ];
    let r = expect(
        &nodes,
        "hardware.cpu",
        Outcome::Fail,
        "worker-1 (Rocket.Chat and MongoDB pods; tier Pro for 300 concurrent users) has 2 vCPU, needs 4",
    );
    assert!(
        r.evidence
            .iter()
            .any(|e| e.bundle == "worker-1.rcdiag" && e.file.as_deref() == Some("host/host.json")),
        "{:?}",
        r.evidence
    );
    let results = run_as_of(&nodes, "2026-11-26");
    let cpu = get(&results, "hardware.cpu");
    let all: Vec<&str> = cpu.evidence.iter().map(|e| e.bundle.as_str()).collect();
    // worker-3 from the cluster's nodes.json, worker-1/2 from their own host.json.
    assert!(
        cpu.evidence.iter().any(|e| e.bundle == "cluster.rcdiag"
            && e.pointer.as_deref() == Some("/nodes/2/capacity/cpu")),
        "{all:?}"
    );
    assert!(
        !cpu.evidence
            .iter()
            .any(|e| e.pointer.as_deref() == Some("/nodes/0/capacity/cpu")),
        "worker-1 is judged on its bundle, not its capacity: {:?}",
        cpu.evidence
    );
    // The node bundles add no Docker gap to the checks the cluster view answers.
    for id in [
        "image.official",
        "scale.orchestrated",
        "version.supported",
        "version.consistent",
        "containers.restarting",
        "mongodb.bypass-flags",
        "monitoring.grafana",
    ] {
        let r = get(&results, id);
        assert_ne!(r.outcome, Outcome::Unknown, "{id}: {}", r.message);
        assert!(
            !r.message.contains("docker/containers.json"),
            "{id}: {}",
            r.message
        );
    }
    // Their host facts are checked as any node's; the cluster bundle's lack of them
    // is no gap then.
    for id in ["host.disk-free", "host.clock-skew"] {
        let r = get(&results, id);
        assert!(
            r.evidence.iter().any(|e| e.bundle == "worker-2.rcdiag"),
            "{id}: {:?}",
            r.evidence
        );
        assert!(!r.message.contains("cluster.rcdiag"), "{id}: {}", r.message);
    }
    let alone = run(&[kube("helm-compliant")]);
    assert_eq!(get(&alone, "host.disk-free").outcome, Outcome::Unknown);
    // A node bundle of no node of the cluster stays a node of its own: its missing
    // Docker data is a gap again.
    let nodes = [kube("helm-compliant"), node_of("elsewhere", 8, 32)];
    let r = get(&run(&nodes), "image.official").clone();
    assert_eq!(r.outcome, Outcome::Unknown, "{}", r.message);
    assert!(r.message.contains("elsewhere.rcdiag"), "{}", r.message);
}
