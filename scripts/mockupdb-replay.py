#!/usr/bin/env python3
"""MongoDB wire-protocol replay server for rcdiag's tests.

Built on mockupdb.MockupDB (MongoDB's own scripted wire-protocol server).  It
answers the handshake itself and replays the replies that real servers gave,
recorded in shared/fixtures/mongodb/ (see shared/fixtures/SOURCES.md), so the
stats collector can be tested against real shapes, versions and error codes
with the real Rust `mongodb` driver.

Usage:
    mockupdb-replay.py [--scenario NAME]... [--port P] [--fixtures DIR]
                       [--pid-file F] [-v]
    mockupdb-replay.py --list

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
import itertools
import os
import signal
import sys
import threading
import traceback

try:
    from bson import Int64, json_util
    import mockupdb
except ImportError as exc:  # pragma: no cover - guidance only
    sys.stderr.write(
        "mockupdb-replay: %s\n"
        "run it with the venv made by `scripts/test-env install` "
        "(${RCDIAG_PEERS_VENV:-$HOME/.cache/rcdiag/venv}/bin/python)\n" % exc)
    sys.exit(2)


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

    def __init__(self, scenario, fixtures, verbose=False):
        self.scenario = scenario
        self.fixtures = fixtures
        self.verbose = verbose
        self.port = None

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
        if name == "dbStats" and "dbStats" in sc["files"]:
            reply = self.fixtures.load(sc["files"]["dbStats"])
            reply["db"] = db
            return reply
        if name in sc["files"]:
            return self.fixtures.load(sc["files"][name])
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
            replayer = Replayer(name, fixtures, verbose=args.verbose)
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
