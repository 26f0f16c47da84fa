"""Requests per second a real Fenfa server answers under concurrent load, against a bare Flask app on the same
waitress settings.

(a) GET /products/demo (the product page, with an iPhone user agent), GET /api/products/demo (its JSON) and
GET /healthz, each at 32 keep-alive connections for a fixed time, then the same load on a one-route Flask app
served by waitress with the same threads and connection limit: the rates and their ratios (the goal is 0.3x),
and how many of the page's visits were counted (each address may add 600 a minute). (b) 500 downloads of one
release at 16 connections: time, rate, and whether the release's download count (the admin stats endpoint) is
exactly 500.

The load generator is Python threads on http.client keep-alive connections, on the same machine as the
server: on a small machine it shares the CPUs with the server, so read the rates as relative figures.

    .venv/bin/python bench/load.py
    .venv/bin/python bench/load.py --seconds 5 --connections 64
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from live import free_port, live_fenfa  # noqa: E402  (the same launcher the tests use)
from shop import DEB, DMG  # noqa: E402  (small builds the page tests use)

TOKEN = "bench-admin-token"
TARGETS = {"/products/demo": "product page", "/api/products/demo": "its JSON", "/healthz": "/healthz"}
THREADS = 8
CONNECTION_LIMIT = 1000
CHANNEL_TIMEOUT = 300
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4 Mobile/15E148 Safari/604.1")
BARE_APP = textwrap.dedent("""
    import sys
    from flask import Flask
    from waitress import serve
    app = Flask("bare")

    @app.get("/products/demo")
    def page():
        return "<!doctype html><title>demo</title><p>Hello</p>"

    port, threads, limit, timeout = (int(value) for value in sys.argv[1:5])
    serve(app, host="127.0.0.1", port=port, threads=threads, connection_limit=limit, channel_timeout=timeout,
          asyncore_use_poll=True, ident="bare", _quiet=True)
