#!/usr/bin/env python3
"""A Kubernetes API server that replays recorded replies of real clusters (read-only).

No kube-apiserver can run on the test machines, so rcdiag's Kubernetes collector is
tested against this: the recorded objects of real clusters and the built Rocket.Chat
sets in tests/fixtures/kubernetes/ (see its README.md and SOURCES.md), served over
HTTPS with a test CA and bearer tokens, with the API's paths, discovery, list
pagination (`limit` / `continue`, 410 Expired), label and field selectors, `Status`
error bodies (401, 403, 404, 400, 405, 410) and pod logs. Python 3 standard library
(PyYAML for the recorded YAML files of the k3s set). See scripts/README.md.

    python3 scripts/kube-replay.py serve --dir DIR [--port P] [--cluster SET]... \
        [--profile NAME=SET[,forbid=RES[@NS]][,scale-pods=N][,expire-continue][,user=U]]...
    python3 scripts/kube-replay.py list

`serve` makes DIR/ca.crt, DIR/server.crt, DIR/server.key (openssl) if missing, writes
DIR/<profile>.kubeconfig (server URL, CA, token, context `rcdiag-replay-<profile>`) and
DIR/profiles.json, then prints `READY <port>` on stdout. SIGTERM/SIGINT stop it.
"""
import argparse
import base64
import copy
import datetime
import http.server
import json
import os
import re
import secrets
import signal
import socketserver
import ssl
import subprocess
import sys
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_FIXTURES = os.path.join(HERE, "..", "tests", "fixtures", "kubernetes")
DEFAULT_USER = "system:serviceaccount:rcdiag:rcdiag-agent"

TS_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$")
LOG_TS_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z (.*)$", re.S)
EXPIRED_MSG = ("The provided continue parameter is too old to display a consistent list result. You can start "
               "a new list without the continue parameter, or use the continue token in this response to "
               "retrieve the remainder of the results. Continuing with the provided token results in an "
               "inconsistent list - objects that were created, modified, or deleted between the time the "
               "first chunk was returned and now may show up in the list.")

# Field selectors the real apiserver accepts beyond metadata.name / metadata.namespace
# (pkg/registry/*/strategy.go ToSelectableFields); others get 400 "field label not supported".
FIELDS = {
    "pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
    "events": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
               "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
               "reason", "reportingComponent", "source", "type"},
    "nodes": {"spec.unschedulable"},
    "secrets": {"type"},
    "namespaces": {"status.phase"},
    "replicasets": {"status.replicas"},
    "jobs": {"status.successful"},
    "persistentvolumes": {"name"},
}
FIELD_ALIASES = {("events", "source"): "source.component"}


