"""Start-up and idle footprint: from starting `python fenfa.py` to its first answer, and its idle RSS, next to
the bare Flask app of bench/load.py on waitress with the same threads, started and measured the same way.
Both run with the environment deploy/fenfa.service gives the server (MALLOC_ARENA_MAX…). Fenfa runs as `make run`
installs it, without the PostgreSQL driver (which Peewee imports at start whenever it is installed), and once more
with the driver, as `make postgres` installs it.

    .venv/bin/python bench/footprint.py
    .venv/bin/python bench/footprint.py --runs 5
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from deployed import describe_environment, memory_mib, unit_environment
from load import BARE_APP, CHANNEL_TIMEOUT, CONNECTION_LIMIT, THREADS  # the same bare app as the load bench

from live import REPO, fenfa_command, free_port  # bench/deployed.py put tests/ on the path

START_GOAL_SECONDS = 0.25
IDLE_RSS_GOAL_MIB = 50
SETTLE_SECONDS = 0.5  # after the first answer, before idle RSS is read


def first_answer(argv, env, url):
    """(seconds from starting `argv` to the first answer from `url`, RSS in MiB once it idles)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    response.read()
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"{argv} exited with {process.returncode}") from None
                time.sleep(0.005)
        seconds = time.perf_counter() - started
        time.sleep(SETTLE_SECONDS)
        return seconds, memory_mib(process.pid)
    finally:
        process.terminate()
        process.wait(10)


def fenfa_run(work, run, without=("psycopg",)):
    port = free_port()
    argv, env = fenfa_command(Path(work) / f"data{run}-{len(without)}", "--host", "127.0.0.1", "--port", str(port),
                              without=without, admin_token="bench", threads=THREADS)
    return first_answer(argv, {**env, **unit_environment()}, f"http://127.0.0.1:{port}/healthz")


def bare_run():
    port = free_port()
    argv = [sys.executable, "-c", BARE_APP, str(port), str(THREADS), str(CONNECTION_LIMIT), str(CHANNEL_TIMEOUT)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **unit_environment()}
    return first_answer(argv, env, f"http://127.0.0.1:{port}/products/demo")


def describe(name, runs):
    seconds, rss = [run[0] for run in runs], [run[1] for run in runs]
    return (f"{name:18s} start to first answer {min(seconds):.3f} s ({min(seconds):.3f}-{max(seconds):.3f}), "
            f"idle RSS {min(rss):.1f} MiB ({min(rss):.1f}-{max(rss):.1f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    fenfa, postgres, bare = [], [], []
    with tempfile.TemporaryDirectory(prefix="fenfa-bench-") as work:
        for run in range(args.runs):  # alternated, so that all see the same load on the machine
            fenfa.append(fenfa_run(work, run))
            postgres.append(fenfa_run(work, run, without=()))
            bare.append(bare_run())
    start, rss = min(run[0] for run in fenfa), min(run[1] for run in fenfa)
    bare_start, bare_rss = min(run[0] for run in bare), min(run[1] for run in bare)
    print(f"environment: deploy/fenfa.service's: {describe_environment()}; {THREADS} waitress threads; "
          f"best of {args.runs}, alternated")
    print(describe("fenfa (make run):", fenfa))
    print(describe("with psycopg:", postgres))
    print(describe("bare Flask:", bare))
    print(f"start:       {start:.3f} s, {start / bare_start:.2f}x bare Flask; goal < {START_GOAL_SECONDS} s")
    print(f"idle RSS:    {rss:.1f} MiB, {rss / bare_rss:.2f}x bare Flask (+{rss - bare_rss:.1f} MiB); "
          f"goal < {IDLE_RSS_GOAL_MIB} MiB")


if __name__ == "__main__":
    main()
