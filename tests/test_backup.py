"""`python fenfa.py backup` while the server runs and `restore` elsewhere: the same releases, byte for byte."""
import hashlib
import io
import json
import shutil
import sqlite3
import subprocess
import tarfile
import time
import urllib.request
from contextlib import closing

import pytest

from fenfa_lib import backup as backup_module
from fenfa_lib.backup import backup, restore
from fenfa_lib.config import ConfigError

from helpers import ADMIN_TOKEN, UPLOAD_TOKEN
from live import REPO, fenfa_command, live_fenfa

TOKENS = {"admin_token": ADMIN_TOKEN, "upload_token": UPLOAD_TOKEN}


def run_fenfa(data_dir, *arguments):
    argv, env = fenfa_command(data_dir, *arguments)
    return subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)


def admin(base, method, path, body=None):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body else None, method=method,
                                     headers={"X-Auth-Token": ADMIN_TOKEN, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def curl_upload(base, variant_id, path, *extra):
    return subprocess.Popen(["curl", "-sS", *extra, "-H", f"X-Auth-Token: {UPLOAD_TOKEN}", "-F",
                             f"variant_id={variant_id}", "-F", f"app_file=@{path}", f"{base}/upload"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def windows_variant(base):
    product = admin(base, "POST", "/admin/api/products", {"name": "Backed up", "slug": "backed-up"})["product"]
    return admin(base, "POST", f"/admin/api/products/{product['id']}/variants",
                 {"platform": "windows", "display_name": "Windows", "identifier": "com.example.backup"})["variant"]


def build(tmp_path, name, size, seed):
    path = tmp_path / name
    path.write_bytes(b"MZ" + hashlib.sha256(seed.encode()).digest() * (size // 32))
    return path


def releases_and_hashes(base, variant_id):
    """{release id: SHA-256 of the bytes /d/ serves} for every release of the variant."""
    stats = admin(base, "GET", f"/admin/api/variants/{variant_id}/stats")
    hashes = {}
    for release in stats["releases"]:
        with urllib.request.urlopen(f"{base}/d/{release['id']}", timeout=30) as response:
            hashes[release["id"]] = hashlib.sha256(response.read()).hexdigest()
        assert hashes[release["id"]] == release["sha256"]
    return hashes


def server_secret_of(data_dir):
    with closing(sqlite3.connect(data_dir / "fenfa.db")) as connection:
        return connection.execute("SELECT value FROM serversecret").fetchone()[0]


def test_a_backup_taken_during_an_upload_restores_every_release_elsewhere(tmp_path):
    source, target, archive = tmp_path / "source" / "data", tmp_path / "target" / "data", tmp_path / "fenfa.tar"
    source.parent.mkdir()
    target.parent.mkdir()
    with live_fenfa(source, **TOKENS) as server:
        variant = windows_variant(server.base)
        for number in range(3):
            path = build(tmp_path, f"v{number}.exe", 256 * 1024, str(number))
            assert curl_upload(server.base, variant["id"], path).wait(60) == 0
        slow = curl_upload(server.base, variant["id"], build(tmp_path, "slow.exe", 3 * 1024 * 1024, "slow"),
                           "--limit-rate", "1M")
        time.sleep(0.5)
        result = run_fenfa(source, "backup", str(archive))
        assert result.returncode == 0, result.stderr
        assert slow.poll() is None, "the backup should have been taken while the upload was still running"
        assert json.loads(slow.communicate(timeout=60)[0])["ok"]
        before = releases_and_hashes(server.base, variant["id"])
    assert "wrote" in result.stdout and "3 local releases" in result.stdout
    with tarfile.open(archive) as tar:
        assert "fenfa.db" in tar.getnames() and "secret.key" not in tar.getnames()  # the secret is in the database

    restored = run_fenfa(target, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    with live_fenfa(target, **TOKENS) as server:
        after = releases_and_hashes(server.base, variant["id"])
    assert len(after) == 3 and after.items() <= before.items()
    assert server_secret_of(target) == server_secret_of(source)  # sessions and UDID links outlive the move


def test_generated_tokens_come_back_with_a_restore(tmp_path):
    source, target, archive = tmp_path / "a" / "data", tmp_path / "b" / "data", tmp_path / "fenfa.tar"
    for folder in (source.parent, target.parent):
        folder.mkdir()
    with live_fenfa(source):
        pass
    assert run_fenfa(source, "backup", str(archive)).returncode == 0
    assert run_fenfa(target, "restore", str(archive)).returncode == 0
    assert json.loads((target / "tokens.json").read_text()) == json.loads((source / "tokens.json").read_text())


@pytest.mark.parametrize("command", ["backup", "restore"])
@pytest.mark.parametrize("url,advice", [
    ("postgresql://fenfa:hunter2@db.internal/fenfa", "back it up with pg_dump"),
    ("sqlite:////srv/elsewhere.db", "names another SQLite file"),
])
def test_backup_and_restore_refuse_a_database_they_do_not_hold(tmp_path, data_dir, command, url, advice):
    argv, env = fenfa_command(data_dir, command, str(tmp_path / "fenfa.tar"), database_url=url)
    result = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and advice in result.stderr and "hunter2" not in result.stderr
    assert not (tmp_path / "fenfa.tar").exists() and not data_dir.exists()


def test_restore_refuses_a_data_dir_that_is_not_empty(tmp_path, data_dir):
    data_dir.mkdir()
    (data_dir / "fenfa.db").write_bytes(b"precious")
    archive = tmp_path / "fenfa.tar"
    with tarfile.open(archive, "w") as tar:
        tar.addfile(tarfile.TarInfo("fenfa.db"), io.BytesIO())
    result = run_fenfa(data_dir, "restore", str(archive))
    assert result.returncode == 2 and "is not empty" in result.stderr
    assert (data_dir / "fenfa.db").read_bytes() == b"precious"


@pytest.mark.parametrize("names", [
    ["fenfa.db", "../escaped"],
    ["fenfa.db", "uploads/../../escaped"],
    ["fenfa.db", "/etc/escaped"],
    ["fenfa.db", "notes.txt"],
    ["uploads/prd_x/var_x/rel_x/a.exe"],
])
def test_restore_refuses_what_a_backup_never_holds_and_leaves_the_data_dir_empty(tmp_path, data_dir, names):
    archive = tmp_path / "hostile.tar"
    with tarfile.open(archive, "w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(ConfigError):
        restore(data_dir, archive)
    assert not (tmp_path / "escaped").exists()
    assert not data_dir.exists() or list(data_dir.iterdir()) == []


def test_a_release_deleted_while_the_backup_runs_is_left_out_of_it(api, data_dir, tmp_path, monkeypatch):
    variant = api.create_variant(api.create_product()["id"], platform="windows")
    kept = api.upload_release(variant["id"], "kept.exe", b"MZ kept")
    gone = api.upload_release(variant["id"], "gone.exe", b"MZ gone")
    copy = backup_module.copy_database

    def copy_then_delete(source, target):
        copy(source, target)
        shutil.rmtree(next((data_dir / "uploads").rglob(gone["id"])))  # as a delete committed just after

    monkeypatch.setattr(backup_module, "copy_database", copy_then_delete)
    summary = backup(data_dir, tmp_path / "fenfa.tar")
    assert (summary.releases, summary.dropped) == (1, 1)
    restore(tmp_path / "restored", tmp_path / "fenfa.tar")
    names = {path.name for path in (tmp_path / "restored" / "uploads").rglob("*") if path.is_file()}
    assert names == {"kept.exe", "meta.json"}
    with sqlite3.connect(tmp_path / "restored" / "fenfa.db") as connection:
        assert [row[0] for row in connection.execute("SELECT id FROM release")] == [kept["id"]]
