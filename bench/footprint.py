"""Start-up and idle footprint: from starting `python fenfa.py` to its first answer, and its idle RSS.

    .venv/bin/python bench/footprint.py
"""
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from live import REPO, fenfa_command, free_port  # noqa: E402

RUNS = 3


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def first_answer(data_dir):
    """(seconds to the first /healthz answer, idle RSS in MiB) of one fresh server."""
    port = free_port()
    argv, env = fenfa_command(data_dir, "--host", "127.0.0.1", "--port", str(port), admin_token="bench")
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    response.read()
                break
            except OSError:
                time.sleep(0.005)
        seconds = time.perf_counter() - started
        time.sleep(0.5)
        return seconds, rss_mib(process.pid)
    finally:
        process.terminate()
        process.wait(10)


def main():
    with tempfile.TemporaryDirectory(prefix="fenfa-bench-") as work:
        runs = [first_answer(Path(work) / f"data{run}") for run in range(RUNS)]
    print(f"start to first answer: {min(seconds for seconds, _ in runs):.3f} s (best of {RUNS})")
    print(f"idle RSS:              {min(rss for _, rss in runs):.1f} MiB")


if __name__ == "__main__":
    main()
