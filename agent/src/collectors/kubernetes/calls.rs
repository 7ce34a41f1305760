//! The record of every API call the kubernetes collector makes (`kubernetes/calls.json`):
//! path, query, outcome, objects, pages, duration. It also decides what a failure means
//! for the collector: a 404 is an absent resource or API group (not an error), a 403 is
//! a refusal (recorded with the client's message naming what to grant; the collector is
//! `partial`), anything else is an error (also `partial`, unless nothing could be read).
//! Before each call the collector's own time limit is checked: past it, calls are not
//! made and are recorded as skipped. Pod log calls are recorded by
//! [`crate::collectors::logs::kube`] with the same fields (lines as `items`, and `bytes`).

use std::future::Future;
use std::time::{Duration, Instant};

use rcdiag_contract::kubernetes::Call;
use serde::de::DeserializeOwned;

use crate::clients::kube::{Kube, KubeError, Listed, resource_path};

/// A call to `path` with `query`, not made yet: outcome `ok`, nothing read (the
/// contract's [`Call`], with what the collector always writes: outcome, items, pages and
/// duration; the query, message, truncation, restart, fall-back and bytes only when set).
pub fn new_call(path: String, query: &str) -> Call {
    Call {
        path: Some(path),
        query: (!query.is_empty()).then(|| query.to_string()),
        outcome: Some("ok".into()),
        items: Some(0),
        pages: Some(0),
        duration_ms: Some(0),
        ..Call::default()
    }
}

/// Records how long `call` took.
pub fn took(call: &mut Call, t0: Instant) {
    call.duration_ms = Some(t0.elapsed().as_millis() as u64);
}

/// Whether `call` succeeded.
pub fn is_ok(call: &Call) -> bool {
    call.outcome.as_deref() == Some("ok")
}

/// The calls of one collection, and what went wrong.
pub struct Calls {
    kube: Kube,
    deadline: Instant,
    /// Every call, in order.
    pub calls: Vec<Call>,
    /// Messages of refusals that lost data.
    pub forbidden: Vec<String>,
    /// Messages of other failures.
    pub errors: Vec<String>,
}