def log(*a):
    print("[kube-replay]", *a, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ time
def parse_ts(s):
    m = TS_RE.match(s)
    if not m:
        return None
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    frac = m.group(2) or ""
    ns = int((frac[1:] + "000000000")[:9]) if frac else 0
    return int(base.timestamp()) * 1_000_000_000 + ns, len(frac) - 1 if frac else 0


def fmt_ts(ns_total, digits):
    sec, ns = divmod(ns_total, 1_000_000_000)
    s = datetime.datetime.fromtimestamp(sec, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        s += "." + ("%09d" % ns)[:digits]
    return s + "Z"


def is_time_key(k):
    return k in ("time", "timestamp") or k.endswith(("Timestamp", "Time", "At"))


def walk_times(obj, fn):
    """Calls fn(value) on every RFC 3339 string under a time-like key; replaces it with the result."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, str) and is_time_key(k) and TS_RE.match(v):
                obj[k] = fn(v)
            elif isinstance(v, (dict, list)):
                walk_times(v, fn)
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, (dict, list)):
                walk_times(v, fn)


# ------------------------------------------------------------ fixtures
def read_json(path):
    with open(path, "rb") as f:
        return json.loads(f.read())


def is_exchange(doc):
    return isinstance(doc, list) and doc and isinstance(doc[0], dict) and "request_url" in doc[0]


def split_gv(api_version):
    if "/" in api_version:
        g, v = api_version.split("/", 1)
        return g, v
    return "", api_version


class ClusterSet:
    """The objects, discovery and logs of one fixture set, loaded once per server."""

    def __init__(self, name, spec, root, time_shift=True):
        self.name = name
        self.root = root
        self.description = spec.get("description", "")
        self.version = self._version(spec["version"])
        self.groups = []  # APIGroup dicts, in order
        for f in spec.get("groups", []):
            self._add_groups(f)
        self.resources = {}  # groupVersion -> [APIResource]
        for f in spec.get("resources", []):
            for rl in read_json(self.path(f)):
                gv = rl["groupVersion"]
                have = {r["name"] for r in self.resources.setdefault(gv, [])}
                self.resources[gv].extend(r for r in rl["resources"] if r["name"] not in have)
        self.objects = {}  # (group, version, plural) -> {(ns, name): obj}
        self._kinds = {}  # (group, version, plural) -> (kind, apiVersion)
        self.max_rv = 1
        for f in spec.get("objects", []):
            self._add_objects(f)
        self.logs = {}  # (ns, pod, container, previous) -> [(ts_ns or None, line)]
        for f in spec.get("logs", []):
            self._add_logs(f)
        self._derive_events_api()
        self.shift_ns = 0
        if time_shift:
            self._shift_times()
        self._synthesize_log_times()

    def path(self, rel):
        return os.path.join(self.root, rel)

    # -- loading
    def _version(self, v):
        if isinstance(v, str):
            return read_json(self.path(v))
        doc = read_json(self.path(v["file"]))
        return doc[v["pointer"]] if v.get("pointer") else doc

    def _add_groups(self, f):
        doc = read_json(self.path(f))
        if is_exchange(doc):
            doc = next((json.loads(e["response_body"]) for e in doc
                        if e["request_method"] == "GET" and e["request_url"].split("?")[0].rstrip("/") == "/apis"), None)
            if doc is None:
                raise SystemExit("%s: no recorded GET /apis" % f)
        groups = doc["groups"] if isinstance(doc, dict) else doc
        if not groups:
            raise SystemExit("%s: no API groups" % f)
        for g in groups:
            if not g.get("name"):
                continue  # the core group is served at /api
            old = next((x for x in self.groups if x["name"] == g["name"]), None)
            if old is None:
                self.groups.append(copy.deepcopy(g))
            else:
                have = {v["groupVersion"] for v in old["versions"]}
                old["versions"].extend(v for v in g["versions"] if v["groupVersion"] not in have)

    def plural_for(self, api_version, kind):
        for r in self.resources.get(api_version, []):
            if r["kind"] == kind and "/" not in r["name"]:
                return r["name"]
        low = kind.lower()
        if low.endswith("s"):
            return low + "es"
        if low.endswith("y"):
            return low[:-1] + "ies"
        return low + "s"

    def namespaced(self, group, version, plural):
        gv = "%s/%s" % (group, version) if group else version
        for r in self.resources.get(gv, []):
            if r["name"] == plural:
                return r["namespaced"]
        objs = self.objects.get((group, version, plural))
        if objs:
            return any(ns for ns, _ in objs)
        return None

    def known(self, group, version, plural):
        gv = "%s/%s" % (group, version) if group else version
        return any(r["name"] == plural for r in self.resources.get(gv, [])) or (group, version, plural) in self.objects

    def add_object(self, obj, api_version, kind):
        api_version = obj.get("apiVersion") or api_version
        kind = obj.get("kind") or kind
        g, v = split_gv(api_version)
        plural = self.plural_for(api_version, kind)
        md = obj.get("metadata", {})
        key = (md.get("namespace", ""), md["name"])
        self.objects.setdefault((g, v, plural), {})[key] = obj
        try:
            self.max_rv = max(self.max_rv, int(md.get("resourceVersion", "0")))
        except ValueError:
            pass
        self._kinds[(g, v, plural)] = (kind, api_version)

    def _add_list(self, doc):
        kind = doc.get("kind", "")
        item_kind = kind[:-4] if kind.endswith("List") and kind != "List" else ""
        try:
            self.max_rv = max(self.max_rv, int(doc.get("metadata", {}).get("resourceVersion") or 0))
        except ValueError:
            pass
        for it in doc.get("items", []):
            self.add_object(it, doc.get("apiVersion", "v1"), item_kind)

    def _add_objects(self, f):
        p = self.path(f)
        if p.endswith((".yaml", ".yml")):
            import yaml  # python3-yaml (Debian); only the recorded k3s set needs it
            with open(p) as fh:
                docs = yaml.safe_load(fh)
            for it in docs if isinstance(docs, list) else docs.get("items", []):
                self.add_object(it, it["apiVersion"], it["kind"])
            return
        doc = read_json(p)
        if is_exchange(doc):
            singles = {}
            for e in doc:
                if e["request_method"] != "GET" or e["response_status_code"] != 200 or "/log" in e["request_url"]:
                    continue
                body = json.loads(e["response_body"])
                if body.get("kind", "").endswith("List"):
                    self._add_list(body)
                elif body.get("metadata", {}).get("name"):
                    singles[(body["kind"], body["metadata"].get("namespace"), body["metadata"]["name"])] = body
            for body in singles.values():  # the last recorded state of each object
                self.add_object(body, body["apiVersion"], body["kind"])
            return
        self._add_list(doc)

    def _add_logs(self, f):
        p = self.path(f)
        if os.path.isdir(p):
            for ns in sorted(os.listdir(p)):
                for pod in sorted(os.listdir(os.path.join(p, ns))):
                    d = os.path.join(p, ns, pod)
                    for fn in sorted(os.listdir(d)):
                        if not fn.endswith(".log"):
                            continue
                        c = fn[:-4]
                        prev = c.endswith("-previous")
                        if prev:
                            c = c[: -len("-previous")]
                        with open(os.path.join(d, fn), "rb") as fh:
                            self._store_log(ns, pod, c, prev, fh.read().decode("utf-8", "replace"))
            return
        doc = read_json(p)
        for e in doc:
            url = urllib.parse.urlsplit(e["request_url"])
            parts = url.path.strip("/").split("/")
            if e["request_method"] != "GET" or parts[-1] != "log" or e["response_status_code"] != 200:
                continue
            q = urllib.parse.parse_qs(url.query)
            ns, pod = parts[3], parts[5]
            c = q.get("container", [None])[0] or self._only_container(ns, pod)
            self._store_log(ns, pod, c, q.get("previous", ["false"])[0] == "true", e["response_body"])

    def _only_container(self, ns, pod):
        p = self.objects.get(("", "v1", "pods"), {}).get((ns, pod))
        return p["spec"]["containers"][0]["name"] if p else ""

    def _store_log(self, ns, pod, container, previous, text):
        lines = []
        for line in text.splitlines(keepends=True):
            m = LOG_TS_RE.match(line)
            if m:
                t = parse_ts(m.group(1) + (m.group(2) or "") + "Z")[0]
                lines.append([t, m.group(3)])
            else:
                lines.append([None, line])
        self.logs[(ns, pod, container, previous)] = lines

    def _derive_events_api(self):
        """events.k8s.io/v1 serves the core Events of the same storage, converted as the
        apiserver does (pkg/apis/events/v1 conversion: involvedObject -> regarding, message ->
        note, source -> deprecatedSource, count and first/last timestamps -> deprecated*)."""
        core = self.objects.get(("", "v1", "events"))
        if not core or "events.k8s.io/v1" not in self.resources or ("events.k8s.io", "v1", "events") in self.objects:
            return
        out = {}
        for key, e in core.items():
            e = copy.deepcopy(e)  # its own dicts: the time shift walks each object once
            n = {"kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": e["metadata"],
                 "eventTime": e.get("eventTime")}
            for src, dst in (("series", "series"), ("reportingComponent", "reportingController"),
                             ("reportingInstance", "reportingInstance"), ("action", "action"),
                             ("reason", "reason"), ("involvedObject", "regarding"), ("related", "related"),
                             ("message", "note"), ("type", "type"), ("source", "deprecatedSource"),
                             ("firstTimestamp", "deprecatedFirstTimestamp"),
                             ("lastTimestamp", "deprecatedLastTimestamp"), ("count", "deprecatedCount")):
                if e.get(src) not in (None, "", {}):
                    n[dst] = e[src]
            out[key] = n
        self.objects[("events.k8s.io", "v1", "events")] = out
        self._kinds[("events.k8s.io", "v1", "events")] = ("Event", "events.k8s.io/v1")

    def _shift_times(self):
        latest = [0]

        def seen(v):
            t = parse_ts(v)[0]
            latest[0] = max(latest[0], t)
            return v

        for objs in self.objects.values():
            for o in objs.values():
                walk_times(o, seen)
        for lines in self.logs.values():
            for t, _ in lines:
                if t:
                    latest[0] = max(latest[0], t)
        if not latest[0]:
            return
        now = int(datetime.datetime.now(datetime.timezone.utc).timestamp()) * 1_000_000_000
        # Whole seconds: the newest recorded time becomes one minute before start.
        self.shift_ns = (now - 60_000_000_000 - latest[0]) // 1_000_000_000 * 1_000_000_000

        def shift(v):
            t, digits = parse_ts(v)
            return fmt_ts(t + self.shift_ns, digits)

        for objs in self.objects.values():
            for o in objs.values():
                walk_times(o, shift)
        for lines in self.logs.values():
            for ln in lines:
                if ln[0]:
                    ln[0] += self.shift_ns

    def _synthesize_log_times(self):
        """Logs recorded without timestamps get one per line, spread over the container's run."""
        now = int(datetime.datetime.now(datetime.timezone.utc).timestamp()) * 1_000_000_000
        for (ns, pod, c, prev), lines in self.logs.items():
            if all(t for t, _ in lines):
                continue
            start, end = now - 3600 * 1_000_000_000, now - 1_000_000_000
            p = self.objects.get(("", "v1", "pods"), {}).get((ns, pod))
            st = next((s for s in (p or {}).get("status", {}).get("containerStatuses", []) if s["name"] == c), None)
            if st:
                state = st.get("lastState" if prev else "state", {})
                info = state.get("terminated") or state.get("running") or {}
                if info.get("startedAt"):
                    start = parse_ts(info["startedAt"])[0]
                if info.get("finishedAt"):
                    end = parse_ts(info["finishedAt"])[0]
            n = max(len(lines), 1)
            step = max(min(1_000_000_000, (end - start) // n), 1000)
            for i, ln in enumerate(lines):
                if not ln[0]:
                    ln[0] = start + i * step

    def scale_pods(self, n):
        pods = self.objects.setdefault(("", "v1", "pods"), {})
        tmpl = next((p for p in pods.values()
                     if any("rocket.chat" in c.get("image", "") for c in p["spec"]["containers"])), None)
        tmpl = tmpl or next(iter(pods.values()))
        md = tmpl["metadata"]
        base = md["name"].rsplit("-", 1)[0]
        for i in range(n):
            p = copy.deepcopy(tmpl)
            p["metadata"]["name"] = "%s-s%05d" % (base, i)
            p["metadata"]["uid"] = "00000000-0000-4000-8000-%012d" % i
            p["metadata"]["resourceVersion"] = str(self.max_rv + 1 + i)
            p.setdefault("status", {})["podIP"] = "10.%d.%d.%d" % (100 + i // 65536, i // 256 % 256, i % 256)
            pods[(md.get("namespace", ""), p["metadata"]["name"])] = p
        self.max_rv += n + 1


# -------------------------------------------------------------- selectors
def split_terms(s):
    terms, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        terms.append(cur.strip())
    return terms


def label_matcher(sel):
    preds = []
    for t in split_terms(sel):
        m = re.match(r"^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$", t)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if op == "in":
                preds.append(lambda l, k=key, vs=vals: k in l and l[k] in vs)
            else:
                preds.append(lambda l, k=key, vs=vals: not (k in l and l[k] in vs))
            continue
        m = re.match(r"^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$", t)
        if m:
            key, op, val = m.groups()
            if op == "!=":
                preds.append(lambda l, k=key, v=val: l.get(k) != v)
            else:
                preds.append(lambda l, k=key, v=val: l.get(k) == v)
            continue
        if t.startswith("!"):
            preds.append(lambda l, k=t[1:].strip(): k not in l)
        elif re.match(r"^[A-Za-z0-9./_-]+$", t):
            preds.append(lambda l, k=t: k in l)
        else:
            raise ValueError("unable to parse requirement: %s" % t)
    return lambda obj: all(p(obj.get("metadata", {}).get("labels") or {}) for p in preds)


def field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def field_matcher(plural, sel, group=""):
    preds = []
    allowed = {"metadata.name", "metadata.namespace"} | FIELDS.get(plural, set())
    for t in split_terms(sel):
        m = re.match(r"^([^!=\s]+)\s*(==|=|!=)\s*(.*)$", t)
        if not m:
            raise ValueError("invalid selector: '%s'; can't understand '%s'" % (sel, t))
        key, op, val = m.groups()
        if key not in allowed:
            raise LookupError('field label not supported: %s' % key)
        path = FIELD_ALIASES.get((plural, key), key)
        if group == "events.k8s.io":  # the same (core) field labels, on the converted object
            path = {"source": "deprecatedSource.component", "reportingComponent": "reportingController"}.get(
                key, key.replace("involvedObject.", "regarding.", 1))
        if op == "!=":
            preds.append(lambda o, p=path, v=val: field_value(o, p) != v)
        else:
            preds.append(lambda o, p=path, v=val: field_value(o, p) == v)
    return lambda obj: all(p(obj) for p in preds)


# ---------------------------------------------------------------- profiles
class Profile:
    def __init__(self, name, cset, forbid=(), expire_continue=False, user=DEFAULT_USER):
        self.name = name
        self.cset = cset
        self.forbid = list(forbid)  # [(resource, ns or None)]
        self.expire_continue = expire_continue
        self.user = user
        self.token = secrets.token_hex(24)
        self.generation = 0  # bumped by POST /rcdiag/expire-continue
        self.requests = []
        self.lock = threading.Lock()

    @property
    def rv(self):
        return self.cset.max_rv + self.generation

    def forbidden(self, resource, ns):
        """True if RBAC denies `resource` (plural or plural/sub) in ns (None = cluster scope)."""
        for res, fns in self.forbid:
            if res != resource:
                continue
            if fns is None or ns is None or fns == ns:
                return True
        return False


def parse_profile(spec, sets):
    name, _, rest = spec.partition("=")
    if not rest:
        rest = name
    parts = rest.split(",")
    set_name = parts[0]
    if set_name not in sets:
        raise SystemExit("unknown cluster set %r (have: %s)" % (set_name, ", ".join(sorted(sets))))
    forbid, scale, expire, user = [], 0, False, DEFAULT_USER
    for opt in parts[1:]:
        k, _, v = opt.partition("=")
        if k == "forbid":
            res, _, ns = v.partition("@")
            forbid.append((res, ns or None))
        elif k == "scale-pods":
            scale = int(v)
        elif k == "expire-continue":
            expire = True
        elif k == "user":
            user = v
        else:
            raise SystemExit("unknown profile option %r in %r" % (k, spec))
    return name, set_name, forbid, scale, expire, user


# ------------------------------------------------------------------ HTTP
def status_body(code, reason, message, details=None, meta=None):
    b = {"kind": "Status", "apiVersion": "v1", "metadata": meta or {}, "status": "Failure", "message": message,
         "reason": reason}
    if details is not None:
        b["details"] = details
    b["code"] = code
    return b


class HttpError(Exception):
    def __init__(self, code, body):
        super().__init__(body.get("message"))
        self.code = code
        self.body = body


def not_found_path():
    return HttpError(404, status_body(404, "NotFound", "the server could not find the requested resource", {}))


def encode_continue(rv, start):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\u0000"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(tok):
    try:
        raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4))
        d = json.loads(raw)
        if d.get("v") != "meta.k8s.io/v1" or not isinstance(d.get("rv"), int) or not isinstance(d.get("start"), str):
            raise ValueError("incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
        return d["rv"], d["start"].rstrip("\u0000")
    except Exception as e:  # noqa: BLE001 - any malformed token is a 400, like the apiserver
        raise HttpError(400, status_body(400, "BadRequest", "continue key is not valid: %s" % e))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rcdiag-kube-replay"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.verbose:
            log("%s %s" % (self.address_string(), fmt % args))

    def send_bytes(self, code, body, ctype):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, code, obj):
        self.send_bytes(code, json.dumps(obj, separators=(",", ":")).encode(), "application/json")

    def profile(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return self.server.tokens.get(auth[7:].strip())
        return None

    def handle_any(self):
        prof = self.profile()
        url = urllib.parse.urlsplit(self.path)
        code = 500
        try:
            if prof is None:
                raise HttpError(401, status_body(401, "Unauthorized", "Unauthorized"))
            q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
            if url.path.startswith("/rcdiag/"):
                code = self.control(prof, url.path)
                return
            if self.command not in ("GET", "HEAD"):
                raise HttpError(405, status_body(405, "MethodNotAllowed",
                                                 "the rcdiag replay server is read-only: %s is not supported" % self.command,
                                                 {}))
            code = self.route(prof, url.path, q)
        except HttpError as e:
            code = e.code
            self.send_json(e.code, e.body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            code = 499
            raise
        except Exception as e:  # noqa: BLE001
            log("error on %s %s: %r" % (self.command, self.path, e))
            code = 500
            self.send_json(500, status_body(500, "InternalError", "Internal error occurred: %s" % e, {}))
        finally:
            if prof is not None and not url.path.startswith("/rcdiag/"):
                with prof.lock:
                    prof.requests.append({"method": self.command, "path": url.path, "query": url.query,
                                          "code": code})

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def control(self, prof, path):
        if path == "/rcdiag/requests" and self.command == "GET":
            with prof.lock:
                self.send_json(200, {"profile": prof.name, "requests": list(prof.requests)})
        elif path == "/rcdiag/requests" and self.command == "DELETE":
            with prof.lock:
                prof.requests.clear()
            self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
        elif path == "/rcdiag/expire-continue" and self.command == "POST":
            with prof.lock:
                prof.generation += 1
            self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                 "message": "continue tokens before resourceVersion %d expired" % prof.rv})
        else:
            raise not_found_path()
        return 200

    # -- routing
    def route(self, prof, path, q):
        cs = prof.cset
        if path in ("/version", "/version/"):
            self.send_json(200, cs.version)
            return 200
        if path in ("/healthz", "/livez", "/readyz"):
            self.send_bytes(200, b"ok", "text/plain; charset=utf-8")
            return 200
        if path in ("/api", "/apis"):
            agg = self.aggregated_version(cs)
            if agg:
                return self.send_aggregated(cs, agg, path == "/api")
        if path == "/api":
            host = self.headers.get("Host", "127.0.0.1")
            self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                 "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})
            return 200
        if path == "/apis":
            self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": cs.groups})
            return 200
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
            if version != "v1":
                raise not_found_path()
        elif parts[0] == "apis" and len(parts) >= 2:
            g = next((x for x in cs.groups if x["name"] == parts[1]), None)
            if g is None:
                raise not_found_path()
            if len(parts) == 2:
                self.send_json(200, dict({"kind": "APIGroup", "apiVersion": "v1"}, **g))
                return 200
            group, version, rest = parts[1], parts[2], parts[3:]
            if not any(v["version"] == version for v in g["versions"]):
                raise not_found_path()
        else:
            raise not_found_path()
        gv = "%s/%s" % (group, version) if group else version
        if not rest:
            self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                                 "resources": cs.resources.get(gv, [])})
            return 200
        if q.get("watch") in ("1", "true"):
            raise HttpError(405, status_body(405, "MethodNotAllowed",
                                             "watch is not supported by the rcdiag replay server", {}))
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        plural = rest[0]
        if not cs.known(group, version, plural):
            raise not_found_path()
        namespaced = cs.namespaced(group, version, plural)
        if ns is not None and namespaced is False:
            raise not_found_path()
        if len(rest) == 1:
            return self.list(prof, group, version, plural, ns, namespaced, q)
        name = rest[1]
        if ns is None and namespaced and plural != "namespaces":
            raise not_found_path()
        if len(rest) == 2:
            return self.get(prof, group, version, plural, ns, name)
        if len(rest) == 3 and plural == "pods" and rest[2] == "log":
            return self.pod_log(prof, ns, name, q)
        if len(rest) == 3 and rest[2] == "status":
            return self.get(prof, group, version, plural, ns, name)
        raise not_found_path()

    def aggregated_version(self, cs):
        """The aggregated discovery version the Accept header asks for and this cluster's
        version serves (v2beta1 from 1.26, v2 from 1.30), or None for the plain documents."""
        try:
            minor = int(re.match(r"\d+", str(cs.version.get("minor", "0"))).group(0))
        except (AttributeError, ValueError):
            minor = 0
        for rng in self.headers.get("Accept", "").split(","):
            fields = [f.strip() for f in rng.split(";")]
            params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
            if params.get("as") == "APIGroupDiscoveryList" and params.get("g") == "apidiscovery.k8s.io":
                if params.get("v") == "v2" and minor >= 30:
                    return "v2"
                if params.get("v") == "v2beta1" and 26 <= minor:
                    return "v2beta1"
                continue
            if fields[0] in ("application/json", "*/*", "application/*") and "as" not in params:
                return None
        return None

    def send_aggregated(self, cs, version, core):
        def discovery(group, v):
            gv = "%s/%s" % (group, v) if group else v
            top, subs = [], {}
            for r in cs.resources.get(gv, []):
                if "/" in r["name"]:
                    base, sub = r["name"].split("/", 1)
                    subs.setdefault(base, []).append({
                        "subresource": sub, "responseKind": {"group": r.get("group", group),
                                                             "version": r.get("version", v), "kind": r["kind"]},
                        "verbs": r.get("verbs", [])})
                else:
                    top.append(r)
            out = []
            for r in top:
                d = {"resource": r["name"], "responseKind": {"group": group, "version": v, "kind": r["kind"]},
                     "scope": "Namespaced" if r.get("namespaced") else "Cluster",
                     "singularResource": r.get("singularName") or r["kind"].lower(), "verbs": r.get("verbs", [])}
                for k in ("shortNames", "categories"):
                    if r.get(k):
                        d[k] = r[k]
                if subs.get(r["name"]):
                    d["subresources"] = subs[r["name"]]
                out.append(d)
            return {"version": v, "resources": out, "freshness": "Current"}

        if core:
            items = [{"metadata": {"creationTimestamp": None}, "versions": [discovery("", "v1")]}]
        else:
            items = [{"metadata": {"name": g["name"], "creationTimestamp": None},
                      "versions": [discovery(g["name"], x["version"]) for x in g["versions"]]} for g in cs.groups]
        body = {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/" + version,
                "metadata": {}, "items": items}
        self.send_bytes(200, json.dumps(body, separators=(",", ":")).encode(),
                        "application/json;g=apidiscovery.k8s.io;v=%s;as=APIGroupDiscoveryList" % version)
        return 200

    def forbid(self, prof, group, resource, verb, ns, name=None):
        if not prof.forbidden(resource, ns):
            return
        what = '%s "%s"' % (resource.split("/")[0], name) if name else resource.split("/")[0]
        scope = 'in the namespace "%s"' % ns if ns else "at the cluster scope"
        msg = '%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (
            what, prof.user, verb, resource, group, scope)
        details = {}
        if name:
            details["name"] = name
        if group:
            details["group"] = group
        details["kind"] = resource.split("/")[0]
        raise HttpError(403, status_body(403, "Forbidden", msg, details))

    def with_kind(self, cs, group, version, plural, obj):
        kind, api_version = cs._kinds.get((group, version, plural), (None, None))
        if kind and ("kind" not in obj or "apiVersion" not in obj):
            obj = dict({"kind": kind, "apiVersion": api_version}, **obj)
        return obj

    def get(self, prof, group, version, plural, ns, name):
        cs = prof.cset
        self.forbid(prof, group, plural, "get", ns, name)
        obj = cs.objects.get((group, version, plural), {}).get((ns or "", name))
        if obj is None:
            details = {"name": name, "kind": plural}
            if group:
                details = {"name": name, "group": group, "kind": plural}
            raise HttpError(404, status_body(404, "NotFound", '%s%s "%s" not found' % (
                plural, "." + group if group else "", name), details))
        self.send_json(200, self.with_kind(cs, group, version, plural, obj))
        return 200

    def list(self, prof, group, version, plural, ns, namespaced, q):
        cs = prof.cset
        self.forbid(prof, group, plural, "list", ns)
        items = cs.objects.get((group, version, plural), {})
        keys = sorted(items, key=lambda k: "%s/%s" % k if k[0] else k[1])
        if ns is not None:
            keys = [k for k in keys if k[0] == ns]
        try:
            if q.get("labelSelector"):
                m = label_matcher(q["labelSelector"])
                keys = [k for k in keys if m(items[k])]
            if q.get("fieldSelector"):
                m = field_matcher(plural, q["fieldSelector"], group)
                keys = [k for k in keys if m(items[k])]
        except LookupError as e:
            raise HttpError(400, status_body(400, "BadRequest", str(e).strip("'\"")))
        except ValueError as e:
            raise HttpError(400, status_body(400, "BadRequest", str(e)))
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise HttpError(400, status_body(400, "BadRequest", "invalid limit: %r" % q.get("limit")))
        rv = prof.rv
        if q.get("continue"):
            tok_rv, start = decode_continue(q["continue"])
            # rv -1: the apiserver's "inconsistent" token (handleCompactedErrorForPaging), which
            # continues at the latest resourceVersion; any other old rv has been compacted.
            if tok_rv != -1 and (prof.expire_continue or tok_rv != rv):
                fresh = encode_continue(-1, start)
                raise HttpError(410, status_body(410, "Expired", EXPIRED_MSG, None, {"continue": fresh}))
            keys = [k for k in keys if ("%s/%s" % k if k[0] else k[1]) > start]
        meta = {"resourceVersion": str(rv)}
        if limit > 0 and len(keys) > limit:
            rest = len(keys) - limit
            keys = keys[:limit]
            last = keys[-1]
            meta["continue"] = encode_continue(rv, "%s/%s" % last if last[0] else last[1])
            meta["remainingItemCount"] = rest
        kind, api_version = cs._kinds.get((group, version, plural), (None, None))
        if kind is None:
            kind = next((r["kind"] for r in cs.resources.get("%s/%s" % (group, version) if group else version, [])
                         if r["name"] == plural), plural.capitalize())
            api_version = "%s/%s" % (group, version) if group else version
        body = {"kind": kind + "List", "apiVersion": api_version, "metadata": meta, "items": [items[k] for k in keys]}
        self.send_json(200, body)
        return 200

    def pod_log(self, prof, ns, name, q):
        cs = prof.cset
        self.forbid(prof, "", "pods/log", "get", ns, name)
        pod = cs.objects.get(("", "v1", "pods"), {}).get((ns, name))
        if pod is None:
            raise HttpError(404, status_body(404, "NotFound", 'pods "%s" not found' % name,
                                             {"name": name, "kind": "pods"}))
        names = [c["name"] for c in pod["spec"].get("containers", [])]
        c = q.get("container")
        if not c:
            if len(names) != 1:
                raise HttpError(400, status_body(400, "BadRequest",
                                                 "a container name must be specified for pod %s, choose one of: [%s]"
                                                 % (name, " ".join(names))))
            c = names[0]
        elif c not in names + [x["name"] for x in pod["spec"].get("initContainers", [])]:
            raise HttpError(400, status_body(400, "BadRequest", "container %s is not valid for pod %s" % (c, name)))
        previous = q.get("previous") in ("true", "1")
        lines = cs.logs.get((ns, name, c, previous))
        if previous and lines is None:
            st = next((s for s in pod.get("status", {}).get("containerStatuses", []) if s["name"] == c), {})
            # The kubelet's rule (validateContainerLogStatus): no terminated last state, or one
            # without a containerID (ContainerStatusUnknown: the container cannot be located).
            if not (st.get("lastState", {}).get("terminated") or {}).get("containerID"):
                raise HttpError(400, status_body(400, "BadRequest",
                                                 'previous terminated container "%s" in pod "%s" not found' % (c, name)))
        lines = lines or []
        now = int(datetime.datetime.now(datetime.timezone.utc).timestamp()) * 1_000_000_000
        try:
            if q.get("sinceSeconds"):
                since = now - int(q["sinceSeconds"]) * 1_000_000_000
                lines = [ln for ln in lines if ln[0] >= since]
            elif q.get("sinceTime"):
                p = parse_ts(q["sinceTime"])
                if p is None:
                    raise ValueError("sinceTime")
                lines = [ln for ln in lines if ln[0] >= p[0]]
            if q.get("tailLines") not in (None, ""):
                n = int(q["tailLines"])
                lines = lines[-n:] if n > 0 else []
            limit = int(q["limitBytes"]) if q.get("limitBytes") else None
        except ValueError as e:
            raise HttpError(400, status_body(400, "BadRequest", "invalid log option: %s" % e))
        ts_on = q.get("timestamps") in ("true", "1")
        out = "".join((fmt_ts(t, 9) + " " + text if ts_on else text) for t, text in lines).encode()
        if limit is not None:
            out = out[:limit]
        self.send_bytes(200, out, "text/plain")
        return 200


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def finish_request(self, request, client_address):
        try:
            request = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            if self.verbose:
                log("TLS handshake failed from %s: %s" % (client_address, e))
            return
        try:
            self.RequestHandlerClass(request, client_address, self)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass


