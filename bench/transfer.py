"""Upload and download a large generated file through a real Fenfa server over loopback.

Prints MB/s for the upload (curl -F, as CI jobs do), the download (curl -o) and a plain `cp` of
the same file, plus the server's idle and peak RSS and how many bytes it wrote to disk; then the
same upload and download through the repo's deploy/nginx.conf (TLS, accelerated downloads) in front
of a second server on the same data dir.

    .venv/bin/python bench/transfer.py            # 1 GiB
    .venv/bin/python bench/transfer.py --size-mb 256
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from live import live_fenfa, running_fenfa  # noqa: E402  (the same launchers the tests use)
from nginx import running_nginx  # noqa: E402

TOKEN = "bench-admin-token"
MIB = 1024 * 1024


def make_file(path, size_mb):
    block = os.urandom(MIB)
    with open(path, "wb") as handle:
        for index in range(size_mb):
            handle.write(b"MZ" + block[2:] if index == 0 else block)


def proc_status(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def bytes_written(pid):
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def timed(command):
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, check=True)
    return time.perf_counter() - started, result.stdout


def api(base, path, body):
    return json.loads(subprocess.run(
        ["curl", "-sS", "-H", f"X-Auth-Token: {TOKEN}", "-d", json.dumps(body), base + path],
        capture_output=True, check=True).stdout)["data"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fenfa-bench-") as workdir:
        work = Path(workdir)
        source = work / "build.exe"
        make_file(source, args.size_mb)
        size = source.stat().st_size
        cp_seconds, _ = timed(["cp", str(source), str(work / "copy.exe")])
        (work / "copy.exe").unlink()
        with running_fenfa(work / "data", admin_token=TOKEN, max_upload_mb=args.size_mb + 16) as (base, server):
            product = api(base, "/admin/api/products", {"name": "Bench", "slug": "bench"})["product"]
            variant = api(base, f"/admin/api/products/{product['id']}/variants",
                          {"platform": "windows", "display_name": "Windows", "identifier": "bench"})["variant"]
            idle_rss = proc_status(server.pid, "VmRSS")
            written_before = bytes_written(server.pid)
            upload_seconds, answer = timed([
                "curl", "-sS", "-H", f"X-Auth-Token: {TOKEN}", "-F", f"variant_id={variant['id']}",
                "-F", f"app_file=@{source}", f"{base}/upload"])
            release = json.loads(answer)["data"]["release"]
            written = bytes_written(server.pid) - written_before
            upload_peak = proc_status(server.pid, "VmHWM")
            target = work / "download.exe"
            download_seconds, _ = timed(["curl", "-sS", "-o", str(target), f"{base}/d/{release['id']}"])
            peak_rss = proc_status(server.pid, "VmHWM")
        with open(target, "rb") as handle:
            intact = hashlib.file_digest(handle, "sha256").hexdigest() == release["sha256"]
        target.unlink()
        nginx_figures = through_nginx(work, source, variant["id"], args.size_mb)
    mb = size / 1e6
    print(f"file:        {size / MIB:,.0f} MiB")
    print(f"cp:          {mb / cp_seconds:8.1f} MB/s  ({cp_seconds:.2f} s)")
    print(f"upload:      {mb / upload_seconds:8.1f} MB/s  ({upload_seconds:.2f} s, curl -F multipart)")
    print(f"download:    {mb / download_seconds:8.1f} MB/s  ({download_seconds:.2f} s), sha256 intact: {intact}")
    print(f"server RSS:  idle {idle_rss / MIB:.1f} MiB, peak after upload {upload_peak / MIB:.1f} MiB, "
          f"peak after download {peak_rss / MIB:.1f} MiB (+{(peak_rss - idle_rss) / MIB:.1f} MiB)")
    print(f"disk writes: {written / MIB:,.0f} MiB by the server for the upload ({written / size:.2f}x the file)")
    upload_seconds, download_seconds, intact = nginx_figures
    print(f"nginx upload:   {mb / upload_seconds:8.1f} MB/s  ({upload_seconds:.2f} s, https, unbuffered to Fenfa)")
    print(f"nginx download: {mb / download_seconds:8.1f} MB/s  ({download_seconds:.2f} s, https, X-Accel-Redirect), "
          f"sha256 intact: {intact}")


def through_nginx(work, source, variant_id, size_mb):
    """(upload seconds, download seconds, intact) through nginx with TLS in front of a Fenfa that trusts it and
    hands local downloads to it."""
    settings = {"admin_token": TOKEN, "max_upload_mb": size_mb + 16, "trusted_proxies": 1,
                "accel_redirect": "/_fenfa_files/"}
    with live_fenfa(work / "data", **settings) as server, \
            running_nginx(work / "nginx", server.port, work / "data") as (base, cert):
        tls = ["--cacert", str(cert), "-4"]
        upload_seconds, answer = timed([
            "curl", "-sS", *tls, "-H", f"X-Auth-Token: {TOKEN}", "-F", f"variant_id={variant_id}",
            "-F", f"app_file=@{source}", f"{base}/upload"])
        release = json.loads(answer)["data"]["release"]
        target = work / "through-nginx.exe"
        download_seconds, _ = timed(["curl", "-sS", *tls, "-o", str(target), f"{base}/d/{release['id']}"])
        with open(target, "rb") as handle:
            intact = hashlib.file_digest(handle, "sha256").hexdigest() == release["sha256"]
    return upload_seconds, download_seconds, intact


if __name__ == "__main__":
    main()
