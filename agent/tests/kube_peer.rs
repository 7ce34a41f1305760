//! The Kubernetes client (`agent/src/clients/kube/`) against kube-replay, the replay
//! server of recorded real cluster replies (`scripts/kube-replay.py`, fixtures in
//! `tests/fixtures/kubernetes/`), with `kubectl` as the oracle where a real client can
//! say what the answer is: connection from a kubeconfig, discovery, pagination,
//! selectors, an expired continue token, RBAC refusals, bad credentials, a hung
//! server, and the byte and object caps.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use rcdiag_agent::clients::kube::{Kube, KubeError, KubeOptions, resource_path};

mod common;

use common::kube::{kubectl_names, replay_kubeconfig};

fn opts(path: &str) -> KubeOptions {
    KubeOptions {
        kubeconfig: Some(path.into()),
        timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

/// A client on `kubeconfig` that lists two objects a page (so every list is paged).
async fn connect_paged(kubeconfig: &str) -> Kube {
    Kube::connect(KubeOptions {
        page_limit: 2,
        ..opts(kubeconfig)
    })
    .await
    .unwrap()
}

fn names_of(pods: &[Pod]) -> Vec<String> {
    let mut n: Vec<String> = pods
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p.metadata.namespace.clone().unwrap_or_default(),
                p.metadata.name.clone().unwrap_or_default()
            )
        })
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn reads_discovery_and_pages_through_every_pod_like_kubectl() {
    let Some(kc) = replay_kubeconfig("") else {
        return;
    };
    let kube = connect_paged(&kc).await;
    assert!(kube.source.contains(&kc), "{}", kube.source);
    assert!(
        kube.server.starts_with("https://127.0.0.1:"),
        "{}",
        kube.server
    );
    let v = kube.version().await.unwrap();
    assert!(v.git_version.starts_with("v1."), "{v:?}");
    let groups = kube.api_groups().await.unwrap();
    let names: Vec<&str> = groups.groups.iter().map(|g| g.name.as_str()).collect();
    assert!(
        names.contains(&"apps") && names.contains(&"monitoring.coreos.com"),
        "{names:?}"
    );

    let pods = kube.list::<Pod>(None, "").await.unwrap();
    let expected = kubectl_names(&kc, &["pods", "-A"]);
    assert!(
        expected.len() >= 4,
        "the fixture set has pods: {expected:?}"
    );
    assert_eq!(names_of(&pods.items), expected);
    assert_eq!(
        pods.pages as usize,
        expected.len().div_ceil(2),
        "two pods a page"
    );
    assert!(!pods.restarted && pods.truncated.is_none());

    // A label selector, in one namespace, as kubectl reads it.
    let sel = "labelSelector=app.kubernetes.io%2Fname%3Drocketchat";
    let rc = kube.list::<Pod>(Some("rocketchat"), sel).await.unwrap();
    let expected = kubectl_names(
        &kc,
        &[
            "pods",
            "-n",
            "rocketchat",
            "-l",
            "app.kubernetes.io/name=rocketchat",
        ],
    );
    assert_eq!(names_of(&rc.items), expected);
    assert_eq!(rc.items.len(), 3, "the Helm install runs three replicas");

    // Typed objects: the Helm labels are on the Deployment, not on its pods.
    let deps = kube
        .list::<Deployment>(Some("rocketchat"), "")
        .await
        .unwrap();
    let d = deps
        .items
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("rocketchat-rocketchat"))
        .expect("the chart's Deployment");
    let labels = d.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("Helm")
    );
    assert!(
        labels
            .get("helm.sh/chart")
            .is_some_and(|c| c.starts_with("rocketchat-"))
    );
    let nodes = kube.list::<Node>(None, "").await.unwrap();
    assert_eq!(nodes.items.len(), kubectl_names(&kc, &["nodes"]).len());

    // A group without k8s-openapi types, as JSON.
    let sm = kube
        .list_json(
            &resource_path("monitoring.coreos.com", "v1", "servicemonitors", None),
            "",
        )
        .await;
    let pm = kube
        .list_json(
            &resource_path("monitoring.coreos.com", "v1", "podmonitors", None),
            "",
        )
        .await;
    let monitors = sm.map(|l| l.items.len()).unwrap_or(0) + pm.map(|l| l.items.len()).unwrap_or(0);
    assert!(
        monitors >= 1,
        "the compliant install is scraped by the Prometheus Operator"
    );
}