impl Calls {
    /// A recorder for `kube`, refusing new calls after `limit`.
    pub fn new(kube: Kube, limit: Duration) -> Self {
        Self {
            kube,
            deadline: Instant::now() + limit,
            calls: Vec::new(),
            forbidden: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The client.
    pub fn kube(&self) -> &Kube {
        &self.kube
    }

    /// Whether the collector's time limit has passed.
    pub fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Runs one call, recording it. `Ok(None)` is a 404 (absent); `Err` any failure,
    /// already recorded (and counted, unless `fallback` says a refused list will be
    /// replaced by narrower ones).
    async fn run<T, F>(
        &mut self,
        path: String,
        query: &str,
        fallback: bool,
        fut: F,
    ) -> Result<Option<Listed<T>>, KubeError>
    where
        F: Future<Output = Result<Listed<T>, KubeError>>,
    {
        let mut call = new_call(path, query);
        if self.out_of_time() {
            call.outcome = Some("skipped".into());
            let msg = format!(
                "{}: not read, the collector's time limit passed",
                call.path.as_deref().unwrap_or("")
            );
            call.message = Some(msg.clone());
            self.errors.push(msg);
            self.calls.push(call);
            return Err(KubeError::Timeout {
                path: String::new(),
                secs: 0,
            });
        }
        let t0 = Instant::now();
        let result = fut.await;
        took(&mut call, t0);
        let out = match result {
            Ok(listed) => {
                call.items = Some(listed.items.len() as u64);
                call.pages = Some(listed.pages.into());
                // Written only when true.
                call.restarted = listed.restarted.then_some(true);
                if let Some(t) = &listed.truncated {
                    call.truncated = Some(t.to_string());
                    self.errors.push(t.to_string());
                }
                Ok(Some(listed))
            }
            Err(KubeError::NotFound { message, .. }) => {
                call.outcome = Some("absent".into());
                call.message = Some(message);
                Ok(None)
            }
            Err(e @ KubeError::Forbidden { .. }) => {
                call.outcome = Some("forbidden".into());
                call.message = Some(e.to_string());
                if fallback {
                    call.fell_back = Some(true);
                } else {
                    self.forbidden.push(e.to_string());
                }
                Err(e)
            }
            Err(e) => {
                call.outcome = Some("error".into());
                call.message = Some(e.to_string());
                self.errors.push(e.to_string());
                Err(e)
            }
        };
        self.calls.push(call);
        out
    }

    /// Lists kind `K` (in `ns`, or everywhere) with `query`; `None` when it could not be
    /// read (recorded).
    pub async fn list<K>(&mut self, ns: Option<&str>, query: &str) -> Option<Vec<K>>
    where
        K: k8s_openapi::Resource + DeserializeOwned,
    {
        self.list_inner(ns, query, false).await.ok().flatten()
    }

    async fn list_inner<K>(
        &mut self,
        ns: Option<&str>,
        query: &str,
        fallback: bool,
    ) -> Result<Option<Vec<K>>, KubeError>
    where
        K: k8s_openapi::Resource + DeserializeOwned,
    {
        let path = resource_path(K::GROUP, K::VERSION, K::URL_PATH_SEGMENT, ns);
        let kube = self.kube.clone();
        let r = self
            .run(path, query, fallback, kube.list::<K>(ns, query))
            .await?;
        Ok(r.map(|l| l.items))
    }

    /// Lists kind `K` in every namespace of `namespaces`: one cluster-wide list filtered
    /// to them when RBAC allows it, else one list per namespace.
    pub async fn list_in<K>(&mut self, namespaces: &[String], query: &str) -> Vec<K>
    where
        K: k8s_openapi::Resource
            + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>
            + DeserializeOwned,
    {
        if namespaces.is_empty() {
            return Vec::new();
        }
        if namespaces.len() > 1 {
            match self.list_inner::<K>(None, query, true).await {
                Ok(Some(items)) => {
                    return items
                        .into_iter()
                        .filter(|o| {
                            o.metadata()
                                .namespace
                                .as_ref()
                                .is_some_and(|n| namespaces.contains(n))
                        })
                        .collect();
                }
                Ok(None) => return Vec::new(),
                Err(KubeError::Forbidden { .. }) => {}
                Err(_) => return Vec::new(),
            }
        }
        let mut all = Vec::new();
        for ns in namespaces {
            if let Some(items) = self.list::<K>(Some(ns), query).await {
                all.extend(items);
            }
        }
        all
    }

    /// Lists kind `K` (in `ns`, or everywhere) one page at a time (see
    /// [`Kube::list_pages`]), keeping `map(object)` of each object in `acc`: only one
    /// page of whole objects is held at a time. `false` when it could not be read
    /// (recorded).
    pub async fn pages<K, S>(
        &mut self,
        ns: Option<&str>,
        query: &str,
        acc: &mut Vec<S>,
        map: &mut impl FnMut(K) -> Option<S>,
    ) -> bool
    where
        K: k8s_openapi::Resource + DeserializeOwned,
    {
        self.pages_inner(ns, query, false, acc, map).await.is_ok()
    }

    async fn pages_inner<K, S>(
        &mut self,
        ns: Option<&str>,
        query: &str,
        fallback: bool,
        acc: &mut Vec<S>,
        map: &mut impl FnMut(K) -> Option<S>,
    ) -> Result<(), KubeError>
    where
        K: k8s_openapi::Resource + DeserializeOwned,
    {
        let path = resource_path(K::GROUP, K::VERSION, K::URL_PATH_SEGMENT, ns);
        let kube = self.kube.clone();
        let mark = acc.len();
        let mut count = 0usize;
        let fut = kube.list_pages::<K>(ns, query, |items, restarted| {
            if restarted {
                // Read again whole: what the earlier pages of this list gave goes.
                acc.truncate(mark);
                count = 0;
            }
            count += items.len();
            acc.extend(items.into_iter().filter_map(&mut *map));
        });
        let r = self.run(path, query, fallback, fut).await;
        if let Some(c) = self.calls.last_mut()
            && is_ok(c)
        {
            c.items = Some(count as u64);
        }
        r.map(|_| ())
    }

    /// [`Calls::list_in`], one page at a time (see [`Calls::pages`]); `map` sees the
    /// objects of `namespaces` only.
    pub async fn pages_in<K, S>(
        &mut self,
        namespaces: &[String],
        query: &str,
        acc: &mut Vec<S>,
        map: &mut impl FnMut(K) -> Option<S>,
    ) where
        K: k8s_openapi::Resource
            + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>
            + DeserializeOwned,
    {
        if namespaces.is_empty() {
            return;
        }
        if namespaces.len() > 1 {
            let mut filtered = |o: K| {
                if o.metadata()
                    .namespace
                    .as_ref()
                    .is_some_and(|n| namespaces.contains(n))
                {
                    map(o)
                } else {
                    None
                }
            };
            match self
                .pages_inner::<K, S>(None, query, true, acc, &mut filtered)
                .await
            {
                Err(KubeError::Forbidden { .. }) => {}
                _ => return,
            }
        }
        for ns in namespaces {
            self.pages::<K, S>(Some(ns), query, acc, map).await;
        }
    }

    /// Lists a resource without `k8s-openapi` type (an API group that may be absent)
    /// cluster-wide when `namespaces` is `None`, else in `namespaces` as
    /// [`Calls::list_in`] does (one cluster-wide list filtered to them when RBAC allows
    /// it, else one per namespace).
    pub async fn list_json(
        &mut self,
        group: &str,
        version: &str,
        plural: &str,
        namespaces: Option<&[String]>,
    ) -> Vec<serde_json::Value> {
        let in_ns = |v: &serde_json::Value, list: &[String]| {
            v["metadata"]["namespace"]
                .as_str()
                .is_some_and(|n| list.iter().any(|x| x == n))
        };
        let targets: Vec<Option<&str>> = match namespaces {
            None => vec![None],
            Some([]) => return Vec::new(),
            Some(list) if list.len() > 1 => {
                match self.json_at(group, version, plural, None, true).await {
                    Ok(items) => return items.into_iter().filter(|v| in_ns(v, list)).collect(),
                    Err(KubeError::Forbidden { .. }) => {
                        list.iter().map(|n| Some(n.as_str())).collect()
                    }
                    Err(_) => return Vec::new(),
                }
            }
            Some(list) => list.iter().map(|n| Some(n.as_str())).collect(),
        };
        let mut all = Vec::new();
        for ns in targets {
            if let Ok(items) = self.json_at(group, version, plural, ns, false).await {
                all.extend(items);
            }
        }
        all
    }

    async fn json_at(
        &mut self,
        group: &str,
        version: &str,
        plural: &str,
        ns: Option<&str>,
        fallback: bool,
    ) -> Result<Vec<serde_json::Value>, KubeError> {
        let path = resource_path(group, version, plural, ns);
        let kube = self.kube.clone();
        let fut = async move { kube.list_json(&path, "").await };
        let path = resource_path(group, version, plural, ns);
        Ok(self
            .run(path, "", fallback, fut)
            .await?
            .map(|l| l.items)
            .unwrap_or_default())
    }

    /// Records a single GET (`/version`, `/apis`).
    pub async fn get<T, F>(&mut self, path: &str, fut: F) -> Result<T, KubeError>
    where
        F: Future<Output = Result<T, KubeError>>,
    {
        let mut value = None;
        let wrapped = async {
            fut.await.map(|v| {
                value = Some(v);
                Listed {
                    items: Vec::<()>::new(),
                    pages: 1,
                    restarted: false,
                    truncated: None,
                }
            })
        };
        let r = self.run(path.to_string(), "", false, wrapped).await;
        if let Some(c) = self.calls.last_mut()
            && is_ok(c)
        {
            c.items = Some(1);
        }
        match r {
            Ok(Some(_)) => value.ok_or(KubeError::Decode {
                path: path.to_string(),
                message: "no value".into(),
            }),
            Ok(None) => Err(KubeError::NotFound {
                path: path.to_string(),
                message: "not found".into(),
            }),
            Err(e) => Err(e),
        }
    }
}
