#!/usr/bin/env python3
"""MongoDB wire-protocol replay server for rcdiag's tests.

Built on mockupdb.MockupDB (MongoDB's own scripted wire-protocol server).  It
answers the handshake itself and replays the replies that real servers gave,
recorded in shared/fixtures/mongodb/ (see shared/fixtures/SOURCES.md), so the
stats collector can be tested against real shapes, versions and error codes
with the real Rust `mongodb` driver.

Usage:
    mockupdb-replay.py [--scenario NAME]... [--port P] [--fixtures DIR]
                       [--seed FILE] [--pid-file F] [-v]
    mockupdb-replay.py --list

Scenarios named rc_* also serve Rocket.Chat collections from a seed file
(scripts/seeds/<name>.json, see scripts/seeds/README.md): `find`, `count`,
`distinct`, `aggregate` ($match, $group, $count, $sort, $skip, $limit,
$project, $collStats), `listCollections`, `collStats`, `dbStats`, with time
fields relative to the moment each reply is made.  --seed FILE serves FILE in
every scenario of this process instead.

Each --scenario starts one server (default: v8_0_replset; `all` = every
scenario).  With --port 0 (default) every server binds a free port; with
--port P they bind P, P+1, ...  For each server one line is printed on stdout
once it listens:

    READY <port> <scenario>

Runtime switch (affects every client of that server, so keep it out of
parallel tests; reconnect after switching, the driver caches the handshake):
    db.adminCommand({rcdiagSetScenario: "v7_0_standalone"})
    db.adminCommand({rcdiagGetScenario: 1})

SIGTERM / SIGINT stop every server and exit 0.
"""

import argparse
import copy
import datetime
import functools
import itertools
import os
import re
import signal
import sys
import threading
import traceback

try:
    import bson
    from bson import Int64, json_util
    import mockupdb
except ImportError as exc:  # pragma: no cover - guidance only
    sys.stderr.write(
        "mockupdb-replay: %s\n"
        "run it with the venv made by `scripts/test-env install` "
        "(${RCDIAG_PEERS_VENV:-$HOME/.cache/rcdiag/venv}/bin/python)\n" % exc)
    sys.exit(2)


SEEDS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def default_fixtures_dir():
    env = os.environ.get("RCDIAG_FIXTURES")
    if env:
        return env
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(os.path.dirname(repo), "shared", "fixtures", "mongodb")


# --------------------------------------------------------------------------
# Scenarios.  Values under "files" are fixture file names; each is replayed
# as recorded (Extended JSON decoded with bson.json_util), ok:0 ones included.
# --------------------------------------------------------------------------

LIST_DATABASES = "listDatabases.3.6.standalone.json"
DB_STATS = "dbStats.4.0.replset-psa.rocketchat-db.scale-1MiB.json"

SCENARIOS = {
    "v8_0_replset": {
        "about": "MongoDB 8.0.1, replica set rs0, this node PRIMARY",
        "max_wire": 25,
        "set_name": "rs0",
        "files": {
            "buildInfo": "buildInfo.8.0.json",
            "serverStatus": "serverStatus.8.0.replset.json",
            "hostInfo": "hostInfo.8.0.replset.json",
            "getCmdLineOpts": "getCmdLineOpts.8.0.replset.json",
            "replSetGetStatus": "replSetGetStatus.8.0.replset.primary.json",
            "listDatabases": LIST_DATABASES,
            "dbStats": DB_STATS,
        },
        # namespace -> ("agg", file): a $collStats result document (8.0 FTDC)
        #              ("cmd", file): a collStats command reply (<= 7.x FTDC)
        "coll_stats": {
            "local.oplog.rs": (
                "agg", "collStats-aggregation.local.oplog.rs.8.0.replset.json"),
            "config.transactions": (
                "agg",
                "collStats-aggregation.config.transactions.8.0.replset.json"),
        },
    },
    "v7_0_standalone": {
        "about": "MongoDB 7.0.9 standalone (docker, --auth); "
                 "replSetGetStatus -> 76 NoReplicationEnabled",
        "max_wire": 21,
        "set_name": None,
        "files": {
            "buildInfo": "buildInfo.7.0.json",
            "serverStatus": "serverStatus.7.0.standalone.json",
            "hostInfo": "hostInfo.7.0.standalone.json",
            "getCmdLineOpts": "getCmdLineOpts.7.0.standalone.json",
            "listDatabases": LIST_DATABASES,
            "dbStats": DB_STATS,
        },
        "errors": {
            "replSetGetStatus": (76, "not running with --replSet",
                                 "NoReplicationEnabled"),
        },
        "coll_stats": {},
    },
    "v4_4_replset_unreachable_member": {
        "about": "MongoDB 4.4.29, replica set rs0; replSetGetStatus is a "
                 "SECONDARY view with one member (not reachable/healthy)",
        "max_wire": 9,
        "set_name": "rs0",
        "files": {
            "buildInfo": "buildInfo.4.4.json",
            "serverStatus": "serverStatus.4.4.replset.json",
            "hostInfo": "hostInfo.4.4.replset.json",
            "getCmdLineOpts": "getCmdLineOpts.4.4.replset.json",
            "replSetGetStatus":
                "replSetGetStatus.4.4.replset.secondary-member-unreachable.json",
            "listDatabases": LIST_DATABASES,
            "dbStats": DB_STATS,
        },
        "coll_stats": {
            "local.oplog.rs": ("cmd", "collStats.local.oplog.rs.4.4.replset.json"),
        },
    },
    "unauthorized": {
        "about": "MongoDB 6.0.8 standalone with --auth, client not "
                 "authenticated: hello/ping/buildInfo work, everything else "
                 "-> 13 Unauthorized",
        "max_wire": 17,
        "set_name": None,
        "files": {
            "buildInfo": "buildInfo.6.0.json",
            "listDatabases": "listDatabases.3.6.error-13-Unauthorized.json",
        },
        "unauthorized": True,
        "coll_stats": {},
    },
    "too_old": {
        "about": "maxWireVersion 6 (MongoDB 3.6): drivers refuse it at "
                 "server selection; `hello` is unknown, only isMaster answers",
        "max_wire": 6,
        "set_name": None,
        "files": {
            "buildInfo": "buildInfo.4.2.json",
            "serverStatus": "serverStatus.4.2.standalone.json",
            "hostInfo": "hostInfo.4.2.standalone.json",
            "getCmdLineOpts": "getCmdLineOpts.4.2.standalone.json",
            "listDatabases": LIST_DATABASES,
        },
        "coll_stats": {},
    },
}