#[tokio::test]
async fn an_expired_continue_token_reads_the_list_again_whole() {
    let Some(kc) = replay_kubeconfig("EXPIRED") else {
        return;
    };
    let kube = connect_paged(&kc).await;
    let pods = kube.list::<Pod>(None, "").await.unwrap();
    assert!(
        pods.restarted,
        "the second page got 410 Gone: the list is read again"
    );
    assert_eq!(
        names_of(&pods.items),
        kubectl_names(&kc, &["pods", "-A", "--chunk-size=0"])
    );
}

#[tokio::test]
async fn rbac_refusals_name_what_to_grant() {
    let Some(kc) = replay_kubeconfig("RBAC") else {
        return;
    };
    let kube = Kube::connect(opts(&kc)).await.unwrap();
    let e = kube.list::<Pod>(None, "").await.unwrap_err();
    assert!(matches!(e, KubeError::Forbidden { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains(
            "user system:serviceaccount:rcdiag:rcdiag-agent cannot list pods cluster-wide"
        ),
        "{text}"
    );
    assert!(text.contains("kubectl auth can-i list pods -A"), "{text}");
    // The namespace it may read still reads.
    assert!(
        !kube
            .list::<Pod>(Some("rocketchat"), "")
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn bad_credentials_and_missing_groups_are_told_apart() {
    let Some(kc) = replay_kubeconfig("") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&kc).unwrap();
    let token = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap();
    let bad = dir.path().join("bad.kubeconfig");
    std::fs::write(&bad, text.replace(token, "not-a-token")).unwrap();
    let kube = Kube::connect(opts(bad.to_str().unwrap())).await.unwrap();
    let e = kube.version().await.unwrap_err();
    assert!(matches!(e, KubeError::Unauthorized { .. }), "{e:?}");
    assert!(e.to_string().contains("renew the token"), "{e}");

    let kube = Kube::connect(opts(&kc)).await.unwrap();
    let e = kube
        .list_json(
            &resource_path("route.openshift.io", "v1", "routes", None),
            "",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, KubeError::NotFound { .. }),
        "not OpenShift: {e:?}"
    );

    let e = Kube::connect(opts("/nonexistent/kubeconfig"))
        .await
        .unwrap_err();
    assert!(matches!(e, KubeError::Config(_)), "{e:?}");
    assert!(e.to_string().contains("/nonexistent/kubeconfig"), "{e}");
}

#[tokio::test]
async fn caps_on_bytes_and_objects_hold_on_a_large_cluster() {
    let Some(kc) = replay_kubeconfig("SCALE") else {
        return;
    };
    let kube = Kube::connect(KubeOptions {
        reply_max: 64 << 10,
        ..opts(&kc)
    })
    .await
    .unwrap();
    let e = kube.list::<Pod>(None, "").await.unwrap_err();
    assert!(matches!(e, KubeError::TooLarge { max: 65536, .. }), "{e:?}");
    assert!(e.to_string().contains("--kube-page-limit"), "{e}");
    let kube = Kube::connect(KubeOptions {
        max_items: 700,
        ..opts(&kc)
    })
    .await
    .unwrap();
    let pods = kube.list::<Pod>(None, "").await.unwrap();
    assert_eq!(pods.items.len(), 700);
    assert!(matches!(
        pods.truncated,
        Some(KubeError::TooMany { max: 700, .. })
    ));
    assert_eq!(pods.pages, 2, "500 a page");
}

#[tokio::test]
async fn a_hung_api_server_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let kc = common::insecure_kubeconfig(dir.path(), port);
    let kube = Kube::connect(KubeOptions {
        timeout: Duration::from_secs(1),
        ..opts(kc.to_str().unwrap())
    })
    .await
    .unwrap();
    let t = std::time::Instant::now();
    let e = kube.version().await.unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "bounded by the timeout"
    );
    assert!(
        matches!(e, KubeError::Timeout { .. } | KubeError::Transport { .. }),
        "{e:?}"
    );
}
