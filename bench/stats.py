"""Variant statistics with a million events: the time of GET /admin/api/variants/:id/stats next to its
SQL alone in sqlite3, and the query plan's indexes.

    .venv/bin/python bench/stats.py             # 1,000,000 events
    .venv/bin/python bench/stats.py --events 200000
"""
import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fenfa import create_app  # noqa: E402

TOKEN = "bench-admin-token"
HEADERS = {"X-Auth-Token": TOKEN}


def fill(database, product_id, variant_ids, count):
    """`count` events over 60 days: page visits (no variant), and visits, clicks and downloads of variants."""
    now = datetime.utcnow()
    rng = random.Random(7)
    kinds = ["visit", "click", "download"]
    rows = []
    for index in range(count):
        variant = "" if index % 2 else rng.choice(variant_ids)
        kind = "visit" if not variant else rng.choice(kinds)
        ts = (now - timedelta(seconds=rng.randrange(60 * 86400))).isoformat(sep=" ")
        rows.append((ts, kind, product_id, variant, "", "203.0.113.9", "bench", "{}"))
    with sqlite3.connect(database) as connection:
        connection.executemany("INSERT INTO event (ts, type, product_id, variant_id, release_id, ip, user_agent, "
                               "extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def timed(call, repeat=5):
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fenfa-bench-") as work:
        config = Path(work) / "config.json"
        config.write_text("{}")
        os.environ["FENFA_CONFIG"] = str(config)
        app = create_app({"data_dir": Path(work) / "data", "admin_token": [TOKEN], "upload_token": ["u"]})
        client = app.test_client()
        product = client.post("/admin/api/products", json={"name": "Bench", "slug": "bench"}, headers=HEADERS).json
        product_id = product["data"]["product"]["id"]
        variants = []
        for number in range(3):
            body = {"platform": "android", "display_name": f"V{number}", "identifier": f"com.example.v{number}"}
            answer = client.post(f"/admin/api/products/{product_id}/variants", headers=HEADERS, json=body).json
            variants.append(answer["data"]["variant"]["id"])
        database = Path(work) / "data" / "fenfa.db"
        fill(database, product_id, variants, args.events)
        url = f"/admin/api/variants/{variants[0]}/stats"
        assert client.get(url, headers=HEADERS).status_code == 200
        fenfa = timed(lambda: client.get(url, headers=HEADERS))
        with sqlite3.connect(database) as connection:
            sql = [("SELECT type, COUNT(id) FROM event WHERE variant_id = ? GROUP BY type", (variants[0],)),
                   ("SELECT COUNT(*) FROM event WHERE product_id = ? AND type = 'visit' AND variant_id = ''",
                    (product_id,)),
                   ("SELECT strftime('%Y-%m-%d', ts), COUNT(id) FROM event WHERE variant_id = ? AND type = "
                    "'download' AND ts >= ? GROUP BY 1", (variants[0], "2000-01-01"))]
            alone = timed(lambda: [connection.execute(query, values).fetchall() for query, values in sql])
            plans = [" ".join(row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + query, values))
                     for query, values in sql]
    print(f"events:        {args.events:,}")
    print(f"variant stats: {fenfa * 1000:7.1f} ms (median of 5, GET through the app; goal <= 100 ms)")
    print(f"its SQL alone: {alone * 1000:7.1f} ms in sqlite3; ratio {fenfa / alone:.2f}x")
    for plan in plans:
        print(f"  plan: {plan}")


if __name__ == "__main__":
    main()
