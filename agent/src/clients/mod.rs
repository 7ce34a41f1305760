//! Clients of the peers the collectors read: each one connects, applies the byte and
//! time budgets, and classifies failures; the collectors only decide what to read.

pub mod kube;
