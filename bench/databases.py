"""Uploads and downloads on SQLite and on PostgreSQL side by side: the same measurements in one run against two Fenfa
servers that differ only in their database, each figure beside the other and their ratio (PostgreSQL / SQLite).

PostgreSQL is a real server started in a temporary folder by tests/pg.py's launcher, on the same machine, with
PostgreSQL's own durability settings (fsync, synchronous_commit and full_page_writes on, shared_buffers 128MB, as a
deployment runs it; `--pg-durability off` keeps the tests' throwaway settings instead); SQLite is the data dir's
fenfa.db (WAL, synchronous NORMAL). Both servers run at once, each on a data dir of its own, and each round
measures one and then the other (the order alternating between rounds), so that both see the same machine; the range
of a ratio is that of the rounds' paired ratios.

(1) A build of --size-mb MiB uploaded with `curl -F` (POST /upload) and `curl -T` (PUT /upload/<name>), as
bench/transfer.py does: seconds, best and range. (2) --small uploads of a 1 MiB build in sequence, each a different
file, with bench/load.py's in-process multipart upload: uploads per second. (3) --connections concurrent downloads of
a 50 MiB release, as bench/downloads.py does: MiB/s. (4) --requests downloads of a 64 KiB release at --connections
keep-alive connections, as bench/load.py does: requests per second. Afterwards each release's download count (the
admin stats endpoint) must equal the downloads made of it, and each Fenfa log is searched for errors.

    .venv/bin/python bench/databases.py
    .venv/bin/python bench/databases.py --size-mb 1024 --rounds 5
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from downloads import concurrent_mib_per_second  # noqa: E402  (bench/downloads.py's concurrent curl downloads)
from load import api, generate_load, upload  # noqa: E402  (bench/load.py's load generator and in-process upload)
from transfer import MIB, TOKEN, make_file, measure_uploads  # noqa: E402  (bench/transfer.py's timed curl uploads)

import pg  # noqa: E402  (the PostgreSQL launcher the tests use)
from live import live_fenfa  # noqa: E402  (the Fenfa launcher the tests use)

DATABASES = ("SQLite", "PostgreSQL")
SHOWN_SETTINGS = ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers")
UPLOAD_LABELS = ("curl -F", "curl -T")
SMALL_BYTES = MIB
DOWNLOAD_MB = 50
TINY_BYTES = 64 * 1024
LOG_MARKS = ("Traceback", "database is locked", "OperationalError", "InterfaceError", " 503 ")
SERVER_LOG_MARKS = ("ERROR:", "FATAL:", "PANIC:", "WARNING:", "checkpoint starting")


def windows_build(size):
    """`size` random bytes that Fenfa stores as a Windows executable."""
    return b"MZ" + os.urandom(size - 2)


def prepare(server):
    """A product with a variant for each measurement, and the 50 MiB and 64 KiB releases uploaded; returns
    ({purpose: variant}, {purpose: release})."""
    product = api(server.base, "POST", "/admin/api/products", {"name": "Bench", "slug": "bench"})["product"]
    variants = {purpose: api(server.base, "POST", f"/admin/api/products/{product['id']}/variants",
                             {"platform": "windows", "display_name": purpose.title(),
                              "identifier": f"bench.{purpose}"})["variant"]
                for purpose in ("build", "small", "download", "tiny")}
    releases = {purpose: upload(server.base, variants[purpose]["id"], f"{purpose}.exe", windows_build(size))
                for purpose, size in (("download", DOWNLOAD_MB * MIB), ("tiny", TINY_BYTES))}
    return variants, releases


def small_uploads_per_second(server, variant_id, builds, round_number):
    """Uploads per second of `builds` sent one after the other (a fresh connection each, as curl would)."""
    started = time.perf_counter()
    for index, content in enumerate(builds):
        release = upload(server.base, variant_id, f"small-{round_number}-{index}.exe", content)
        if release["size_bytes"] != len(content):
            raise SystemExit(f"small upload {index}: stored as {release['size_bytes']} bytes, not {len(content)}")
    return len(builds) / (time.perf_counter() - started)


def download_rate(server, release, connections, requests):
    """Requests per second of `requests` downloads of `release` at `connections` keep-alive connections; fails
    unless every one was a whole 200."""
    load = generate_load(server.port, f"/d/{release['id']}", {}, connections, 600, requests)
    if dict(load.statuses) != {200: requests} or load.errors or load.bytes != requests * release["size_bytes"]:
        raise SystemExit(f"downloads of {release['id']}: {load.describe()}; {load.bytes} bytes")
    return load.rate


def counted(server, variant, release):
    """(the release's download_count, its variant's totals.downloads) from the admin stats endpoint."""
    stats = api(server.base, "GET", f"/admin/api/variants/{variant['id']}/stats")
    release_count = {item["id"]: item["download_count"] for item in stats["releases"]}[release["id"]]
    return release_count, stats["totals"]["downloads"]


def run(args, work, postgres):
    """{measure: {database: [figure of each round]}}, {database: (purpose, counted, made)} and {database: log}."""
    settings = {"admin_token": TOKEN, "max_upload_mb": max(args.size_mb, DOWNLOAD_MB) + 16}
    urls = {"SQLite": "", "PostgreSQL": postgres.url(postgres.create_database())}
    source = work / "build.exe"
    make_file(source, args.size_mb)
    figures = {measure: {name: [] for name in DATABASES} for measure in (*UPLOAD_LABELS, "small", "parallel", "rate")}
    for name in DATABASES:
        (work / name).mkdir()
    with live_fenfa(work / "SQLite" / "data", **settings) as lite, \
            live_fenfa(work / "PostgreSQL" / "data", **settings, database_url=urls["PostgreSQL"]) as post:
        servers = {"SQLite": lite, "PostgreSQL": post}
        prepared = {name: prepare(server) for name, server in servers.items()}
        made = {name: {"download": 2, "tiny": 4 * args.connections} for name in DATABASES}
        for name, server in servers.items():  # warm-up: the files in the page cache, the connection pools filled
            releases = prepared[name][1]
            concurrent_mib_per_second(f"{server.base}/d/{releases['download']['id']}", 2, DOWNLOAD_MB * MIB)
            download_rate(server, releases["tiny"], args.connections, made[name]["tiny"])
        for round_number in range(args.rounds):
            order = DATABASES if round_number % 2 == 0 else DATABASES[::-1]
            builds = [windows_build(SMALL_BYTES) for _ in range(args.small)]
            for name in order:
                server, (variants, _) = servers[name], prepared[name]
                uploads, _ = measure_uploads(server.base, server.process, source, variants["build"]["id"], 1, work)
                for label in UPLOAD_LABELS:
                    figures[label][name].append(uploads[label][0][0])
            for name in order:
                figures["small"][name].append(small_uploads_per_second(servers[name], prepared[name][0]["small"]["id"],
                                                                       builds, round_number))
            for name in order:
                url = f"{servers[name].base}/d/{prepared[name][1]['download']['id']}"
                figures["parallel"][name].append(concurrent_mib_per_second(url, args.connections, DOWNLOAD_MB * MIB))
                made[name]["download"] += args.connections
            for name in order:
                figures["rate"][name].append(download_rate(servers[name], prepared[name][1]["tiny"], args.connections,
                                                           args.requests))
                made[name]["tiny"] += args.requests
        counts = {name: [(purpose, *counted(servers[name], prepared[name][0][purpose], prepared[name][1][purpose]),
                          made[name][purpose]) for purpose in ("download", "tiny")] for name in DATABASES}
        logs = {name: server.log() for name, server in servers.items()}
    return figures, counts, logs


def describe(values, best, digits):
    """"best 0.52 (0.50-0.61)" for seconds (the least is best), "median 812 (790-830)" for rates."""
    figure = min(values) if best else statistics.median(values)
    return f"{'best' if best else 'median'} {figure:,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def ratio(values, baselines, best):
    """PostgreSQL's figure over SQLite's (best over best, or median over median), and the range of the rounds'
    paired ratios."""
    pick = min if best else statistics.median
    each = [value / baseline for value, baseline in zip(values, baselines)]
    return f"{pick(values) / pick(baselines):.2f}x (rounds {min(each):.2f}-{max(each):.2f}x)"


def report(args, figures, counts, logs, postgres_settings, server_log, load_before):
    rows = [(label, f"upload {args.size_mb} MiB, {label} (s)", True, 2) for label in UPLOAD_LABELS]
    rows += [("small", f"{args.small} x {SMALL_BYTES // MIB} MiB uploads in sequence (uploads/s)", False, 1),
             ("parallel", f"{args.connections} concurrent downloads of {DOWNLOAD_MB} MiB (MiB/s)", False, 0),
             ("rate", f"{args.requests} x {TINY_BYTES // 1024} KiB downloads at {args.connections} connections (req/s)",
              False, 0)]
    print(f"machine:     {os.cpu_count()} CPUs shared by the clients, both Fenfa servers and PostgreSQL (load average "
          f"{load_before:.2f} before the run); {args.rounds} rounds, each measuring both databases in turn")
    print("SQLite:      the data dir's fenfa.db (journal_mode WAL, synchronous NORMAL: fenfa_lib/dialect.py)")
    print(f"PostgreSQL:  {postgres_settings.pop('server_version')} on loopback, "
          + ", ".join(f"{name} {value}" for name, value in postgres_settings.items()))
    print(f"{'':<54} {'SQLite':<26} {'PostgreSQL':<26} PostgreSQL / SQLite")
    for measure, title, best, digits in rows:
        lite, post = figures[measure]["SQLite"], figures[measure]["PostgreSQL"]
        print(f"{title:<54} {describe(lite, best, digits):<26} {describe(post, best, digits):<26} "
              f"{ratio(post, lite, best)}{'  (time: above 1x is slower)' if best else ''}")
    exact = True
    for name in DATABASES:
        parts = []
        for purpose, release_count, variant_total, made in counts[name]:
            exact = exact and release_count == variant_total == made
            parts.append(f"{DOWNLOAD_MB} MiB release {release_count}" if purpose == "download" else
                         f"{TINY_BYTES // 1024} KiB release {release_count}")
            parts[-1] += f" (variant total {variant_total}) of {made} made"
        print(f"{'counted ' + name + ':':<20} " + "; ".join(parts))
    print(f"download counts: {'exact' if exact else 'NOT exact'} on both databases")
    for name in DATABASES:
        marks = ", ".join(f"{mark.strip()!r} {logs[name].count(mark)}" for mark in LOG_MARKS)
        print(f"{'log ' + name + ':':<20} {marks}; {len(logs[name].splitlines())} lines")
    marks = ", ".join(f"{mark.rstrip(':')!r} {server_log.count(mark)}" for mark in SERVER_LOG_MARKS)
    print(f"{'log of PostgreSQL:':<20} {marks}; {len(server_log.splitlines())} lines")
    for line in server_log.splitlines():
        if any(mark in line for mark in SERVER_LOG_MARKS[:3]):
            print(f"{'':<20} {line}")
    if not exact:
        raise SystemExit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=256, help="the large build (default 256 MiB)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, default=50, help="1 MiB uploads in sequence per round (default 50)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent downloads (default 16)")
    parser.add_argument("--requests", type=int, default=1000, help="64 KiB downloads per round (default 1000)")
    parser.add_argument("--pg-durability", choices=("on", "off"), default="on",
                        help="on: PostgreSQL's own fsync, synchronous_commit and full_page_writes (default); off: "
                             "the tests' throwaway settings (tests/pg.py)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    if pg.find_postgres_bin() is None:
        raise SystemExit("PostgreSQL's initdb not found (apt-get install postgresql)")
    with pg.running_postgres(durable=args.pg_durability == "on") as postgres, \
            tempfile.TemporaryDirectory(prefix="fenfa-bench-") as workdir:
        shown = {name: postgres.admin.execute(f"SHOW {name}").fetchone()[0]
                 for name in ("server_version", *SHOWN_SETTINGS)}
        figures, counts, logs = run(args, Path(workdir), postgres)
        server_log = postgres.log_path.read_text(errors="replace")
    report(args, figures, counts, logs, shown, server_log, load_before)


if __name__ == "__main__":
    main()
