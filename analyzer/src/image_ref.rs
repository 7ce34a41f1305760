//! Docker image references, parsed and normalized (`rocket.chat:8` ->
//! `docker.io/library/rocket.chat`), shared by the policy and the node model.

/// A parsed image reference, the repository normalized as
/// `registry/path` (`rocket.chat:8` → `docker.io/library/rocket.chat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Normalized repository; empty when the reference is only an image id.
    pub repository: String,
    /// Tag, if any.
    pub tag: Option<String>,
    /// Digest, if any.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses an image reference as Docker shows it.
    pub fn parse(reference: &str) -> ImageRef {
        let r = reference.trim();
        let (rest, digest) = match r.split_once('@') {
            Some((a, d)) => (a, Some(d.to_string())),
            None => (r, None),
        };
        if rest.is_empty() || rest.starts_with("sha256:") {
            return ImageRef {
                repository: String::new(),
                tag: None,
                digest: digest.or_else(|| Some(rest.to_string()).filter(|s| !s.is_empty())),
            };
        }
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest, None),
        };
        let mut parts: Vec<&str> = name.split('/').collect();
        let has_registry = parts.len() > 1
            && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost");
        let registry = if has_registry {
            parts.remove(0).to_ascii_lowercase()
        } else {
            "docker.io".to_string()
        };
        let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
            "docker.io".to_string()
        } else {
            registry
        };
        let mut path = parts.join("/").to_ascii_lowercase();
        if registry == "docker.io" && !path.contains('/') {
            path = format!("library/{path}");
        }
        ImageRef {
            repository: format!("{registry}/{path}"),
            tag,
            digest,
        }
    }
}
