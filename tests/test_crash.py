"""A server killed with SIGKILL, restarted at once: no row without its files, no file without its row, no
spool left in data/tmp, and a database that passes its integrity check."""
import json
import shutil
import sqlite3
import subprocess
import time

from helpers import ADMIN_TOKEN, UPLOAD_TOKEN
from live import live_fenfa

TOKENS = {"admin_token": ADMIN_TOKEN, "upload_token": UPLOAD_TOKEN}


def curl_json(*args):
    return json.loads(subprocess.run(["curl", "-sS", *args], capture_output=True, check=True, timeout=60).stdout)


def windows_variant(base):
    admin = ["-H", f"X-Auth-Token: {ADMIN_TOKEN}", "-H", "Content-Type: application/json"]
    product = curl_json(*admin, "-d", '{"name": "Crash", "slug": "crash"}', f"{base}/admin/api/products")
    body = json.dumps({"platform": "windows", "display_name": "Windows", "identifier": "com.example.crash"})
    return curl_json(*admin, "-d", body, f"{base}/admin/api/products/{product['data']['product']['id']}/variants")[
        "data"]["variant"]


def upload(base, variant_id, path, *extra):
    return subprocess.Popen(["curl", "-sS", *extra, "-H", f"X-Auth-Token: {UPLOAD_TOKEN}", "-F",
                             f"variant_id={variant_id}", "-F", f"app_file=@{path}", f"{base}/upload"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def release_rows(data_dir):
    with sqlite3.connect(data_dir / "fenfa.db") as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {row[0]: row[1] for row in connection.execute("SELECT id, storage_key FROM release")}


def assert_consistent(data_dir):
    """Every release row has its file, every release folder has its row, and data/tmp is empty."""
    rows = release_rows(data_dir)
    for storage_key in rows.values():
        assert (data_dir / "uploads" / storage_key).is_file(), storage_key
    folders = {path.name for path in (data_dir / "uploads").glob("prd_*/var_*/rel_*")}
    assert folders == set(rows)
    assert list((data_dir / "tmp").iterdir()) == []
    return rows


def build(tmp_path, name, megabytes):
    path = tmp_path / name
    path.write_bytes(b"MZ" + b"\x5a" * (megabytes * 1024 * 1024))
    return path


def test_a_server_killed_mid_upload_restarts_clean(data_dir, tmp_path):
    with live_fenfa(data_dir, **TOKENS) as server:
        variant = windows_variant(server.base)
        assert upload(server.base, variant["id"], build(tmp_path, "kept.exe", 1)).wait(60) == 0
        slow = upload(server.base, variant["id"], build(tmp_path, "slow.exe", 8), "--limit-rate", "2M")
        time.sleep(1.5)  # a quarter of the body is in: waitress is still receiving it
        assert slow.poll() is None
        server.process.kill()
        server.process.wait(10)
        slow.wait(10)
    with live_fenfa(data_dir, **TOKENS):
        rows = assert_consistent(data_dir)
    assert len(rows) == 1


def test_a_server_killed_while_spooling_or_before_committing_the_row_restarts_clean(data_dir, tmp_path):
    with live_fenfa(data_dir, **TOKENS) as server:
        variant = windows_variant(server.base)
        assert upload(server.base, variant["id"], build(tmp_path, "kept.exe", 1)).wait(60) == 0
        server.process.kill()
        server.process.wait(10)
    [release_id] = release_rows(data_dir)
    stored = next((data_dir / "uploads").glob(f"prd_*/var_*/{release_id}"))
    # What a kill at those moments leaves: the upload's spool in data/tmp, and then the new release's folder,
    # file and meta.json in place with no row yet.
    (data_dir / "tmp" / "upload-killed.part").write_bytes(b"MZ" + b"\0" * 4096)
    shutil.copytree(stored, stored.parent / "rel_00000000000000ff")
    with live_fenfa(data_dir, **TOKENS):
        rows = assert_consistent(data_dir)
    assert list(rows) == [release_id]
