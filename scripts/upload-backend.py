#!/usr/bin/env python3
"""Backend of the upload test peer (scripts/test-env), behind nginx's HTTPS.

nginx alone cannot count requests or hold one open, so these two locations are
proxied here (plain HTTP on 127.0.0.1):

  PUT /flaky/NAME  the first two PUTs of each NAME answer 500 (their bodies
                   read and dropped); the third and later store the body at
                   ROOT/flaky/NAME and the request headers, as JSON, at
                   ROOT/flaky/NAME.headers.json, and answer 201.
  PUT /stall/NAME  reads nothing and never answers (until the server stops);
                   it first creates ROOT/stall/NAME.seen, so a test knows the
                   request has arrived.

    python3 scripts/upload-backend.py --root DIR --port P [--pid-file F]

Prints `READY <port>` once listening; SIGTERM/SIGINT stop it.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAILURES = 2
MAX_BODY = 1 << 30
COUNTS = {}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."

    def log_message(self, fmt, *args):
        sys.stderr.write("upload-backend: " + (fmt % args) + "\n")

    def reply(self, code, text):
        body = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            raise ValueError("bad Content-Length")
        chunks, left = [], n
        while left > 0:
            c = self.rfile.read(min(left, 1 << 16))
            if not c:
                break
            chunks.append(c)
            left -= len(c)
        return b"".join(chunks)

    def do_PUT(self):
        path = self.path.split("?", 1)[0]
        if path.startswith("/stall/"):
            name = os.path.basename(path)
            if name and not name.startswith("."):
                d = os.path.join(self.root, "stall")
                os.makedirs(d, exist_ok=True)
                open(os.path.join(d, name + ".seen"), "w").close()
            while True:
                time.sleep(3600)
        if not path.startswith("/flaky/"):
            self.reply(404, "no such location")
            return
        name = path[len("/flaky/"):]
        if not name or "/" in name or name.startswith("."):
            self.reply(400, "bad name")
            return
        try:
            body = self.read_body()
        except ValueError as e:
            self.reply(400, str(e))
            return
        with LOCK:
            COUNTS[name] = COUNTS.get(name, 0) + 1
            n = COUNTS[name]
        if n <= FAILURES:
            self.reply(500, f"failure {n} of {FAILURES} (test peer)")
            return
        d = os.path.join(self.root, "flaky")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(body)
        with open(os.path.join(d, name + ".headers.json"), "w") as f:
            json.dump({k.lower(): v for k, v in self.headers.items()}, f)
        self.reply(201, "stored")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid-file")
    a = ap.parse_args()
    Handler.root = a.root
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    if a.pid_file:
        with open(a.pid_file, "w") as f:
            f.write(str(os.getpid()))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"READY {a.port}", flush=True)
    try:
        srv.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
