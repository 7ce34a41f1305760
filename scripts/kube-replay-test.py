#!/usr/bin/env python3
"""Tests of the Kubernetes replay peer (scripts/kube-replay.py) and its fixtures.

Starts its own server on a free port with the profiles it needs, reads the fixture files
itself (not through the server's loader) and checks that every object and log is served,
pagination, 410 / 401 / 403 / 404 / 400 Status bodies, selectors, log options, the Helm
release encoding, the scale mode, aggregated discovery; with `kubectl` on PATH, that the
real client accepts the server. Every reply is checked non-empty before it is used.

    python3 scripts/kube-replay-test.py [-v]        (or scripts/test-kube-replay)

RCDIAG_REQUIRE_PEERS=1: a missing kubectl or a missing $RCDIAG_TEST_KUBECONFIG_REPLAY
(the peer `scripts/test-env start` runs) fails instead of skipping.
"""
import base64
import calendar
import gzip
import http.server
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "tests", "fixtures", "kubernetes")
SERVER = os.path.join(HERE, "kube-replay.py")
REQUIRE = os.environ.get("RCDIAG_REQUIRE_PEERS") == "1"
LOG_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ")

PROFILES = ["helm-compliant", "helm-healthy", "openshift", "rancher-rke2", "noncompliant", "edge-cases", "k3s", "kind", "kind-1.27"]
EXTRA = ["rbac=helm-compliant,forbid=secrets,forbid=pods@monitoring,forbid=pods/log@rocketchat",
         "expired=helm-compliant,expire-continue", "scale=helm-compliant,scale-pods=2000",
         "control=helm-compliant"]


class EmptyReply(AssertionError):
    pass


def slurp(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def read_kubeconfig(path):
    text = slurp(path)
    return {"server": re.search(r"server: (\S+)", text).group(1),
            "token": re.search(r"token: (\S+)", text).group(1),
            "ca": base64.b64decode(re.search(r"certificate-authority-data: (\S+)", text).group(1)),
            "context": re.search(r"current-context: (\S+)", text).group(1)}


class Client:
    def __init__(self, server, token, ca_pem):
        self.server = server
        self.token = token
        self.ctx = ssl.create_default_context(cadata=ca_pem.decode())

    def request(self, path, token=True, method="GET", accept="application/json"):
        req = urllib.request.Request(self.server + path, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + (self.token if token is True else token))
        req.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read()

    def json(self, path, want=200, kind=None, **kw):
        code, ctype, body = self.request(path, **kw)
        return check_json(code, ctype, body, want, kind, path)

    def text(self, path, want=200):
        code, _, body = self.request(path)
        if code != want:
            raise AssertionError("%s: HTTP %d, want %d: %r" % (path, code, want, body[:300]))
        return body.decode()


def check_json(code, ctype, body, want, kind, what):
    """Fails on an empty or non-JSON reply, a wrong status or a wrong kind."""
    if not body:
        raise EmptyReply("%s: empty reply (HTTP %d)" % (what, code))
    if code != want:
        raise AssertionError("%s: HTTP %d, want %d: %r" % (what, code, want, body[:300]))
    if not ctype.startswith("application/json"):
        raise AssertionError("%s: Content-Type %r" % (what, ctype))
    doc = json.loads(body)
    if not isinstance(doc, dict) or not doc:
        raise EmptyReply("%s: empty JSON %r" % (what, body[:100]))
    if kind and doc.get("kind") != kind:
        raise AssertionError("%s: kind %r, want %r" % (what, doc.get("kind"), kind))
    return doc


# ----------------------------------------------------- fixtures, read here
def fixture_objects(set_spec):
    """(apiVersion, kind, namespace, name) -> metadata of every object a set's files hold."""
    out = {}

    def add(it, api, kind):
        md = it["metadata"]
        out[(it.get("apiVersion") or api, it.get("kind") or kind, md.get("namespace", ""), md["name"])] = md

    for f in set_spec["objects"]:
        p = os.path.join(FIX, f)
        if p.endswith(".yaml"):
            import yaml
            for it in yaml.safe_load(slurp(p)):
                add(it, it["apiVersion"], it["kind"])
            continue
        doc = json.loads(slurp(p))
        lists = []
        if isinstance(doc, list):
            for e in doc:
                if e["request_method"] == "GET" and e["response_status_code"] == 200 and "/log" not in e["request_url"]:
                    b = json.loads(e["response_body"])
                    if b["kind"].endswith("List"):
                        lists.append(b)
                    else:
                        add(b, b["apiVersion"], b["kind"])
        else:
            lists.append(doc)
        for lst in lists:
            k = lst["kind"][:-4] if lst["kind"] != "List" else ""
            for it in lst["items"]:
                add(it, lst["apiVersion"], k)
    return out


def fixture_logs(set_spec):
    """(ns, pod, container, previous) -> text of every log a set's files hold."""
    out = {}
    for f in set_spec["logs"]:
        p = os.path.join(FIX, f)
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                for fn in files:
                    ns, pod = os.path.relpath(root, p).split(os.sep)
                    c = fn[:-4]
                    prev = c.endswith("-previous")
                    out[(ns, pod, c[:-9] if prev else c, prev)] = slurp(os.path.join(root, fn), "rb").decode()
        else:
            for e in json.loads(slurp(p)):
                if e["request_method"] == "GET" and "/log" in e["request_url"]:
                    u = urllib.parse.urlsplit(e["request_url"])
                    parts = u.path.strip("/").split("/")
                    q = urllib.parse.parse_qs(u.query)
                    out[(parts[3], parts[5], q["container"][0], False)] = e["response_body"]
    return out


def epoch(ts):
    return calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))


class ReplayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sets = {k: v for k, v in json.loads(slurp(os.path.join(FIX, "clusters.json"))).items()
                    if not k.startswith("_")}
        cls.dir = tempfile.mkdtemp(prefix="kr-test-")
        args = [sys.executable, SERVER, "serve", "--dir", cls.dir]
        for p in PROFILES:
            args += ["--cluster", p]
        for p in EXTRA:
            args += ["--profile", p]
        cls.errlog = open(os.path.join(cls.dir, "log"), "w")
        cls.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=cls.errlog, text=True)
        line = cls.proc.stdout.readline()
        if not line.startswith("READY "):
            cls.proc.kill()
            raise RuntimeError("kube-replay did not start: %r\n%s" % (line, slurp(os.path.join(cls.dir, "log"))))
        prof = json.loads(slurp(os.path.join(cls.dir, "profiles.json")))["profiles"]
        cls.shift = {k: v["time_shift_seconds"] for k, v in prof.items()}
        cls.clients = {}
        for name in PROFILES + [e.split("=")[0] for e in EXTRA]:
            kc = read_kubeconfig(os.path.join(cls.dir, name + ".kubeconfig"))
            cls.clients[name] = Client(kc["server"], kc["token"], kc["ca"])

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        try:
            cls.proc.wait(10)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
        cls.proc.stdout.close()
        cls.errlog.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def c(self, name="helm-compliant"):
        return self.clients[name]

    def plurals(self, client, api_version):
        path = "/api/v1" if api_version == "v1" else "/apis/" + api_version
        doc = client.json(path, kind="APIResourceList")
        return {r["kind"]: (r["name"], r["namespaced"]) for r in doc["resources"] if "/" not in r["name"]}

    def obj_path(self, client, api_version, kind, ns, name, cache):
        if api_version not in cache:
            cache[api_version] = self.plurals(client, api_version)
        self.assertIn(kind, cache[api_version], "discovery of %s lacks %s" % (api_version, kind))
        plural, namespaced = cache[api_version][kind]
        base = "/api/v1" if api_version == "v1" else "/apis/" + api_version
        if namespaced:
            return "%s/namespaces/%s/%s/%s" % (base, ns, plural, name), plural
        return "%s/%s/%s" % (base, plural, name), plural

    # ------------------------------------------------------------ fixtures
    def test_every_fixture_object_is_served(self):
        total = 0
        for set_name in PROFILES:
            client, cache = self.c(set_name), {}
            objs = fixture_objects(self.sets[set_name])
            self.assertGreater(len(objs), 0, set_name)
            per_list = {}
            shift = self.shift[set_name]
            for (api, kind, ns, name), md in objs.items():
                path, plural = self.obj_path(client, api, kind, ns, name, cache)
                doc = client.json(path, kind=kind)
                self.assertEqual(doc["metadata"]["name"], name, path)
                self.assertEqual(doc["metadata"].get("uid"), md.get("uid"), path)
                # Every timestamp shifted once, by the same whole seconds.
                if md.get("creationTimestamp"):
                    self.assertEqual(epoch(doc["metadata"]["creationTimestamp"]) - epoch(md["creationTimestamp"]),
                                     shift, path)
                base = path.rsplit("/", 1)[0]
                per_list.setdefault(base, set()).add(name)
                total += 1
            for base, names in per_list.items():
                lst = client.json(base, kind=None)
                self.assertTrue(lst["kind"].endswith("List"), base)
                self.assertEqual({i["metadata"]["name"] for i in lst["items"]}, names, base)
                self.assertTrue(lst["metadata"]["resourceVersion"].isdigit(), base)
        self.assertGreater(total, 150)

    def test_every_fixture_log_is_served(self):
        n = 0
        for set_name in PROFILES:
            client = self.c(set_name)
            for (ns, pod, c, prev), text in fixture_logs(self.sets[set_name]).items():
                if not text.strip():
                    continue
                q = "container=%s%s" % (c, "&previous=true" if prev else "")
                got = client.text("/api/v1/namespaces/%s/pods/%s/log?%s" % (ns, pod, q))
                self.assertTrue(got, (set_name, pod, c))
                want = "".join(LOG_TS.sub("", ln) for ln in text.splitlines(keepends=True))
                self.assertEqual(got, want, (set_name, pod, c, prev))
                n += 1
        self.assertGreaterEqual(n, 20)

    def test_pods_of_each_set(self):
        want = {"helm-compliant": 18, "helm-healthy": 18, "openshift": 18, "rancher-rke2": 20, "noncompliant": 3, "edge-cases": 2, "k3s": 8, "kind": 9, "kind-1.27": 8}
        for name, count in want.items():
            doc = self.c(name).json("/api/v1/pods", kind="PodList")
            self.assertEqual(len(doc["items"]), count, name)
            self.assertTrue(all(i["status"].get("phase") for i in doc["items"]), name)

    def test_pods_run_on_nodes_of_their_set(self):
        for name in PROFILES:
            nodes = {n["metadata"]["name"] for n in self.c(name).json("/api/v1/nodes", kind="NodeList")["items"]}
            if name.startswith("kind"):
                self.assertEqual(nodes, set(), name)  # not recorded
                continue
            self.assertTrue(nodes, name)
            for p in self.c(name).json("/api/v1/pods", kind="PodList")["items"]:
                if p["spec"].get("nodeName"):
                    self.assertIn(p["spec"]["nodeName"], nodes, (name, p["metadata"]["name"]))

    def test_owners_exist(self):
        """Every pod's controller (ReplicaSet, StatefulSet, DaemonSet, Job) and every
        ReplicaSet's Deployment is in the set (kind recorded no ReplicaSets, the k3s bundle
        no DaemonSets)."""
        paths = {"ReplicaSet": "/apis/apps/v1/namespaces/%s/replicasets/%s",
                 "StatefulSet": "/apis/apps/v1/namespaces/%s/statefulsets/%s",
                 "DaemonSet": "/apis/apps/v1/namespaces/%s/daemonsets/%s",
                 "Deployment": "/apis/apps/v1/namespaces/%s/deployments/%s",
                 "Job": "/apis/batch/v1/namespaces/%s/jobs/%s"}
        n = 0
        for name in PROFILES:
            if name.startswith("kind"):
                continue
            c = self.c(name)
            objs = c.json("/api/v1/pods", kind="PodList")["items"] + c.json("/apis/apps/v1/replicasets")["items"]
            for o in objs:
                for ref in o["metadata"].get("ownerReferences", []):
                    if ref["kind"] == "Node" or (name == "k3s" and ref["kind"] == "DaemonSet"):
                        continue  # static pods; troubleshoot's bundle has no DaemonSets
                    got = c.json(paths[ref["kind"]] % (o["metadata"]["namespace"], ref["name"]), kind=ref["kind"])
                    self.assertEqual(got["metadata"]["uid"], ref["uid"], (name, o["metadata"]["name"]))
                    n += 1
        self.assertGreater(n, 50)

    def test_rancher_signs(self):
        c = self.c("rancher-rke2")
        dep = c.json("/apis/apps/v1/namespaces/cattle-system/deployments/cattle-cluster-agent", kind="Deployment")
        self.assertEqual(dep["status"]["readyReplicas"], 2)
        nodes = c.json("/api/v1/nodes", kind="NodeList")["items"]
        self.assertTrue(all("rke2.io/node-args" in n["metadata"]["annotations"] for n in nodes))
        self.assertTrue(all(n["status"]["nodeInfo"]["kubeletVersion"].endswith("+rke2r1") for n in nodes))
        self.assertIn("cattle-system", [n["metadata"]["name"] for n in c.json("/api/v1/namespaces")["items"]])

    def test_built_objects_have_required_fields(self):
        """The fields k8s-openapi (v1_33, the types the collector deserializes into) does not
        make Option<>: a built object without one would fail to deserialize there."""
        req = {
            "Pod": [("spec.containers[].name", None), ("status.containerStatuses[]", ["image", "imageID", "name", "ready", "restartCount"]),
                    ("status.conditions[]", ["status", "type"])],
            "Node": [("status.nodeInfo", ["architecture", "bootID", "containerRuntimeVersion", "kernelVersion",
                                          "kubeProxyVersion", "kubeletVersion", "machineID", "operatingSystem",
                                          "osImage", "systemUUID"]),
                     ("status.conditions[]", ["status", "type"]), ("status.addresses[]", ["address", "type"])],
            "Deployment": [("spec", ["selector", "template"]), ("status.conditions[]", ["status", "type"])],
            "StatefulSet": [("spec", ["selector", "template"]), ("status", ["replicas"])],
            "DaemonSet": [("spec", ["selector", "template"]),
                          ("status", ["currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady"])],
            "ReplicaSet": [("spec", ["selector"]), ("status", ["replicas"])],
            "PodDisruptionBudget": [("status", ["currentHealthy", "desiredHealthy", "disruptionsAllowed", "expectedPods"])],
            "HorizontalPodAutoscaler": [("spec", ["maxReplicas", "scaleTargetRef"]), ("status", ["desiredReplicas"]),
                                        ("status.conditions[]", ["status", "type"])],
            "Event": [("", ["involvedObject", "metadata"])],
            "Service": [("spec.ports[]", ["port"])],
            "StorageClass": [("", ["provisioner", "metadata"])],
            "Ingress": [("spec.rules[].http.paths[]", ["backend", "pathType"])],
        }

        def at(obj, path):
            objs = [obj]
            for part in [p for p in path.split(".") if p]:
                many = part.endswith("[]")
                part = part.rstrip("[]")
                nxt = []
                for o in objs:
                    v = o.get(part) if isinstance(o, dict) else None
                    if v is None:
                        continue
                    nxt += v if many else [v]
                objs = nxt
            return objs

        n = 0
        for name in ("helm-compliant", "helm-healthy", "openshift", "rancher-rke2", "noncompliant"):
            for f in self.sets[name]["objects"]:
                if not f.startswith("built/"):
                    continue
                doc = json.loads(slurp(os.path.join(FIX, f)))
                for it in doc["items"]:
                    kind = it.get("kind") or doc["kind"][:-4]
                    for path, fields in req.get(kind, []):
                        for o in at(it, path):
                            for fld in fields or []:
                                self.assertIn(fld, o, (f, it["metadata"]["name"], path))
                                n += 1
                        if fields is None:
                            self.assertTrue(at(it, path), (f, it["metadata"]["name"], path))
        self.assertGreater(n, 500)

    def test_rocketchat_objects(self):
        c = self.c()
        dep = c.json("/apis/apps/v1/namespaces/rocketchat/deployments/rocketchat-rocketchat", kind="Deployment")
        self.assertEqual(dep["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm")
        self.assertEqual(dep["metadata"]["labels"]["helm.sh/chart"], "rocketchat-7.0.2")
        self.assertNotIn("helm.sh/chart", dep["spec"]["template"]["metadata"]["labels"])
        self.assertEqual(dep["spec"]["replicas"], 3)
        env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        self.assertEqual(env["DEPLOY_PLATFORM"]["value"], "helm-chart")
        self.assertIn("secretKeyRef", env["MONGO_URL"]["valueFrom"])
        pods = c.json("/api/v1/namespaces/rocketchat/pods?labelSelector=app.kubernetes.io/name%3Drocketchat",
                      kind="PodList")["items"]
        self.assertEqual(len(pods), 3)
        for p in pods:
            st = p["status"]["containerStatuses"][0]
            self.assertTrue(st["image"].startswith("registry.rocket.chat/rocketchat/rocket.chat:"))
            self.assertRegex(st["imageID"], r"@sha256:[0-9a-f]{64}$")
            self.assertIn("limits", p["spec"]["containers"][0]["resources"])
        self.assertEqual(sum(p["status"]["containerStatuses"][0]["lastState"].get("terminated", {}).get("reason") == "OOMKilled"
                             for p in pods), 1)
        ds = c.json("/apis/apps/v1/daemonsets", kind="DaemonSetList")["items"]
        self.assertEqual([d["status"]["numberReady"] for d in ds], [3])
        sm = c.json("/apis/monitoring.coreos.com/v1/namespaces/rocketchat/servicemonitors", kind="ServiceMonitorList")
        self.assertEqual(len(sm["items"]), 1)
        nc = self.c("noncompliant")
        self.assertEqual(nc.json("/apis/monitoring.coreos.com/v1/servicemonitors", want=404, kind="Status")["reason"],
                         "NotFound")
        ncd = nc.json("/apis/apps/v1/namespaces/chat/deployments/rocketchat", kind="Deployment")
        self.assertEqual(ncd["spec"]["replicas"], 1)
        self.assertNotIn("resources", ncd["spec"]["template"]["spec"]["containers"][0])
        os_ = self.c("openshift")
        cv = os_.json("/apis/config.openshift.io/v1/clusterversions/version", kind="ClusterVersion")
        self.assertEqual(cv["status"]["desired"]["version"], "4.18.9")
        self.assertEqual(len(os_.json("/apis/route.openshift.io/v1/namespaces/rocketchat/routes", kind="RouteList")["items"]), 1)
        groups = {g["name"] for g in os_.json("/apis", kind="APIGroupList")["groups"]}
        self.assertIn("apps.openshift.io", groups)
        k3s_groups = {g["name"] for g in self.c("k3s").json("/apis", kind="APIGroupList")["groups"]}
        self.assertIn("helm.cattle.io", k3s_groups)

    def test_helm_release_secret_encoding(self):
        s = self.c().json("/api/v1/namespaces/rocketchat/secrets/sh.helm.release.v1.rocketchat.v3", kind="Secret")
        self.assertEqual(s["type"], "helm.sh/release.v1")
        self.assertEqual(s["metadata"]["labels"]["owner"], "helm")
        helm_bytes = base64.b64decode(s["data"]["release"])  # the API's base64 of Secret data
        rel = json.loads(gzip.decompress(base64.b64decode(helm_bytes)))  # Helm's base64 of gzip
        self.assertEqual((rel["name"], rel["version"], rel["info"]["status"]), ("rocketchat", 3, "deployed"))
        self.assertEqual(rel["chart"]["metadata"]["version"], "7.0.2")
        self.assertIn("manifest", rel)

    def test_edge_cases(self):
        c = self.c("edge-cases")
        pods = {p["metadata"]["name"]: p for p in c.json("/api/v1/namespaces/rocketchat-edge/pods", kind="PodList")["items"]}
        long_pod = next(n for n in pods if n.endswith("-l0ng1"))
        gone_pod = next(n for n in pods if n.endswith("-g0ne2"))
        text = c.text("/api/v1/namespaces/rocketchat-edge/pods/%s/log?container=rocketchat" % long_pod)
        longest = max(len(ln.encode()) for ln in text.splitlines())
        self.assertGreater(longest, 100000)
        self.assertIn("rcdiag-edge: the line after the long one", text)
        # Restarted, but the previous container cannot be located: the kubelet's 400.
        st = pods[gone_pod]["status"]["containerStatuses"][0]
        self.assertEqual(st["restartCount"], 1)
        self.assertEqual(st["lastState"]["terminated"]["reason"], "ContainerStatusUnknown")
        self.assertNotIn("containerID", st["lastState"]["terminated"])
        body = c.json("/api/v1/namespaces/rocketchat-edge/pods/%s/log?container=rocketchat&previous=true" % gone_pod,
                      want=400, kind="Status")
        self.assertEqual(body["message"], 'previous terminated container "rocketchat" in pod "%s" not found' % gone_pod)
        self.assertTrue(c.text("/api/v1/namespaces/rocketchat-edge/pods/%s/log?container=rocketchat" % gone_pod))
        # The gzip bomb: small on the wire, 64 MiB once decoded.
        s = c.json("/api/v1/namespaces/rocketchat-edge/secrets/sh.helm.release.v1.bomb.v1", kind="Secret")
        helm_bytes = base64.b64decode(s["data"]["release"])
        self.assertLess(len(helm_bytes), 200 << 10)
        self.assertGreater(len(gzip.decompress(base64.b64decode(helm_bytes))), 64 << 20)

    # ---------------------------------------------------------- pagination
    def page_all(self, client, path, limit):
        names, pages, cont = [], 0, None
        while True:
            q = "limit=%d" % limit + ("&continue=" + urllib.parse.quote(cont) if cont else "")
            doc = client.json(path + ("&" if "?" in path else "?") + q)
            pages += 1
            self.assertLessEqual(len(doc["items"]), limit)
            self.assertGreater(len(doc["items"]), 0)
            names += [(i["metadata"].get("namespace"), i["metadata"]["name"]) for i in doc["items"]]
            cont = doc["metadata"].get("continue")
            if not cont:
                self.assertNotIn("remainingItemCount", doc["metadata"])
                return names, pages
            self.assertEqual(doc["metadata"]["remainingItemCount"] + len(names),
                             len(client.json(path, kind=None)["items"]))

    def test_two_pages(self):
        c = self.c()
        full = c.json("/api/v1/namespaces/rocketchat/pods", kind="PodList")["items"]
        self.assertEqual(len(full), 13)
        names, pages = self.page_all(c, "/api/v1/namespaces/rocketchat/pods", 7)
        self.assertEqual(pages, 2)
        self.assertEqual(names, [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in full])
        names, pages = self.page_all(c, "/api/v1/pods", 4)
        self.assertEqual((len(names), len(set(names)), pages), (18, 18, 5))

    def test_scale_mode(self):
        c = self.c("scale")
        names, pages = self.page_all(c, "/api/v1/pods", 500)
        self.assertEqual((len(names), len(set(names)), pages), (2018, 2018, 5))

    def test_expired_continue_is_410(self):
        c = self.c("expired")
        first = c.json("/api/v1/pods?limit=5", kind="PodList")
        tok = first["metadata"]["continue"]
        st = c.json("/api/v1/pods?limit=5&continue=" + urllib.parse.quote(tok), want=410, kind="Status")
        self.assertEqual((st["reason"], st["code"], st["status"]), ("Expired", 410, "Failure"))
        self.assertIn("too old to display a consistent list", st["message"])
        # The token of the 410 (rv -1, as the apiserver makes it) continues at the latest rv.
        rest = c.json("/api/v1/pods?limit=100&continue=" + urllib.parse.quote(st["metadata"]["continue"]),
                      kind="PodList")["items"]
        self.assertEqual([i["metadata"]["name"] for i in first["items"] + rest],
                         [i["metadata"]["name"] for i in c.json("/api/v1/pods", kind="PodList")["items"]])
        # A token from before a compaction (the control endpoint) is refused too.
        c = self.c("control")
        tok = c.json("/api/v1/pods?limit=5")["metadata"]["continue"]
        c.json("/api/v1/pods?limit=5&continue=" + urllib.parse.quote(tok), kind="PodList")
        c.json("/rcdiag/expire-continue", method="POST", kind="Status")
        st = c.json("/api/v1/pods?limit=5&continue=" + urllib.parse.quote(tok), want=410, kind="Status")
        self.assertEqual(st["reason"], "Expired")
        st = c.json("/api/v1/pods?limit=5&continue=garbage", want=400, kind="Status")
        self.assertEqual(st["reason"], "BadRequest")
        self.assertIn("continue key is not valid", st["message"])

    def test_request_log(self):
        c = self.c("noncompliant")
        c.json("/rcdiag/requests", method="DELETE", kind="Status")
        c.json("/api/v1/pods?limit=2", kind="PodList")
        c.json("/api/v1/namespaces/chat/pods/nope", want=404, kind="Status")
        log = c.json("/rcdiag/requests")
        self.assertEqual(log["profile"], "noncompliant")
        self.assertEqual([(r["method"], r["path"], r["query"], r["code"]) for r in log["requests"]],
                         [("GET", "/api/v1/pods", "limit=2", 200), ("GET", "/api/v1/namespaces/chat/pods/nope", "", 404)])

    # -------------------------------------------------------------- errors
    def test_401_without_or_with_a_wrong_token(self):
        for path in ("/version", "/api/v1/pods", "/apis"):
            for tok in (False, "not-a-token"):
                st = self.c().json(path, want=401, kind="Status", token=tok)
                self.assertEqual((st["reason"], st["message"], st["code"]), ("Unauthorized", "Unauthorized", 401))

    def test_403_where_configured(self):
        c = self.c("rbac")
        st = c.json("/api/v1/namespaces/rocketchat/secrets", want=403, kind="Status")
        self.assertEqual(st["reason"], "Forbidden")
        self.assertEqual(st["message"], 'secrets is forbidden: User "system:serviceaccount:rcdiag:rcdiag-agent" '
                                        'cannot list resource "secrets" in API group "" in the namespace "rocketchat"')
        st = c.json("/api/v1/namespaces/rocketchat/secrets/sh.helm.release.v1.rocketchat.v3", want=403, kind="Status")
        self.assertIn('cannot get resource "secrets"', st["message"])
        self.assertEqual(st["details"]["name"], "sh.helm.release.v1.rocketchat.v3")
        st = c.json("/api/v1/pods", want=403, kind="Status")
        self.assertIn("at the cluster scope", st["message"])
        st = c.json("/api/v1/namespaces/monitoring/pods", want=403, kind="Status")
        self.assertIn('"monitoring"', st["message"])
        pods = c.json("/api/v1/namespaces/rocketchat/pods", kind="PodList")["items"]
        self.assertEqual(len(pods), 13)
        code, _, body = c.request("/api/v1/namespaces/rocketchat/pods/%s/log" % pods[0]["metadata"]["name"])
        st = check_json(code, "application/json", body, 403, "Status", "log")
        self.assertIn('cannot get resource "pods/log"', st["message"])
        # The same server, another profile: not forbidden.
        self.assertEqual(len(self.c().json("/api/v1/namespaces/rocketchat/secrets", kind="SecretList")["items"]), 3)

    def test_404_bodies(self):
        c = self.c()
        st = c.json("/api/v1/namespaces/rocketchat/pods/nope", want=404, kind="Status")
        self.assertEqual((st["reason"], st["message"], st["details"]), ("NotFound", 'pods "nope" not found',
                                                                          {"name": "nope", "kind": "pods"}))
        st = c.json("/apis/apps/v1/namespaces/rocketchat/deployments/nope", want=404, kind="Status")
        self.assertEqual(st["message"], 'deployments.apps "nope" not found')
        for path in ("/apis/nosuch.example.com/v1/things", "/api/v1/nosuch", "/apis/apps/v9/deployments"):
            st = c.json(path, want=404, kind="Status")
            self.assertEqual(st["message"], "the server could not find the requested resource")
        st = c.json("/api/v1/namespaces/rocketchat/pods", method="DELETE", want=405, kind="Status")
        self.assertEqual(st["reason"], "MethodNotAllowed")

    # ----------------------------------------------------------- selectors
    def test_selectors(self):
        c = self.c()
        q = lambda s: c.json("/api/v1/pods?" + s, kind="PodList")["items"]  # noqa: E731
        self.assertEqual(len(q("labelSelector=" + urllib.parse.quote("app.kubernetes.io/name in (mongodb,nats)"))), 5)
        self.assertEqual(len(q("labelSelector=" + urllib.parse.quote("app.kubernetes.io/name==mongodb"))), 3)
        self.assertEqual(len(q("labelSelector=" + urllib.parse.quote("app.kubernetes.io/name!=mongodb"))), 15)
        self.assertEqual(len(q("labelSelector=statefulset.kubernetes.io/pod-name")), 6)
        self.assertEqual(len(q("labelSelector=" + urllib.parse.quote("!statefulset.kubernetes.io/pod-name"))), 12)
        on2 = q("fieldSelector=spec.nodeName%3Dworker-2")
        self.assertTrue(on2 and all(p["spec"]["nodeName"] == "worker-2" for p in on2))
        self.assertEqual(len(q("fieldSelector=status.phase%3DRunning,metadata.namespace%3Dmonitoring")), 5)
        ev = c.json("/api/v1/events?fieldSelector=type%3DWarning", kind="EventList")["items"]
        self.assertEqual({e["reason"] for e in ev}, {"FailedScheduling", "Evicted", "BackOff", "Failed"})
        ev2 = c.json("/apis/events.k8s.io/v1/events?fieldSelector=type%3DWarning", kind="EventList")["items"]
        self.assertEqual(sorted(e["note"] for e in ev2), sorted(e["message"] for e in ev))
        self.assertTrue(all(e["regarding"]["kind"] == "Pod" and e["deprecatedCount"] >= 1 for e in ev2))
        self.assertEqual(sorted((e["metadata"]["creationTimestamp"], e["deprecatedLastTimestamp"]) for e in ev2),
                         sorted((e["metadata"]["creationTimestamp"], e["lastTimestamp"]) for e in ev))
        self.assertEqual(len(c.json("/apis/events.k8s.io/v1/namespaces/rocketchat/events?fieldSelector="
                                    "involvedObject.kind%3DPod,reason%3DEvicted", kind="EventList")["items"]), 1)
        st = c.json("/api/v1/pods?fieldSelector=spec.containers%3Dx", want=400, kind="Status")
        self.assertEqual(st["message"], "field label not supported: spec.containers")

    # ---------------------------------------------------------------- logs
    def test_log_options(self):
        c = self.c()
        pod = [p for p in c.json("/api/v1/namespaces/rocketchat/pods?labelSelector=app.kubernetes.io/name%3Drocketchat",
                                 kind="PodList")["items"]
               if p["status"]["containerStatuses"][0]["restartCount"]][0]["metadata"]["name"]
        base = "/api/v1/namespaces/rocketchat/pods/%s/log" % pod
        full = c.text(base)
        self.assertIn("SERVER RUNNING", full)
        tail = c.text(base + "?tailLines=3")
        self.assertEqual(tail.splitlines(), full.splitlines()[-3:])
        self.assertEqual(len(c.text(base + "?limitBytes=100").encode()), 100)
        stamped = c.text(base + "?timestamps=true&tailLines=2").splitlines()
        self.assertEqual(len(stamped), 2)
        for ln in stamped:
            self.assertRegex(ln, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")
        self.assertEqual(c.text(base + "?sinceSeconds=1"), "")
        self.assertEqual(c.text(base + "?sinceSeconds=%d" % (30 * 86400)), full)
        prev = c.text(base + "?previous=true")
        self.assertIn("JavaScript heap out of memory", prev)
        self.assertNotEqual(prev, full)
        other = "/api/v1/namespaces/rocketchat/pods/%s/log?previous=true" % c.json(
            "/api/v1/namespaces/rocketchat/pods?labelSelector=app.kubernetes.io/name%3Dmongodb",
            kind="PodList")["items"][0]["metadata"]["name"]
        st = c.json(other, want=400, kind="Status")
        self.assertIn("previous terminated container", st["message"])
        k = self.c("k3s")
        st = k.json("/api/v1/namespaces/default/pods/nginx-deployment-7986654d4-ztx2g/log", want=400, kind="Status")
        self.assertEqual(st["message"], "a container name must be specified for pod nginx-deployment-7986654d4-ztx2g, "
                                        "choose one of: [nginx hello]")
        st = k.json("/api/v1/namespaces/default/pods/nginx-deployment-7986654d4-ztx2g/log?container=x", want=400,
                    kind="Status")
        self.assertEqual(st["message"], "container x is not valid for pod nginx-deployment-7986654d4-ztx2g")
        # Recorded without timestamps: the server gives each line one, in order.
        ts = [ln.split(" ", 1)[0] for ln in k.text(
            "/api/v1/namespaces/default/pods/nginx-deployment-7986654d4-ztx2g/log?container=hello&timestamps=true"
            "&tailLines=50").splitlines()]
        self.assertEqual(len(ts), 50)
        self.assertEqual(ts, sorted(ts))

    # ----------------------------------------------------------- discovery
    def test_discovery(self):
        for name in PROFILES:
            c = self.c(name)
            v = c.json("/version")
            self.assertRegex(v["gitVersion"], r"^v1\.\d+\.\d+")
            self.assertEqual(c.json("/api", kind="APIVersions")["versions"], ["v1"])
            groups = c.json("/apis", kind="APIGroupList")["groups"]
            self.assertIn("apps", [g["name"] for g in groups])
            self.assertIn("pods", [r["name"] for r in c.json("/api/v1", kind="APIResourceList")["resources"]])
            self.assertIn("deployments", [r["name"] for r in c.json("/apis/apps/v1", kind="APIResourceList")["resources"]])
            self.assertEqual(c.json("/apis/apps", kind="APIGroup")["name"], "apps")
        agg = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        code, ctype, body = self.c().request("/apis", accept=agg)
        doc = check_json(code, ctype, body, 200, "APIGroupDiscoveryList", "/apis aggregated")
        self.assertIn("as=APIGroupDiscoveryList", ctype)
        apps = [g for g in doc["items"] if g["metadata"].get("name") == "apps"][0]
        res = {r["resource"]: r for r in apps["versions"][0]["resources"]}
        self.assertEqual(res["deployments"]["scope"], "Namespaced")
        self.assertIn("status", [s["subresource"] for s in res["deployments"]["subresources"]])
        # k3s 1.24 predates aggregated discovery: the plain list, as that server sends.
        code, ctype, body = self.c("k3s").request("/apis", accept=agg)
        check_json(code, ctype, body, 200, "APIGroupList", "/apis k3s")

    def test_times_are_shifted_to_now(self):
        c = self.c()
        nodes = c.json("/api/v1/nodes", kind="NodeList")["items"]
        beats = [cond["lastHeartbeatTime"] for n in nodes for cond in n["status"]["conditions"]]
        newest = max(time.mktime(time.strptime(b, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone for b in beats)
        self.assertLess(abs(time.time() - newest), 300)

    # -------------------------------------------------- the harness itself
    def test_an_empty_reply_fails(self):
        class Empty(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), Empty)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/pods" % srv.server_address[1]) as r:
                code, ctype, body = r.status, r.headers["Content-Type"], r.read()
            with self.assertRaises(EmptyReply):
                check_json(code, ctype, body, 200, "PodList", "empty")
            with self.assertRaises(EmptyReply):
                check_json(200, "application/json", b"{}", 200, None, "empty object")
        finally:
            srv.shutdown()
            srv.server_close()

    # ------------------------------------------------------------- kubectl
    def kubectl(self, profile, *args):
        exe = shutil.which("kubectl")
        if not exe:
            if REQUIRE:
                self.fail("kubectl missing (RCDIAG_REQUIRE_PEERS=1): apt-get install kubernetes-client")
            self.skipTest("kubectl missing: apt-get install kubernetes-client")
        cache = os.path.join(self.dir, "kubectl-cache-" + profile)  # discovery is cached per URL
        r = subprocess.run([exe, "--kubeconfig", os.path.join(self.dir, profile + ".kubeconfig"), "--cache-dir", cache]
                           + list(args), capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.strip(), "kubectl printed nothing")
        return r.stdout

    def test_kubectl_accepts_the_server(self):
        for profile in ("helm-compliant", "k3s", "kind", "kind-1.27"):
            v = json.loads(self.kubectl(profile, "get", "--raw", "/version"))
            self.assertEqual(v["gitVersion"], self.c(profile).json("/version")["gitVersion"])
            pods = json.loads(self.kubectl(profile, "get", "pods", "-A", "-o", "json"))
            self.assertEqual(len(pods["items"]), len(self.c(profile).json("/api/v1/pods")["items"]), profile)
        pods = json.loads(self.kubectl("scale", "get", "pods", "-A", "-o", "json", "--chunk-size=300"))
        self.assertEqual(len(pods["items"]), 2018)
        out = self.kubectl("helm-compliant", "logs", "-n", "rocketchat", "rocketchat-mongodb-0", "--tail=1")
        self.assertIn("Slow query", out)
        deps = json.loads(self.kubectl("openshift", "get", "routes,clusterversions", "-A", "-o", "json"))
        self.assertEqual(sorted(i["kind"] for i in deps["items"]), ["ClusterVersion", "Route"])

    # ------------------------------------------------------- test-env peer
    def test_the_test_env_peer(self):
        path = os.environ.get("RCDIAG_TEST_KUBECONFIG_REPLAY")
        if not path:
            if REQUIRE:
                self.fail("RCDIAG_TEST_KUBECONFIG_REPLAY unset (RCDIAG_REQUIRE_PEERS=1): run scripts/test-env start")
            self.skipTest("RCDIAG_TEST_KUBECONFIG_REPLAY unset: the peer of scripts/test-env is not running")
        kc = read_kubeconfig(path)
        c = Client(kc["server"], kc["token"], kc["ca"])
        self.assertEqual(kc["context"], "rcdiag-replay-helm-compliant")
        self.assertEqual(len(c.json("/api/v1/namespaces/rocketchat/pods", kind="PodList")["items"]), 13)


if __name__ == "__main__":
    unittest.main()