def _derive(base, **changes):
    """A scenario made of `base`'s recordings plus `changes`."""
    sc = copy.deepcopy(SCENARIOS[base])
    sc["base"] = base
    sc.update(changes)
    return sc


# Rocket.Chat deployments: a scenario's recordings plus Rocket.Chat collections
# from a seed (scripts/seeds/).  "live_clock": the clock fields of the
# recordings (replSetGetStatus.date, serverStatus.localTime) read the time of
# the reply, as a real server's do, so clocks of nodes collected at different
# moments can be compared through the server's clock.
SCENARIOS.update({
    "rc_compliant": _derive(
        "v8_0_replset",
        about="v8_0_replset + seed rc_compliant: Rocket.Chat 8.5.0 "
              "(compose), 2 live instances, ~150 active users, Prometheus on",
        seed="rc_compliant.json", live_clock=True),
    "rc_helm": _derive(
        "v8_0_replset",
        about="v8_0_replset + seed rc_helm: Rocket.Chat 8.6.1 "
              "(Helm chart, the kube-replay helm sets), 3 live instances, ~150 active users, Prometheus on",
        seed="rc_helm.json", live_clock=True),
    "rc_noncompliant": _derive(
        "v7_0_standalone",
        about="v7_0_standalone + seed rc_noncompliant: Rocket.Chat 6.9.0, "
              "3 live instances, 2500 active users, Prometheus off",
        seed="rc_noncompliant.json", live_clock=True),
    "rc_snapshot_old": _derive(
        "v8_0_replset",
        about="v8_0_replset + seed rc_snapshot_old: Rocket.Chat 8.4.0 "
              "(compose), 1 live instance, 212 active users",
        seed="rc_snapshot_old.json", live_clock=True),
    "rc_snapshot_new": _derive(
        "v8_0_replset",
        about="v8_0_replset + seed rc_snapshot_new: the same workspace on "
              "Rocket.Chat 8.5.0, 1 live instance, 236 active users",
        seed="rc_snapshot_new.json", live_clock=True),
})

# Commands whose names real servers accept in more than one spelling.
ALIASES = {"buildinfo": "buildInfo", "ismaster": "isMaster"}

# Commands a real server answers without authentication.
NO_AUTH_NEEDED = {"hello", "isMaster", "ping", "buildInfo", "endSessions",
                  "saslStart", "saslContinue", "authenticate", "logout",
                  "getnonce", "rcdiagSetScenario", "rcdiagGetScenario"}

MORE_TO_COME = mockupdb.OP_MSG_FLAGS["moreToCome"]


class Fixtures(object):
    def __init__(self, directory):
        self.dir = directory
        self._cache = {}
        self._lock = threading.Lock()

    def load(self, name):
        with self._lock:
            if name not in self._cache:
                path = os.path.join(self.dir, name)
                with open(path) as f:
                    self._cache[name] = json_util.loads(f.read())
            return copy.deepcopy(self._cache[name])

    def check(self):
        missing = []
        for sc in SCENARIOS.values():
            names = list(sc["files"].values())
            names += [f for _, f in sc.get("coll_stats", {}).values()]
            for name in names:
                if not os.path.isfile(os.path.join(self.dir, name)):
                    missing.append(name)
        return sorted(set(missing))

    @staticmethod
    def check_seeds(seeds, override=None):
        """Loads every seed the scenarios name (and the override): problems."""
        problems = []
        paths = {seed_path(sc["seed"]) for sc in SCENARIOS.values()
                 if sc.get("seed")}
        if override:
            paths.add(override)
        for path in sorted(paths):
            try:
                seeds.get(path)
            except Exception as exc:  # noqa: BLE001 - reported, then exit 2
                problems.append("%s: %s" % (path, exc))
        return problems


# --------------------------------------------------------------------------
# Seeds: Rocket.Chat collections served by rc_* scenarios (scripts/seeds/).
# --------------------------------------------------------------------------

