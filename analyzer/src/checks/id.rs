//! Check ids: one enum variant per check, with the stable dotted kebab-case name
//! that reports, the policy's `[checks."..."]` tables, CHECKS.md and `--check` use.

use std::fmt;
use std::str::FromStr;

macro_rules! check_ids {
    ($($variant:ident => $name:literal,)*) => {
        /// A check's stable id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum CheckId {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl CheckId {
            /// Every id, in report order.
            pub const ALL: &'static [CheckId] = &[$(CheckId::$variant,)*];
            /// Every id's name, in report order.
            pub const NAMES: &'static [&'static str] = &[$($name,)*];

            /// The stable name (`image.official`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(CheckId::$variant => $name,)*
                }
            }
        }
    };
}

check_ids! {
    ImageOfficial => "image.official",
    DeployMethod => "deploy.method",
    ScaleOrchestrated => "scale.orchestrated",
    HardwareCpu => "hardware.cpu",
    HardwareMemory => "hardware.memory",
    HardwareDisk => "hardware.disk",
    MonitoringPrometheus => "monitoring.prometheus",
    MonitoringGrafana => "monitoring.grafana",
    VersionSupported => "version.supported",
    VersionConsistent => "version.consistent",
    MongodbVersion => "mongodb.version",
    MongodbReplicaSet => "mongodb.replica-set",
    MongodbStorageEngine => "mongodb.storage-engine",
    MongodbBypassFlags => "mongodb.bypass-flags",
    HostDiskFree => "host.disk-free",
    HostClockSkew => "host.clock-skew",
    ContainersRestarting => "containers.restarting",
    LogsKnownErrors => "logs.known-errors",
    KubernetesResources => "kubernetes.resources",
    KubernetesPdb => "kubernetes.pdb",
    KubernetesReplicasReady => "kubernetes.replicas-ready",
    KubernetesMongodb => "kubernetes.mongodb",
    KubernetesWarningEvents => "kubernetes.warning-events",
    BundleComplete => "bundle.complete",
    BundleSignerTrusted => "bundle.signer-trusted",
}

/// A name that is no check's id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no such check: {0:?}")]
pub struct UnknownCheck(pub String);

impl FromStr for CheckId {
    type Err = UnknownCheck;

    fn from_str(s: &str) -> Result<CheckId, UnknownCheck> {
        CheckId::ALL
            .iter()
            .copied()
            .find(|id| id.as_str() == s)
            .ok_or_else(|| UnknownCheck(s.to_string()))
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<CheckId> for String {
    fn eq(&self, other: &CheckId) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<CheckId> for &str {
    fn eq(&self, other: &CheckId) -> bool {
        *self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for id in CheckId::ALL {
            let name = id.as_str();
            assert!(seen.insert(name), "{name} is used twice");
            let (area, rest) = name.split_once('.').expect("area.name");
            for part in [area, rest] {
                assert!(
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                    "{name} is not dotted kebab-case"
                );
            }
            assert_eq!(name.parse::<CheckId>(), Ok(*id));
        }
        assert_eq!(CheckId::ALL.len(), CheckId::NAMES.len());
        assert_eq!(
            "image.officia".parse::<CheckId>(),
            Err(UnknownCheck("image.officia".into()))
        );
    }

    #[test]
    fn every_check_is_documented_in_checks_md() {
        let doc = include_str!("../../CHECKS.md");
        let headings: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("## "))
            .flat_map(|h| h.split(", "))
            .collect();
        for name in CheckId::NAMES {
            assert!(
                headings.contains(name),
                "{name} has no `## {name}` section in analyzer/CHECKS.md"
            );
        }
    }
}