# ------------------------------------------------------------- TLS + kubeconfig
def make_certs(d):
    files = [os.path.join(d, f) for f in ("ca.crt", "server.crt", "server.key")]
    if all(os.path.exists(f) and os.path.getsize(f) for f in files):
        return
    os.makedirs(d, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    cmds = [
        ["openssl", "req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt", "-days", "30",
                                             "-subj", "/CN=rcdiag kube-replay test CA",
                                             "-addext", "basicConstraints=critical,CA:TRUE",
                                             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", "-new"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        ["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "30", "-extfile", "server.ext", "-out", "server.crt"],
    ]
    for c in cmds:
        r = subprocess.run(c, cwd=d, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("openssl failed: %s\n%s" % (" ".join(c), r.stderr))


def kubeconfig(url, ca_pem, prof):
    ctx = "rcdiag-replay-" + prof.name
    ca = base64.b64encode(ca_pem).decode()
    return ("apiVersion: v1\nkind: Config\nclusters:\n- name: %s\n  cluster:\n    server: %s\n"
            "    certificate-authority-data: %s\nusers:\n- name: %s\n  user:\n    token: %s\n"
            "contexts:\n- name: %s\n  context:\n    cluster: %s\n    user: %s\n    namespace: default\n"
            "current-context: %s\npreferences: {}\n" % (ctx, url, ca, ctx, prof.token, ctx, ctx, ctx, ctx))


def load_sets(fixtures):
    with open(os.path.join(fixtures, "clusters.json")) as f:
        spec = json.load(f)
    return {k: v for k, v in spec.items() if not k.startswith("_")}


def cmd_list(args):
    for name, spec in load_sets(args.fixtures).items():
        print("%s\t%s" % (name, spec.get("description", "")))


def cmd_serve(args):
    sets_spec = load_sets(args.fixtures)
    specs = [parse_profile(p, sets_spec) for p in (args.profile or [])]
    specs += [parse_profile(c, sets_spec) for c in (args.cluster or [])]
    if not specs:
        specs = [parse_profile("helm-compliant", sets_spec)]
    names = [s[0] for s in specs]
    if len(set(names)) != len(names):
        raise SystemExit("profile names must be unique: %s" % names)
    make_certs(args.dir)
    loaded, profiles = {}, []
    for name, set_name, forbid, scale, expire, user in specs:
        key = (set_name, scale)
        if key not in loaded:
            cs = ClusterSet(set_name, sets_spec[set_name], args.fixtures, time_shift=not args.no_time_shift)
            if scale:
                cs.scale_pods(scale)
            loaded[key] = cs
        profiles.append(Profile(name, loaded[key], forbid, expire, user))

    srv = Server((args.host, args.port), Handler)
    srv.verbose = args.verbose
    srv.tokens = {p.token: p for p in profiles}
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(args.dir, "server.crt"), os.path.join(args.dir, "server.key"))
    ctx.set_alpn_protocols(["http/1.1"])
    srv.ssl_ctx = ctx
    port = srv.server_address[1]
    url = "https://127.0.0.1:%d" % port
    with open(os.path.join(args.dir, "ca.crt"), "rb") as f:
        ca_pem = f.read()
    index = {}
    for p in profiles:
        path = os.path.join(args.dir, p.name + ".kubeconfig")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(kubeconfig(url, ca_pem, p))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        index[p.name] = {"set": p.cset.name, "kubeconfig": path, "context": "rcdiag-replay-" + p.name,
                         "token": p.token, "forbid": ["%s@%s" % f if f[1] else f[0] for f in p.forbid],
                         "expire_continue": p.expire_continue, "user": p.user,
                         "pods": len(p.cset.objects.get(("", "v1", "pods"), {})),
                         "time_shift_seconds": p.cset.shift_ns // 1_000_000_000}
    with open(os.path.join(args.dir, "profiles.json"), "w") as f:
        json.dump({"url": url, "ca": os.path.join(args.dir, "ca.crt"), "profiles": index}, f, indent=2)
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(str(os.getpid()))

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("READY %d %s" % (port, " ".join(names)), flush=True)
    log("serving %s on %s" % (", ".join("%s (%s)" % (p.name, p.cset.name) for p in profiles), url))
    srv.serve_forever()
    srv.server_close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", default=os.environ.get("RCDIAG_KUBE_FIXTURES", DEFAULT_FIXTURES))
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the cluster sets")
    s = sub.add_parser("serve", help="serve cluster sets over HTTPS")
    s.add_argument("--dir", required=True, help="TLS files, kubeconfigs and profiles.json go here")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--cluster", action="append", help="serve set SET as profile SET")
    s.add_argument("--profile", action="append",
                   help="NAME=SET[,forbid=RES[@NS]][,scale-pods=N][,expire-continue][,user=USER]")
    s.add_argument("--no-time-shift", action="store_true", help="serve timestamps as recorded")
    s.add_argument("--pid-file")
    s.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    args.fixtures = os.path.abspath(args.fixtures)
    if args.cmd == "list":
        cmd_list(args)
    else:
        cmd_serve(args)


if __name__ == "__main__":
    main()
