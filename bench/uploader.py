"""Upload a large build through the command-line uploader (static/fenfa-upload.py) to a real server on loopback.

Prints, for the raw PUT (--variant, a generated .exe) and the smart upload (a multipart POST of a tiny APK with a
large stored member appended), the MB/s, the uploader process's peak RSS (VmHWM, sampled every 20 ms) and the
server's RSS idle and at its peak (VmHWM) after the upload: both should stay flat whatever the file's size.

    .venv/bin/python bench/uploader.py                # 1 GiB
    .venv/bin/python bench/uploader.py --size-mb 256
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from transfer import make_file, proc_status  # noqa: E402  (bench/transfer.py's helpers)

from live import live_fenfa  # noqa: E402  (the launcher the tests use)

SCRIPT = REPO / "static" / "fenfa-upload.py"
TINY_APK = REPO / "tests" / "samples" / "android-politedroid-minsdk3-tiny.apk"
TOKEN = "bench-admin-token"
MIB = 1024 * 1024


def make_apk(path, size_mb):
    """The tiny sample APK with a stored member of `size_mb` MiB appended: parsed as the sample is."""
    shutil.copyfile(TINY_APK, path)
    block = os.urandom(MIB)
    with zipfile.ZipFile(path, "a") as apk:
        with apk.open(zipfile.ZipInfo("assets/bench.bin"), "w", force_zip64=True) as member:
            for _ in range(size_mb):
                member.write(block)


def admin(base, path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"X-Auth-Token": TOKEN})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def upload(base, build, *arguments):
    """(seconds, the uploader's peak RSS in bytes, its answer's data) of one run of the uploader."""
    command = [sys.executable, str(SCRIPT), str(build), "--server", base, "--token", TOKEN, "--json", *arguments]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, proc_status(process.pid, "VmHWM"))
        except (OSError, KeyError):  # it is exiting
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    output = process.stdout.read()
    if process.returncode != 0:
        raise SystemExit(f"the uploader exited with {process.returncode}: {output.decode()}")
    return seconds, peak, json.loads(output)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fenfa-bench-") as workdir:
        work = Path(workdir)
        exe, apk = work / "build.exe", work / "app-release.apk"
        make_file(exe, args.size_mb)
        make_apk(apk, args.size_mb)
        with live_fenfa(work / "data", admin_token=TOKEN, max_upload_mb=args.size_mb + 16) as server:
            product = admin(server.base, "/admin/api/products", {"name": "Bench", "slug": "bench"})["product"]
            windows = admin(server.base, f"/admin/api/products/{product['id']}/variants",
                            {"platform": "windows", "display_name": "Windows", "identifier": "bench"})["variant"]
            admin(server.base, f"/admin/api/products/{product['id']}/variants",
                  {"platform": "android", "display_name": "Android", "identifier": "com.politedroid"})
            idle_rss = proc_status(server.process.pid, "VmRSS")
            runs = []
            for label, build, arguments in (("tiny APK, smart upload", TINY_APK, ()),
                                            ("PUT (--variant)", exe, ("--variant", windows["id"])),
                                            ("smart upload (POST)", apk, ())):
                seconds, peak, data = upload(server.base, build, *arguments)
                runs.append((label, build.stat().st_size, seconds, peak, proc_status(server.process.pid, "VmHWM")))
                assert data["release"]["size_bytes"] == build.stat().st_size
    print(f"server RSS idle: {idle_rss / MIB:.1f} MiB")
    for label, size, seconds, peak, server_peak in runs:
        print(f"{label:<23} {size / MIB:8.2f} MiB {size / 1e6 / seconds:7.1f} MB/s ({seconds:.2f} s); uploader peak "
              f"RSS {peak / MIB:.1f} MiB; server peak RSS so far {server_peak / MIB:.1f} MiB")


if __name__ == "__main__":
    main()
