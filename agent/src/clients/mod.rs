//! The clients of the peers the agent reads (Docker Engine, MongoDB, the Rocket.Chat
//! HTTP API, the Kubernetes API, a CRI container runtime), apart from the collectors that use them: connecting,
//! byte and time budgets, error classification. A buggy or hostile peer can make a call
//! fail but never make the agent allocate without bound ([`budget`], and the caps of
//! [`kube::KubeOptions`]).

pub mod budget;
pub mod cri;
pub mod docker;
pub mod http;
pub mod kube;
pub mod mongodb;