class QueryError(Exception):
    """A query this server cannot answer faithfully: replied as an error."""

    def __init__(self, msg, code=2, code_name="BadValue"):
        Exception.__init__(self, msg)
        self.code = code
        self.code_name = code_name


MISSING = object()
UTC = datetime.timezone.utc


def utc(v):
    """Datetimes compare as aware UTC (seeds and requests decode naive)."""
    if isinstance(v, datetime.datetime) and v.tzinfo is None:
        return v.replace(tzinfo=UTC)
    return v


def get_path(doc, path):
    """The value at a dotted path, MISSING when absent; through arrays of
    documents it is the list of their values."""
    cur = doc
    for part in path.split("."):
        if isinstance(cur, dict):
            if part not in cur:
                return MISSING
            cur = cur[part]
        elif isinstance(cur, list):
            if part.isdigit() and int(part) < len(cur):
                cur = cur[int(part)]
            else:
                vals = [get_path(x, part) for x in cur if isinstance(x, dict)]
                vals = [v for v in vals if v is not MISSING]
                if not vals:
                    return MISSING
                cur = vals
        else:
            return MISSING
    return cur


def _type_rank(v):
    if v is MISSING or v is None:
        return 1
    if isinstance(v, bool):
        return 8
    if isinstance(v, (int, float)):
        return 2
    if isinstance(v, str):
        return 3
    if isinstance(v, dict):
        return 4
    if isinstance(v, list):
        return 5
    if isinstance(v, bson.ObjectId):
        return 7
    if isinstance(v, datetime.datetime):
        return 9
    return 10


def compare(a, b):
    """BSON-like ordering: null < numbers < strings < ... < dates."""
    ra, rb = _type_rank(a), _type_rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 1:
        return 0
    a, b = utc(a), utc(b)
    if isinstance(a, (dict, list)):
        a, b = repr(a), repr(b)
    try:
        return (a > b) - (a < b)
    except TypeError:
        return 0


def _eq(value, target):
    if value is MISSING:
        return target is None
    value, target = utc(value), utc(target)
    if isinstance(value, list) and not isinstance(target, list):
        return any(utc(v) == target for v in value)
    return value == target


def _cmp_op(value, target, ok):
    vals = value if isinstance(value, list) else [value]
    for v in vals:
        if v is MISSING:
            continue
        if _type_rank(v) != _type_rank(target):
            continue  # MongoDB compares within one type bracket
        if ok(compare(v, target)):
            return True
    return False


def match_cond(value, cond):
    if isinstance(cond, re.Pattern):
        return isinstance(value, str) and bool(cond.search(value))
    if not (isinstance(cond, dict) and cond and
            all(k.startswith("$") for k in cond)):
        return _eq(value, cond)
    for op, arg in cond.items():
        if op == "$eq":
            ok = _eq(value, arg)
        elif op == "$ne":
            ok = not _eq(value, arg)
        elif op == "$gt":
            ok = _cmp_op(value, arg, lambda c: c > 0)
        elif op == "$gte":
            ok = _cmp_op(value, arg, lambda c: c >= 0)
        elif op == "$lt":
            ok = _cmp_op(value, arg, lambda c: c < 0)
        elif op == "$lte":
            ok = _cmp_op(value, arg, lambda c: c <= 0)
        elif op == "$in":
            ok = any(_eq(value, a) for a in arg)
        elif op == "$nin":
            ok = not any(_eq(value, a) for a in arg)
        elif op == "$exists":
            ok = (value is not MISSING) == bool(arg)
        elif op == "$not":
            ok = not match_cond(value, arg)
        elif op == "$size":
            ok = isinstance(value, list) and len(value) == arg
        elif op == "$regex":
            flags = re.I if "i" in cond.get("$options", "") else 0
            pat = arg.pattern if isinstance(arg, re.Pattern) else arg
            ok = isinstance(value, str) and bool(re.search(pat, value, flags))
        elif op == "$options":
            ok = True
        else:
            raise QueryError("mockupdb-replay: unsupported query operator %s"
                             % op)
        if not ok:
            return False
    return True


def matches(doc, flt):
    for key, cond in (flt or {}).items():
        if key == "$and":
            ok = all(matches(doc, f) for f in cond)
        elif key == "$or":
            ok = any(matches(doc, f) for f in cond)
        elif key == "$nor":
            ok = not any(matches(doc, f) for f in cond)
        elif key == "$comment":
            ok = True
        elif key.startswith("$"):
            raise QueryError("mockupdb-replay: unsupported query operator %s"
                             % key)
        else:
            ok = match_cond(get_path(doc, key), cond)
        if not ok:
            return False
    return True


def sort_docs(docs, spec):
    keys = list((spec or {}).items())
    if not keys:
        return list(docs)
    for k, d in keys:
        if k == "$natural":
            return list(docs) if d >= 0 else list(reversed(docs))

    def cmp(a, b):
        for k, d in keys:
            if isinstance(d, dict):
                raise QueryError("mockupdb-replay: unsupported sort %r" % d)
            c = compare(get_path(a, k), get_path(b, k))
            if c:
                return c if d >= 0 else -c
        return 0
    return sorted(docs, key=functools.cmp_to_key(cmp))


