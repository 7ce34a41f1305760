//! The containers of a node as the checks see them: what each one is (Rocket.Chat,
//! MongoDB, ...) and where its fields are in `docker/containers.json`.

use rcdiag_contract::docker;

use super::*;

/// What a container is, as far as the checks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    /// A Rocket.Chat server (official image or not).
    RocketChat,
    /// A Rocket.Chat microservice.
    Microservice,
    /// MongoDB.
    MongoDb,
    /// Anything else.
    Other,
}

/// A read-only view of one entry of `docker/containers.json`, tolerant of missing
/// fields and wrong types.
#[derive(Debug, Clone)]
pub struct Container<'a> {
    /// Index in [`Container::file`] (for JSON pointers).
    pub index: usize,
    /// The bundle file it is in: `docker/containers.json`, or `cri/containers.json`
    /// for a CRI container of a Kubernetes node (read as a Docker one,
    /// [`super::cri::as_docker`]).
    pub file: &'static str,
    /// The entry, as the contract reads it.
    pub raw: &'a docker::Container,
    /// Name (without a leading `/`), or the id when there is no name.
    pub name: String,
    /// Image reference as configured (falls back to the image's first repo tag when
    /// only an id is known).
    pub image: String,
    /// Parsed image.
    pub image_ref: ImageRef,
    /// Classification.
    pub kind: ContainerKind,
}

impl<'a> Container<'a> {
    pub(super) fn new(
        index: usize,
        raw: &'a docker::Container,
        node: &NodeData,
        policy: &Policy,
    ) -> Container<'a> {
        let s = |f: &Option<String>| f.clone().unwrap_or_default();
        let name = {
            let n = s(&raw.name);
            let n = n.trim_start_matches('/').to_string();
            if n.is_empty() { s(&raw.id) } else { n }
        };
        let mut image = s(&raw.image);
        let mut image_ref = ImageRef::parse(&image);
        if image_ref.repository.is_empty()
            && let Some(tag) = node.image_tag_by_id(&s(&raw.image_id))
        {
            image = tag;
            image_ref = ImageRef::parse(&image);
        }
        let mut c = Container {
            index,
            file: "docker/containers.json",
            raw,
            name,
            image,
            image_ref,
            kind: ContainerKind::Other,
        };
        c.kind = c.classify(policy);
        c
    }

    fn classify(&self, policy: &Policy) -> ContainerKind {
        let repo = self.image_ref.repository.as_str();
        if policy.images.official.iter().any(|o| o.repository == repo) {
            return ContainerKind::RocketChat;
        }
        if policy.images.microservices.iter().any(|m| m == repo)
            || (repo.contains("/rocketchat/") && repo.ends_with("-service"))
        {
            return ContainerKind::Microservice;
        }
        if policy
            .images
            .mongodb_patterns
            .iter()
            .any(|p| crate::policy::cached_regex(p).is_some_and(|r| r.is_match(repo)))
        {
            return ContainerKind::MongoDb;
        }
        let env = self.env();
        let has = |n: &str| env.iter().any(|(k, _)| k == n);
        let last = repo.rsplit('/').next().unwrap_or("");
        if last == "rocket.chat"
            || last == "rocketchat"
            || has("DEPLOY_METHOD")
            || (has("ROOT_URL") && has("MONGO_URL"))
        {
            return ContainerKind::RocketChat;
        }
        ContainerKind::Other
    }

    /// Whether the environment was collected (`env` is a list of strings).
    pub fn env_collected(&self) -> bool {
        self.raw.env.is_some()
    }

    /// Environment as `(name, value)` pairs (none when it was not collected).
    pub fn env(&self) -> Vec<(String, String)> {
        self.raw
            .env
            .as_ref()
            .map(|a| {
                a.iter()
                    .map(|e| match e.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (e.to_string(), String::new()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Value of environment variable `name`, if set.
    pub fn env_value(&self, name: &str) -> Option<String> {
        self.env()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Container labels.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.raw.labels.clone().unwrap_or_default()
    }

    /// Image labels: `image_labels` of the entry, else the image's labels in
    /// `docker/images.json`; `None` when neither was collected.
    pub fn image_labels(&self, node: &NodeData) -> Option<BTreeMap<String, String>> {
        match &self.raw.image_labels {
            Some(labels) => Some(labels.clone()),
            None => node.image_labels_by_id(self.raw.image_id.as_deref()?),
        }
    }

    /// `state.status` (`running`, `restarting`, `exited`, ...), lowercased.
    pub fn status(&self) -> Option<String> {
        self.state()
            .and_then(|s| s.status.as_deref())
            .map(str::to_ascii_lowercase)
    }

    /// Whether it runs (`state.running`, else status `running`).
    pub fn running(&self) -> Option<bool> {
        self.state()
            .and_then(|s| s.running)
            .or_else(|| self.status().map(|s| s == "running"))
    }

    /// `state`, when collected.
    pub fn state(&self) -> Option<&docker::ContainerState> {
        self.raw.state.as_ref()
    }

    /// JSON pointer of this entry's `field` in [`Container::file`] (named as in
    /// `docker/containers.json`; in `cri/containers.json` the field that holds it).
    pub fn pointer(&self, field: &str) -> String {
        if self.file == super::cri::CRI_CONTAINERS {
            let field = super::cri::cri_pointer(field);
            return if field.is_empty() {
                format!("/containers/{}", self.index)
            } else {
                format!("/containers/{}/{field}", self.index)
            };
        }
        if field.is_empty() {
            format!("/{}", self.index)
        } else {
            format!("/{}/{field}", self.index)
        }
    }
}
