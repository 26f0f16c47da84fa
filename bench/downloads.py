"""Concurrent downloads of one release: Fenfa serving them itself, and nginx handing them over with
X-Accel-Redirect, each against nginx serving the same file straight from disk with sendfile.

One nginx (plain HTTP, sendfile on, so that TLS does not hide the difference) holds the three paths:
/direct/ reads data/uploads itself; / is proxied to a Fenfa whose `accel_redirect` hands the bytes back
to nginx's internal location, set up as in deploy/nginx.conf; and Fenfa is also fetched without nginx.
Each round downloads the file with N concurrent `curl -o /dev/null` from each target in turn; the
figures are MiB/s over the whole round (the median and the range of the rounds), the ratio to nginx
direct in the same round, and Fenfa's RSS before and during its own downloads.

    .venv/bin/python bench/downloads.py                   # 16 x 50 MiB, 5 rounds
    .venv/bin/python bench/downloads.py --size-mb 1024    # 16 x 1 GiB
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from live import free_port, live_fenfa  # noqa: E402  (the same launchers the tests use)
from nginx import NGINX, wait_for_port  # noqa: E402

TOKEN = "bench-admin-token"
MIB = 1024 * 1024
ACCEL_PREFIX = "/_fenfa_files/"


def make_file(path, size_mb):
    """A build of random bytes that Fenfa stores as a Windows executable."""
    with open(path, "wb") as handle:
        handle.write(b"MZ" + os.urandom(MIB - 2))
        for _ in range(size_mb - 1):
            handle.write(os.urandom(MIB))


def rss(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise KeyError("VmRSS")


def api(base, path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                     headers={"X-Auth-Token": TOKEN, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def nginx_config(folder, port, fenfa_port, uploads, workers):
    user = "user root;" if os.geteuid() == 0 else ""  # as root the workers would drop to nobody
    temp = "\n".join(f"{name}_temp_path {folder / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                         "scgi"))
    return f"""
{user}
daemon off;
worker_processes {workers};
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    {temp}
    upstream fenfa {{ server 127.0.0.1:{fenfa_port}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location /direct/ {{ alias {uploads}/; }}
        location / {{
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_pass http://fenfa;
        }}
        location {ACCEL_PREFIX} {{
            internal;
            alias {uploads}/;
            etag off;
            add_header ETag $upstream_http_etag always;
        }}
    }}
}}
"""


@contextmanager
def running_nginx(folder, fenfa_port, uploads, workers):
    """Yield the base URL of a plain-HTTP nginx serving `uploads` and proxying to Fenfa on `fenfa_port`."""
    folder.mkdir()
    port = free_port()
    (folder / "nginx.conf").write_text(nginx_config(folder, port, fenfa_port, uploads, workers))
    process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e",
                                str(folder / "error.log")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, folder)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(folder, ignore_errors=True)


def concurrent_mib_per_second(url, connections, size):
    """MiB/s of `connections` simultaneous whole-file downloads of `url`; fails unless each got `size` bytes."""
    command = ["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}", url]
    started = time.perf_counter()
    clients = [subprocess.Popen(command, stdout=subprocess.PIPE) for _ in range(connections)]
    received = [int(client.communicate()[0] or 0) for client in clients]
    seconds = time.perf_counter() - started
    if received != [size] * connections:
        raise RuntimeError(f"{url}: received {received} bytes, expected {size} each")
    return connections * size / MIB / seconds


class PeakRss:
    """The highest VmRSS of a process, sampled every 20 ms while in the `with` block."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = 0
        self.running = threading.Event()

    def sample(self):
        while self.running.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.02)

    def __enter__(self):
        self.running.set()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.running.clear()
        self.thread.join()


def upload_build(base, source):
    """Upload `source` as the one release of a new product; returns the release."""
    product = api(base, "/admin/api/products", {"name": "Bench", "slug": "bench"})["product"]
    variant = api(base, f"/admin/api/products/{product['id']}/variants",
                  {"platform": "windows", "display_name": "Windows", "identifier": "bench"})["variant"]
    answer = subprocess.run(["curl", "-sS", "--fail", "-H", f"X-Auth-Token: {TOKEN}", "-F",
                             f"variant_id={variant['id']}", "-F", f"app_file=@{source}", f"{base}/upload"],
                            capture_output=True, check=True).stdout
    return json.loads(answer)["data"]["release"]


def spread(values):
    return f"{statistics.median(values):7.0f} MiB/s (range {min(values):.0f}-{max(values):.0f})"


def ratios(values, baselines):
    each = [value / baseline for value, baseline in zip(values, baselines, strict=True)]
    return f"{statistics.median(each):.2f}x (range {min(each):.2f}-{max(each):.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nginx-workers", default="auto",
                        help="nginx's worker_processes (default auto, as Debian ships it; 1 matches waitress's one "
                             "I/O thread)")
    args = parser.parse_args()
    figures = {"nginx": [], "fenfa": [], "accel": []}
    with tempfile.TemporaryDirectory(prefix="fenfa-bench-") as workdir:
        work = Path(workdir)
        data = work / "data"
        source = work / "build.exe"
        make_file(source, args.size_mb)
        size = source.stat().st_size
        settings = {"admin_token": TOKEN, "max_upload_mb": args.size_mb + 16}
        with live_fenfa(data, **settings) as direct, \
                live_fenfa(data, **settings, trusted_proxies=1, accel_redirect=ACCEL_PREFIX) as behind, \
                running_nginx(work / "nginx", behind.port, data / "uploads", args.nginx_workers) as proxy:
            release = upload_build(direct.base, source)
            source.unlink()
            stored = next(path for path in (data / "uploads").rglob("*") if path.is_file())
            urls = {"nginx": f"{proxy}/direct/{stored.relative_to(data / 'uploads')}",
                    "fenfa": f"{direct.base}/d/{release['id']}", "accel": f"{proxy}/d/{release['id']}"}
            for url in urls.values():  # warm-up: the file in the page cache, nginx's connections to Fenfa open
                concurrent_mib_per_second(url, 2, size)
            rss_before = rss(direct.process.pid)
            rss_peak = 0
            for _ in range(args.rounds):
                for name, url in urls.items():
                    with PeakRss(direct.process.pid) as during:
                        figures[name].append(concurrent_mib_per_second(url, args.connections, size))
                    if name == "fenfa":
                        rss_peak = max(rss_peak, during.peak)
            rss_after = rss(direct.process.pid)
    print(f"file:           {size / MIB:,.0f} MiB, {args.connections} concurrent downloads, {args.rounds} rounds, "
          f"{os.cpu_count()} CPUs shared with the clients")
    print(f"nginx direct:   {spread(figures['nginx'])}  (sendfile, plain HTTP, worker_processes {args.nginx_workers})")
    print(f"Fenfa direct:   {spread(figures['fenfa'])}  {ratios(figures['fenfa'], figures['nginx'])} nginx direct")
    print(f"nginx + accel:  {spread(figures['accel'])}  {ratios(figures['accel'], figures['nginx'])} nginx direct "
          "(Fenfa answers, nginx sends the file)")
    print(f"Fenfa RSS:      {rss_before / MIB:.1f} MiB before, {rss_peak / MIB:.1f} MiB peak during its downloads, "
          f"{rss_after / MIB:.1f} MiB after")


if __name__ == "__main__":
    main()
