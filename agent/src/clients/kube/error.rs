//! What can go wrong talking to the API server ([`KubeError`]), and how an error status
//! and its `Status` body become one whose message says what to do (a 403 names the
//! verb, resource and scope the credentials lack, and the `kubectl auth can-i` to check).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

/// What went wrong talking to the API server.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KubeError {
    /// No kubeconfig and not in a pod: nothing to collect.
    #[error(
        "no Kubernetes cluster to reach: {0} (pass --kubeconfig FILE, set KUBECONFIG, or run the agent in a pod with a service account)"
    )]
    NoCluster(String),
    /// A kubeconfig that cannot be used.
    #[error("the kubeconfig cannot be used: {0}")]
    Config(String),
    /// 401: the credentials were refused.
    #[error(
        "the API server refused the credentials (401) on {path}: {message} (renew the token or the kubeconfig's user)"
    )]
    Unauthorized {
        /// Request path.
        path: String,
        /// The server's message.
        message: String,
    },
    /// 403: RBAC does not allow the call.
    #[error(
        "forbidden (403): {subject} cannot {verb} {resource} {scope}: grant it with the read-only ClusterRole in packaging/kubernetes/ (check with `kubectl auth can-i {verb} {resource}{can_i_scope}`)"
    )]
    Forbidden {
        /// Who asked, per the server (`system:serviceaccount:ns:name`), or "the agent".
        subject: String,
        /// `list`, `get`, ...
        verb: String,
        /// `pods`, `deployments.apps`, ...
        resource: String,
        /// `in namespace X` or `cluster-wide`.
        scope: String,
        /// ` -n X` or ` -A`, for the `kubectl auth can-i` hint.
        can_i_scope: String,
    },
    /// 404: the resource or API group does not exist on this cluster.
    #[error("not found (404) on {path}: {message}")]
    NotFound {
        /// Request path.
        path: String,
        /// The server's message.
        message: String,
    },
    /// 410 again after the list was restarted unpaged.
    #[error(
        "the list of {path} expired while being read, and again when read whole (410 Gone): retry the collect"
    )]
    Gone {
        /// Request path.
        path: String,
    },
    /// Any other status.
    #[error("the API server answered {code} on {path}: {message}")]
    Status {
        /// HTTP status.
        code: u16,
        /// Request path.
        path: String,
        /// The server's message.
        message: String,
    },
    /// A reply over the byte cap.
    #[error(
        "the reply to {path} is larger than {max} bytes: not read further (lower the page size with --kube-page-limit, or raise --kube-reply-max)"
    )]
    TooLarge {
        /// Request path.
        path: String,
        /// The cap.
        max: u64,
    },
    /// More objects than the list cap.
    #[error("{path} holds more than {max} objects: the first {max} were kept")]
    TooMany {
        /// Request path.
        path: String,
        /// The cap.
        max: usize,
    },
    /// No reply within the deadline.
    #[error(
        "the API server did not answer {path} within {secs} s (is it reachable from this node? raise --timeout if it is slow)"
    )]
    Timeout {
        /// Request path.
        path: String,
        /// The deadline.
        secs: u64,
    },
    /// Connection, TLS or protocol failure.
    #[error("cannot reach the API server for {path}: {message}")]
    Transport {
        /// Request path.
        path: String,
        /// What failed.
        message: String,
    },
    /// A reply that is not what the API sends.
    #[error("the reply to {path} is not a Kubernetes object of the expected kind: {message}")]
    Decode {
        /// Request path.
        path: String,
        /// The parser's message.
        message: String,
    },
}

/// Turns an error status and its `Status` body into a [`KubeError`].
pub(super) fn classify(code: u16, path: &str, body: &[u8]) -> KubeError {
    let status: Option<Status> = serde_json::from_slice(body).ok();
    let message = status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned());
    // Cut like every string the agent writes (4 KiB, with a marker).
    let message = crate::bound::bound_str(&message).unwrap_or(message);
    match code {
        401 => KubeError::Unauthorized {
            path: path.to_string(),
            message,
        },
        403 => forbidden(path, &message),
        404 => KubeError::NotFound {
            path: path.to_string(),
            message,
        },
        _ => KubeError::Status {
            code,
            path: path.to_string(),
            message,
        },
    }
}

/// A 403: the verb and resource come from the path (a GET of a list is `list`), the
/// subject from the server's message (`User "system:serviceaccount:ns:sa" cannot ...`).
fn forbidden(path: &str, message: &str) -> KubeError {
    let subject = message
        .split("User \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|s| format!("user {s}"))
        .unwrap_or_else(|| "the agent's credentials".to_string());
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // api/v1/... or apis/GROUP/VERSION/...
    let (group, rest) = match parts.first() {
        Some(&"api") => ("", parts.get(2..).unwrap_or(&[])),
        Some(&"apis") => (
            parts.get(1).copied().unwrap_or(""),
            parts.get(3..).unwrap_or(&[]),
        ),
        _ => ("", &[][..]),
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(*ns), tail),
        _ => (None, rest),
    };
    let (verb, resource) = match rest {
        [plural] => ("list", plural.to_string()),
        [plural, _name] => ("get", plural.to_string()),
        [plural, _name, sub] => ("get", format!("{plural}/{sub}")),
        _ => ("get", path.to_string()),
    };
    let resource = if group.is_empty() {
        resource
    } else {
        format!("{resource}.{group}")
    };
    let (scope, can_i_scope) = match namespace {
        Some(ns) => (format!("in namespace {ns}"), format!(" -n {ns}")),
        None if verb == "list" => ("cluster-wide".to_string(), " -A".to_string()),
        None => ("cluster-wide".to_string(), String::new()),
    };
    KubeError::Forbidden {
        subject,
        verb: verb.to_string(),
        resource,
        scope,
        can_i_scope,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_403_names_the_verb_resource_and_scope() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"deployments.apps is forbidden: User \"system:serviceaccount:rc:rcdiag\" cannot list resource \"deployments\" in API group \"apps\" in the namespace \"rc\"","reason":"Forbidden","code":403}"#;
        let e = classify(403, "/apis/apps/v1/namespaces/rc/deployments", body);
        let text = e.to_string();
        assert!(
            text.contains(
                "user system:serviceaccount:rc:rcdiag cannot list deployments.apps in namespace rc"
            ),
            "{text}"
        );
        assert!(
            text.contains("kubectl auth can-i list deployments.apps -n rc"),
            "{text}"
        );
        let e = classify(403, "/api/v1/nodes", b"not json");
        assert!(
            e.to_string()
                .contains("the agent's credentials cannot list nodes cluster-wide"),
            "{e}"
        );
        assert!(e.to_string().contains("can-i list nodes -A"), "{e}");
        let e = classify(403, "/api/v1/namespaces/rc/pods/rc-0/log", b"{}");
        assert!(
            e.to_string()
                .contains("cannot get pods/log in namespace rc"),
            "{e}"
        );
    }

    #[test]
    fn other_statuses_keep_the_server_message() {
        let body = br#"{"kind":"Status","message":"the server could not find the requested resource","reason":"NotFound","code":404}"#;
        let e = classify(404, "/apis/route.openshift.io/v1/routes", body);
        assert!(matches!(e, KubeError::NotFound { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("could not find the requested resource")
        );
        let e = classify(500, "/api/v1/pods", &vec![b'x'; 10_000]);
        assert!(
            e.to_string().len() < 1400,
            "a long body is cut: {}",
            e.to_string().len()
        );
    }
}
