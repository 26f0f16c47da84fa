"""events.csv of a million events next to `sqlite3 -csv` of the same rows, and the server's peak RSS across
repeated exports. The server runs with the environment deploy/fenfa.service gives it (MALLOC_ARENA_MAX…).

    .venv/bin/python bench/export.py             # 1,000,000 events, 3 exports
    .venv/bin/python bench/export.py --events 200000 --repeat 5
"""
import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from deployed import deployed_fenfa, describe_environment, memory_mib
from stats import fill  # the same generated events as bench/stats.py

TOKEN = "bench-admin-token"
SQL = ("SELECT id, ts, type, product_id, variant_id, release_id, ip, user_agent, extra FROM event "
       "ORDER BY ts DESC, id DESC")
RATIO_GOAL = 2.0
PEAK_RSS_GOAL_MIB = 100


def seconds_of(argv):
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, check=True)
    return time.perf_counter() - started, result.stdout


def spread(values, unit):
    return f"{min(values):.2f}{unit} (range {min(values):.2f}-{max(values):.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fenfa-bench-") as work:
        data = Path(work) / "data"
        with deployed_fenfa(data, admin_token=TOKEN) as server:
            fill(data / "fenfa.db", "prd_bench", ["var_a", "var_b"], args.events)
            idle = memory_mib(server.process.pid)
            export = ["curl", "-sS", "--fail", "-H", f"X-Auth-Token: {TOKEN}", "-o", str(Path(work) / "events.csv"),
                      "-w", "%{size_download}", f"{server.base}/admin/exports/events.csv"]
            exports, baselines = [], []
            for _ in range(args.repeat):  # one after the other, so that both see the same load on the machine
                baselines.append(seconds_of(["sqlite3", "-csv", str(data / "fenfa.db"), SQL])[0])
                seconds, size = seconds_of(export)
                exports.append(seconds)
            peak, after = memory_mib(server.process.pid, "VmHWM"), memory_mib(server.process.pid)
    ratios = [export / baseline for export, baseline in zip(exports, baselines)]
    print(f"events:        {args.events:,}, {int(size) / 1e6:.1f} MB of CSV")
    print(f"server:        python fenfa.py with deploy/fenfa.service's environment: {describe_environment()}")
    print(f"events.csv:    {spread(exports, ' s')}, best of {args.repeat}")
    print(f"sqlite3 -csv:  {spread(baselines, ' s')}, the same SQL, run before each export")
    print(f"ratio:         {min(exports) / min(baselines):.2f}x sqlite3 -csv, best to best "
          f"(each round: {min(ratios):.2f}-{max(ratios):.2f}x); goal <= {RATIO_GOAL:.1f}x")
    print(f"server RSS:    peak {peak:.0f} MiB over {args.repeat} exports (goal < {PEAK_RSS_GOAL_MIB} MiB); "
          f"idle {idle:.0f} MiB, {after:.0f} MiB after")


if __name__ == "__main__":
    main()
