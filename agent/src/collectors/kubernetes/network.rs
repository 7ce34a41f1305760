//! Network summaries (`kubernetes/network.json`): Services, Ingresses and, on
//! OpenShift, Routes (`route.openshift.io/v1`, read as JSON: there is no `k8s-openapi`
//! type for them).

use k8s_openapi::api::core::v1::Service as K8sService;
use k8s_openapi::api::networking::v1::Ingress as K8sIngress;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rcdiag_contract::kubernetes::{Ingress, Route, Service};
use serde_json::Value;

fn ios(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// A Service's summary.
pub fn service(s: &K8sService) -> Service {
    let spec = s.spec.as_ref();
    Service {
        namespace: Some(s.metadata.namespace.clone().unwrap_or_default()),
        name: Some(s.metadata.name.clone().unwrap_or_default()),
        type_: spec.and_then(|s| s.type_.clone()),
        headless: Some(spec.and_then(|s| s.cluster_ip.as_deref()) == Some("None")),
        ports: spec
            .and_then(|s| s.ports.as_ref())
            .into_iter()
            .flatten()
            .map(|p| {
                let mut t = format!(
                    "{} {}→{}/{}",
                    p.name.as_deref().unwrap_or("-"),
                    p.port,
                    p.target_port
                        .as_ref()
                        .map(ios)
                        .unwrap_or_else(|| p.port.to_string()),
                    p.protocol.as_deref().unwrap_or("TCP")
                );
                if let Some(n) = p.node_port {
                    t.push_str(&format!(" nodePort {n}"));
                }
                t
            })
            .collect(),
        selector: Some(spec.and_then(|s| s.selector.clone()).unwrap_or_default()),
        extra: Default::default(),
    }
}

/// An Ingress's summary.
pub fn ingress(i: &K8sIngress) -> Ingress {
    let spec = i.spec.as_ref();
    let mut rules = Vec::new();
    for r in spec.and_then(|s| s.rules.as_ref()).into_iter().flatten() {
        let host = r.host.as_deref().unwrap_or("*");
        for p in r.http.iter().flat_map(|h| h.paths.iter()) {
            let backend = p
                .backend
                .service
                .as_ref()
                .map(|s| {
                    let port = s
                        .port
                        .as_ref()
                        .map(|p| {
                            p.number
                                .map(|n| n.to_string())
                                .or(p.name.clone())
                                .unwrap_or_default()
                        })
                        .unwrap_or_default();
                    format!("{}:{port}", s.name)
                })
                .unwrap_or_else(|| "-".into());
            rules.push(format!(
                "{host} {} → {backend}",
                p.path.as_deref().unwrap_or("/")
            ));
        }
    }
    Ingress {
        namespace: Some(i.metadata.namespace.clone().unwrap_or_default()),
        name: Some(i.metadata.name.clone().unwrap_or_default()),
        class: spec.and_then(|s| s.ingress_class_name.clone()),
        rules,
        tls: spec
            .and_then(|s| s.tls.as_ref())
            .into_iter()
            .flatten()
            .map(|t| {
                format!(
                    "{} (secret {})",
                    t.hosts.clone().unwrap_or_default().join(","),
                    t.secret_name.as_deref().unwrap_or("-")
                )
            })
            .collect(),
        extra: Default::default(),
    }
}

fn s(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A Route's summary, from its JSON.
pub fn route(r: &Value) -> Route {
    let spec = &r["spec"];
    Route {
        namespace: Some(s(&r["metadata"]["namespace"]).unwrap_or_default()),
        name: Some(s(&r["metadata"]["name"]).unwrap_or_default()),
        host: s(&spec["host"]),
        path: s(&spec["path"]),
        to: s(&spec["to"]["name"]).map(|n| {
            format!(
                "{}/{n}",
                s(&spec["to"]["kind"]).unwrap_or_else(|| "Service".into())
            )
        }),
        target_port: s(&spec["port"]["targetPort"]),
        tls_termination: s(&spec["tls"]["termination"]),
        admitted: Some(r["status"]["ingress"].as_array().is_some_and(|a| {
            a.iter().any(|i| {
                i["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Admitted" && c["status"] == "True")
                })
            })
        })),
        extra: Default::default(),
    }
}