def project(doc, spec):
    if not spec:
        return doc
    spec = dict(spec)
    keep_id = spec.pop("_id", 1)
    if not spec:
        out = dict(doc)
        if not keep_id:
            out.pop("_id", None)
        return out
    if any(isinstance(v, dict) or (isinstance(v, str) and v.startswith("$"))
           for v in spec.values()):
        raise QueryError("mockupdb-replay: computed projections are not "
                         "supported")
    inclusive = bool(list(spec.values())[0])
    if inclusive:
        out = {}
        if keep_id and "_id" in doc:
            out["_id"] = doc["_id"]
        for path in spec:
            _copy_path(doc, out, path.split("."))
        return out
    out = copy.deepcopy(doc)
    for path in spec:
        _drop_path(out, path.split("."))
    if not keep_id:
        out.pop("_id", None)
    return out


def _copy_path(src, dst, parts):
    if not isinstance(src, dict) or parts[0] not in src:
        return
    head = parts[0]
    if len(parts) == 1:
        dst[head] = src[head]
    elif isinstance(src[head], dict):
        _copy_path(src[head], dst.setdefault(head, {}), parts[1:])


def _drop_path(doc, parts):
    if not isinstance(doc, dict):
        return
    if len(parts) == 1:
        doc.pop(parts[0], None)
    else:
        _drop_path(doc.get(parts[0]), parts[1:])


def bson_size(doc):
    return len(bson.encode(doc))


