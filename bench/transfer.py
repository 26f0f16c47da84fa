"""Upload and download a large generated file through a real Fenfa server over loopback.

Prints MB/s for the uploads (curl -F to POST /upload, as CI jobs do, and curl -T to PUT /upload/<name>),
each beside one write of the same bytes to a new file in the same filesystem (a Python loop of 1 MiB
writes, no fsync) timed just before it, and their ratio (upload speed / write speed); then the download
(curl -o) and a plain `cp`, the server's idle and peak RSS and how many bytes it wrote to disk per upload;
then the same upload and download through the repo's deploy/nginx.conf (TLS, accelerated downloads) in
front of a second server on the same data dir.

    .venv/bin/python bench/transfer.py            # 1 GiB, 3 rounds of uploads
    .venv/bin/python bench/transfer.py --size-mb 256 --rounds 1
"""
import argparse
import hashlib
import json
import os
import statistics
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


def one_write(source, target):
    """Seconds to write `source`'s bytes to a new file `target` (removed afterwards), 1 MiB at a time."""
    with open(source, "rb") as reader:
        started = time.perf_counter()
        with open(target, "wb") as writer:
            while block := reader.read(MIB):
                writer.write(block)
        seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def upload_commands(base, source, variant_id):
    """The two ways to upload, as (label, curl arguments)."""
    auth = ["-H", f"X-Auth-Token: {TOKEN}"]
    return [
        ("curl -F", ["curl", "-sS", "--fail-with-body", *auth, "-F", f"variant_id={variant_id}",
                     "-F", f"app_file=@{source}", f"{base}/upload"]),
        ("curl -T", ["curl", "-sS", "--fail-with-body", *auth, "-T", str(source),
                     f"{base}/upload/{source.name}?variant_id={variant_id}"]),
    ]


def measure_uploads(base, server, source, variant_id, rounds, work):
    """{label: [(upload seconds, write seconds, bytes the server wrote, CPU seconds it used)]} and the last
    release."""
    figures = {}
    release = None
    with open(source, "rb") as handle:
        expected_sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    for _round in range(rounds):
        for label, command in upload_commands(base, source, variant_id):
            write_seconds = one_write(source, work / "one-write.bin")
            written_before, cpu_before = bytes_written(server.pid), cpu_seconds(server.pid)
            upload_seconds, answer = timed(command)
            release = json.loads(answer)["data"]["release"]
            if release["sha256"] != expected_sha256:
                raise SystemExit(f"{label}: the server hashed the file as {release['sha256']}")
            figures.setdefault(label, []).append((upload_seconds, write_seconds,
                                                  bytes_written(server.pid) - written_before,
                                                  cpu_seconds(server.pid) - cpu_before))
    return figures, release


def print_uploads(figures, size):
    mb = size / 1e6
    for label, runs in figures.items():
        ratios = [write / upload for upload, write, _, _ in runs]
        uploads = [upload for upload, _, _, _ in runs]
        writes = [write for _, write, _, _ in runs]
        cpu = [seconds for _, _, _, seconds in runs]
        median = statistics.median(uploads)
        print(f"upload {label}: {mb / median:6.1f} MB/s ({median:.2f} s, {min(uploads):.2f}-{max(uploads):.2f} s)"
              f"; one write {statistics.median(writes):.2f} s ({min(writes):.2f}-{max(writes):.2f} s)"
              f"; ratio {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}x)"
              f"; server wrote {runs[-1][2] / size:.2f}x the file, used {statistics.median(cpu):.2f} CPU s")


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    parser.add_argument("--rounds", type=int, default=3, help="uploads of each kind")
    parser.add_argument("--no-nginx", action="store_true", help="skip the run through nginx")
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
            uploads, release = measure_uploads(base, server, source, variant["id"], args.rounds, work)
            upload_peak = proc_status(server.pid, "VmHWM")
            target = work / "download.exe"
            download_seconds, _ = timed(["curl", "-sS", "-o", str(target), f"{base}/d/{release['id']}"])
            peak_rss = proc_status(server.pid, "VmHWM")
        with open(target, "rb") as handle:
            intact = hashlib.file_digest(handle, "sha256").hexdigest() == release["sha256"]
        target.unlink()
        nginx_figures = None if args.no_nginx else through_nginx(work, source, variant["id"], args.size_mb)
    mb = size / 1e6
    print(f"file:        {size / MIB:,.0f} MiB")
    print(f"cp:          {mb / cp_seconds:8.1f} MB/s  ({cp_seconds:.2f} s)")
    print_uploads(uploads, size)
    print(f"download:    {mb / download_seconds:8.1f} MB/s  ({download_seconds:.2f} s), sha256 intact: {intact}")
    print(f"server RSS:  idle {idle_rss / MIB:.1f} MiB, peak after the uploads {upload_peak / MIB:.1f} MiB "
          f"(+{(upload_peak - idle_rss) / MIB:.1f} MiB), peak after download {peak_rss / MIB:.1f} MiB "
          f"(+{(peak_rss - idle_rss) / MIB:.1f} MiB)")
    if nginx_figures is None:
        return
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
        if not json.loads(answer)["ok"]:
            raise SystemExit(f"the upload through nginx failed: {answer.decode()}\n{server.log()[-2000:]}")
        release = json.loads(answer)["data"]["release"]
        target = work / "through-nginx.exe"
        download_seconds, _ = timed(["curl", "-sS", *tls, "-o", str(target), f"{base}/d/{release['id']}"])
        with open(target, "rb") as handle:
            intact = hashlib.file_digest(handle, "sha256").hexdigest() == release["sha256"]
    return upload_seconds, download_seconds, intact


if __name__ == "__main__":
    main()
