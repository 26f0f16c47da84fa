"""events.csv of a million events next to `sqlite3 -csv` of the same rows, and the server's RSS across
repeated exports.

    .venv/bin/python bench/export.py             # 1,000,000 events
    .venv/bin/python bench/export.py --events 200000
"""
import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stats import fill  # the same generated events as bench/stats.py

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from live import live_fenfa  # noqa: E402

TOKEN = "bench-admin-token"
SQL = ("SELECT id, ts, type, product_id, variant_id, release_id, ip, user_agent, extra FROM event "
       "ORDER BY ts DESC, id DESC")


def rss(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fenfa-bench-") as work:
        data = Path(work) / "data"
        with live_fenfa(data, admin_token=TOKEN) as server:
            fill(data / "fenfa.db", "prd_bench", ["var_a", "var_b"], args.events)
            started = time.perf_counter()
            subprocess.run(["sqlite3", "-csv", str(data / "fenfa.db"), SQL], stdout=subprocess.DEVNULL, check=True)
            baseline = time.perf_counter() - started
            times, sizes = [], []
            for _ in range(args.repeat):
                started = time.perf_counter()
                result = subprocess.run(["curl", "-sS", "-H", f"X-Auth-Token: {TOKEN}", "-o", str(Path(work) / "e.csv"),
                                         "-w", "%{size_download}", f"{server.base}/admin/exports/events.csv"],
                                        capture_output=True, check=True)
                times.append(time.perf_counter() - started)
                sizes.append(int(result.stdout))
                peak = rss(server.process.pid)
    best = min(times)
    print(f"events:        {args.events:,}")
    print(f"events.csv:    {best:6.2f} s (best of {args.repeat}), {sizes[-1] / 1e6:.1f} MB")
    print(f"sqlite3 -csv:  {baseline:6.2f} s; ratio {best / baseline:.2f}x")
    print(f"server RSS:    {peak:.0f} MiB after {args.repeat} exports")


if __name__ == "__main__":
    main()
