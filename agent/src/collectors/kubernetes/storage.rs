//! Storage summaries (`kubernetes/storage.json`): the PersistentVolumeClaims of the
//! chosen namespaces with their storage class, size and phase.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use rcdiag_contract::kubernetes::Pvc;

/// A PVC's summary.
pub fn pvc(p: &PersistentVolumeClaim) -> Pvc {
    let spec = p.spec.as_ref();
    let st = p.status.as_ref();
    Pvc {
        namespace: Some(p.metadata.namespace.clone().unwrap_or_default()),
        name: Some(p.metadata.name.clone().unwrap_or_default()),
        storage_class: spec.and_then(|s| s.storage_class_name.clone()),
        phase: st.and_then(|s| s.phase.clone()),
        requested: spec
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .map(|q| q.0.clone()),
        capacity: st
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get("storage"))
            .map(|q| q.0.clone()),
        access_modes: spec
            .and_then(|s| s.access_modes.clone())
            .unwrap_or_default(),
        volume: spec.and_then(|s| s.volume_name.clone()),
        extra: Default::default(),
    }
}