class Seed(object):
    """One seed file: {database, about, collections: {name: {docs, groups,
    stats, indexes}}}.  Values {"$secondsAgo": N} become the reply's time
    minus N seconds; other Extended JSON ({"$date": ...}) is decoded."""

    def __init__(self, path):
        self.path = path
        with open(path) as f:
            data = json_util.loads(f.read())
        if not isinstance(data, dict) or not isinstance(
                data.get("collections"), dict):
            raise ValueError("%s: a seed is an object with `collections`"
                             % path)
        self.database = data.get("database") or "rocketchat"
        self.about = data.get("about", "")
        self.collections = data["collections"]
        for name, spec in self.collections.items():
            unknown = set(spec) - {"docs", "groups", "stats", "indexes",
                                   "about"}
            if unknown:
                raise ValueError("%s: collection %s: unknown keys %s"
                                 % (path, name, sorted(unknown)))
            for g in spec.get("groups", []):
                if not isinstance(g.get("count"), int) or \
                        not isinstance(g.get("doc"), dict):
                    raise ValueError("%s: collection %s: a group is "
                                     "{count, doc[, id_prefix]}"
                                     % (path, name))

    @staticmethod
    def resolve(value, now):
        if isinstance(value, dict):
            if set(value) == {"$secondsAgo"}:
                return now - datetime.timedelta(
                    seconds=float(value["$secondsAgo"]))
            return {k: Seed.resolve(v, now) for k, v in value.items()}
        if isinstance(value, list):
            return [Seed.resolve(v, now) for v in value]
        return value

    def names(self):
        return list(self.collections)

    def docs(self, coll, now):
        spec = self.collections.get(coll)
        if spec is None:
            return []
        out = [self.resolve(d, now) for d in spec.get("docs", [])]
        for gi, g in enumerate(spec.get("groups", [])):
            template = self.resolve(g["doc"], now)
            prefix = g.get("id_prefix", "%s-g%d-" % (coll, gi))
            for i in range(g["count"]):
                d = dict(template)
                if "_id" not in d:
                    d = dict([("_id", "%s%06d" % (prefix, i))] +
                             list(template.items()))
                out.append(d)
        return out

    def count(self, coll):
        spec = self.collections.get(coll, {})
        return len(spec.get("docs", [])) + sum(
            g["count"] for g in spec.get("groups", []))

    def storage_stats(self, coll, now):
        """A $collStats storageStats document (synthesised: seeds have no
        storage).  `stats` in the seed overrides any field."""
        spec = self.collections.get(coll, {})
        given = dict(spec.get("stats") or {})
        count = int(given.get("count", self.count(coll)))
        docs = spec.get("docs", [])
        if docs or spec.get("groups"):
            sample = [self.resolve(d, now) for d in docs]
            sample += [self.resolve(g["doc"], now)
                       for g in spec.get("groups", [])]
            avg = sum(bson_size(d) for d in sample) // max(len(sample), 1)
        else:
            avg = int(given.get("avgObjSize", 300))
        size = int(given.get("size", avg * count))
        nindexes = int(given.get("nindexes", len(spec.get("indexes", [])) + 1))
        storage = int(given.get("storageSize",
                                max(4096, (size * 2 // 5) // 4096 * 4096)))
        index_size = int(given.get("totalIndexSize",
                                   max(4096, nindexes * max(count, 1) * 12
                                       // 4096 * 4096)))
        stats = {
            "size": Int64(size),
            "count": Int64(count),
            "avgObjSize": int(given.get("avgObjSize", avg if count else 0)),
            "numOrphanDocs": 0,
            "storageSize": Int64(storage),
            "freeStorageSize": Int64(int(given.get("freeStorageSize", 0))),
            "capped": False,
            "nindexes": nindexes,
            "indexDetails": {},
            "indexBuilds": [],
            "totalIndexSize": Int64(index_size),
            "indexSizes": {"_id_": Int64(index_size // nindexes)},
            "totalSize": Int64(storage + index_size),
            "scaleFactor": 1,
        }
        for name in spec.get("indexes", []):
            stats["indexSizes"][name] = Int64(index_size // nindexes)
        return stats


class Seeds(object):
    """Seed files by path, loaded once."""

    def __init__(self):
        self._cache = {}
        self._lock = threading.Lock()

    def get(self, path):
        with self._lock:
            if path not in self._cache:
                self._cache[path] = Seed(path)
            return self._cache[path]


def seed_path(name):
    return name if os.path.isabs(name) or os.path.sep in name \
        else os.path.join(SEEDS_DIR, name)


def shell_value(v):
    """Render a value the way 3.6-era error messages print commands."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"%s"' % v
    return "{ ... }"


class Replayer(object):
    """Handles every request of one MockupDB server."""

    _connection_ids = itertools.count(1)

    def __init__(self, scenario, fixtures, verbose=False, seeds=None,
                 seed_override=None):
        self.scenario = scenario
        self.fixtures = fixtures
        self.verbose = verbose
        self.port = None
        self.seeds = seeds or Seeds()
        self.seed_override = seed_override

    # ---------------------------------------------------------------- util
    def log(self, msg):
        sys.stderr.write("mockupdb-replay[%s:%s] %s\n"
                         % (self.scenario, self.port, msg))
        sys.stderr.flush()

    @property
    def sc(self):
        return SCENARIOS[self.scenario]

    def address(self):
        return "127.0.0.1:%d" % self.port

    def seed(self):
        """The seed this scenario serves, or None."""
        path = self.seed_override or (
            seed_path(self.sc["seed"]) if self.sc.get("seed") else None)
        return self.seeds.get(path) if path else None

    @staticmethod
    def now():
        return datetime.datetime.now(UTC)

    @staticmethod
    def cursor(ns, batch):
        return {"cursor": {"firstBatch": batch, "id": Int64(0), "ns": ns},
                "ok": 1.0}

    # ---------------------------------------------------------------- entry
    def handle(self, req):
        try:
            if req.flags and (req.flags & MORE_TO_COME) and \
                    isinstance(req, mockupdb.OpMsg):
                return True  # unacknowledged: no reply allowed
            if not getattr(req, "is_command", False):
                # Legacy OP_QUERY on a collection / legacy writes: no docs.
                req.replies()
                return True
            reply = self.reply_for(req)
            if self.verbose:
                self.log("%s -> %s" % (req.command_name,
                                       "ok" if reply.get("ok") else
                                       "error %s" % reply.get("code")))
            req.replies(reply)
        except Exception:  # keep the client from hanging on our bugs
            tb = traceback.format_exc()
            self.log("internal error:\n" + tb)
            try:
                req.command_err(code=1, errmsg="mockupdb-replay internal "
                                "error: " + tb.strip().splitlines()[-1],
                                codeName="InternalError")
            except Exception:
                pass
        return True

    # ------------------------------------------------------------- dispatch
    def reply_for(self, req):
        doc = req.doc
        raw_name = req.command_name
        name = ALIASES.get(raw_name, raw_name)
        db = doc.get("$db") or req.namespace or "admin"
        sc = self.sc

        if name in ("isMaster", "hello"):
            return self.hello(raw_name, doc)
        if name == "rcdiagSetScenario":
            new = doc[raw_name]
            if new not in SCENARIOS:
                return self.err(2, "unknown scenario %r; known: %s"
                                % (new, ", ".join(SCENARIOS)), "BadValue")
            self.log("switching scenario %s -> %s" % (self.scenario, new))
            self.scenario = new
            return {"scenario": new, "ok": 1.0}
        if name == "rcdiagGetScenario":
            return {"scenario": self.scenario, "ok": 1.0}
        if name in ("saslStart", "authenticate", "saslContinue"):
            return self.err(18, "Authentication failed.",
                            "AuthenticationFailed")
        if name in ("ping", "endSessions", "logout"):
            return {"ok": 1.0}

        if sc.get("unauthorized") and name not in NO_AUTH_NEEDED:
            if name in sc["files"]:
                return self.fixtures.load(sc["files"][name])
            return self.err(
                13, "not authorized on %s to execute command { %s: %s, "
                "$db: \"%s\" }" % (db, raw_name, shell_value(doc[raw_name]),
                                   db), "Unauthorized")

        if name in sc.get("errors", {}):
            return self.err(*sc["errors"][name])
        seed = self.seed()
        if seed is not None:
            try:
                reply = self.seeded(seed, name, raw_name, db, doc)
            except QueryError as exc:
                self.log("seed: %s" % exc)
                return self.err(exc.code, str(exc), exc.code_name)
            if reply is not None:
                return reply
        if name == "dbStats" and "dbStats" in sc["files"]:
            reply = self.fixtures.load(sc["files"]["dbStats"])
            reply["db"] = db
            return reply
        if name in sc["files"]:
            reply = self.fixtures.load(sc["files"][name])
            if sc.get("live_clock"):
                # A real server reports its clock at the time of the reply.
                if name == "replSetGetStatus" and "date" in reply:
                    reply["date"] = self.now()
                if name == "serverStatus" and "localTime" in reply:
                    reply["localTime"] = self.now()
            return reply
        if name == "replSetGetStatus":
            return self.err(76, "not running with --replSet",
                            "NoReplicationEnabled")
        if name == "collStats":
            return self.coll_stats_command(db, doc[raw_name])
        if name == "aggregate":
            return self.aggregate(db, doc)
        if name == "find":
            return self.cursor("%s.%s" % (db, doc[raw_name]), [])
        if name == "listCollections":
            return self.cursor("%s.$cmd.listCollections" % db, [])
        if name == "listIndexes":
            return self.err(26, "ns does not exist: %s.%s"
                            % (db, doc[raw_name]), "NamespaceNotFound")
        if name == "count":
            return {"n": 0, "ok": 1.0}
        if name == "distinct":
            return {"values": [], "ok": 1.0}
        if name == "getMore":
            return self.err(43, "cursor id %s not found" % doc[raw_name],
                            "CursorNotFound")
        if name == "killCursors":
            return {"cursorsKilled": [], "cursorsNotFound": doc.get(
                "cursors", []), "cursorsAlive": [], "cursorsUnknown": [],
                "ok": 1.0}
        if name == "insert":
            return {"n": len(doc.get("documents", [])), "ok": 1.0}
        if name in ("update", "delete"):
            return {"n": 0, "ok": 1.0}
        if name == "connectionStatus":
            return {"authInfo": {"authenticatedUsers": [],
                                 "authenticatedUserRoles": []}, "ok": 1.0}

        self.log("no replay for command %r on %s: answering CommandNotFound"
                 % (raw_name, db))
        return self.err(59, "no such command: '%s'" % raw_name,
                        "CommandNotFound")

    @staticmethod
    def err(code, errmsg, code_name):
        return {"ok": 0.0, "errmsg": errmsg, "code": code,
                "codeName": code_name}

    # ---------------------------------------------------------------- seeds
    def seeded(self, seed, name, raw_name, db, doc):
        """The reply from the seed, or None when the seed does not apply."""
        now = self.now()
        if name == "listDatabases":
            if "listDatabases" not in self.sc["files"]:
                return None
            reply = self.fixtures.load(self.sc["files"]["listDatabases"])
            dbs = [d for d in reply.get("databases", [])
                   if d.get("name") != seed.database]
            size = sum(int(seed.storage_stats(c, now)["totalSize"])
                       for c in seed.names())
            dbs.append({"name": seed.database,
                        "sizeOnDisk": Int64(size), "empty": False})
            dbs.sort(key=lambda d: d.get("name", ""))
            reply["databases"] = dbs
            if doc.get("nameOnly"):
                reply["databases"] = [{"name": d["name"]} for d in dbs]
                reply.pop("totalSize", None)
            else:
                reply["totalSize"] = Int64(sum(
                    int(d.get("sizeOnDisk", 0)) for d in dbs))
            return reply
        if db != seed.database:
            return None
        coll = doc.get(raw_name)
        if name == "find":
            docs = [d for d in seed.docs(coll, now)
                    if matches(d, doc.get("filter"))]
            docs = sort_docs(docs, doc.get("sort"))
            docs = docs[int(doc.get("skip") or 0):]
            limit = abs(int(doc.get("limit") or 0))
            if limit:
                docs = docs[:limit]
            docs = [project(d, doc.get("projection")) for d in docs]
            return self.cursor("%s.%s" % (db, coll), docs)
        if name == "count":
            docs = [d for d in seed.docs(coll, now)
                    if matches(d, doc.get("query"))]
            docs = docs[int(doc.get("skip") or 0):]
            limit = abs(int(doc.get("limit") or 0))
            return {"n": len(docs[:limit] if limit else docs), "ok": 1.0}
        if name == "distinct":
            values = []
            for d in seed.docs(coll, now):
                if not matches(d, doc.get("query")):
                    continue
                v = get_path(d, doc["key"])
                for x in (v if isinstance(v, list) else [v]):
                    if x is not MISSING and x not in values:
                        values.append(x)
            return {"values": values, "ok": 1.0}
        if name == "aggregate":
            return self.seeded_aggregate(seed, db, coll, doc, now)
        if name == "listCollections":
            names = [n for n in seed.names()
                     if matches({"name": n, "type": "collection"},
                                doc.get("filter"))]
            if doc.get("nameOnly"):
                batch = [{"name": n, "type": "collection"} for n in names]
            else:
                batch = [{"name": n, "type": "collection", "options": {},
                          "info": {"readOnly": False},
                          "idIndex": {"v": 2, "key": {"_id": 1},
                                      "name": "_id_"}} for n in names]
            return self.cursor("%s.$cmd.listCollections" % db, batch)
        if name == "collStats":
            if coll not in seed.names():
                return self.missing_coll("%s.%s" % (db, coll))
            reply = {"ns": "%s.%s" % (db, coll)}
            reply.update(seed.storage_stats(coll, now))
            reply["ok"] = 1.0
            return reply
        if name == "dbStats":
            stats = [seed.storage_stats(c, now) for c in seed.names()]
            objects = sum(int(s["count"]) for s in stats)
            data = sum(int(s["size"]) for s in stats)
            storage = sum(int(s["storageSize"]) for s in stats)
            index = sum(int(s["totalIndexSize"]) for s in stats)
            return {
                "db": db,
                "collections": len(stats),
                "views": 0,
                "objects": Int64(objects),
                "avgObjSize": float(data) / objects if objects else 0.0,
                "dataSize": float(data),
                "storageSize": float(storage),
                "indexes": sum(int(s["nindexes"]) for s in stats),
                "indexSize": float(index),
                "totalSize": float(storage + index),
                "scaleFactor": 1,
                "fsUsedSize": float(42 * 1024 ** 3),
                "fsTotalSize": float(200 * 1024 ** 3),
                "ok": 1.0,
            }
        return None

    def seeded_aggregate(self, seed, db, coll, doc, now):
        ns = "%s.%s" % (db, coll)
        pipeline = list(doc.get("pipeline") or [])
        if pipeline and "$collStats" in pipeline[0]:
            if coll not in seed.names():
                return self.cursor(ns, [])
            spec = pipeline[0]["$collStats"] or {}
            stats = seed.storage_stats(coll, now)
            host = None
            ss = self.sc["files"].get("serverStatus")
            if ss:
                host = "%s:27017" % self.fixtures.load(ss).get("host")
            out = {"ns": ns, "host": host, "localTime": now}
            if "storageStats" in spec:
                out["storageStats"] = stats
            if "count" in spec:
                out["count"] = stats["count"]
            return self.cursor(ns, [out])
        docs = seed.docs(coll, now)
        for stage in pipeline:
            if len(stage) != 1:
                raise QueryError("mockupdb-replay: a stage has one key: %r"
                                 % stage)
            op, arg = list(stage.items())[0]
            if op == "$match":
                docs = [d for d in docs if matches(d, arg)]
            elif op == "$sort":
                docs = sort_docs(docs, arg)
            elif op == "$skip":
                docs = docs[int(arg):]
            elif op == "$limit":
                docs = docs[:int(arg)]
            elif op == "$count":
                docs = [{arg: len(docs)}] if docs else []
            elif op == "$project":
                docs = [project(d, arg) for d in docs]
            elif op == "$group":
                docs = self.group(docs, arg)
            else:
                raise QueryError("mockupdb-replay: unsupported stage %s" % op)
        return self.cursor(ns, docs)

    @staticmethod
    def group(docs, spec):
        spec = dict(spec)
        key_expr = spec.pop("_id", None)

        def value_of(d, expr):
            if isinstance(expr, str) and expr.startswith("$"):
                v = get_path(d, expr[1:])
                return None if v is MISSING else v
            if isinstance(expr, dict) and not any(
                    k.startswith("$") for k in expr):
                return {k: value_of(d, e) for k, e in expr.items()}
            if isinstance(expr, (dict, list)):
                raise QueryError("mockupdb-replay: unsupported expression %r"
                                 % expr)
            return expr

        groups = []
        for d in docs:
            key = value_of(d, key_expr)
            for g in groups:
                if g["_id"] == key:
                    break
            else:
                g = {"_id": key}
                for field, acc in spec.items():
                    (op,) = acc.keys()
                    g[field] = {"$sum": 0, "$max": None, "$min": None,
                                "$first": MISSING, "$push": []}.get(op, 0)
                    if op not in ("$sum", "$max", "$min", "$first", "$push"):
                        raise QueryError("mockupdb-replay: unsupported "
                                         "accumulator %s" % op)
                groups.append(g)
            for field, acc in spec.items():
                (op, expr), = acc.items()
                v = value_of(d, expr)
                if op == "$sum":
                    g[field] += v if isinstance(v, (int, float)) and \
                        not isinstance(v, bool) else 0
                elif op == "$max":
                    if g[field] is None or compare(v, g[field]) > 0:
                        g[field] = v
                elif op == "$min":
                    if g[field] is None or compare(v, g[field]) < 0:
                        g[field] = v
                elif op == "$first":
                    if g[field] is MISSING:
                        g[field] = v
                elif op == "$push":
                    g[field].append(v)
        return groups

    # ---------------------------------------------------------------- hello
    def hello(self, raw_name, doc):
        sc = self.sc
        if raw_name == "hello" and sc["max_wire"] < 9:
            # MongoDB < 4.4.2 has no `hello` command.
            return self.err(59, "no such command: 'hello'", "CommandNotFound")
        reply = {}
        if doc.get("helloOk") and sc["max_wire"] >= 9:
            reply["helloOk"] = True
        if raw_name == "hello":
            reply["isWritablePrimary"] = True
        else:
            reply["ismaster"] = True
        if sc.get("set_name"):
            me = self.address()
            reply.update({
                "hosts": [me],
                "setName": sc["set_name"],
                "setVersion": 1,
                "secondary": False,
                "primary": me,
                "me": me,
            })
        # No topologyVersion on purpose: without it drivers poll instead of
        # using awaitable (streaming) hello, which this server cannot do.
        reply.update({
            "maxBsonObjectSize": 16777216,
            "maxMessageSizeBytes": 48000000,
            "maxWriteBatchSize": 100000,
            "localTime": datetime.datetime.now(datetime.timezone.utc),
        })
        if sc["max_wire"] >= 6:
            reply["logicalSessionTimeoutMinutes"] = 30
        reply.update({
            "connectionId": next(self._connection_ids),
            "minWireVersion": 0,
            "maxWireVersion": sc["max_wire"],
            "readOnly": False,
            "ok": 1.0,
        })
        return reply

    # ------------------------------------------------------------ collStats
    def storage_stats(self, ns):
        """(storageStats document, host) for ns, or None if no fixture."""
        entry = self.sc.get("coll_stats", {}).get(ns)
        if entry is None:
            return None
        kind, name = entry
        data = self.fixtures.load(name)
        if kind == "agg":
            return data["storageStats"], data.get("host")
        for key in ("ok", "$clusterTime", "operationTime", "ns"):
            data.pop(key, None)
        host = None
        ss = self.sc["files"].get("serverStatus")
        if ss:
            host = "%s:27017" % self.fixtures.load(ss).get("host")
        return data, host

    def missing_coll(self, ns):
        """What a real server says about a collection it does not have."""
        return self.err(26, "Collection [%s] not found." % ns,
                        "NamespaceNotFound")

    def coll_stats_command(self, db, coll):
        ns = "%s.%s" % (db, coll)
        found = self.storage_stats(ns)
        if found is None:
            return self.missing_coll(ns)
        stats, _ = found
        reply = {"ns": ns}
        reply.update(stats)
        reply["ok"] = 1.0
        return reply

    def aggregate(self, db, doc):
        coll = doc["aggregate"]
        ns = "%s.%s" % (db, coll)
        pipeline = doc.get("pipeline") or []
        first = pipeline[0] if pipeline else {}
        if "$collStats" not in first:
            return self.cursor(ns, [])
        spec = first["$collStats"] or {}
        found = self.storage_stats(ns)
        if found is None:
            if ns == "local.oplog.rs" and not self.sc.get("set_name"):
                # Standalone: there is no oplog (real 5.0+ wording).
                err = self.missing_coll(ns)
                err["errmsg"] = ("Unable to retrieve storageStats in "
                                 "$collStats stage :: caused by :: "
                                 + err["errmsg"])
                return err
            return self.cursor(ns, [])
        stats, host = found
        out = {"ns": ns, "host": host,
               "localTime": datetime.datetime.now(datetime.timezone.utc)}
        if "storageStats" in spec:
            out["storageStats"] = stats
        if "count" in spec:
            out["count"] = stats.get("count")
        return self.cursor(ns, [out])


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Replay recorded MongoDB replies over the wire protocol.")
    p.add_argument("--scenario", action="append", default=[],
                   help="scenario to serve (repeatable; 'all' = every one)")
    p.add_argument("--port", type=int, default=0,
                   help="first port (next servers use port+1, ...); "
                        "0 = free ports")
    p.add_argument("--fixtures", default=default_fixtures_dir(),
                   help="fixture directory (env RCDIAG_FIXTURES, default "
                        "<repo>/../shared/fixtures/mongodb)")
    p.add_argument("--seed", metavar="FILE",
                   help="serve the Rocket.Chat collections of this seed file "
                        "(scripts/seeds/*.json) in every scenario of this "
                        "process, instead of each scenario's own seed")
    p.add_argument("--pid-file", help="write the process id to this file")
    p.add_argument("--list", action="store_true",
                   help="list scenarios and exit")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log every command to stderr")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        for name, sc in SCENARIOS.items():
            print("%-32s %s" % (name, sc["about"]))
        return 0

    names = []
    for s in args.scenario or ["v8_0_replset"]:
        if s == "all":
            names.extend(SCENARIOS)
        elif s in SCENARIOS:
            names.append(s)
        else:
            sys.stderr.write("mockupdb-replay: unknown scenario %r; known: %s\n"
                             % (s, ", ".join(SCENARIOS)))
            return 2

    fixtures = Fixtures(args.fixtures)
    missing = fixtures.check()
    if missing:
        sys.stderr.write("mockupdb-replay: fixtures missing in %s: %s\n"
                         % (args.fixtures, ", ".join(missing)))
        return 2
    seeds = Seeds()
    override = os.path.abspath(args.seed) if args.seed else None
    problems = Fixtures.check_seeds(seeds, override)
    if problems:
        sys.stderr.write("mockupdb-replay: bad seed: %s\n"
                         % "; ".join(problems))
        return 2

    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())

    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    servers = []
    try:
        for i, name in enumerate(names):
            replayer = Replayer(name, fixtures, verbose=args.verbose,
                                seeds=seeds, seed_override=override)
            server = mockupdb.MockupDB(
                port=(args.port + i) if args.port else None,
                request_timeout=int(1e6))
            server.autoresponds(replayer.handle)
            replayer.port = server.run()
            servers.append(server)
            sys.stdout.write("READY %d %s\n" % (replayer.port, name))
            sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        def stop_one(server):
            try:
                server.stop()
            except Exception:
                pass
        stoppers = [threading.Thread(target=stop_one, args=(s,))
                    for s in servers]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