""")


class Load:
    """What one run of the load generator saw."""

    def __init__(self):
        self.statuses = Counter()
        self.errors = Counter()
        self.latencies = []
        self.bytes = 0
        self.seconds = 0.0
        self.client_cpu = 0.0

    @property
    def done(self):
        return sum(self.statuses.values())

    @property
    def rate(self):
        return self.done / self.seconds if self.seconds else 0.0

    def percentile(self, fraction):
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0

    def describe(self):
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        errors = ", ".join(f"{name}: {count}" for name, count in sorted(self.errors.items())) or "none"
        return (f"{self.done} requests in {self.seconds:.2f} s; p50 {self.percentile(0.5) * 1000:.1f} ms, "
                f"p99 {self.percentile(0.99) * 1000:.1f} ms; statuses {statuses}; errors {errors}; "
                f"load generator CPU {self.client_cpu / self.seconds:.0%} of one core")


def generate_load(port, path, headers, connections, seconds, limit):
    """GET `path` on 127.0.0.1:`port` from `connections` threads, each on its own keep-alive connection, until
    `limit` requests were sent or `seconds` passed; returns a Load."""
    load = Load()
    lock = threading.Lock()
    sent = 0
    deadline = time.monotonic() + seconds
    start = threading.Barrier(connections + 1)

    def worker():
        nonlocal sent
        connection = None
        latencies, statuses, errors, received = [], Counter(), Counter(), 0
        start.wait()
        while True:
            with lock:
                if sent >= limit or time.monotonic() >= deadline:
                    break
                sent += 1
            began = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                received += len(response.read())
                statuses[response.status] += 1
                latencies.append(time.perf_counter() - began)
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as exc:
                errors[type(exc).__name__] += 1
                if connection is not None:
                    connection.close()
                connection = None
        if connection is not None:
            connection.close()
        with lock:
            load.latencies.extend(latencies)
            load.statuses.update(statuses)
            load.errors.update(errors)
            load.bytes += received

    workers = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in workers:
        thread.start()
    cpu_before = time.process_time()
    start.wait()
    began = time.perf_counter()
    for thread in workers:
        thread.join()
    load.seconds = time.perf_counter() - began
    load.client_cpu = time.process_time() - cpu_before
    return load


def api(base, method, path, body=None, content_type="application/json"):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"X-Auth-Token": TOKEN, "Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["data"]


def upload(base, variant_id, file_name, content):
    """Upload a build as multipart with the admin token; returns the new release."""
    boundary = f"----fenfa-bench-{uuid.uuid4().hex}"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="variant_id"\r\n\r\n{variant_id}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="app_file"; filename="{file_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return api(base, "POST", "/upload", body, f"multipart/form-data; boundary={boundary}")["release"]


def make_demo(base):
    """Product "demo" with three variants and two releases each; returns the Windows variant and its newest
    release (64 KiB)."""
    product = api(base, "POST", "/admin/api/products", {"name": "Demo", "slug": "demo",
                                                        "description": "Builds for testers"})["product"]
    builds = {
        "windows": lambda index: b"MZ" + os.urandom(64 * 1024 - 2),
        "macos": lambda index: DMG[:999] + bytes([index]) + DMG[1000:],
        "linux": lambda index: DEB + bytes([index]) * 64,
    }
    suffixes = {"windows": "exe", "macos": "dmg", "linux": "deb"}
    variants = {}
    releases = {}
    for order, platform in enumerate(builds):
        variants[platform] = api(base, "POST", f"/admin/api/products/{product['id']}/variants",
                                 {"platform": platform, "display_name": platform.title(), "identifier": "demo",
                                  "sort_order": order})["variant"]
        for index in range(2):
            releases[platform] = upload(base, variants[platform]["id"], f"demo-{index}.{suffixes[platform]}",
                                        builds[platform](index))
    return variants["windows"], releases["windows"]


def wait_until_answering(url, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the bare Flask app exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in time")


def bare_flask_load(connections, seconds, limit):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port), str(THREADS), str(CONNECTION_LIMIT),
                                str(CHANNEL_TIMEOUT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/products/demo", process)
        generate_load(port, "/products/demo", {"User-Agent": IPHONE}, connections, 1, limit)  # warm-up
        return generate_load(port, "/products/demo", {"User-Agent": IPHONE}, connections, seconds, limit)
    finally:
        process.terminate()
        process.wait(timeout=15)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each page load runs (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent page connections (default 32)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap on page requests per target")
    parser.add_argument("--downloads", type=int, default=500)
    parser.add_argument("--download-connections", type=int, default=16)
    args = parser.parse_args()
    settings = {"admin_token": TOKEN, "threads": THREADS, "connection_limit": CONNECTION_LIMIT,
                "channel_timeout": CHANNEL_TIMEOUT}
    page_headers = {"User-Agent": IPHONE, "Accept-Language": "en"}
    with tempfile.TemporaryDirectory(prefix="fenfa-load-") as workdir:
        with live_fenfa(Path(workdir) / "data", **settings) as server:
            variant, release = make_demo(server.base)
            fenfa, page_requests = {}, 0
            for path in TARGETS:
                warm_up = generate_load(server.port, path, page_headers, args.connections, 1, args.max_requests)
                page_requests += warm_up.done if path == "/products/demo" else 0
                fenfa[path] = generate_load(server.port, path, page_headers, args.connections, args.seconds,
                                            args.max_requests)
            visits = api(server.base, "GET", f"/admin/api/variants/{variant['id']}/stats")["totals"]["visits"]
            downloads = generate_load(server.port, f"/d/{release['id']}", {}, args.download_connections, 600,
                                      args.downloads)
            stats = api(server.base, "GET", f"/admin/api/variants/{variant['id']}/stats")
            counted = {item["id"]: item["download_count"] for item in stats["releases"]}[release["id"]]
            log = server.log()
        bare = bare_flask_load(args.connections, args.seconds, args.max_requests)
    expected_bytes = args.downloads * release["size_bytes"]
    print(f"waitress:        threads {THREADS}, connection_limit {CONNECTION_LIMIT}, {os.cpu_count()} CPUs "
          "shared with the load generator")
    print(f"bare Flask:      {bare.rate:8.1f} req/s  at {args.connections} connections, one trivial route")
    print(f"                 {bare.describe()}")
    for path, load in fenfa.items():
        print(f"{TARGETS[path] + ':':<16} {load.rate:8.1f} req/s  at {args.connections} connections, GET {path} "
              f"(iPhone): {load.rate / bare.rate:.2f}x bare Flask (goal 0.3x)")
        print(f"                 {load.describe()}")
    page_requests += fenfa["/products/demo"].done
    print(f"visits counted:  {visits} of {page_requests} page requests (from one address, 600 a minute are counted; "
          "the rest are served uncounted)")
    print(f"downloads:       {downloads.done} of a {release['size_bytes'] / 1024:.0f} KiB release at "
          f"{args.download_connections} connections in {downloads.seconds:.2f} s, {downloads.rate:.1f} req/s")
    print(f"                 {downloads.describe()}")
    print(f"                 bytes received {downloads.bytes} (expected {expected_bytes}); download_count {counted}, "
          f"totals.downloads {stats['totals']['downloads']}: "
          f"{'exactly' if counted == stats['totals']['downloads'] == args.downloads else 'NOT'} {args.downloads}")
    print(f"server log:      'database is locked' {log.count('database is locked')} times, "
          f"'Traceback' {log.count('Traceback')} times, {len(log.splitlines())} lines")


if __name__ == "__main__":
    main()
